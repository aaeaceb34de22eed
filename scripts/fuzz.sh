#!/usr/bin/env bash
# cargo-fuzz targets (fuzz/fuzz_targets, one per decoder and precompile entry point).
#
#   bash scripts/fuzz.sh smoke         build every target, run each for a few seconds (CI)
#   bash scripts/fuzz.sh run TARGET S  run one target for S seconds (corpus in fuzz/corpus/TARGET,
#                                      seeds from fuzz/seeds/TARGET where there are any)
#   bash scripts/fuzz.sh list
#
# The targets are libFuzzer programs (libfuzzer-sys) and build with plain cargo on the stable
# toolchain: the flags below are the SanitizerCoverage instrumentation that cargo-fuzz passes
# (all stable `-C` options), without AddressSanitizer, which needs nightly's `-Z`. The code under
# test is safe Rust (unsafe_code forbid or deny; the one call into aws-lc's C API, in
# crates/crypto/src/mu.rs, passes only live slices with their lengths, and the C library is not
# instrumented either way), so coverage-guided fuzzing with Rust's own bounds and overflow checks
# (kept on below) is what finds bugs; ASan would add build time and little else. `cargo fuzz` works on the same crate for anyone who has it.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="$PWD/fuzz/target/stable"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
secs_each=${POAI_FUZZ_SECONDS:-5}
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros (as cargo-fuzz does):
# instrumented proc macros would not load.
host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="$CARGO_TARGET_DIR/$host/release"

# Seed inputs kept in the repository (fuzz/seeds/TARGET), for targets whose interesting inputs are
# too long to grow from nothing: a verification needs a whole key and signature (5 KB for
# ML-DSA-65) before any path past the length checks runs. libFuzzer reads every directory given
# and writes new inputs only to the first, so the seeds stay as they are.
seeds() {
  if [ -d "fuzz/seeds/$1" ]; then echo "fuzz/seeds/$1"; fi
}
targets() {
  sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^poai-fuzz$'
}

build() {
  cargo build --manifest-path fuzz/Cargo.toml --release --locked --target "$host" --bins "$@"
}

case "${1:-smoke}" in
  list)
    targets
    ;;
  run)
    target=${2:?target}
    secs=${3:-60}
    build --bin "$target"
    mkdir -p "fuzz/corpus/$target"
    # shellcheck disable=SC2046
    "$bin_dir/$target" -max_total_time="$secs" "fuzz/corpus/$target" $(seeds "$target")
    ;;
  smoke)
    build
    for t in $(targets); do
      echo "fuzz: $t (${secs_each}s)"
      log=$(mktemp)
      corpus=$(mktemp -d)
      # shellcheck disable=SC2046
      if ! "$bin_dir/$t" -max_total_time="$secs_each" "$corpus" $(seeds "$t") >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz target $t failed" >&2
        exit 1
      fi
      grep -E "^Done [0-9]+ runs" "$log" || tail -n 2 "$log"
      rm -rf "$log" "$corpus"
    done
    echo "fuzz smoke: all targets ran"
    ;;
  *)
    echo "usage: $0 smoke | run TARGET SECONDS | list" >&2
    exit 2
    ;;
esac
