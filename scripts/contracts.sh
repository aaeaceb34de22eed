#!/usr/bin/env bash
# The Solidity contracts (contracts/src) with the pinned solc-js (contracts/package-lock.json).
#
#   bash scripts/contracts.sh install   npm ci into contracts/node_modules (gitignored)
#   bash scripts/contracts.sh build     compile into contracts/out (committed artifacts)
#   bash scripts/contracts.sh check     compile into a temp dir and byte-compare with contracts/out;
#                                       installs first if node_modules is missing. CI runs this.
#
# The compiler is the npm `solc` package (solc-js, WebAssembly): it needs no download at compile
# time, unlike svm or solc-select, whose hosts may be unreachable. The Rust tests
# (crates/contracts) use the committed contracts/out, so `cargo test` needs no node.
set -euo pipefail
cd "$(dirname "$0")/../contracts"

install() {
  npm ci --no-audit --no-fund --ignore-scripts
}

ensure_installed() {
  if [ ! -f node_modules/solc/package.json ]; then
    install
  fi
}

case "${1:-}" in
  install)
    install
    ;;
  build)
    ensure_installed
    node build.mjs out
    ;;
  check)
    ensure_installed
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    node build.mjs "$tmp"
    if ! diff -r out "$tmp" >/dev/null; then
      echo "contracts/out differs from a fresh compile of contracts/src:" >&2
      diff -r out "$tmp" --brief >&2 || true
      echo "run: bash scripts/contracts.sh build, and commit contracts/out" >&2
      exit 1
    fi
    echo "contracts/out matches a fresh compile" >&2
    ;;
  *)
    echo "usage: $0 install|build|check" >&2
    exit 2
    ;;
esac
