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
