#!/usr/bin/env bash
# Installs the Debian packages builder's demo and tests use, only those missing.
# Idempotent; needs root (apt-get). podman (with runc, already listed) runs tests/containers.rs.
# gcc + libc6-dev build the static probe of tests/security.rs; util-linux gives runuser.
# slirp4netns gives RUN its own network (src/sandbox/network.rs); time measures RSS in tests/registry_bounds.rs.
# openssh-client (ssh-agent, ssh-keygen) for tests/chroot.rs; debootstrap for scripts/mkbase-debian.sh;
# python3-venv for the SPDX validator below; rpm (rpmbuild, rpm --justdb) and golang-go make the rpm
# database and the Go binary whose packages tests/attestations_sbom.rs finds in an image's SBOM;
# db5.3-util (db5.3_load) writes the Berkeley DB rpm databases of tests/sbom_rpmdb.rs (Debian's rpm
# only reads that format).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
want=(docker-registry apache2-utils busybox-static skopeo umoci runc oci-image-tool openssl curl xz-utils bzip2 zstd ca-certificates uidmap podman gcc libc6-dev util-linux slirp4netns time openssh-client debootstrap python3-venv rpm golang-go db5.3-util)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# QEMU user emulation for RUN steps of foreign platforms (tests/emulation.rs, the arm64 parity cases):
# Debian's qemu-user-static registers every architecture with the F (fix-binary) flag, which builder
# needs (the kernel opens the interpreter at registration, so it works inside a build's root).
# In a container or chroot the package's service does not start: mount binfmt_misc and enable the
# registrations here. Test base images for arm64 and arm/v7 come from Debian's busybox-static for
# those architectures, so apt learns them.
emu=()
for p in qemu-user-static binfmt-support; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || emu+=("$p")
done
if [ ${#emu[@]} -gt 0 ]; then
  echo "installing: ${emu[*]}"
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${emu[@]}" >/dev/null
fi
B=/proc/sys/fs/binfmt_misc
[ -e "$B/status" ] || mount -t binfmt_misc binfmt_misc "$B"
for q in qemu-aarch64 qemu-arm; do
  [ -e "$B/$q" ] || update-binfmts --enable "$q"
  # Debian registers with F; one registered without it (qemu-user-binfmt, by hand) cannot run in a
  # build's root: replace it with the package's definition, which has F.
  if ! grep -q '^flags: .*F' "$B/$q"; then
    echo "re-registering $q with the F flag"
    echo -1 >"$B/$q"
    update-binfmts --enable "$q"
  fi
  grep -q '^flags: .*F' "$B/$q" || { echo "$q is registered without the F flag" >&2; exit 1; }
done
arches=$(dpkg --print-foreign-architectures)
added=0
for a in arm64 armhf; do
  grep -qx "$a" <<<"$arches" || { dpkg --add-architecture "$a"; added=1; }
done
if [ "$added" = 1 ] || ! apt-cache show busybox-static:arm64 busybox-static:armhf >/dev/null 2>&1; then
  # A mirror syncing one of the security suites' lists must not stop the rest: check what is needed.
  apt-get update -q >/dev/null || true
  apt-cache show busybox-static:arm64 busybox-static:armhf >/dev/null
fi
# The SPDX validator tests/attestations.rs runs (PyPI `spdx-tools`, `pyspdxtools -i FILE`), in a venv
# under target/ so the system Python stays untouched. Idempotent.
V=$(cd "$(dirname "$0")/.." && pwd)/target/spdx-venv
if ! "$V/bin/pyspdxtools" --help >/dev/null 2>&1; then
  python3 -m venv "$V"
  "$V/bin/pip" install -q spdx-tools
fi
