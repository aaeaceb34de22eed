#!/usr/bin/env bash
# Every test: the workspace's unit, integration, property and vector tests, the Solidity
# contracts' compile check, then a short run of each cargo-fuzz target. This is the README's test command and what .ci/run calls.
#
#   bash scripts/test.sh            all tests, then the fuzz smoke run
#   POAI_SKIP_FUZZ=1 bash scripts/test.sh   cargo tests only
set -euo pipefail
cd "$(dirname "$0")/.."

# The vendored samples and vectors must be the bytes testdata/PROVENANCE.md lists.
(cd testdata && sed -n '/^```$/,/^```$/p' PROVENANCE.md | grep -v '^```$' | sha256sum -c --quiet)

cargo test --workspace --locked

# The Solidity contracts: a fresh compile with the pinned solc-js must equal the committed
# artifacts that the Rust tests above ran against (installs solc-js from npm on first use).
bash scripts/contracts.sh check

if [ "${POAI_SKIP_FUZZ:-0}" != "1" ]; then
  bash scripts/fuzz.sh smoke
fi
