#!/usr/bin/env bash
# The README's first command: builds examples/hello (FROM ubuntu:16.04) and runs it, offline.
#
#   scripts/demo.sh
#
# Needs root on Debian 12 and a Rust toolchain (cargo). No Docker and no internet for images:
# a local docker-registry on a free loopback port plays docker.io. It serves a busybox rootfs
# (scripts/mkrootfs-busybox.sh) as `library/ubuntu:16.04`, and a registries.toml makes it the
# docker.io mirror, so the example's `FROM ubuntu:16.04` resolves to it. Everything the demo
# makes lives in one temp dir under /tmp, removed on exit with the registry stopped; set
# DEMO_KEEP=1 to keep it. Running it again starts from scratch (idempotent).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '\n==> %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (builds use overlay mounts and namespaces)"
command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs), then rerun"

say "installing Debian packages (only missing ones)"
"$REPO/scripts/install-deps.sh"

say "building builder (cargo build --release)"
(cd "$REPO" && cargo build --release --bin builder)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
BUILDER=$TARGET_DIR/release/builder
[ -x "$BUILDER" ] || die "cargo built no $BUILDER"

WORK=$(mktemp -d /tmp/builder-demo.XXXXXX)
REG_PID=
cleanup() {
  if [ -n "$REG_PID" ]; then
    kill "$REG_PID" 2>/dev/null || true
    wait "$REG_PID" 2>/dev/null || true
  fi
  if [ "${DEMO_KEEP:-0}" = 1 ]; then
    echo "demo files kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port: nothing answers a connect to it. Start at a random point so two demos
# at once do not race for the same port.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=
for _ in $(seq 1 200); do
  p=$((20000 + RANDOM % 30000))
  if port_free "$p"; then PORT=$p; break; fi
done
[ -n "$PORT" ] || die "no free port on 127.0.0.1"
REG=127.0.0.1:$PORT

say "starting a local registry on $REG (data in $WORK/registry)"
mkdir -p "$WORK/registry"
cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry/data
http:
  addr: $REG
  secret: builder-demo
EOF
docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
REG_PID=$!
for _ in $(seq 1 200); do
  if curl -fsS -o /dev/null "http://$REG/v2/" 2>/dev/null; then break; fi
  kill -0 "$REG_PID" 2>/dev/null || { cat "$WORK/registry/log" >&2; die "docker-registry exited"; }
  sleep 0.1
done
curl -fsS -o /dev/null "http://$REG/v2/" || { cat "$WORK/registry/log" >&2; die "registry did not start"; }

cat >"$WORK/registries.toml" <<EOF
[registry."docker.io"]
mirrors = ["http://$REG"]

[registry."$REG"]
insecure = true
EOF

say "making the base image: a busybox rootfs pushed as $REG/library/ubuntu:16.04"
"$REPO/scripts/mkrootfs-busybox.sh" "$WORK/rootfs"
"$BUILDER" import --root "$WORK/base-store" --source-date-epoch 0 \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd sh \
  -t "$REG/library/ubuntu:16.04" "$WORK/rootfs"
"$BUILDER" push --root "$WORK/base-store" --registry-config "$WORK/registries.toml" \
  "$REG/library/ubuntu:16.04"

say "building examples/hello into a fresh store ($WORK/store); docker.io comes from the mirror"
cat "$REPO/examples/hello/Dockerfile"
"$BUILDER" build --root "$WORK/store" --registry-config "$WORK/registries.toml" \
  --progress plain -t hello "$REPO/examples/hello"

say "builder run hello"
out=$("$BUILDER" run --root "$WORK/store" hello)
printf '%s\n' "$out"
[ "$out" = "Hello, World!" ] || die "expected 'Hello, World!', got '$out'"
say "demo OK"
