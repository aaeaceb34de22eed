//! Fuzz the ai_mining precompile's entry point: two calls on one storage with arbitrary input, gas,
//! caller, call kind and block time (`poai_fuzz::two_calls`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use poai_precompiles::ai_mining;

fuzz_target!(|data: &[u8]| poai_fuzz::two_calls(ai_mining::ADDRESS, data));
