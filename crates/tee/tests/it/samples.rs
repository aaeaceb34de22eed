//! Real vendor samples (testdata/tee, see its PROVENANCE.md).

use poai_primitives::PrivacyLevel;
use poai_tee::{
    Attestation, Envelope, EvidenceKind, Freshness, GpuReference, TeeError, TrustStore, Verifier,
    VerifyOptions, x509::pem_to_der_chain,
};
use std::path::PathBuf;

pub const NV_NONCE: &str = "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb";
pub const TDX_REPORT_DATA: &str = "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20";
pub const SGX_REPORT_DATA: &str = "48656c6c6f2c20776f726c6421000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";
pub const SNP_REPORT_DATA: &str = "d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd";
/// 2025-06-20T12:00:00Z: inside the Intel collateral's validity (PROVENANCE.md).
pub const JUNE_2025: u64 = 1_750_420_800;
/// 2025-07-20T00:00:00Z: after the TDX collateral's nextUpdate (2025-07-19).
pub const JULY_2025: u64 = 1_752_969_600;
/// 2026-03-01T00:00:00Z: inside the outdated sample's collateral window.
pub const MARCH_2026: u64 = 1_772_323_200;

pub fn path(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/tee/")).join(rel)
}

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub fn hex_file(rel: &str) -> Vec<u8> {
    let text = String::from_utf8(read(rel)).unwrap();
    hex::decode(text.split_whitespace().collect::<String>()).unwrap()
}

pub fn nvidia(report: &str, chain: &str) -> Vec<u8> {
    Envelope::Nvidia {
        spdm: hex_file(&format!("nvidia/{report}")),
        chain: pem_to_der_chain(&read(&format!("nvidia/{chain}"))).unwrap(),
    }
    .encode()
    .unwrap()
}

pub fn dcap(kind: EvidenceKind, quote: &str) -> Vec<u8> {
    let q = read(&format!("intel/{quote}"));
    let c = read(&format!("intel/{quote}_collateral.json"));
    match kind {
        EvidenceKind::Sgx => Envelope::Sgx {
            quote: q,
            collateral: c,
        },
        _ => Envelope::Tdx {
            quote: q,
            collateral: c,
        },
    }
    .encode()
    .unwrap()
}

pub fn snp_milan() -> Vec<u8> {
    Envelope::Snp {
        report: hex_file("amd/sev_report_milan.hex"),
        vek: read("amd/sev_vcek_milan.der"),
        ca: None,
    }
    .encode()
    .unwrap()
}

pub fn cca(token: &str) -> Vec<u8> {
    Envelope::Cca {
        token: read(&format!("arm/{token}")),
    }
    .encode()
    .unwrap()
}

pub fn raw(hex_str: &str, at: u64) -> VerifyOptions {
    VerifyOptions {
        freshness: Freshness::ReportData(hex::decode(hex_str).unwrap()),
        at_unix: at,
        reference: None,
    }
}

pub fn cca_store(keys: &str) -> TrustStore {
    let mut s = TrustStore::pinned();
    s.register_cca_json(&read(&format!("arm/{keys}"))).unwrap();
    s
}

fn ok(evidence: &[u8], opts: &VerifyOptions, store: &TrustStore) -> Attestation {
    poai_tee::verify(evidence, opts, store).unwrap_or_else(|e| panic!("{}: {e}", e.code()))
}

fn err(evidence: &[u8], opts: &VerifyOptions, store: &TrustStore) -> TeeError {
    poai_tee::verify(evidence, opts, store).expect_err("must be rejected")
}

#[test]
fn nvidia_hopper_verifies_as_confidential() {
    let a = ok(
        &nvidia(
            "nvtrust_hopperAttestationReport.txt",
            "nvtrust_hopperCertChain.txt",
        ),
        &raw(NV_NONCE, JUNE_2025),
        &TrustStore::pinned(),
    );
    assert_eq!(a.kind, EvidenceKind::Nvidia);
    assert_eq!(a.tier, PrivacyLevel::Confidential);
    assert_eq!(a.trust_score, 77, "84 - 4 (no OCSP) - 3 (no reference)");
    assert_eq!(a.facts.architecture, "hopper GH100");
    assert_eq!(a.facts.versions["driver"], "550.90.07");
    assert_eq!(a.facts.versions["vbios"], "96.00.9F.00.01");
    assert_eq!(a.facts.measurements.len(), 64);
    assert_eq!(a.facts.freshness, NV_NONCE);
    assert_ne!(a.device_id.0, [0; 32]);
}

#[test]
fn nvidia_blackwell_verifies_and_alone_is_confidential() {
    let a = ok(
        &nvidia(
            "sdk_blackwellAttestationReport.txt",
            "sdk_blackwellCertChain.txt",
        ),
        &raw(NV_NONCE, JUNE_2025),
        &TrustStore::pinned(),
    );
    assert_eq!(a.facts.architecture, "blackwell GB100");
    assert_eq!(a.facts.versions["driver"], "575.32");
    assert_eq!(a.tier, PrivacyLevel::Confidential);
    assert_eq!(a.trust_score, 77);
}

#[test]
fn nvidia_invalid_signature_sample_fails_its_signature() {
    let e = err(
        &nvidia(
            "sdk_hopperAttestationReportInvalidSignature.txt",
            "sdk_hopperCertChainExpired.txt",
        ),
        &raw(NV_NONCE, JUNE_2025),
        &TrustStore::pinned(),
    );
    assert_eq!(e, TeeError::ReportSignature("SPDM measurements"));
}

/// The NVIDIA SDK pairs these files in its "expired driver RIM" scenario: the evidence and chain
/// verify cryptographically offline, and the rejection comes from reference values whose
/// validity (the driver RIM's) has ended.
#[test]
fn nvidia_expired_pair_is_rejected_by_its_expired_reference() {
    let ev = nvidia(
        "sdk_hopperAttestationReportExpired.txt",
        "sdk_hopperCertChainExpired.txt",
    );
    let plain = ok(&ev, &raw(NV_NONCE, JUNE_2025), &TrustStore::pinned());
    assert_eq!(plain.facts.versions["driver"], "570.124.03");
    let reference = GpuReference {
        driver_version: Some("570.124.03".into()),
        vbios_version: Some("96.00.5E.00.04".into()),
        not_after: Some(JUNE_2025 - 1),
        measurements: Default::default(),
    };
    let mut opts = raw(NV_NONCE, JUNE_2025);
    opts.reference = Some(reference.clone());
    assert_eq!(
        err(&ev, &opts, &TrustStore::pinned()),
        TeeError::ReferenceExpired {
            not_after: JUNE_2025 - 1,
            at: JUNE_2025
        }
    );
    // Before the reference expired, the same reference accepts it and lifts the score.
    opts.reference = Some(GpuReference {
        not_after: Some(JUNE_2025 + 1),
        ..reference
    });
    let a = ok(&ev, &opts, &TrustStore::pinned());
    assert!(a.facts.reference_checked);
    assert_eq!(a.trust_score, 80);
}

#[test]
fn nvidia_reference_measurements_are_compared() {
    let ev = nvidia(
        "nvtrust_hopperAttestationReport.txt",
        "nvtrust_hopperCertChain.txt",
    );
    let good = ok(&ev, &raw(NV_NONCE, JUNE_2025), &TrustStore::pinned());
    let m1 = good.facts.measurements["02"].clone();
    assert_ne!(m1, "00".repeat(48));
    let mut opts = raw(NV_NONCE, JUNE_2025);
    opts.reference = Some(GpuReference {
        measurements: [(2u8, vec![m1.clone()])].into_iter().collect(),
        ..GpuReference::default()
    });
    assert!(poai_tee::verify(&ev, &opts, &TrustStore::pinned()).is_ok());
    opts.reference = Some(GpuReference {
        measurements: [(2u8, vec!["00".repeat(48)])].into_iter().collect(),
        ..GpuReference::default()
    });
    assert_eq!(
        err(&ev, &opts, &TrustStore::pinned()),
        TeeError::MeasurementMismatch { index: 2 }
    );
    opts.reference = Some(GpuReference {
        measurements: [(65u8, vec![m1])].into_iter().collect(),
        ..GpuReference::default()
    });
    assert_eq!(
        err(&ev, &opts, &TrustStore::pinned()),
        TeeError::MeasurementMissing { index: 65 }
    );
}

#[test]
fn intel_tdx_verifies_up_to_date_as_confidential() {
    let a = ok(
        &dcap(EvidenceKind::Tdx, "dcapqvl_tdx_quote"),
        &raw(TDX_REPORT_DATA, JUNE_2025),
        &TrustStore::pinned(),
    );
    assert_eq!(a.kind, EvidenceKind::Tdx);
    assert_eq!(a.tier, PrivacyLevel::Confidential);
    assert_eq!(a.facts.tcb_status.as_deref(), Some("UpToDate"));
    assert_eq!(a.trust_score, 84);
    assert!(a.facts.revocation_checked);
}

#[test]
fn intel_sgx_verifies_as_private() {
    let a = ok(
        &dcap(EvidenceKind::Sgx, "dcapqvl_sgx_quote"),
        &raw(SGX_REPORT_DATA, JUNE_2025),
        &TrustStore::pinned(),
    );
    assert_eq!(a.kind, EvidenceKind::Sgx);
    assert_eq!(a.tier, PrivacyLevel::Private);
    assert!((35..=59).contains(&a.trust_score), "{}", a.trust_score);
}

#[test]
fn intel_tdx_after_next_update_fails_with_expired_collateral() {
    let e = err(
        &dcap(EvidenceKind::Tdx, "dcapqvl_tdx_quote"),
        &raw(TDX_REPORT_DATA, JULY_2025),
        &TrustStore::pinned(),
    );
    assert_eq!(e.code(), "collateral_expired", "{e}");
}

#[test]
fn intel_tdx_outdated_fails_with_no_matching_tcb_level() {
    let q = read("intel/dcapqvl_tdx_quote_outdated");
    let rd = hex::encode(q.get(54 + 520..54 + 584).unwrap());
    let e = err(
        &dcap(EvidenceKind::Tdx, "dcapqvl_tdx_quote_outdated"),
        &raw(&rd, MARCH_2026),
        &TrustStore::pinned(),
    );
    assert_eq!(e.code(), "tcb_no_match", "{e}");
}

#[test]
fn intel_kind_comes_from_the_quote() {
    let q = read("intel/dcapqvl_tdx_quote");
    let env = Envelope::Sgx {
        quote: q,
        collateral: read("intel/dcapqvl_tdx_quote_collateral.json"),
    }
    .encode()
    .unwrap();
    let e = err(
        &env,
        &raw(TDX_REPORT_DATA, JUNE_2025),
        &TrustStore::pinned(),
    );
    assert_eq!(e.code(), "kind_mismatch");
}

#[test]
fn amd_milan_verifies_as_confidential() {
    let a = ok(
        &snp_milan(),
        &raw(SNP_REPORT_DATA, JUNE_2025),
        &TrustStore::pinned(),
    );
    assert_eq!(a.kind, EvidenceKind::Snp);
    assert_eq!(a.tier, PrivacyLevel::Confidential);
    assert_eq!(a.facts.architecture, "snp Milan");
    assert_eq!(a.trust_score, 80);
    let chip = hex_file("amd/sev_report_milan.hex");
    assert_eq!(
        a.device_id.0,
        *blake3::hash(chip.get(0x1A0..0x1E0).unwrap()).as_bytes()
    );
}

#[test]
fn amd_milan_with_explicit_pinned_ca_verifies_and_foreign_ca_does_not() {
    let pem = read("amd/trustee_milan_ask_ark_asvk.pem");
    let certs = pem_to_der_chain(&pem).unwrap();
    let with_ca = |ask: &[u8], ark: &[u8]| {
        Envelope::Snp {
            report: hex_file("amd/sev_report_milan.hex"),
            vek: read("amd/sev_vcek_milan.der"),
            ca: Some((ask.to_vec(), ark.to_vec())),
        }
        .encode()
        .unwrap()
    };
    let opts = raw(SNP_REPORT_DATA, JUNE_2025);
    assert!(poai_tee::verify(&with_ca(&certs[0], &certs[1]), &opts, &TrustStore::pinned()).is_ok());
    let genoa = pem_to_der_chain(&read("amd/trustee_genoa_ask_ark_asvk.pem")).unwrap();
    assert_eq!(
        err(&with_ca(&certs[0], &genoa[1]), &opts, &TrustStore::pinned()),
        TeeError::UntrustedRoot("AMD ARK/ASK")
    );
}

#[test]
fn amd_milan_vcek_expires_in_2030() {
    let e = err(
        &snp_milan(),
        &raw(SNP_REPORT_DATA, 1_950_000_000),
        &TrustStore::pinned(),
    );
    assert_eq!(e.code(), "certificate_expired");
}

#[test]
fn arm_cca_token_01_verifies_with_its_cpak() {
    let a = ok(
        &cca("ccatoken_cca-token-01.cbor"),
        &cca_challenge_opts("ccatoken_cca-token-01.cbor"),
        &cca_store("ccatoken_cpak.json"),
    );
    assert_eq!(a.kind, EvidenceKind::Cca);
    assert_eq!(a.tier, PrivacyLevel::Confidential);
}

#[test]
fn arm_cca_token_02_verifies_with_ta_02_ok_and_not_with_ta_02_bad() {
    let opts = cca_challenge_opts("ccatoken_cca-token-02.cbor");
    let a = ok(
        &cca("ccatoken_cca-token-02.cbor"),
        &opts,
        &cca_store("ccatoken_ta-02-ok.json"),
    );
    assert_eq!(a.tier, PrivacyLevel::Confidential);
    let e = err(
        &cca("ccatoken_cca-token-02.cbor"),
        &opts,
        &cca_store("ccatoken_ta-02-bad.json"),
    );
    assert_eq!(e, TeeError::ReportSignature("CCA platform token"));
    let e = err(
        &cca("ccatoken_cca-token-02.cbor"),
        &opts,
        &TrustStore::pinned(),
    );
    assert_eq!(e.code(), "cca_unknown_platform");
}

/// The realm challenge of a sample token, read with the crate's own parser through a failed
/// verification's facts would be circular; read it from the CBOR directly instead.
pub fn cca_challenge_opts(token: &str) -> VerifyOptions {
    let t = read(&format!("arm/{token}"));
    raw(&hex::encode(realm_challenge(&t)), JUNE_2025)
}

fn realm_challenge(token: &[u8]) -> Vec<u8> {
    use ciborium::Value;
    let v: Value = ciborium::de::from_reader(token).unwrap();
    let Value::Tag(_, m) = v else { panic!() };
    let Value::Map(entries) = *m else { panic!() };
    let realm = entries
        .iter()
        .find(|(k, _)| k.as_integer() == Some(44241.into()))
        .unwrap()
        .1
        .as_bytes()
        .unwrap()
        .clone();
    let Value::Tag(18, arr) = ciborium::de::from_reader::<Value, _>(realm.as_slice()).unwrap()
    else {
        panic!("COSE_Sign1 tag")
    };
    let payload = arr.as_array().unwrap()[2].as_bytes().unwrap().clone();
    let claims: Value = ciborium::de::from_reader(payload.as_slice()).unwrap();
    claims
        .as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k.as_integer() == Some(10.into()))
        .unwrap()
        .1
        .as_bytes()
        .unwrap()
        .clone()
}

#[test]
fn soft_attestation_is_public() {
    let a = ok(
        &Envelope::None.encode().unwrap(),
        &raw(NV_NONCE, JUNE_2025),
        &TrustStore::pinned(),
    );
    assert_eq!(a.tier, PrivacyLevel::Public);
    assert_eq!(a.trust_score, 20);
}

#[test]
fn warm_path_gives_the_same_result_as_the_cold_path() {
    let v = Verifier::new(TrustStore::pinned());
    let cases: Vec<(Vec<u8>, VerifyOptions)> = vec![
        (
            nvidia(
                "nvtrust_hopperAttestationReport.txt",
                "nvtrust_hopperCertChain.txt",
            ),
            raw(NV_NONCE, JUNE_2025),
        ),
        (
            dcap(EvidenceKind::Tdx, "dcapqvl_tdx_quote"),
            raw(TDX_REPORT_DATA, JUNE_2025),
        ),
        (
            dcap(EvidenceKind::Sgx, "dcapqvl_sgx_quote"),
            raw(SGX_REPORT_DATA, JUNE_2025),
        ),
        (snp_milan(), raw(SNP_REPORT_DATA, JUNE_2025)),
    ];
    for (ev, opts) in &cases {
        let cold = v.verify(ev, opts).unwrap();
        let warm = v.verify(ev, opts).unwrap();
        assert_eq!(cold, warm);
        assert_eq!(
            cold,
            poai_tee::verify(ev, opts, &TrustStore::pinned()).unwrap()
        );
    }
    let s = v.cache_stats();
    assert_eq!((s.gpu_chains, s.snp_chains, s.dcap), (1, 1, 2));
    // A warm hit re-checks time: the TDX collateral expires, the cached entry does not mask it.
    let (tdx, _) = &cases[1];
    let e = v.verify(tdx, &raw(TDX_REPORT_DATA, JULY_2025)).unwrap_err();
    assert_eq!(e.code(), "collateral_expired");
    // And freshness.
    let e = v.verify(tdx, &raw(SGX_REPORT_DATA, JUNE_2025)).unwrap_err();
    assert_eq!(e.code(), "nonce_mismatch");
}
