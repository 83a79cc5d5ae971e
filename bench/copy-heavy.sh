#!/usr/bin/env bash
# Copy-heavy build: a generated context of 20,000 files, ~500 MB (mixed sizes, nested dirs),
#   FROM busybox / COPY . /data / COPY d00/ /extra/
# built cold (tool state wiped, base re-pulled) and then fully cached, by builder, BuildKit, buildah.
#   bench/copy-heavy.sh            env: FILES (20000), BYTES (500000000), COLD_RUNS (2), CACHED_RUNS (3),
#                                  TOOLS, OUT, BUILDER, RUN_TIMEOUT (see bench/README.md)
set -euo pipefail
COLD_RUNS=${COLD_RUNS:-2}
CACHED_RUNS=${CACHED_RUNS:-3}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

# The whole body is one function: bash reads it completely before running it, so editing
# this file during a long run cannot change the run.
main() {
  FILES=${FILES:-20000}
  BYTES=${BYTES:-500000000}

  setup_tools
  base_busybox

  ctx=$CACHE/copy-heavy-$FILES-$BYTES
  if [ ! -f "$ctx.ok" ]; then
    log "generating $ctx ($FILES files, $BYTES bytes)"
    rm -rf "$ctx"
    python3 "$BENCH_DIR/gen-context.py" "$ctx" "$FILES" "$BYTES"
    cat >"$ctx/Dockerfile" <<'DF'
FROM busybox
COPY . /data
COPY d00/ /extra/
DF
    touch "$ctx.ok"
  fi

  # a non-default size gets its own scenario name, so results.tsv never mixes sizes
  local sc=copy-heavy
  [ "$FILES-$BYTES" = 20000-500000000 ] || sc=copy-heavy-$FILES-$BYTES
  bench_build "$sc" "$ctx"
  table "$sc"
}
main "$@"; exit $?
