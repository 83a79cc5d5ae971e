#!/usr/bin/env bash
# The cost of an emulated RUN against a native one (issue 12): the same uncached build,
#   FROM bb-ARCH
#   RUN <workload>
# for linux/amd64 (native), linux/arm64 and linux/arm/v7 (QEMU user emulation through binfmt_misc,
# Debian's qemu-user-static). The bases are scripts/mkrootfs-busybox.sh rootfs made from Debian's
# busybox-static for each architecture, imported with `builder import --platform`.
# Workloads (busybox only, so the same program runs on each architecture):
#   start  RUN true                                     (one exec: the fixed cost of a RUN)
#   loop   RUN a shell loop of $LOOP iterations          (interpreter-bound: shell arithmetic)
#   hash   RUN sha256sum of a $HASH_MB MiB file, written with dd  (CPU-bound: hashing)
#   bench/emulation.sh    env: RUNS (5), LOOP (200000), HASH_MB (64), BUILDER, OUT, ISOLATION
# Needs root and scripts/install-deps.sh (qemu-user-static registered with F; arm64/armhf apt
# architectures). Prints a table of medians (seconds) and the emulated/native ratios; every run is
# appended to $OUT/emulation.tsv.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
LOOP=${LOOP:-200000}
HASH_MB=${HASH_MB:-64}
OUT=${OUT:-/tmp/builder-bench}/emulation
ISOLATION=${ISOLATION:-namespaces}
BUILDER=${BUILDER:-$REPO/target/release/builder}
[ -x "$BUILDER" ] || BUILDER=$(command -v builder || true)
[ -x "$BUILDER" ] || { echo "no builder binary: cargo build --release, or set BUILDER" >&2; exit 1; }
bash "$REPO/scripts/install-deps.sh"

mkdir -p "$OUT"
ROOT=$OUT/root
rm -rf "$ROOT"
# deb arch : OCI platform
PLATS=("amd64:linux/amd64" "arm64:linux/arm64" "armhf:linux/arm/v7")
for p in "${PLATS[@]}"; do
  deb=${p%%:*} plat=${p#*:}
  bb=/bin/busybox
  if [ "$deb" != amd64 ]; then
    d=$OUT/deb-$deb
    if [ ! -x "$d/root/bin/busybox" ]; then
      rm -rf "$d"; mkdir -p "$d"
      (cd "$d" && apt-get download -q "busybox-static:$deb" >/dev/null && dpkg-deb -x ./*.deb root)
    fi
    bb=$d/root/bin/busybox
  fi
  rm -rf "$OUT/rootfs-$deb"
  BUSYBOX=$bb bash "$REPO/scripts/mkrootfs-busybox.sh" "$OUT/rootfs-$deb"
  "$BUILDER" import --root "$ROOT" --platform "$plat" --source-date-epoch 0 --cmd sh \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin -t "bb-$deb" "$OUT/rootfs-$deb" >/dev/null
done

workload() {
  case $1 in
    start) echo 'true' ;;
    loop)  echo "i=0; while [ \$i -lt $LOOP ]; do i=\$((i+1)); done; echo \$i > /n" ;;
    hash)  echo "dd if=/dev/zero of=/z bs=1M count=$HASH_MB 2>/dev/null && sha256sum /z > /h && rm /z" ;;
  esac
}

declare -A MED
for w in start loop hash; do
  for p in "${PLATS[@]}"; do
    deb=${p%%:*} plat=${p#*:}
    ctx=$OUT/ctx-$w-$deb
    mkdir -p "$ctx"
    printf 'FROM bb-%s\nRUN %s\n' "$deb" "$(workload "$w")" >"$ctx/Dockerfile"
    times=()
    for _ in $(seq "$RUNS"); do
      s=$(date +%s.%N)
      "$BUILDER" build --root "$ROOT" --isolation "$ISOLATION" --no-cache --platform "$plat" -q \
        -t "bench-$w-$deb" "$ctx" >/dev/null
      e=$(date +%s.%N)
      t=$(echo "$e - $s" | bc)
      times+=("$t")
      printf '%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$w" "$plat" "$t" >>"$OUT/emulation.tsv"
    done
    MED[$w:$deb]=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  done
done

printf '%-6s %12s %12s %12s %10s %10s\n' workload amd64 arm64 arm/v7 arm64/x arm/v7/x
for w in start loop hash; do
  a=${MED[$w:amd64]} b=${MED[$w:arm64]} c=${MED[$w:armhf]}
  printf '%-6s %12.3f %12.3f %12.3f %10.1f %10.1f\n' "$w" "$a" "$b" "$c" \
    "$(echo "$b / $a" | bc -l)" "$(echo "$c / $a" | bc -l)"
done
rm -rf "$ROOT"
