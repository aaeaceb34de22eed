//! Fuzz the AMD SEV-SNP report parser.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = poai_tee::snp::parse_report(data);
});
