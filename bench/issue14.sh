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

# cell SCENARIO TOOL KIND : "median (runs)" of the recorded seconds, "-" when none
cell() {
  local n
  n=$(awk -F'\t' -v s="$1" -v t="$2" -v k="$3" '$1==s && $2==t && $3==k' "$RUNFILE" | wc -l)
  if [ "$n" -eq 0 ]; then echo "-"; else echo "$(stat_of "$1" "$2" "$3") ($n)"; fi
}

# row LABEL SC_A TOOL_A KIND_A SC_B TOOL_B KIND_B GOAL : one ratio row, A ÷ B, with both medians;
# GOAL is "<= X", "< X", ">= X" or "" (then no verdict).
row() {
  local label=$1 goal=$8 a b r met=""
  a=$(stat_of "$2" "$3" "$4"); b=$(stat_of "$5" "$6" "$7"); r=$(ratio "$a" "$b")
  if [ -n "$goal" ] && [ "$r" != "-" ]; then
    met=$(awk -v r="$r" -v op="${goal% *}" -v g="${goal#* }" 'BEGIN {
      ok = (op == "<=") ? r + 0 <= g + 0 : (op == "<") ? r + 0 < g + 0 : r + 0 >= g + 0
      print ok ? "yes" : "**no**" }')
  fi
  printf '| %s | **%s** | %s ÷ %s | %s | %s |\n' "$label" "$r" "$(cell "$2" "$3" "$4")" \
    "$(cell "$5" "$6" "$7")" "${goal:-}" "$met"
}

# issue14_table FILE [LOAD_START LOAD_END] : prints the table (Markdown) from FILE, a results.tsv
# (time scenario tool kind seconds peak_rss_kb load1; see record in bench/lib.sh).
issue14_table() {
  local f=$1 load0=${2:-} load1=${3:-}
  [ -s "$f" ] || die "no results in $f"
  cut -f2- "$f" >"$RUNFILE"
  local k label peer pname
  printf '\n## Issue 14, one run: every figure as a ratio (below 1: builder is faster)\n\n'
  printf '| figure | ratio | median s (runs) | goal | met |\n|---|---:|---|---|---|\n'
  for k in cold cached change change-copy touch-all; do
    case $k in
      cold)        label="100k files, cold (wiped, settled)" ;;
      cached)      label="100k files, fully cached" ;;
      change)      label="100k files, one file changed, COPY + RUN" ;;
      change-copy) label="100k files, one file changed, COPY only" ;;
      touch-all)   label="100k files, every mtime touched" ;;
    esac
    for peer in buildkit buildah; do
      [ "$peer" = buildkit ] && pname=BuildKit || pname=buildah
      if [ "$k$peer" = changebuildkit ]; then
        row "$label: builder ÷ $pname" one-change builder "$k" one-change "$peer" "$k" "<= 0.2"
      else
        row "$label: builder ÷ $pname" one-change builder "$k" one-change "$peer" "$k" ""
      fi
    done
  done
  row "100k files, builder: change ÷ change-copy" one-change builder change one-change builder change-copy "<= 2"
  row "push 500 MiB: builder ÷ docker push (BuildKit)" push builder cold push buildkit cold ""
  row "push 500 MiB: builder ÷ buildah push" push builder cold push buildah cold ""
  row "push 500 MiB: builder ÷ skopeo copy" push builder cold push skopeo cold "< 1"
  row "push 500 MiB: speed-up, BASELINE builder ÷ builder" push baseline cold push builder cold ">= 1.8"
  local rss met="-"
  rss=$(stat_of push builder cold 5)
  case $rss in ''|*[!0-9]*) ;; *) if [ "$rss" -lt 100 ]; then met=yes; else met="**no**"; fi ;; esac
  printf '| push 500 MiB: builder peak RSS (MB) | **%s** | max of %s runs | < 100 | %s |\n' "$rss" \
    "$(awk -F'\t' '$1=="push" && $2=="builder" && $3=="cold"' "$RUNFILE" | wc -l)" "$met"

  local range
  range=$(awk -F'\t' '$6 ~ /^[0-9.]+$/ { if (n++ == 0 || $6 < lo) lo = $6; if ($6 > hi) hi = $6 }
    END { if (n) printf "%s to %s", lo, hi; else print "-" }' "$RUNFILE")
  printf '\nMachine: %s CPUs; 1-minute load when each timed run started: %s.\n' "$(nproc)" "$range"
  if [ -n "$load0" ]; then
    printf 'Load average (1/5/15 min): %s at the start, %s at the end.\n' "$load0" "$load1"
  fi
  printf 'Runs: %s (%s lines; medians of every run in it).\n' "$f" "$(wc -l <"$f")"
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
  first=1
  if [ -f "$RESULTS" ]; then first=$(($(wc -l <"$RESULTS") + 1)); fi
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
