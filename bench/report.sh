#!/usr/bin/env bash
# Print the tables again from every run recorded in $OUT/results.tsv (medians over all recorded runs;
# delete that file to start afresh).
#   bench/report.sh [SCENARIO...]      (default: every scenario in the file)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

main() {
  [ -s "$RESULTS" ] || die "no results in $RESULTS"
  cut -f2- "$RESULTS" >"$RUNFILE"
  [ $# -gt 0 ] || set -- $(cut -f1 "$RUNFILE" | awk '!seen[$0]++')
  TOOLS="builder buildkit buildah"
  table "$@"
}
main "$@"
