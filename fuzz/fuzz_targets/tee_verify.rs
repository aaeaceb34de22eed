//! Fuzz full verification of arbitrary envelopes against the pinned roots: never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poai_tee::{Freshness, TrustStore, Verifier, VerifyOptions};
use std::sync::OnceLock;

static VERIFIER: OnceLock<Verifier> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let v = VERIFIER.get_or_init(|| Verifier::new(TrustStore::pinned()));
    let opts = VerifyOptions {
        freshness: Freshness::ReportData(vec![0; 64]),
        at_unix: 1_750_420_800,
        reference: None,
    };
    let _ = v.verify(data, &opts);
});
