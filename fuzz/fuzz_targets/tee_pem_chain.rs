//! Fuzz the PEM certificate splitter and certificate parsing.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = poai_tee::x509::pem_to_der_chain(data);
});
