#!/usr/bin/env bash
# builder at each isolation level (issue 11, item 4), side by side with level 1 and BuildKit:
#   hello  the seed example examples/hello: FROM ubuntu:16.04 / COPY helloworld / RUN chmod / CMD
#          (ubuntu:16.04 = the Debian minbase image pushed as library/ubuntu:16.04, via the
#          docker.io mirror)
#   apt    FROM debian:bookworm / RUN apt-get update && apt-get install -y --no-install-recommends
#          $APT_PKG (default jq), packages fetched from the host's Debian mirror
# Cold (tool state moved to the trash + sync, base re-pulled) and fully cached, for:
#   ns       builder --isolation namespaces (level 1: root, CAP_SYS_ADMIN, overlayfs)
#   rl       builder --isolation rootless as root (level 2: user namespace mapping ids to themselves)
#   rl-user  builder as the non-root user $RL_USER (subuid ranges, setpriv; auto = rootless), its
#            store under $OUT/levels/rl-home/data; skipped if the user or its ranges are missing
#   ch       builder --isolation chroot (level 3: no mounts, plain-directory snapshots)
#   buildkit docker build (Docker 26.1 / BuildKit 0.13)
#   bench/levels.sh     env: COLD_RUNS (2), CACHED_RUNS (3), LEVELS ("ns rl rl-user ch buildkit"),
#                       APT_PKG (jq), RL_USER (builder-rl), OUT, BUILDER, RUN_TIMEOUT,
#                       SETTLE_SECS, DIRTY_MAX_KB: the untimed wait after every wipe (bench/lib.sh)
set -euo pipefail
COLD_RUNS=${COLD_RUNS:-2}
CACHED_RUNS=${CACHED_RUNS:-3}
LEVELS=${LEVELS:-ns rl rl-user ch buildkit}
APT_PKG=${APT_PKG:-jq}
RL_USER=${RL_USER:-builder-rl}
# lib.sh's setup_tools checks builder and BuildKit; the levels are this script's own "tools".
TOOLS="builder buildkit"
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

LV=$OUT/levels
RLHOME=$LV/rl-home

# level_cmd LEVEL CTX TAG : sets CMD (argv of one build at LEVEL)
level_cmd() {
  local lv=$1 ctx=$2 tag=$3
  case $lv in
    ns|rl|ch)
      local iso
      case $lv in ns) iso=namespaces ;; rl) iso=rootless ;; ch) iso=chroot ;; esac
      CMD=("$BUILDER" build --root "$LV/root-$lv" --isolation "$iso" --registry-config "$OUT/registries.toml"
           -q -t "$tag" -f "$ctx/Dockerfile" "$ctx") ;;
    rl-user)
      # The user's own store (default root under $XDG_DATA_HOME) and a copy of the binary it can run.
      CMD=(env -u BUILDER_ROOT -u BUILDER_ISOLATION -u SOURCE_DATE_EPOCH HOME="$RLHOME" XDG_DATA_HOME="$RLHOME/data"
           setpriv --reuid "$RL_USER" --regid "$RL_USER" --init-groups -- "$LV/bin/builder" build --isolation rootless
           --registry-config "$LV/registries.toml" -q -t "$tag" -f "$ctx/Dockerfile" "$ctx") ;;
    buildkit)
      build_cmd buildkit "$ctx" "$tag" ;;
  esac
}

# wipe_level LEVEL : the level's state goes, then sync and settle (bench/lib.sh), as for every tool.
wipe_level() {
  case $1 in
    ns|rl|ch) discard "$LV/root-$1" ;;
    rl-user)  discard "$RLHOME/data"; install -d -o "$RL_USER" -g "$RL_USER" "$RLHOME/data" ;;
    buildkit) wipe buildkit ;;
  esac
  settle
}

level_name() {
  case $1 in
    ns) echo "L1 namespaces (root)" ;; rl) echo "L2 rootless (root)" ;;
    rl-user) echo "L2 rootless ($RL_USER)" ;; ch) echo "L3 chroot (root)" ;; buildkit) echo "BuildKit 0.13" ;;
  esac
}

setup_levels() {
  local keep=() lv
  for lv in $LEVELS; do
    case $lv in
      ns|rl|ch) tool_enabled builder || { log "$lv: no builder binary; skipped"; continue; } ;;
      rl-user)
        tool_enabled builder || { log "rl-user: no builder binary; skipped"; continue; }
        if ! id "$RL_USER" >/dev/null 2>&1 || ! grep -q "^$RL_USER:" /etc/subuid || ! command -v newuidmap >/dev/null; then
          log "rl-user: no user $RL_USER with /etc/subuid ranges and newuidmap (see tests/rootless.rs); skipped"; continue
        fi
        # Everything the user reads must be reachable by it: binary, registries.toml, contexts.
        install -d -m 755 "$LV" "$LV/bin" "$OUT/ctx"
        chmod 755 "$OUT"
        install -m 755 "$BUILDER" "$LV/bin/builder"
        install -m 644 "$OUT/registries.toml" "$LV/registries.toml"
        install -d -o "$RL_USER" -g "$RL_USER" "$RLHOME" "$RLHOME/data" ;;
      buildkit) tool_enabled buildkit || { log "buildkit: no dockerd 26; skipped"; continue; } ;;
      *) die "unknown level $lv (ns | rl | rl-user | ch | buildkit)" ;;
    esac
    keep+=("$lv")
  done
  LEVELS="${keep[*]}"
  [ -n "$LEVELS" ] || die "no level left to benchmark"
  log "levels: $LEVELS"
}

# bench_levels SCENARIO CTX : for every level, COLD_RUNS cold builds, one warm-up, CACHED_RUNS cached.
bench_levels() {
  local sc=$1 ctx=$2 lv tag=bench/levels-$1:latest
  for lv in $LEVELS; do
    level_cmd "$lv" "$ctx" "$tag"
    log "== $sc: $lv ($(uptime | sed 's/.*load/load/'))"
    measure "$sc" "$lv" cold "$COLD_RUNS" "wipe_level $lv" "${CMD[@]}"
    if [ "$CACHED_RUNS" -gt 0 ]; then
      timed_run "$OUT/logs/$sc-$lv-warmup.log" "${CMD[@]}" || true
      measure "$sc" "$lv" cached "$CACHED_RUNS" noop "${CMD[@]}"
    fi
  done
}

# level_table SCENARIO... : medians, ratio to level 1 (namespaces) and to BuildKit (below 1 = faster).
level_table() {
  local sc lv
  printf '\n%-6s %-24s %8s %8s %8s %8s %8s %8s\n' scenario level cold_s cached_s "cold/L1" "cach/L1" "cold/BK" "cach/BK"
  for sc in "$@"; do
    for lv in $LEVELS; do
      local c k
      c=$(stat_of "$sc" "$lv" cold); k=$(stat_of "$sc" "$lv" cached)
      printf '%-6s %-24s %8s %8s %8s %8s %8s %8s\n' "$sc" "$(level_name "$lv")" "$c" "$k" \
        "$(ratio "$c" "$(stat_of "$sc" ns cold)")" "$(ratio "$k" "$(stat_of "$sc" ns cached)")" \
        "$(ratio "$c" "$(stat_of "$sc" buildkit cold)")" "$(ratio "$k" "$(stat_of "$sc" buildkit cached)")"
    done
  done
  echo "(median wall seconds of $COLD_RUNS cold / $CACHED_RUNS cached runs; L1 = --isolation namespaces; BK = BuildKit. All runs: $RESULTS)"
}

# The whole body is one function: bash reads it completely before running it, so editing
# this file during a long run cannot change the run.
main() {
  setup_tools
  base_debian
  setup_levels
  local load0
  load0=$(cut -d' ' -f1-3 /proc/loadavg)

  hello=$OUT/ctx/levels-hello
  rm -rf "$hello"; mkdir -p "$hello"
  cp "$REPO/examples/hello/helloworld" "$REPO/examples/hello/Dockerfile" "$hello/"
  chmod -R a+rX "$hello"

  apt=$OUT/ctx/levels-apt
  rm -rf "$apt"; mkdir -p "$apt"
  cat >"$apt/Dockerfile" <<DF
FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends $APT_PKG && rm -rf /var/lib/apt/lists/*
CMD ["$APT_PKG", "--version"]
DF
  chmod -R a+rX "$apt"

  bench_levels hello "$hello"
  bench_levels apt "$apt"
  level_table hello apt
  echo "load average (1/5/15 min): before $load0, after $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs"
}
main "$@"; exit $?
