#!/usr/bin/env bash
# Every test: the workspace's unit, integration, property and vector tests, then a short run of
# each cargo-fuzz target. This is the README's test command and what .ci/run calls.
#
#   bash scripts/test.sh            all tests, then the fuzz smoke run
#   POAI_SKIP_FUZZ=1 bash scripts/test.sh   cargo tests only
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --locked

if [ "${POAI_SKIP_FUZZ:-0}" != "1" ]; then
  bash scripts/fuzz.sh smoke
fi
