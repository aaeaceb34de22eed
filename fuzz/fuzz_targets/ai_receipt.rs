//! Fuzz the inference-receipt decoder and verifier (what 0x0302 verifyExecution's proof kind
//! 0x02 reads): never a panic; whatever decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poai_chain::ai::receipt::InferenceReceipt;
use poai_chain::hash::Hash32;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = InferenceReceipt::decode(data) {
        assert_eq!(r.encode(), data);
        let _ = r.verify(|_| Some(Hash32::ZERO));
        let _ = r.verify(|_| Some(r.header.hash()));
    }
});
