#!/usr/bin/env bash
# Installs the Debian packages builder's demo and tests use, only those missing.
# Idempotent; needs root (apt-get). podman (with runc, already listed) runs tests/containers.rs.
# gcc + libc6-dev build the static probe of tests/security.rs; util-linux gives runuser.
# slirp4netns gives RUN its own network (src/sandbox/network.rs); time measures RSS in tests/registry_bounds.rs.
# openssh-client (ssh-agent, ssh-keygen) for tests/chroot.rs; debootstrap for scripts/mkbase-debian.sh;
# python3-venv for the SPDX validator below.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
want=(docker-registry apache2-utils busybox-static skopeo umoci runc oci-image-tool openssl curl xz-utils bzip2 zstd ca-certificates uidmap podman gcc libc6-dev util-linux slirp4netns time openssh-client debootstrap python3-venv)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
# The SPDX validator tests/attestations.rs runs (PyPI `spdx-tools`, `pyspdxtools -i FILE`), in a venv
# under target/ so the system Python stays untouched. Idempotent.
V=$(cd "$(dirname "$0")/.." && pwd)/target/spdx-venv
if ! "$V/bin/pyspdxtools" --help >/dev/null 2>&1; then
  python3 -m venv "$V"
  "$V/bin/pip" install -q spdx-tools
fi
