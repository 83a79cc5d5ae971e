#!/usr/bin/env bash
# Record the parity suite's expectations from the reference: Docker 26.1 with BuildKit 0.13.
#   scripts/record-parity.sh [CASE-PREFIX...]     (default: every case)
# Writes tests/parity/cases/*/expected.json and tests/parity/base.json.
#
# Recording (not CI) needs the helper scripts in $TOOLS (default /work/shared/tools): a local
# registry on 127.0.0.1:5000 (start-registry.sh) and dockerd 26.1 mirroring docker.io to it
# (start-dockerd.sh). The base image `busybox:latest` is this repo's scripts/mkrootfs-busybox.sh
# rootfs as one layer (umoci + skopeo), pushed as 127.0.0.1:5000/library/busybox:latest, so the
# cases' `FROM busybox` resolves to it. Per-case base images (a case's `base` file) are made by
# tests/parity/bases.rs from the same rootfs and pushed as 127.0.0.1:5000/library/NAME:latest.
# Cases with an `expect-error` file must fail; their build log becomes expected-error.json.
# STOP_DOCKERD=1 stops dockerd at the end. DOCKER_HOST selects another dockerd (same mirror).
# Env: PARITY_OUT (work dir, default /tmp/parity-record), TOOLS, CARGO_TARGET_DIR (passed on).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=${TOOLS:-/work/shared/tools}
OUT=${PARITY_OUT:-/tmp/parity-record}
REG=127.0.0.1:5000
# The docker CLI: 26.1 with buildx 0.13 (Debian trixie's docker-cli + docker-buildx, unpacked under
# $CLI_ROOT), whose failure output is `Dockerfile:N`, the excerpt and `ERROR: failed to solve: ...`
# (expected-error.json needs them; Debian 12's 20.10 CLI prints neither). DOCKER_CLI overrides it.
CLI_ROOT=${CLI_ROOT:-/tmp/docker26-cli}
fetch_cli() {
  local R=$CLI_ROOT A=$CLI_ROOT.apt
  [ -x "$R/usr/bin/docker" ] && [ -x "$R/usr/libexec/docker/cli-plugins/docker-buildx" ] && return 0
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/etc" "$A/debs"
  local M; M=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -E '^[[:space:]]*(deb|URIs:)[[:space:]]' | grep -oE 'https?://[^[:space:]]+' | grep -E '/debian/?$' | head -1 || true)
  [ -n "$M" ] || { echo "no Debian mirror in the apt sources" >&2; return 1; }
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $M trixie main" >"$A/etc/sources.list"
  local o=(-o Dir::Etc::SourceList="$A/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$A/lists"
           -o Dir::Cache="$A/cache" -o Dir::State::status=/dev/null -o APT::Sandbox::User=root -q)
  apt-get "${o[@]}" update >/dev/null
  (cd "$A/debs" && rm -f ./*.deb && apt-get "${o[@]}" download docker-cli docker-buildx >/dev/null)
  rm -rf "$R"; mkdir -p "$R"
  for d in "$A"/debs/*.deb; do dpkg -x "$d" "$R"; done
}
if [ -z "${DOCKER_CLI:-}" ]; then
  fetch_cli
  mkdir -p "$CLI_ROOT/config/cli-plugins"
  ln -sf "$CLI_ROOT/usr/libexec/docker/cli-plugins/docker-buildx" "$CLI_ROOT/config/cli-plugins/docker-buildx"
  DOCKER=(env DOCKER_CONFIG="$CLI_ROOT/config" "$CLI_ROOT/usr/bin/docker")
else
  DOCKER=(env DOCKER_BUILDKIT=1 "$DOCKER_CLI")
fi
ENVPATH=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

need=(umoci skopeo busybox-static tar gzip bzip2 xz-utils)
missing=(); for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

"$TOOLS/start-registry.sh"
# A dockerd of your own (same registry mirror) can be named with DOCKER_HOST instead.
[ -n "${DOCKER_HOST:-}" ] || "$TOOLS/start-dockerd.sh"

rm -rf "$OUT"; mkdir -p "$OUT"
echo "== base image"
bash "$REPO/scripts/mkrootfs-busybox.sh" "$OUT/rootfs"
L=$OUT/layout
umoci init --layout "$L"
umoci new --image "$L:latest"
umoci insert --image "$L:latest" --history.created_by "parity base: busybox rootfs" "$OUT/rootfs" /
umoci config --image "$L:latest" --no-history --config.cmd sh --config.env "$ENVPATH" --architecture amd64 --os linux
umoci gc --layout "$L"
skopeo copy -q --dest-tls-verify=false "oci:$L:latest" "docker://$REG/library/busybox:latest"
# Make sure dockerd sees this very image (not an older busybox:latest it pulled before).
"${DOCKER[@]}" pull -q busybox:latest >/dev/null
want=$(skopeo inspect --tls-verify=false --raw --config "docker://$REG/library/busybox:latest" | sha256sum | cut -d' ' -f1)
have=$("${DOCKER[@]}" image inspect -f '{{.Id}}' busybox:latest)
[ "sha256:$want" = "$have" ] || { echo "dockerd's busybox:latest is $have, registry has sha256:$want" >&2; exit 1; }
"${DOCKER[@]}" save -o "$OUT/base.tar" busybox:latest

echo "== contexts"
filter=$(IFS=,; echo "$*")
cd "$REPO"
PARITY_OUT=$OUT PARITY_CASES=$filter cargo test -q --test parity -- --ignored --exact prepare_contexts >/dev/null

echo "== per-case base images"
for b in "$OUT"/bases/*/; do
  [ -d "$b" ] || continue
  name=$(basename "$b")
  skopeo copy -q --dest-tls-verify=false "oci:$b:latest" "docker://$REG/library/$name:latest"
  "${DOCKER[@]}" pull -q "$name:latest" >/dev/null
  want=$(skopeo inspect --tls-verify=false --raw --config "docker://$REG/library/$name:latest" | sha256sum | cut -d' ' -f1)
  have=$("${DOCKER[@]}" image inspect -f '{{.Id}}' "$name:latest")
  [ "sha256:$want" = "$have" ] || { echo "dockerd's $name:latest is $have, registry has sha256:$want" >&2; exit 1; }
  echo "-- $name"
done

echo "== docker builds"
for d in "$OUT"/cases/*/; do
  name=$(basename "$d")
  mapfile -t args <"$d/docker-args"
  tag=parity/$name:latest
  echo "-- $name"
  if [ -e "$d/expect-error" ]; then
    if "${DOCKER[@]}" build --progress=plain -t "$tag" -f "$d/ctx/Dockerfile" "${args[@]}" "$d/ctx" >"$d/build.log" 2>&1; then
      echo "docker built $name, which has expect-error (log: $d/build.log)" >&2; exit 1
    fi
    grep '^ERROR: ' "$d/build.log" | tail -1
    continue
  fi
  if ! "${DOCKER[@]}" build --progress=plain -t "$tag" -f "$d/ctx/Dockerfile" "${args[@]}" "$d/ctx" >"$d/build.log" 2>&1; then
    tail -30 "$d/build.log" >&2; echo "docker build failed for $name (log: $d/build.log)" >&2; exit 1
  fi
  "${DOCKER[@]}" save -o "$d/image.tar" "$tag"
done

echo "== expectations"
PARITY_OUT=$OUT PARITY_CASES=$filter cargo test -q --test parity -- --ignored --exact record --nocapture
if [ "${STOP_DOCKERD:-0}" = 1 ]; then "$TOOLS/stop-dockerd.sh"; fi
echo "recorded into $REPO/tests/parity (work files in $OUT)"
