#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test (the
# registry, sandbox, parity and end-to-end ones included; only benchmarks and
# the expectation recorders are #[ignore]d; `cargo bench` runs the benchmarks). Needs root: the tests use real
# overlay mounts, namespaces and a local registry.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --bins
cargo test --no-fail-fast --tests "$@"
# The same images at every isolation level: the BuildKit parity suite again, forced to level 2
# (a user namespace; as root it maps ids to themselves) and level 3 (chroot, no mounts).
for level in rootless chroot; do
  echo "== parity at isolation level $level"
  BUILDER_ISOLATION=$level cargo test --test parity -- parity_matches_buildkit
done
