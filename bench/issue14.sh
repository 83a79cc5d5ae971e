#!/usr/bin/env bash
# Issue 14's closing figures from ONE run, as ONE table of ratios:
#   bench/one_change.sh  builder, BuildKit, buildah: 100,000-file context, `COPY . /data/` + a RUN;
#                        cold, fully cached, one file changed (COPY + RUN, and COPY only), every
#                        mtime touched;
#   bench/push.sh        builder push, docker push (BuildKit's image), buildah push, skopeo copy,
#                        and the BASELINE builder if set: one image with a 500 MiB layer.
# Then: builder ÷ BuildKit, ÷ buildah and ÷ skopeo, builder's change ÷ change-copy, the push
# speed-up over BASELINE (baseline ÷ builder), builder's peak RSS, and the machine load at the
# start and the end (and the range of each run's 1-minute load). Both scripts wipe every tool's
# state the same way and wait until file creation is fast again before each cold run and push
# (cold_prep / settle in bench/lib.sh), against one probe baseline taken here at the start.
#
#   bench/issue14.sh               env: OUT (/tmp/bench-issue14), TOOLS, BUILDER, BASELINE,
#                                  COLD_RUNS (3), CACHED_RUNS (3), CHANGE_RUNS (3), PUSH_RUNS (3),
#                                  and bench/lib.sh's (SETTLE_SECS, PROBE_*, RUN_TIMEOUT, ...)
#   bench/issue14.sh --table FILE  the table alone, from a results.tsv (read only; the medians of
#                                  every run in FILE)
# The run's own lines of $OUT/results.tsv are also kept as $OUT/issue14-<UTC time>.tsv.
set -euo pipefail
OUT=${OUT:-/tmp/bench-issue14}
export OUT
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

# runs_of SCENARIO KIND TOOL... : the number of recorded runs per tool, "3/3/1"
runs_of() {
  local sc=$1 kind=$2 t out=
  shift 2
  for t in "$@"; do
    out+=${out:+/}$(awk -F'\t' -v s="$sc" -v t="$t" -v k="$kind" '$1==s && $2==t && $3==k' "$RUNFILE" | wc -l)
  done
  echo "$out"
}

# issue14_table FILE [LOAD_START LOAD_END] : prints the table (Markdown) from FILE, a results.tsv
# (time scenario tool kind seconds peak_rss_kb load1; see record in bench/lib.sh).
issue14_table() {
  local f=$1 load0=${2:-} load1=${3:-}
  [ -s "$f" ] || die "no results in $f"
  cut -f2- "$f" >"$RUNFILE"
  local k label b bk bah
  printf '\n## Issue 14, one run (median wall seconds; ratios below 1: builder is faster)\n\n'
  printf '| one_change.sh: 100,000 files, COPY + RUN | runs b/BK/bah | builder | BuildKit | buildah | builder ÷ BuildKit | builder ÷ buildah |\n'
  printf '|---|---|---:|---:|---:|---:|---:|\n'
  for k in cold cached change change-copy touch-all; do
    case $k in
      cold)        label="cold (state wiped, settled)" ;;
      cached)      label="fully cached" ;;
      change)      label="one file changed, COPY + RUN" ;;
      change-copy) label="one file changed, COPY only" ;;
      touch-all)   label="every mtime touched" ;;
    esac
    b=$(stat_of one-change builder "$k"); bk=$(stat_of one-change buildkit "$k")
    bah=$(stat_of one-change buildah "$k")
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$label" \
      "$(runs_of one-change "$k" builder buildkit buildah)" "$b" "$bk" "$bah" \
      "$(ratio "$b" "$bk")" "$(ratio "$b" "$bah")"
  done
  b=$(stat_of one-change builder change)
  printf '\n- builder change ÷ change-copy: **%s** (goal ≤ 2)\n' "$(ratio "$b" "$(stat_of one-change builder change-copy)")"
  printf -- '- builder change ÷ BuildKit change: **%s** (goal ≤ 0.2)\n' "$(ratio "$b" "$(stat_of one-change buildkit change)")"

  local t name s
  b=$(stat_of push builder cold)
  printf '\n| push.sh: 500 MiB layer to an empty registry | runs | seconds | peak RSS MB | builder ÷ tool |\n'
  printf '|---|---:|---:|---:|---:|\n'
  for t in builder buildkit buildah skopeo baseline; do
    case $t in
      builder)  name="builder push" ;;
      buildkit) name="docker push (BuildKit's image)" ;;
      buildah)  name="buildah push" ;;
      skopeo)   name="skopeo copy (builder's OCI layout)" ;;
      baseline) name="builder push, BASELINE binary" ;;
    esac
    s=$(stat_of push "$t" cold)
    printf '| %s | %s | %s | %s | %s |\n' "$name" "$(runs_of push cold "$t")" "$s" \
      "$(stat_of push "$t" cold 5)" "$(ratio "$b" "$s")"
  done
  printf '\n- push speed-up over the baseline builder (baseline ÷ builder): **%s** (goal ≥ 1.8)\n' \
    "$(ratio "$(stat_of push baseline cold)" "$b")"
  printf -- '- builder push ÷ skopeo copy: **%s** (goal < 1); builder peak RSS **%s MB** (goal < 100)\n' \
    "$(ratio "$b" "$(stat_of push skopeo cold)")" "$(stat_of push builder cold 5)"

  local range
  range=$(awk -F'\t' '$6 ~ /^[0-9.]+$/ { if (n++ == 0 || $6 < lo) lo = $6; if ($6 > hi) hi = $6 }
    END { if (n) printf "%s to %s", lo, hi; else print "-" }' "$RUNFILE")
  printf '\nMachine: %s CPUs. 1-minute load when each timed run started: %s.\n' "$(nproc)" "$range"
  if [ -n "$load0" ]; then
    printf 'Load average (1/5/15 min): %s at the start, %s at the end.\n' "$load0" "$load1"
  fi
  printf 'Runs: %s (%s lines)\n' "$f" "$(wc -l <"$f")"
}

main() {
  if [ "${1:-}" = --table ]; then
    [ $# -eq 2 ] || die "usage: bench/issue14.sh [--table RESULTS.TSV]"
    issue14_table "$2"
    return
  fi
  [ $# -eq 0 ] || die "usage: bench/issue14.sh [--table RESULTS.TSV]"
  local load0 first rc=0 stamp keep
  load0=$(load_avg)
  log "issue14: load at start $load0; OUT=$OUT"
  # One baseline for both scripts: each would otherwise take its own, push.sh's right after
  # one_change.sh deleted its 100,000-file states.
  probe_baseline
  first=$(($(wc -l <"$RESULTS" 2>/dev/null || echo 0) + 1))
  COLD_RUNS=${COLD_RUNS:-3} CACHED_RUNS=${CACHED_RUNS:-3} CHANGE_RUNS=${CHANGE_RUNS:-3} \
    bash "$BENCH_DIR/one_change.sh" || { rc=$?; log "issue14: one_change.sh failed ($rc); going on"; }
  RUNS=${PUSH_RUNS:-3} bash "$BENCH_DIR/push.sh" || { rc=$?; log "issue14: push.sh failed ($rc)"; }
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  keep=$OUT/issue14-$stamp.tsv
  tail -n "+$first" "$RESULTS" >"$keep.tmp" && sync "$keep.tmp" && mv "$keep.tmp" "$keep"
  issue14_table "$keep" "$load0" "$(load_avg)"
  return "$rc"
}

main "$@"
