//! Fuzz the model_registry precompile's entry point: two calls on one storage with arbitrary input, gas,
//! caller, call kind and block time (`poai_fuzz::two_calls`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use poai_precompiles::model_registry;

fuzz_target!(|data: &[u8]| poai_fuzz::two_calls(model_registry::ADDRESS, data));
