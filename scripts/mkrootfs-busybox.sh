#!/usr/bin/env bash
# Make a deterministic busybox-static rootfs laid out like a small distribution:
#   mkrootfs-busybox.sh DIR
# DIR must not exist or be empty. Needs root (file owners) and the Debian package busybox-static
# (installed here if missing). The same busybox binary always gives the same tree: applet symlinks
# come from `busybox --list-full`, users/groups and modes are fixed, every mtime is clamped to the
# epoch (0). The parity suite packs this tree as the one-layer base image `busybox:latest` with
# Env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin and Cmd ["sh"].
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
R=$1
BB=${BUSYBOX:-/bin/busybox}

if ! "$BB" --list-full >/dev/null 2>&1; then
  if [ "$BB" = /bin/busybox ] && ! dpkg -s busybox-static >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends busybox-static >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends busybox-static >/dev/null; }
  fi
  "$BB" --list-full >/dev/null || { echo "$BB is not a busybox with --list-full" >&2; exit 1; }
fi
# A dynamically linked busybox would not run inside the image.
if file "$BB" 2>/dev/null | grep -q 'dynamically linked'; then
  echo "$BB is dynamically linked; install busybox-static" >&2; exit 1
fi
if [ -e "$R" ] && [ -n "$(ls -A "$R")" ]; then echo "$R exists and is not empty" >&2; exit 1; fi

umask 022
mkdir -p "$R"
for d in bin sbin usr usr/bin usr/sbin usr/local usr/local/bin usr/local/sbin etc home home/app \
         root tmp var var/tmp var/log dev proc sys; do
  mkdir -p "$R/$d"
done
cp "$BB" "$R/bin/busybox"
chmod 0755 "$R/bin/busybox"
# Every applet as an absolute symlink to /bin/busybox at the path busybox itself proposes.
"$BB" --list-full | LC_ALL=C sort -u | while IFS= read -r p; do
  [ -n "$p" ] && [ "$p" != bin/busybox ] || continue
  mkdir -p "$R/$(dirname "$p")"
  ln -sfn /bin/busybox "$R/$p"
done

cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$R/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
staff:x:50:app
app:x:1000:
nogroup:x:65534:
EOF

# Fixed owners and modes (the umask and the host's defaults must not leak in).
chown -R 0:0 "$R"
find "$R" -type d -exec chmod 0755 {} +
chmod 0644 "$R/etc/passwd" "$R/etc/group"
chmod 1777 "$R/tmp" "$R/var/tmp"
chmod 0700 "$R/root"
chown 1000:1000 "$R/home/app"
chmod 0755 "$R/home/app"
# Clamp every mtime (symlinks themselves too).
find "$R" -exec touch -h -d @0 {} +
