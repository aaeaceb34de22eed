//! Fuzz the nv_trust precompile's entry point: two calls on one storage with arbitrary input, gas,
//! caller, call kind and block time (`poai_fuzz::two_calls`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use poai_precompiles::nv_trust;

fuzz_target!(|data: &[u8]| poai_fuzz::two_calls(nv_trust::ADDRESS, data));
