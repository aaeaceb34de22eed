//! Fuzz the DCAP quote parsing and length checks (TDX and SGX).
#![no_main]
use libfuzzer_sys::fuzz_target;
use poai_tee::EvidenceKind;

fuzz_target!(|data: &[u8]| {
    let _ = poai_tee::intel::parse_quote_report_data(EvidenceKind::Tdx, data);
    let _ = poai_tee::intel::parse_quote_report_data(EvidenceKind::Sgx, data);
});
