#!/usr/bin/env bash
# Print the tables again from every run recorded in $OUT/results.tsv (medians over all recorded runs;
# delete that file to start afresh).
#   bench/report.sh [SCENARIO...]      (default: every scenario in the file)
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

main() {
  [ -s "$RESULTS" ] || die "no results in $RESULTS"
  cut -f2- "$RESULTS" >"$RUNFILE"
  if [ $# -eq 0 ]; then mapfile -t all < <(cut -f1 "$RUNFILE" | awk '!seen[$0]++'); set -- "${all[@]}"; fi
  TOOLS="builder buildkit buildah" # read by table
  table "$@"
}
main "$@"; exit $?
