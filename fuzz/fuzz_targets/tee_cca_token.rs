//! Fuzz the Arm CCA token (CBOR collection and COSE_Sign1) parser.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = poai_tee::cca::parse_token(data);
});
