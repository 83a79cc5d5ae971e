#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test, the slow
# (registry, sandbox, parity) ones included. Needs root: the tests use real
# overlay mounts, namespaces and a local registry.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --bins
cargo test --all-targets -- --include-ignored "$@"
