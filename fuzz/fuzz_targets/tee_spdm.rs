//! Fuzz the NVIDIA SPDM GET_MEASUREMENTS/MEASUREMENTS parser.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = poai_tee::nvidia::parse_spdm(data);
});
