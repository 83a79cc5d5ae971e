#!/usr/bin/env bash
# Push of a built image with one ~500 MiB layer to an empty local registry: every tool compresses
# (gzip, its default level) and uploads the layer.
#
#   builder   builder push (the layer is stored uncompressed; its compression memo is deleted
#             before each run, so every run compresses)
#   baseline  the same with BASELINE=/path/to/older/builder (e.g. main's release binary), if set
#   skopeo    skopeo copy oci:DIR (builder save --format oci --compression uncompressed) → registry
#   buildkit  docker push of the image `docker build` made (dockerd compresses while pushing)
#   buildah   buildah push of the image `buildah build` made
#
# Every timed run pushes to a fresh, empty registry (its own port, data wiped, untimed), after the
# same untimed sync + settle as the cold builds (bench/lib.sh). Figures: median wall seconds, peak
# RSS (/usr/bin/time, largest process of the client's tree; for docker only the CLI), load.
#
# Usage: bench/push.sh    env: RUNS (3), LAYER_MIB (500), TOOLS ("builder buildkit buildah"),
#        SKOPEO (1), BASELINE, BUILDER, OUT, SETTLE_SECS, DIRTY_MAX_KB
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
RUNS=${RUNS:-3}
LAYER_MIB=${LAYER_MIB:-500}
SKOPEO=${SKOPEO:-1}
BASELINE=${BASELINE:-}

setup_tools
apt_need docker-registry skopeo
ensure_registry
base_busybox

# The layer: half incompressible (random files, gen-context.py), half text-like (compresses ~3-4x,
# as source trees and package payloads do), so both deflate paths are exercised.
CTX=$CACHE/push-ctx-$LAYER_MIB
if [ ! -f "$CTX/.done" ]; then
  rm -rf "$CTX"; mkdir -p "$CTX"
  half=$((LAYER_MIB * 1024 * 1024 / 2))
  python3 "$BENCH_DIR/gen-context.py" "$CTX/bin" 200 "$half" 7
  python3 - "$CTX/text" "$half" <<'EOF'
import os, random, sys
root, total = sys.argv[1], int(sys.argv[2])
rng = random.Random(11)
words = [''.join(rng.choice('abcdefghijklmnopqrstuvwxyz_') for _ in range(rng.randint(2, 12)))
         for _ in range(5000)]
os.makedirs(root)
i = written = 0
while written < total:
    n = min(total - written, rng.randint(64 << 10, 4 << 20))
    lines, size = [], 0
    while size < n:
        line = ' '.join(rng.choice(words) for _ in range(rng.randint(3, 14))) + '\n'
        lines.append(line); size += len(line)
    data = ''.join(lines).encode()[:n]
    with open(os.path.join(root, 'f%05d.txt' % i), 'wb') as f:
        f.write(data)
    written += n; i += 1
EOF
  printf 'FROM busybox\nCOPY . /data/\n' >"$CTX/Dockerfile"
  printf 'Dockerfile\n.done\n' >"$CTX/.dockerignore"
  touch "$CTX/.done"
fi
SRC=bench/push:src

# Scratch registry for the pushes: restarted empty before every timed run.
PUSHREG_DIR=$OUT/push-registry
PUSHREG_PID=
stop_push_registry() {
  [ -z "$PUSHREG_PID" ] || { kill "$PUSHREG_PID" 2>/dev/null || true; wait "$PUSHREG_PID" 2>/dev/null || true; }
  PUSHREG_PID=
}
fresh_registry() { # sets DEST (host:port of an empty registry)
  stop_push_registry
  rm -rf "$PUSHREG_DIR"; mkdir -p "$PUSHREG_DIR"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$PUSHREG_DIR/config.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $PUSHREG_DIR/data}}
http: {addr: "127.0.0.1:$port"}
EOF
  setsid docker-registry serve "$PUSHREG_DIR/config.yml" >"$PUSHREG_DIR/log" 2>&1 </dev/null &
  PUSHREG_PID=$!
  DEST=127.0.0.1:$port
  local _
  for _ in $(seq 100); do curl -sf "http://$DEST/v2/" >/dev/null && return 0; sleep 0.1; done
  die "scratch registry did not start ($PUSHREG_DIR/log)"
}
trap 'stop_push_registry; bench_exit' EXIT

# prep_push TOOL : untimed, before each timed push: drop the tool's memo of compressed layers
# (builder), start an empty registry, sync and settle.
prep_push() {
  case $1 in
    builder)  rm -rf "$BROOT/cache/compressed" ;;
    baseline) rm -rf "$OUT/baseline-root/cache/compressed" ;;
  esac
  fresh_registry
  settle
}

# push_series TOOL CMD-TEMPLATE... : RUNS timed pushes; "@DEST@" in the arguments is the registry.
push_series() {
  local tool=$1; shift
  local i logf=$OUT/logs/push-$tool.log load
  : >"$logf"
  for ((i = 1; i <= RUNS; i++)); do
    prep_push "$tool"
    local argv=("${@//@DEST@/$DEST}")
    load=$(cut -d' ' -f1 /proc/loadavg)
    if timed_run "$logf" "${argv[@]}"; then
      record push "$tool" cold "$SECS" "$RSS_KB" "$load"
      log "  push $tool #$i: ${SECS}s, peak RSS $((RSS_KB / 1024)) MB, load $load"
    else
      record push "$tool" cold FAIL 0 "$load"
      log "  push $tool #$i: FAILED (log $logf)"; tail -5 "$logf" >&2; return 0
    fi
  done
}

log "== push: building the ${LAYER_MIB} MiB image with each tool (untimed)"
ALL=()
if tool_enabled builder; then
  build_cmd builder "$CTX" "$SRC"; "${CMD[@]}" >/dev/null
  push_series builder "$BUILDER" push -q --root "$BROOT" --registry-config "$OUT/registries.toml" \
    "$SRC" "@DEST@/bench/push:1"
  ALL+=(builder)
  if [ "$SKOPEO" = 1 ]; then
    L=$OUT/push-oci
    rm -rf "$L" "$L.tar"; mkdir -p "$L"
    "$BUILDER" save --root "$BROOT" --format oci --compression uncompressed -o "$L.tar" "$SRC"
    tar -C "$L" -xf "$L.tar"; rm -f "$L.tar"
    ref=$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"] // empty' "$L/index.json")
    push_series skopeo skopeo copy -q --dest-tls-verify=false "oci:$L${ref:+:$ref}" "docker://@DEST@/bench/push:1"
    ALL+=(skopeo)
    rm -rf "$L"
  fi
fi
if [ -n "$BASELINE" ]; then
  BR=$OUT/baseline-root
  rm -rf "$BR"
  "$BASELINE" build --root "$BR" --registry-config "$OUT/registries.toml" -q -t "$SRC" \
    -f "$CTX/Dockerfile" "$CTX" >/dev/null
  push_series baseline "$BASELINE" push -q --root "$BR" --registry-config "$OUT/registries.toml" \
    "$SRC" "@DEST@/bench/push:1"
  ALL+=(baseline)
  rm -rf "$BR"
fi
if tool_enabled buildkit; then
  build_cmd buildkit "$CTX" "$SRC"; "${CMD[@]}" >/dev/null
  # docker push takes only the image's own name: tag it for each fresh registry inside the run.
  push_series buildkit sh -c 'd=$1; shift; "$@" tag bench/push:src "$d/bench/push:1" &&
    "$@" push -q "$d/bench/push:1" && "$@" rmi "$d/bench/push:1" >/dev/null' sh "@DEST@" "${DOCKER[@]}"
  ALL+=(buildkit)
fi
if tool_enabled buildah; then
  build_cmd buildah "$CTX" "$SRC"; "${CMD[@]}" >/dev/null
  push_series buildah env CONTAINERS_REGISTRIES_CONF="$OUT/buildah-registries.conf" "${BAH[@]}" push -q \
    --tls-verify=false "$SRC" "docker://@DEST@/bench/push:1"
  ALL+=(buildah)
fi
stop_push_registry

printf '\n%-10s %9s %9s %10s %12s  %s\n' tool median_s rss_MB load_avg1 builder/tool "(push of a ${LAYER_MIB} MiB layer, $RUNS runs)"
for t in "${ALL[@]}"; do
  loads=$(awk -F'\t' -v t="$t" '$1=="push" && $2==t {print $6}' "$RUNFILE" | median)
  printf '%-10s %9s %9s %10s %12s\n' "$t" "$(stat_of push "$t" cold)" "$(stat_of push "$t" cold 5)" "$loads" \
    "$(ratio "$(stat_of push builder cold)" "$(stat_of push "$t" cold)")"
done
echo "load average (1/5/15 min): $LOAD_START at the start, $(load_avg) at the end; $(nproc) CPUs"
# Disk is precious: the tools' states and the generated context go (KEEP=1 keeps them).
if [ "${KEEP:-0}" != 1 ]; then
  for t in builder buildah; do if tool_enabled "$t"; then wipe "$t"; fi; done
  rm -rf "$CTX" "$PUSHREG_DIR"
fi
