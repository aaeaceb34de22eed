#!/usr/bin/env bash
# A walk-through of poai's command line: a miner key, a work proof, its signature for a chain
# and beneficiary, verification, and the reward it earns. Builds the binary first.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p poai
poai=$PWD/target/release/poai
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "1. A miner key (ML-DSA-65, file mode 0600; the secret is never printed)" \
  "$poai" keys new --out miner.key
step "2. A work proof: 45 Confidential minutes on an attested device" \
  "$poai" proof build --device 0x$(printf 'ab%.0s' {1..32}) --privacy confidential --minutes 45 --chain-id 96369
proof=$("$poai" proof build --device 0x$(printf 'ab%.0s' {1..32}) --privacy confidential --minutes 45 --json \
  | sed -n 's/.*"proof": "\([0-9a-f]*\)".*/\1/p')
step "3. Sign it for the Lux C-Chain (96369), paid to one beneficiary" \
  "$poai" proof sign --key miner.key --proof "$proof" --chain-id 96369 \
  --beneficiary 0x00000000000000000000000000000000000000aa --json
"$poai" proof sign --key miner.key --proof "$proof" --chain-id 96369 \
  --beneficiary 0x00000000000000000000000000000000000000aa --json > signed.json
step "4. Verify it" "$poai" proof verify --signed signed.json
echo
echo "   The same signature presented for another chain is refused:"
sed 's/"chain_id": 96369/"chain_id": 200200/' signed.json > replay.json
"$poai" proof verify --signed replay.json || echo "   (exit code $?)"
step "5. Its reward at block 1,000 (epoch 0) and after the first halving" \
  "$poai" reward --proof "$proof" --height 1000
"$poai" reward --proof "$proof" --height 63072000
