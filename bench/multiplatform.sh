#!/usr/bin/env bash
# One two-platform build (issue 12), cold and fully cached: builder builds linux/amd64 and
# linux/arm64 together (`--platform linux/amd64,linux/arm64`, one image index); BuildKit (Docker
# 26.1's docker driver cannot build several platforms at once) builds them one after the other,
# and its figure is the sum. The foreign platform's RUN steps run through QEMU user emulation
# (qemu-user-static registered with F, scripts/install-deps.sh) for both tools.
#   FROM --platform=$BUILDPLATFORM bbmp AS gen     (the cross-compiling pattern: runs natively,
#   RUN   makes 300 files                            once for both platforms)
#   FROM bbmp                                      (the base index: amd64 + arm64 busybox from
#   COPY --from=gen /out /out                        Debian's busybox-static packages)
#   RUN   a shell loop + uname -m + TARGETARCH      (emulated for arm64)
#   bench/multiplatform.sh   env: COLD_RUNS (3), CACHED_RUNS (5), TOOLS (builder buildkit), OUT,
#                            BUILDER, LOOP (20000)
# Prints the table of bench/lib.sh (medians, builder/BuildKit ratios); the emulated-vs-native cost
# of a single RUN is bench/emulation.sh's.
set -euo pipefail
TOOLS=${TOOLS:-builder buildkit}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

LOOP=${LOOP:-20000}

# base_busybox_multi : $REG/library/bbmp:1, an OCI index of amd64 and arm64 busybox images.
base_busybox_multi() {
  ensure_registry
  in_registry library/bbmp:1 && [ "${FORCE_BASE:-0}" != 1 ] && return 0
  local deb plat rootfs bb d entries=() m
  for deb in amd64 arm64; do
    plat=linux/$deb
    bb=/bin/busybox
    if [ "$deb" != "$(dpkg --print-architecture)" ]; then
      d=$CACHE/deb-$deb
      if [ ! -x "$d/root/bin/busybox" ]; then
        rm -rf "$d"; mkdir -p "$d"
        (cd "$d" && apt-get download -q "busybox-static:$deb" >/dev/null && dpkg-deb -x ./*.deb root)
      fi
      bb=$d/root/bin/busybox
    fi
    rootfs=$CACHE/bbmp-rootfs-$deb
    rm -rf "$rootfs"
    BUSYBOX=$bb bash "$REPO/scripts/mkrootfs-busybox.sh" "$rootfs" >&2
    "$BUILDER" import --root "$BASEROOT" --platform "$plat" --source-date-epoch 0 --cmd sh \
      --env "$ENVPATH" -t "$REG/library/bbmp:$deb" "$rootfs" >&2
    "$BUILDER" push --root "$BASEROOT" --registry-config "$OUT/registries.toml" "$REG/library/bbmp:$deb" >&2
    m=$(curl -sfI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
      "http://$REG/v2/library/bbmp/manifests/$deb" | tr -d '\r' |
      awk -F': ' 'tolower($1)=="docker-content-digest"{d=$2} tolower($1)=="content-length"{n=$2} END{print d" "n}')
    entries+=("${m% *} ${m#* } $deb")
  done
  printf '%s\n' "${entries[@]}" | python3 -c '
import json, sys
ms = []
for line in sys.stdin:
    d, n, arch = line.split()
    ms.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d,
               "size": int(n), "platform": {"architecture": arch, "os": "linux"}})
print(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                  "manifests": ms}))' >"$OUT/bbmp-index.json"
  curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' \
    --data-binary @"$OUT/bbmp-index.json" "http://$REG/v2/library/bbmp/manifests/1" >/dev/null
  log "base: pushed $REG/library/bbmp:1 (amd64 + arm64 index)"
}

main() {
  setup_tools
  [ -n "$BUILDER" ] || die "the base index is made with builder: set BUILDER"
  base_busybox_multi
  local ctx=$OUT/ctx/multiplatform t
  rm -rf "$ctx"; mkdir -p "$ctx"
  cat >"$ctx/Dockerfile" <<DF
FROM --platform=\$BUILDPLATFORM $REG/library/bbmp:1 AS gen
RUN mkdir /out && for i in \$(seq 1 300); do seq 1 \$i > /out/f\$i; done
FROM $REG/library/bbmp:1
ARG TARGETARCH
COPY --from=gen /out /out
RUN i=0; while [ \$i -lt $LOOP ]; do i=\$((i+1)); done; echo "\$(uname -m) \$TARGETARCH \$i" > /m && ls /out | wc -l > /count
DF
  local sc=two-platform tag=bench/multiplatform:latest
  for t in $TOOLS; do
    case $t in
      builder) build_cmd builder "$ctx" "$tag" --platform linux/amd64,linux/arm64 ;;
      buildkit) CMD=(bash -c "set -e; for p in linux/amd64 linux/arm64; do ${DOCKER[*]} build -q \
        --platform \$p -t $tag-\${p#linux/} $ctx >/dev/null; done") ;;
      *) log "$t: not measured here (builder and buildkit only)"; continue ;;
    esac
    log "== $sc: $t"
    measure "$sc" "$t" cold "$COLD_RUNS" "cold_prep $t" "${CMD[@]}"
    if [ "$CACHED_RUNS" -gt 0 ]; then
      timed_run "$OUT/logs/$sc-$t-warmup.log" "${CMD[@]}" || true
      measure "$sc" "$t" cached "$CACHED_RUNS" noop "${CMD[@]}"
    fi
  done
  table "$sc"
  echo "machine load when done: $(cut -d' ' -f1-3 /proc/loadavg)"
}
main "$@"; exit $?
