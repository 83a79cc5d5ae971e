#!/usr/bin/env bash
# Cache behaviour, builder vs BuildKit vs buildah:
#   hello            fully cached rebuild of the classic example (one cold build first, for reference)
#   three-stage      two independent busybox stages (each RUN sleeps 2 s and writes 3,000 files) and a
#                    final stage copying from both; cold once, then fully cached rebuilds
#   ctx100k-change   FROM busybox / COPY . /ctx over a 100,000-file context (~100 MB); one cold build,
#                    then rebuilds each after rewriting ONE file (column "cached" = after the change)
# and for builder only: three-stage cold with --jobs 1 vs the default (independent stages in parallel).
#   bench/cache.sh             env: CACHED_RUNS (5), CHANGE_RUNS (2), JOBS_RUNS (3), CTX_FILES (100000),
#                              CTX_BYTES (100000000), TOOLS, OUT, BUILDER, RUN_TIMEOUT
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

# The whole body is one function: bash reads it completely before running it, so editing
# this file during a long run cannot change the run.
main() {
  JOBS_RUNS=${JOBS_RUNS:-3}
  CHANGE_RUNS=${CHANGE_RUNS:-2}
  CTX_FILES=${CTX_FILES:-100000}
  CTX_BYTES=${CTX_BYTES:-100000000}

  setup_tools
  base_busybox
  base_debian

  hello=$OUT/ctx/hello
  rm -rf "$hello"; mkdir -p "$hello"
  cp "$REPO/examples/hello/helloworld" "$hello/helloworld"
  printf '%s\n' 'FROM ubuntu:16.04' 'COPY helloworld /usr/local/bin' 'RUN chmod +x /usr/local/bin/helloworld' \
    'CMD ["helloworld"]' >"$hello/Dockerfile"

  three=$OUT/ctx/three-stage
  rm -rf "$three"; mkdir -p "$three"
  cat >"$three/Dockerfile" <<'DF'
FROM busybox AS a
RUN sleep 2 && mkdir /out && i=0; while [ $i -lt 3000 ]; do echo "a $i" > /out/a$i; i=$((i+1)); done
FROM busybox AS b
RUN sleep 2 && mkdir /out && i=0; while [ $i -lt 3000 ]; do echo "b $i" > /out/b$i; i=$((i+1)); done
FROM busybox
COPY --from=a /out /a
COPY --from=b /out /b
RUN test "$(ls /a | wc -l)" = 3000 && test "$(ls /b | wc -l)" = 3000
DF

  big=$CACHE/ctx-$CTX_FILES-$CTX_BYTES
  if [ ! -f "$big.ok" ]; then
    log "generating $big ($CTX_FILES files, $CTX_BYTES bytes)"
    rm -rf "$big"
    python3 "$BENCH_DIR/gen-context.py" "$big" "$CTX_FILES" "$CTX_BYTES" 7
    printf '%s\n' 'FROM busybox' 'COPY . /ctx' >"$big/Dockerfile"
    touch "$big.ok"
  fi
  change_one() { date +%s%N >"$big/d07/e3/changed.txt"; }
  mkdir -p "$big/d07/e3"

  COLD_RUNS=1 bench_build hello "$hello"
  COLD_RUNS=1 bench_build three-stage "$three"

  # builder only, before the 100k-file context (wiping a store holding several 100k-file
  # snapshots takes minutes, untimed but long)
  if tool_enabled builder; then
    log "== three-stage --jobs 1 vs default (builder)"
    build_cmd builder "$three" bench/three-stage:latest --jobs 1
    measure three-stage-jobs1 builder cold "$JOBS_RUNS" "cold_prep builder" "${CMD[@]}"
    build_cmd builder "$three" bench/three-stage:latest
    measure three-stage-jobsN builder cold "$JOBS_RUNS" "cold_prep builder" "${CMD[@]}"
    j1=$(stat_of three-stage-jobs1 builder cold); jn=$(stat_of three-stage-jobsN builder cold)
    printf '\n%-30s %9s\n%-30s %9s\n%-30s %9s\n%-30s %9s\n' "builder three-stage cold" median_s \
      "--jobs 1" "$j1" "default jobs" "$jn" "ratio default/--jobs 1" "$(ratio "$jn" "$j1")"
  fi

  for t in $TOOLS; do
    log "== ctx100k-change: $t"
    change_one
    build_cmd "$t" "$big" bench/ctx100k:latest
    measure ctx100k-change "$t" cold 1 "cold_prep $t" "${CMD[@]}"
    measure ctx100k-change "$t" cached "$CHANGE_RUNS" change_one "${CMD[@]}"
  done

  table hello three-stage ctx100k-change
}
main "$@"; exit $?
