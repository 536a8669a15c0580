#!/usr/bin/env bash
# Runs the loom models with the bound this project is verified at.
# Usage: scripts/loom.sh [extra cargo test args, e.g. a test name]
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg loom ${RUSTFLAGS:-}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
# A separate target dir: a `--cfg loom` build must not evict the normal cache.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
exec cargo test --release -p mwsr-loom-tests -- "$@"
