#!/usr/bin/env bash
# The edit CI makes all day (issue 14): a 100,000-file context (~100 MB), `COPY . /data/` and a RUN
# after it, rebuilt after ONE file changed. builder vs BuildKit vs buildah, one run, one machine.
#
#   kind            what is timed (Dockerfile)
#   cold            tool state wiped, base re-pulled, every step runs (COPY + RUN)
#   cached          unchanged rebuild (COPY + RUN)
#   change          one file rewritten, rebuild (COPY + RUN: the RUN needs the new snapshot)
#   change-copy     one file rewritten, rebuild of `FROM busybox` / `COPY . /data/` only
#   touch-all       every file's mtime touched, rebuild (COPY + RUN)
#
#   bench/one_change.sh      env: COLD_RUNS (1), CACHED_RUNS (3), CHANGE_RUNS (3), CTX_FILES (100000),
#                            CTX_BYTES (100000000), TOOLS, OUT, BUILDER, RUN_TIMEOUT, SETTLE_SECS,
#                            KEEP=1 (keep the context and the tools' states at the end).
# Before the cold run: the file is changed, then the tool's state wiped + sync + settle (cold_prep
# in bench/lib.sh, the same for every tool). BuildKit runs in the bench's own dockerd (bench/lib.sh).
set -euo pipefail
COLD_RUNS=${COLD_RUNS:-1}   # before lib.sh, whose default is 3
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

main() {
  COLD_RUNS=${COLD_RUNS:-1}
  CACHED_RUNS=${CACHED_RUNS:-3}
  CHANGE_RUNS=${CHANGE_RUNS:-3}
  CTX_FILES=${CTX_FILES:-100000}
  CTX_BYTES=${CTX_BYTES:-100000000}

  setup_tools
  base_busybox
  log "load at start: $(uptime)"

  local ctx=$CACHE/ctx-$CTX_FILES-$CTX_BYTES-one
  if [ ! -f "$ctx.ok" ]; then
    log "generating $ctx ($CTX_FILES files, $CTX_BYTES bytes)"
    rm -rf "$ctx"
    python3 "$BENCH_DIR/gen-context.py" "$ctx" "$CTX_FILES" "$CTX_BYTES" 7
    mkdir -p "$ctx/d07/e3"
    touch "$ctx.ok"
  fi
  # The Dockerfiles live outside the context, so the context is the generated tree alone.
  local dfs=$OUT/one_change
  mkdir -p "$dfs"
  printf '%s\n' 'FROM busybox' 'COPY . /data/' \
    'RUN find /data -type f | wc -l > /count && cat /data/d07/e3/changed.txt > /last' >"$dfs/Dockerfile.run"
  printf '%s\n' 'FROM busybox' 'COPY . /data/' >"$dfs/Dockerfile.copy"

  change_one() { date +%s%N >"$ctx/d07/e3/changed.txt"; }
  touch_all() { find "$ctx" -type f -print0 | xargs -0 touch; }

  local t
  for t in $TOOLS; do
    log "== one-change: $t"
    cmd_for "$t" "$ctx" bench/one-change:latest "$dfs/Dockerfile.run"
    # shellcheck disable=SC2034  # read by measure through $prep
    wipe_this=$t
    measure one-change "$t" cold "$COLD_RUNS" cold_prep_t "${CMD[@]}"
    timed_run "$OUT/logs/one-change-$t-warmup.log" "${CMD[@]}" || true
    measure one-change "$t" cached "$CACHED_RUNS" noop "${CMD[@]}"
    measure one-change "$t" change "$CHANGE_RUNS" change_one "${CMD[@]}"
    measure one-change "$t" touch-all 1 touch_all "${CMD[@]}"
    cmd_for "$t" "$ctx" bench/one-change-copy:latest "$dfs/Dockerfile.copy"
    timed_run "$OUT/logs/one-change-copy-$t-warmup.log" "${CMD[@]}" || true
    measure one-change "$t" change-copy "$CHANGE_RUNS" change_one "${CMD[@]}"
  done

  log "load at end: $(uptime)"
  if [ "${KEEP:-0}" != 1 ]; then
    # BuildKit's private dockerd is deleted whole at exit (bench/lib.sh): no slow prune first.
    for t in $TOOLS; do
      if [ "$t" != buildkit ] || [ -z "$BENCH_DOCKERD_PID" ]; then wipe "$t"; fi
    done
    rm -rf "$ctx" "$ctx.ok" "$dfs"
  fi
  printf '\n%-9s %9s %9s %9s %11s %9s   %s\n' tool cold_s cached_s change_s change-copy touch-all \
    "(median wall seconds; $(nproc) CPUs; load at end: $(uptime | sed 's/.*load average: //'))"
  for t in $TOOLS; do
    printf '%-9s %9s %9s %9s %11s %9s\n' "$t" "$(stat_of one-change "$t" cold)" \
      "$(stat_of one-change "$t" cached)" "$(stat_of one-change "$t" change)" \
      "$(stat_of one-change "$t" change-copy)" "$(stat_of one-change "$t" touch-all)"
  done
  if tool_enabled builder; then
    local peer b
    b=$(stat_of one-change builder change)
    printf '\nbuilder change ÷ change-copy: %s (goal ≤ 2)\n' "$(ratio "$b" "$(stat_of one-change builder change-copy)")"
    for peer in buildkit buildah; do
      tool_enabled "$peer" || continue
      printf 'builder ÷ %-8s cold %s  cached %s  change %s (goal ≤ 0.2 vs buildkit)  change-copy %s  touch-all %s\n' \
        "$peer" "$(ratio "$(stat_of one-change builder cold)" "$(stat_of one-change "$peer" cold)")" \
        "$(ratio "$(stat_of one-change builder cached)" "$(stat_of one-change "$peer" cached)")" \
        "$(ratio "$b" "$(stat_of one-change "$peer" change)")" \
        "$(ratio "$(stat_of one-change builder change-copy)" "$(stat_of one-change "$peer" change-copy)")" \
        "$(ratio "$(stat_of one-change builder touch-all)" "$(stat_of one-change "$peer" touch-all)")"
    done
  fi
}

# cmd_for TOOL CTX TAG DOCKERFILE : sets CMD (one build of CTX with DOCKERFILE, outside the context)
cmd_for() {
  local tool=$1 ctx=$2 tag=$3 df=$4
  case $tool in
    builder)  CMD=("$BUILDER" build --root "$BROOT" --registry-config "$OUT/registries.toml" -q
                   -t "$tag" -f "$df" "$ctx") ;;
    buildkit) CMD=("${DOCKER[@]}" build -q -t "$tag" -f "$df" "$ctx") ;;
    buildah)  CMD=(env CONTAINERS_REGISTRIES_CONF="$OUT/buildah-registries.conf" "${BAH[@]}" build
                   --layers -q -t "$tag" -f "$df" "$ctx") ;;
  esac
}

cold_prep_t() { change_one; cold_prep "$wipe_this"; }

main "$@"; exit $?
