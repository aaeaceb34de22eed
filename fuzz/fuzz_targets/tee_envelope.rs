//! Fuzz the TEE evidence envelope decoder: never panics, and what decodes re-encodes to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = poai_tee::Envelope::decode(data) {
        assert_eq!(env.encode().ok().as_deref(), Some(data));
    }
});
