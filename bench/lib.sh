# Shared helpers for bench/*.sh (sourced, not run). See bench/README.md.
#
# Every tool builds into its own private state so a "cold" run can wipe it:
#   builder  : --root $OUT/builder-root (wiped whole for cold runs)
#   buildkit : the dockerd started by the peer setup (its build cache is pruned and our tags removed)
#   buildah  : --root/--runroot under $OUT/buildah (every image and container removed for cold runs)
# Base images come from the local registry through a docker.io mirror, so `FROM busybox` and
# `FROM ubuntu:16.04` are pulled again by every cold run, by every tool.
# shellcheck shell=bash

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
OUT=${OUT:-/tmp/builder-bench}
CACHE=${BENCH_CACHE:-$OUT/cache}
REG=${REGISTRY:-127.0.0.1:5000}
TOOLS=${TOOLS:-builder buildkit buildah}
PEER_TOOLS=${PEER_TOOLS:-/work/shared/tools}
COLD_RUNS=${COLD_RUNS:-3}
CACHED_RUNS=${CACHED_RUNS:-5}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}
BUILDER=${BUILDER:-}
BROOT=$OUT/builder-root
BASEROOT=$OUT/builder-base-root
BAH=(buildah --root "$OUT/buildah/root" --runroot "$OUT/buildah/run")
# BuildKit runs in a dockerd private to the benchmark (own socket, data root and exec root; see
# bench_dockerd): the wipe removes every image and the whole build cache, which must neither break
# nor be broken by other users of a shared dockerd (their prune deleted our COPY's snapshots while
# it ran: "failed to copy files: failed to open source/target ... no such file or directory").
# BENCH_DOCKER_HOST=unix:///... uses an existing dockerd instead (then it must be dedicated too).
BENCH_DOCKER_ROOT=${BENCH_DOCKER_ROOT:-/var/lib/docker26-bench}
BENCH_DOCKER_DIR=${BENCH_DOCKER_DIR:-/run/builder-bench-docker}
BENCH_DOCKER_HOST=${BENCH_DOCKER_HOST:-unix://$BENCH_DOCKER_DIR/docker.sock}
DOCKER=(env DOCKER_BUILDKIT=1 DOCKER_HOST="$BENCH_DOCKER_HOST" /usr/bin/docker)
ENVPATH=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RESULTS=$OUT/results.tsv
mkdir -p "$OUT/logs" "$CACHE"

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

apt_need() { # apt_need PKG... : install the missing ones
  local m=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || m+=("$p"); done
  [ ${#m[@]} -eq 0 ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${m[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${m[@]}" >/dev/null; }
}

# ---------------------------------------------------------------- tools

find_builder() { # sets BUILDER to a runnable builder binary, or leaves it empty
  if [ -z "$BUILDER" ]; then
    local c
    for c in "${CARGO_TARGET_DIR:-$REPO/target}/release/builder" "$REPO/target/release/builder" \
             "$(command -v builder 2>/dev/null || true)"; do
      [ -n "$c" ] && [ -x "$c" ] && { BUILDER=$c; break; }
    done
  fi
  [ -n "$BUILDER" ] && "$BUILDER" build --help >/dev/null 2>&1 || BUILDER=""
}

tool_enabled() { case " $TOOLS " in *" $1 "*) return 0 ;; esac; return 1; }

# setup_tools: checks every tool in $TOOLS and drops the ones that cannot run here.
setup_tools() {
  apt_need time jq curl python3 umoci skopeo
  local keep=() t
  for t in $TOOLS; do
    case $t in
      builder)
        find_builder
        if [ -z "$BUILDER" ]; then log "builder: no binary with a working 'build' (set BUILDER=...); skipped"; continue; fi
        write_builder_registries ;;
      buildkit)
        bench_dockerd || true
        if ! "${DOCKER[@]}" version -f '{{.Server.Version}}' 2>/dev/null | grep -q '^26\.'; then
          log "buildkit: no dockerd 26 at $BENCH_DOCKER_HOST (see bench_dockerd in bench/lib.sh); skipped"; continue
        fi ;;
      buildah)
        if ! command -v buildah >/dev/null; then
          if [ -x "$PEER_TOOLS/setup-peers.sh" ]; then "$PEER_TOOLS/setup-peers.sh" >&2 || true; fi
        fi
        command -v buildah >/dev/null || { log "buildah: not installed; skipped"; continue; }
        write_buildah_registries ;;
      *) die "unknown tool $t (builder | buildkit | buildah)" ;;
    esac
    keep+=("$t")
  done
  TOOLS="${keep[*]}"
  [ -n "$TOOLS" ] || die "no tool left to benchmark"
  log "tools: $TOOLS"
  probe_baseline
}

# bench_dockerd : starts the benchmark's own dockerd 26.1 (the binaries start-dockerd.sh unpacks
# under /tmp/docker26/root; fetched by it when missing) unless BENCH_DOCKER_HOST answers already.
# docker.io is mirrored by $REG. Its containers (RUN steps) use a bridge of its own,
# $BENCH_BRIDGE ($BENCH_BRIDGE_CIDR), and it writes no iptables rules, so it never touches the shared
# dockerd's docker0 (the bench's RUN steps need no network). Stopped, its bridge and data root
# deleted, when the script exits (stop_bench_dockerd).
BENCH_BRIDGE=${BENCH_BRIDGE:-bbench0}
BENCH_BRIDGE_CIDR=${BENCH_BRIDGE_CIDR:-172.31.254.1/24}
BENCH_DOCKERD_PID=
bench_dockerd() {
  "${DOCKER[@]}" version >/dev/null 2>&1 && return 0
  [ "$BENCH_DOCKER_HOST" = "unix://$BENCH_DOCKER_DIR/docker.sock" ] || return 1
  local R=${DOCKER26_ROOT:-/tmp/docker26/root}
  if [ ! -x "$R/usr/sbin/dockerd" ] && [ -x "$PEER_TOOLS/start-dockerd.sh" ]; then
    # start-dockerd.sh fetches the binaries first; the shared dockerd it may start is not used.
    "$PEER_TOOLS/start-dockerd.sh" >&2 || true
  fi
  [ -x "$R/usr/sbin/dockerd" ] || { log "buildkit: no dockerd 26 binaries under $R"; return 1; }
  local d=$BENCH_DOCKER_DIR
  mkdir -p "$d" "$BENCH_DOCKER_ROOT"
  if ! ip link show "$BENCH_BRIDGE" >/dev/null 2>&1; then
    ip link add "$BENCH_BRIDGE" type bridge && ip addr add "$BENCH_BRIDGE_CIDR" dev "$BENCH_BRIDGE" &&
      ip link set "$BENCH_BRIDGE" up || { log "buildkit: cannot create bridge $BENCH_BRIDGE"; return 1; }
  fi
  cat >"$d/daemon.json" <<EOF
{
  "data-root": "$BENCH_DOCKER_ROOT",
  "exec-root": "$d/exec",
  "pidfile": "$d/dockerd.pid",
  "hosts": ["$BENCH_DOCKER_HOST"],
  "bridge": "$BENCH_BRIDGE",
  "iptables": false,
  "ip6tables": false,
  "insecure-registries": ["$REG"],
  "registry-mirrors": ["http://$REG"],
  "features": { "buildkit": true }
}
EOF
  PATH=$R/usr/bin:$R/usr/sbin:$PATH setsid "$R/usr/sbin/dockerd" --config-file "$d/daemon.json" \
    >"$d/dockerd.log" 2>&1 </dev/null &
  BENCH_DOCKERD_PID=$!
  local _
  for _ in $(seq 150); do
    "${DOCKER[@]}" version >/dev/null 2>&1 && break
    kill -0 "$BENCH_DOCKERD_PID" 2>/dev/null || break
    sleep 0.2
  done
  if ! "${DOCKER[@]}" version >/dev/null 2>&1; then
    log "buildkit: private dockerd did not start (log $d/dockerd.log)"; tail -5 "$d/dockerd.log" >&2
    stop_bench_dockerd; return 1
  fi
  log "buildkit: private dockerd $("${DOCKER[@]}" version -f '{{.Server.Version}}') on $BENCH_DOCKER_HOST (pid $BENCH_DOCKERD_PID, data $BENCH_DOCKER_ROOT)"
}

# stop_bench_dockerd : stops the dockerd bench_dockerd started (if any) and deletes its data root.
stop_bench_dockerd() {
  [ -n "$BENCH_DOCKERD_PID" ] || return 0
  kill "$BENCH_DOCKERD_PID" 2>/dev/null || true
  local _
  for _ in $(seq 100); do kill -0 "$BENCH_DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$BENCH_DOCKERD_PID" 2>/dev/null || true
  BENCH_DOCKERD_PID=
  # overlay mounts left by a killed daemon would keep the data root busy
  local m
  for m in $(awk -v r="$BENCH_DOCKER_ROOT" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  ip link del "$BENCH_BRIDGE" 2>/dev/null || true
  rm -rf "$BENCH_DOCKER_ROOT" "$BENCH_DOCKER_DIR"
}

write_builder_registries() {
  cat >"$OUT/registries.toml" <<EOF
[registry."docker.io"]
mirrors = ["http://$REG"]

[registry."$REG"]
insecure = true
EOF
}

# buildah reads its own registries.conf (CONTAINERS_REGISTRIES_CONF): docker.io mirrored by $REG.
write_buildah_registries() {
  cat >"$OUT/buildah-registries.conf" <<EOF
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"

[[registry]]
prefix = "docker.io"
location = "docker.io"

[[registry.mirror]]
location = "$REG"
insecure = true

[[registry]]
location = "$REG"
insecure = true
EOF
  mkdir -p "$OUT/buildah"
}

# build_cmd TOOL CTX TAG [EXTRA...] : sets CMD (argv of one build)
build_cmd() {
  local tool=$1 ctx=$2 tag=$3; shift 3
  case $tool in
    builder)  CMD=("$BUILDER" build --root "$BROOT" --registry-config "$OUT/registries.toml" -q
                   -t "$tag" -f "$ctx/Dockerfile" "$@" "$ctx") ;;
    buildkit) CMD=("${DOCKER[@]}" build -q -t "$tag" -f "$ctx/Dockerfile" "$@" "$ctx") ;;
    buildah)  CMD=(env CONTAINERS_REGISTRIES_CONF="$OUT/buildah-registries.conf" "${BAH[@]}" build
                   --layers -q -t "$tag" -f "$ctx/Dockerfile" "$@" "$ctx") ;;
  esac
}

# discard DIR : deletes a daemonless tool's whole state. Deleting many inodes makes ext4 skip them,
# slowly, for a minute or more whenever files are created next (see README): `settle` waits until
# file creation is fast again, untimed, before every cold run, for every tool.
discard() {
  [ -e "$1" ] || return 0
  rm -rf "$1"
}

# wipe TOOL : everything the tool cached or pulled goes; the next build is cold.
# BuildKit: every image of the dockerd (not only ours: a base layer kept by any image would stay
# cached) and the whole build cache, in the bench's own dockerd (bench_dockerd).
wipe() {
  case $1 in
    builder)  discard "$BROOT" ;;
    buildkit) local ids=()
              mapfile -t ids < <("${DOCKER[@]}" images -aq 2>/dev/null | sort -u)
              [ ${#ids[@]} -eq 0 ] || "${DOCKER[@]}" rmi -f "${ids[@]}" >/dev/null 2>&1 || true
              "${DOCKER[@]}" builder prune -af >/dev/null
              ids=()
              mapfile -t ids < <("${DOCKER[@]}" images -aq 2>/dev/null)
              [ ${#ids[@]} -eq 0 ] || log "  wipe buildkit: ${#ids[@]} image(s) still there after rmi -f" ;;
    buildah)  "${BAH[@]}" rm -a >/dev/null 2>&1 || true   # no container (or mount) left
              discard "$OUT/buildah/root"; discard "$OUT/buildah/run" ;;
    *)        die "wipe: unknown tool $1" ;;
  esac
}

# settle, probe_baseline: bench/settle.sh
# shellcheck source=bench/settle.sh
. "$BENCH_DIR/settle.sh"

# cold_prep TOOL : the same untimed preparation before every tool's cold run: wipe, sync, settle.
# Other bench scripts (e.g. bench/one_change.sh) call this before their timed cold runs.
cold_prep() {
  wipe "$1"
  settle
}

# load_avg : the 1/5/15-minute load averages, "1.20 0.80 0.50" (report them with the figures).
load_avg() { cut -d' ' -f1-3 /proc/loadavg; }

# ---------------------------------------------------------------- registry and base images

ensure_registry() {
  curl -sf "http://$REG/v2/" >/dev/null && return 0
  [ "$REG" = 127.0.0.1:5000 ] || die "no registry at http://$REG"
  # Our own registry (Debian's docker-registry = distribution v2.8), state under $OUT/registry.
  apt_need docker-registry
  local d=$OUT/registry
  mkdir -p "$d/data"
  cat >"$d/config.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $d/data
http:
  addr: 127.0.0.1:5000
EOF
  setsid docker-registry serve "$d/config.yml" >"$d/registry.log" 2>&1 </dev/null &
  echo $! >"$d/registry.pid"
  local _
  for _ in $(seq 50); do curl -sf "http://$REG/v2/" >/dev/null && break; sleep 0.1; done
  curl -sf "http://$REG/v2/" >/dev/null || die "registry did not start (log $d/registry.log)"
  log "registry started on $REG (pid $(cat "$d/registry.pid"); stop: kill \$(cat $d/registry.pid))"
}

in_registry() { # in_registry REPO:TAG
  local repo=${1%:*} tag=${1##*:}
  curl -sf -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$REG/v2/$repo/manifests/$tag"
}

# push_base ROOTFS REPO:TAG CMD : packs ROOTFS as a one-layer image and pushes it to $REG/REPO:TAG,
# unless the registry already has it (FORCE_BASE=1 pushes anyway). builder import + push when the
# binary has them, else umoci + skopeo.
push_base() {
  local rootfs=$1 ref=$2 cmd=$3
  if [ "${FORCE_BASE:-0}" != 1 ] && in_registry "$ref"; then return 0; fi
  log "base: pushing $REG/$ref"
  if [ -n "$BUILDER" ] && "$BUILDER" import --help >/dev/null 2>&1 && "$BUILDER" push --help >/dev/null 2>&1; then
    "$BUILDER" import --root "$BASEROOT" "$rootfs" -t "$REG/$ref" --env "$ENVPATH" --cmd "$cmd" >&2
    "$BUILDER" push --root "$BASEROOT" --registry-config "$OUT/registries.toml" "$REG/$ref" >&2
  else
    local L=$OUT/base-layout
    rm -rf "$L"
    umoci init --layout "$L"
    umoci new --image "$L:img"
    umoci insert --image "$L:img" --history.created_by "bench base: $(basename "$rootfs")" "$rootfs" / >/dev/null
    umoci config --image "$L:img" --no-history --config.cmd "$cmd" --config.env "$ENVPATH" --architecture amd64 --os linux
    umoci gc --layout "$L"
    skopeo copy -q --dest-tls-verify=false "oci:$L:img" "docker://$REG/$ref"
    rm -rf "$L"
  fi
}

base_busybox() {
  ensure_registry
  in_registry library/busybox:latest && [ "${FORCE_BASE:-0}" != 1 ] && return 0
  local r=$CACHE/busybox-rootfs
  [ -x "$r/bin/busybox" ] || { rm -rf "$r"; bash "$REPO/scripts/mkrootfs-busybox.sh" "$r"; }
  push_base "$r" library/busybox:latest sh
}

base_debian() { # library/debian:bookworm and the same image as library/ubuntu:16.04
  ensure_registry
  if [ "${FORCE_BASE:-0}" = 1 ] || ! in_registry library/debian:bookworm || ! in_registry library/ubuntu:16.04; then
    bash "$REPO/scripts/mkbase-debian.sh" "$CACHE/debian-rootfs" >&2
    push_base "$CACHE/debian-rootfs" library/debian:bookworm bash
    if [ "${FORCE_BASE:-0}" = 1 ] || ! in_registry library/ubuntu:16.04; then
      log "base: copying $REG/library/debian:bookworm to library/ubuntu:16.04"
      skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
        "docker://$REG/library/debian:bookworm" "docker://$REG/library/ubuntu:16.04"
    fi
  fi
}

# ---------------------------------------------------------------- measuring

# timed_run LOG CMD... : one bounded run; sets SECS (wall, 3 decimals) and RSS_KB (peak RSS of the
# process tree under /usr/bin/time). Returns the command's status.
timed_run() {
  local logf=$1; shift
  local t0 t1 rc=0 rssf=$OUT/.rss
  : >"$rssf"
  t0=$(date +%s%N)
  timeout --kill-after=10 "$RUN_TIMEOUT" /usr/bin/time -f '%M' -o "$rssf" "$@" >>"$logf" 2>&1 || rc=$?
  t1=$(date +%s%N)
  SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
  RSS_KB=$(grep -E '^[0-9]+$' "$rssf" | tail -1 || true)
  RSS_KB=${RSS_KB:-0}
  [ $rc -eq 124 ] && log "  timed out after ${RUN_TIMEOUT}s"
  return $rc
}

median() { sort -g | awk '{a[NR]=$1} END{if(NR==0){print "nan"} else if(NR%2){print a[(NR+1)/2]} else {printf "%.3f\n",(a[NR/2]+a[NR/2+1])/2}}'; }

# record SCENARIO TOOL KIND SECS RSS_KB [LOAD] : one line per run into results.tsv; LOAD is the
# 1-minute load average when the run started (default: now).
record() {
  local load=${6:-$(cut -d' ' -f1 /proc/loadavg)}
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$1" "$2" "$3" "$4" "$5" "$load" >>"$RESULTS"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$load" >>"$RUNFILE"
}

RUNFILE=$OUT/.run-$$.tsv
: >"$RUNFILE"
LOAD_START=$(load_avg)
# bench_exit : what every script does when it exits (scripts with their own EXIT trap call it too).
bench_exit() { rm -f "$RUNFILE" "$OUT/.rss"; rm -rf "$PROBE_DIR"; stop_bench_dockerd; }
trap bench_exit EXIT

# measure SCENARIO TOOL KIND RUNS PREP_FUNC CMD... : RUNS timed runs, PREP_FUNC (untimed) before each.
# A failed run is recorded as FAIL and stops this series.
measure() {
  local sc=$1 tool=$2 kind=$3 runs=$4 prep=$5; shift 5
  local i logf=$OUT/logs/$sc-$tool-$kind.log
  : >"$logf"
  local load
  for ((i = 1; i <= runs; i++)); do
    $prep
    load=$(cut -d' ' -f1 /proc/loadavg)
    if timed_run "$logf" "$@"; then
      record "$sc" "$tool" "$kind" "$SECS" "$RSS_KB" "$load"
      log "  $sc $tool $kind #$i: ${SECS}s, peak RSS $((RSS_KB / 1024)) MB, load $load"
    else
      record "$sc" "$tool" "$kind" FAIL 0 "$load"
      log "  $sc $tool $kind #$i: FAILED (log $logf)"; tail -5 "$logf" >&2
      return 0
    fi
  done
}

noop() { :; }

# bench_build SCENARIO CTX [EXTRA...] : for every tool, COLD_RUNS cold builds (tool state wiped, sync,
# settled; base re-pulled) then one warm-up and CACHED_RUNS fully cached rebuilds of the unchanged context.
bench_build() {
  local sc=$1 ctx=$2; shift 2
  local t tag=bench/$sc:latest
  for t in $TOOLS; do
    build_cmd "$t" "$ctx" "$tag" "$@"
    local prep="cold_prep $t"
    log "== $sc: $t"
    measure "$sc" "$t" cold "$COLD_RUNS" "$prep" "${CMD[@]}"
    if [ "$CACHED_RUNS" -gt 0 ]; then
      timed_run "$OUT/logs/$sc-$t-warmup.log" "${CMD[@]}" || true
      measure "$sc" "$t" cached "$CACHED_RUNS" noop "${CMD[@]}"
    fi
  done
}

# stat_of SCENARIO TOOL KIND [FIELD] : median seconds (field 4) or max RSS MB (field 5) of this run
stat_of() {
  local sc=$1 tool=$2 kind=$3 f=${4:-4}
  local vals
  vals=$(awk -F'\t' -v s="$sc" -v t="$tool" -v k="$kind" -v f="$f" '$1==s && $2==t && $3==k {print $f}' "$RUNFILE")
  if [ -z "$vals" ]; then echo "-"; return; fi
  if grep -q FAIL <<<"$vals"; then echo "FAIL"; return; fi
  if [ "$f" = 5 ]; then sort -g <<<"$vals" | tail -1 | awk '{printf "%d", $1/1024}'; else median <<<"$vals"; fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a+0>0 && b+0>0) printf "%.2f", a/b; else print "-" }'; }

# table SCENARIO... : per scenario, one row per tool (median cold/cached seconds, peak RSS) and the
# builder/BuildKit and builder/buildah ratios (below 1 = builder is faster).
table() {
  local sc t
  printf '\n%-22s %-9s %9s %9s %9s %9s  %s\n' scenario tool cold_s cached_s rss_cold rss_cach "(median of runs; RSS = peak MB of the client process tree)"
  for sc in "$@"; do
    for t in builder buildkit buildah; do
      tool_enabled "$t" || continue
      printf '%-22s %-9s %9s %9s %9s %9s\n' "$sc" "$t" "$(stat_of "$sc" "$t" cold)" "$(stat_of "$sc" "$t" cached)" \
        "$(stat_of "$sc" "$t" cold 5)" "$(stat_of "$sc" "$t" cached 5)"
    done
    local peer
    for peer in buildkit buildah; do
      if ! tool_enabled builder || ! tool_enabled "$peer"; then continue; fi
      printf '%-22s %-9s %9s %9s\n' "$sc" "b/$peer" \
        "$(ratio "$(stat_of "$sc" builder cold)" "$(stat_of "$sc" "$peer" cold)")" \
        "$(ratio "$(stat_of "$sc" builder cached)" "$(stat_of "$sc" "$peer" cached)")"
    done
  done
  echo "(RSS for buildkit is the docker client only: the work happens in dockerd/BuildKit. All runs: $RESULTS)"
  echo "load average (1/5/15 min): $LOAD_START at the start, $(load_avg) now; $(nproc) CPUs"
}
