//! Fuzz the AI VM's call decoder (tags 0x10..=0x1c; the first byte picks the tag) and the
//! signed-attestation decoder: Ok or a named error, never a panic; round trips are exact.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poai_chain::ai::{AiCall, SignedAttestation};
use poai_chain::codec::{Reader, Writer};

fuzz_target!(|data: &[u8]| {
    if let Some((&tag, rest)) = data.split_first() {
        let mut r = Reader::new(rest);
        if let Ok(call) = AiCall::decode_fields(tag, &mut r)
            && r.finish().is_ok()
        {
            let mut w = Writer::new();
            call.encode_into(&mut w);
            assert_eq!(w.finish(), data);
        }
    }
    if let Ok(a) = SignedAttestation::decode(data) {
        assert_eq!(a.encode(), data);
    }
});
