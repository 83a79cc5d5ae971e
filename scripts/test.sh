#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test (the
# registry, sandbox, parity and end-to-end ones included; only benchmarks and
# the expectation recorders are #[ignore]d; `cargo bench` runs the benchmarks). Needs root: the tests use real
# overlay mounts, namespaces and a local registry.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --bins
# --no-fail-fast: every test binary runs even when one fails; so do the runs below, and the
# script's status says whether any of them failed.
failed=()
cargo test --no-fail-fast --tests "$@" || failed+=("cargo test")
# The same images at every isolation level: the BuildKit parity suite again, forced to level 2
# (a user namespace; as root it maps ids to themselves) and level 3 (chroot, no mounts).
for level in rootless chroot; do
  echo "== parity at isolation level $level"
  BUILDER_ISOLATION=$level cargo test --test parity -- parity_matches_buildkit ||
    failed+=("parity at $level")
done
if ((${#failed[@]})); then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
