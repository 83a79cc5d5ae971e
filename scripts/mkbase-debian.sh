#!/usr/bin/env bash
# Make a Debian bookworm root filesystem for base images and benchmarks:
#   mkbase-debian.sh DIR
# debootstrap --variant=minbase from the Debian mirror this machine's apt already uses (MIRROR
# overrides it; SUITE overrides bookworm). Needs root and network access to that mirror; installs
# debootstrap if missing.
#
# Deterministic-ish: the same package versions give the same tree. Files that record the moment or
# the machine of the install (apt lists and caches, logs, machine-id, ldconfig's aux cache, dpkg's
# *-old backups, /dev, /run, /tmp) are removed or emptied, the password-change day in /etc/shadow is
# fixed, and every mtime is clamped to SOURCE_DATE_EPOCH (default 0). The package versions follow
# the mirror, so two runs a week apart may differ.
#
# Cached: a finished DIR is marked by DIR.ok (beside it, not inside, so it never lands in an image);
# when that marker exists the script does nothing. FORCE=1 rebuilds. Downloaded .debs are kept in
# DIR.debs so a rebuild does not fetch them again.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
R=${1%/}
SUITE=${SUITE:-bookworm}
EPOCH=${SOURCE_DATE_EPOCH:-0}
OK=$R.ok
DEBS=$R.debs

# One maker at a time (tests run in parallel): a second caller waits, then finds DIR ready.
mkdir -p "$(dirname "$R")"
exec 9>"$R.lock"
flock 9
if [ "${FORCE:-0}" != 1 ] && [ -f "$OK" ] && [ -x "$R/bin/bash" ]; then
  echo "mkbase-debian: $R is ready (remove $OK or set FORCE=1 to rebuild)"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "mkbase-debian: needs root (debootstrap, file owners)" >&2; exit 1; }

if ! command -v debootstrap >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends debootstrap >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends debootstrap >/dev/null; }
fi

M=${MIRROR:-}
if [ -z "$M" ]; then
  # The first plain Debian archive in the apt sources (one-line or deb822 format).
  M=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
      grep -E '^[[:space:]]*(deb|URIs:)[[:space:]]' | grep -oE 'https?://[^[:space:]]+' |
      grep -E '/debian/?$' | head -1 || true)
fi
[ -n "$M" ] || { echo "mkbase-debian: no Debian mirror in the apt sources; set MIRROR" >&2; exit 1; }

rm -f "$OK"
rm -rf "$R"
mkdir -p "$DEBS"
echo "mkbase-debian: debootstrap --variant=minbase $SUITE $R $M"
log=$R.log
if ! debootstrap --variant=minbase --cache-dir="$(cd "$DEBS" && pwd)" "$SUITE" "$R" "$M" >"$log" 2>&1; then
  tail -20 "$log" >&2
  echo "mkbase-debian: debootstrap failed (log: $log)" >&2
  exit 1
fi

# Drop what records when or where the install happened.
rm -rf "${R:?}"/var/lib/apt/lists/* "${R:?}"/var/cache/apt/*.bin "${R:?}"/var/cache/apt/archives/*.deb \
       "${R:?}"/var/cache/ldconfig/aux-cache "${R:?}"/var/lib/dpkg/*-old "${R:?}"/var/cache/debconf/*-old \
       "${R:?}"/dev/* "${R:?}"/run/* "${R:?}"/tmp/* "${R:?}"/etc/hostname "${R:?}"/etc/resolv.conf
mkdir -p "$R/var/lib/apt/lists/partial" "$R/var/cache/apt/archives/partial"
find "$R/var/log" -type f -exec truncate -s 0 {} +
: >"$R/etc/machine-id"
# Field 3 of /etc/shadow is the day of the last password change: the install date.
days=$((EPOCH / 86400))
sed -i -E "s/^([^:]*:[^:]*:)[0-9]*:/\1$days:/" "$R/etc/shadow"
[ -f "$R/etc/shadow-" ] && sed -i -E "s/^([^:]*:[^:]*:)[0-9]*:/\1$days:/" "$R/etc/shadow-"
chmod 1777 "$R/tmp"
find "$R" -xdev -exec touch -h -d "@$EPOCH" {} +

touch "$OK"
echo "mkbase-debian: $R ready ($(du -sh "$R" | cut -f1))"
