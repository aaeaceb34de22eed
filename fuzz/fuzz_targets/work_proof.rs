//! Fuzz the LP-130 work-proof decoder: any bytes give Ok or a named error, never a panic, and
//! whatever decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poai_primitives::WorkProof;

fuzz_target!(|data: &[u8]| {
    if let Ok(proof) = WorkProof::decode(data) {
        assert_eq!(proof.encode(), data);
    }
});
