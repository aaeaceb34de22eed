#!/usr/bin/env bash
# The main job: a local A-chain devnet. Builds the release binary (a few minutes the first
# time), then starts a node and miners of tiers 1, 3 and 4 that register their devices, mine
# work proofs and earn AI, with live progress and a summary table at the end.
#
#   bash scripts/devnet.sh                      the default run (under a minute)
#   bash scripts/devnet.sh --miners 5 --blocks 100 --data ./devnet   any `poai devnet` flags
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p poai
exec target/release/poai devnet "$@"
