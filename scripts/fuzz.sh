#!/usr/bin/env bash
# cargo-fuzz targets (fuzz/fuzz_targets, one per decoder and precompile entry point).
#
#   bash scripts/fuzz.sh smoke         build every target, run each for a few seconds (CI)
#   bash scripts/fuzz.sh run TARGET S  run one target for S seconds
#   bash scripts/fuzz.sh list
#
# cargo-fuzz drives libFuzzer with sanitizer flags that stable rustc accepts only with
# RUSTC_BOOTSTRAP=1; the project builds on the one stable toolchain it has, so that is set here
# and nowhere else. Targets build without AddressSanitizer (-s none): the code under test is
# safe Rust (unsafe_code = forbid), so ASan adds build time and finds nothing coverage-guided
# fuzzing with Rust's own checks does not.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "installing cargo-fuzz (once)..."
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
export RUSTC_BOOTSTRAP=1
secs_each=${POAI_FUZZ_SECONDS:-5}

case "${1:-smoke}" in
  list)
    cargo fuzz list
    ;;
  run)
    target=${2:?target}
    secs=${3:-60}
    cargo fuzz run -s none "$target" -- -max_total_time="$secs"
    ;;
  smoke)
    cargo fuzz build -s none
    for t in $(cargo fuzz list); do
      echo "fuzz: $t (${secs_each}s)"
      log=$(mktemp)
      if ! cargo fuzz run -s none "$t" -- -max_total_time="$secs_each" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz target $t failed" >&2
        exit 1
      fi
      grep -E "^Done [0-9]+ runs" "$log" || tail -n 2 "$log"
      rm -f "$log"
    done
    echo "fuzz smoke: all targets ran"
    ;;
  *)
    echo "usage: $0 smoke | run TARGET SECONDS | list" >&2
    exit 2
    ;;
esac
