# The untimed wait before every cold run and push (settle) and its file-creation probe. Sourced by
# bench/lib.sh (uses its OUT, BENCH_DIR, log, die and load_avg); see bench/README.md, "Noise".
# shellcheck shell=bash

SETTLE_SECS=${SETTLE_SECS:-60}       # minimum quiet time after the dirty pages are written
DIRTY_MAX_KB=${DIRTY_MAX_KB:-32768}  # "written": Dirty in /proc/meminfo at most this
DIRTY_WAIT_MAX=${DIRTY_WAIT_MAX:-600}
# The file-creation probe (probe-create.py): PROBE_FILES creates, in a new dir under PROBE_DIR (the
# file system of the tools' state), timed in CPU seconds of the probe process (user + system): the
# slow creates are kernel time in the creating process, and CPU time, unlike wall time, does not
# grow when other jobs take the CPUs. Fast = at most PROBE_TOL x PROBE_BASELINE (best of 3 probes
# when the script starts, unless set: bench/issue14.sh sets it once for the scripts it runs; lowered
# to any faster probe seen later).
PROBE_FILES=${PROBE_FILES:-1000}
PROBE_TOL=${PROBE_TOL:-1.5}
PROBE_OK=${PROBE_OK:-2}              # fast probes in a row that end the wait
PROBE_INTERVAL=${PROBE_INTERVAL:-5}  # seconds between probes
SETTLE_MAX=${SETTLE_MAX:-600}        # longest settle (seconds); then it goes on, with a note
PROBE_DIR=${PROBE_DIR:-$OUT/.probe}
PROBE_LOG=$OUT/logs/probe.log
PROBE_SEQ=0

probe_log() { log "  settle: $*"; printf '%s %s\n' "$(date -u +%FT%TZ)" "$*" >>"$PROBE_LOG"; }

# probe : one probe (bench/probe-create.py) in a new dir under PROBE_DIR; sets PROBE_WALL and
# PROBE_CPU (seconds). Its files stay until the next settle starts (see settle).
probe() {
  local out
  mkdir -p "$PROBE_DIR"
  PROBE_SEQ=$((PROBE_SEQ + 1))
  out=$(python3 "$BENCH_DIR/probe-create.py" "$PROBE_DIR/$$-$PROBE_SEQ" "$PROBE_FILES") ||
    die "file-creation probe failed (bench/probe-create.py)"
  read -r PROBE_WALL PROBE_CPU <<<"$out"
}

# probe_baseline : sets and exports PROBE_BASELINE (CPU seconds of one probe on the quiet file
# system: the best of 3) unless it is set already. Called by setup_tools, before any wipe.
probe_baseline() {
  [ -z "${PROBE_BASELINE:-}" ] || return 0
  local _ best=
  for _ in 1 2 3; do
    probe
    best=$(awk -v a="$best" -v b="$PROBE_CPU" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }')
  done
  awk -v b="$best" 'BEGIN { exit !(b + 0 > 0) }' || die "file-creation probe measured $best s"
  PROBE_BASELINE=$best
  export PROBE_BASELINE
  probe_log "baseline: $PROBE_FILES creates in $best s CPU (best of 3, in $PROBE_DIR; load $(load_avg));" \
    "fast = at most ${PROBE_TOL}x, $PROBE_OK probes in a row"
}

# settle : untimed wait before a cold run, the same for every tool:
#  1. the previous settle's probe files are deleted (their window is waited out with the wipe's);
#  2. `sync`, then until Dirty (/proc/meminfo) is at most DIRTY_MAX_KB (gives up after
#     DIRTY_WAIT_MAX s, with a note, if others keep writing), then SETTLE_SECS more (the minimum);
#  3. a file-creation probe every PROBE_INTERVAL s until PROBE_OK probes in a row take at most
#     PROBE_TOL x PROBE_BASELINE CPU seconds, or SETTLE_MAX s have passed since 1 (then a note).
# Why: ext4 without a journal (this VM's root) skips inodes deleted in the last 60 s, 360 s while
# their inode-table block is dirty (fs/ext4/ialloc.c, recently_deleted()), scanning past each one
# for every new inode, so a tool that creates 100,000 files after a wipe can take 5x longer; no
# fixed wait covers it (README, "A/B"). Each probe is followed by `sync`: its creates dirty the
# inode-table blocks, which would keep their deleted neighbours "recent" 5 minutes longer.
# Every probe is logged (stderr and $OUT/logs/probe.log).
settle() {
  local t0 d n=0 ok=0 x
  probe_baseline
  t0=$(date +%s)
  rm -rf "$PROBE_DIR"
  sync
  while d=$(awk '/^Dirty:/ {print $2}' /proc/meminfo); [ "$d" -gt "$DIRTY_MAX_KB" ]; do
    if [ $(($(date +%s) - t0)) -ge "$DIRTY_WAIT_MAX" ]; then
      log "  settle: still $d kB dirty after ${DIRTY_WAIT_MAX}s; going on"; break
    fi
    sleep 2; sync
  done
  [ "$SETTLE_SECS" -le 0 ] || sleep "$SETTLE_SECS"
  while :; do
    probe
    sync
    n=$((n + 1))
    x=$(awk -v c="$PROBE_CPU" -v b="$PROBE_BASELINE" 'BEGIN { printf "%.2f", c / b }')
    if awk -v c="$PROBE_CPU" -v b="$PROBE_BASELINE" 'BEGIN { exit !(c + 0 > 0 && c + 0 < b + 0) }'; then
      # A baseline taken inside a slow window (someone deleted files just before) would make the
      # tolerance loose: the quiet figure is the fastest probe seen.
      probe_log "baseline lowered from $PROBE_BASELINE to $PROBE_CPU s"
      PROBE_BASELINE=$PROBE_CPU
    fi
    if awk -v x="$x" -v t="$PROBE_TOL" 'BEGIN { exit !(x + 0 <= t + 0) }'; then ok=$((ok + 1)); else ok=0; fi
    probe_log "probe $n at +$(($(date +%s) - t0))s: cpu $PROBE_CPU s (${x}x baseline), wall $PROBE_WALL s," \
      "load $(cut -d' ' -f1 /proc/loadavg)"
    if [ "$ok" -ge "$PROBE_OK" ]; then
      probe_log "fast again after $(($(date +%s) - t0))s ($n probes)"; return 0
    fi
    if [ $(($(date +%s) - t0)) -ge "$SETTLE_MAX" ]; then
      probe_log "GAVE UP after $(($(date +%s) - t0))s ($n probes): creates still ${x}x baseline"; return 0
    fi
    sleep "$PROBE_INTERVAL"
  done
}
