#!/usr/bin/env bash
# Docker 26.1's own client for recording: Debian trixie's docker-cli 26.1.5 and docker-buildx
# 0.13.1, downloaded with apt-get download through a private apt config and unpacked (not
# installed) under $DOCKER26_CLI (default /tmp/docker26-cli). Idempotent. Prints the two
# variables to export; then `docker build` is buildx, as in a Docker 26.1 install:
#   eval "$(scripts/docker26-cli.sh)"; docker build ...
# Why: /usr/bin/docker on Debian bookworm is the 20.10 CLI, which sends the build context itself
# with a 2020 fsutil; Docker 26.1's buildx walks it differently (`.dockerignore` `!` patterns
# with wildcards, see tests/dockerignore_parity.rs).
set -euo pipefail
R=${DOCKER26_CLI:-/tmp/docker26-cli}
A=$R/apt
if [ ! -x "$R/root/usr/bin/docker" ] || [ ! -x "$R/root/usr/libexec/docker/cli-plugins/docker-buildx" ]; then
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/etc" "$A/debs"
  M=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -E '^[[:space:]]*(deb|URIs:)[[:space:]]' | grep -oE 'https?://[^[:space:]]+' | grep -E '/debian/?$' | head -1 || true)
  [ -n "$M" ] || { echo "no Debian mirror in the apt sources" >&2; exit 1; }
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $M trixie main" >"$A/etc/sources.list"
  o=(-o Dir::Etc::SourceList="$A/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$A/lists"
     -o Dir::Cache="$A/cache" -o Dir::State::status=/dev/null -o APT::Sandbox::User=root -q)
  apt-get "${o[@]}" update >/dev/null
  (cd "$A/debs" && rm -f ./*.deb && apt-get "${o[@]}" download docker-cli docker-buildx >/dev/null)
  rm -rf "$R/root"; mkdir -p "$R/root"
  for d in "$A"/debs/*.deb; do dpkg -x "$d" "$R/root"; done
fi
mkdir -p "$R/config/cli-plugins"
ln -sf "$R/root/usr/libexec/docker/cli-plugins/docker-buildx" "$R/config/cli-plugins/docker-buildx"
echo "export DOCKER_CONFIG=$R/config PATH=$R/root/usr/bin:\$PATH"
