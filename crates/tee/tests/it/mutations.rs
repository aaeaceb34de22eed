//! Mutation suites over real and synthetic evidence: each mutation is rejected with its named
//! error (`TeeError::code`).

use crate::samples::*;
use poai_primitives::{Nonce, PrivacyLevel};
use poai_tee::testpki::{Gpu, NOT_AFTER, NOT_BEFORE, TestPki};
use poai_tee::x509::pem_to_der_chain;
use poai_tee::{Envelope, EvidenceKind, Freshness, TrustStore, VerifyOptions};

fn code(ev: &[u8], opts: &VerifyOptions, store: &TrustStore) -> &'static str {
    match poai_tee::verify(ev, opts, store) {
        Ok(a) => panic!("accepted: {a:?}"),
        Err(e) => e.code(),
    }
}

fn flip(mut b: Vec<u8>, at: usize) -> Vec<u8> {
    b[at] ^= 0x01;
    b
}

fn nonce_opts(n: u8, at: u64) -> VerifyOptions {
    VerifyOptions {
        freshness: Freshness::Nonce(Nonce([n; 32])),
        at_unix: at,
        reference: None,
    }
}

const CERT_CODES: &[&str] = &[
    "certificate_parse",
    "certificate_signature",
    "certificate_issuer_mismatch",
    "certificate_not_ca",
    "untrusted_root",
    "unsupported_algorithm",
    "unsupported_gpu",
    "fwid_mismatch",
    "fwid_missing",
    "report_signature",
    "certificate_expired",
    "certificate_not_yet_valid",
];

fn hopper_parts() -> (Vec<u8>, Vec<Vec<u8>>) {
    (
        hex_file("nvidia/nvtrust_hopperAttestationReport.txt"),
        pem_to_der_chain(&read("nvidia/nvtrust_hopperCertChain.txt")).unwrap(),
    )
}

fn nv(spdm: Vec<u8>, chain: Vec<Vec<u8>>) -> Vec<u8> {
    Envelope::Nvidia { spdm, chain }.encode().unwrap()
}

#[test]
fn nvidia_real_mutations() {
    let (spdm, chain) = hopper_parts();
    let store = TrustStore::pinned();
    let opts = raw(NV_NONCE, JUNE_2025);
    let fwid_hex = "f5c384aebb579217a2c66b17ed0f28e6a9b8d639041acd7b4721cec004f7275494ba94bb5cdfdb3055ee051762b1f75d";
    let fwid_at = spdm
        .windows(48)
        .position(|w| w == hex::decode(fwid_hex).unwrap().as_slice())
        .unwrap();
    let driver_at = spdm.windows(9).position(|w| w == b"550.90.07").unwrap();
    let last = spdm.len() - 1;
    let mut longer = spdm.clone();
    longer.push(0);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "nonce byte",
            nv(flip(spdm.clone(), 4), chain.clone()),
            "nonce_mismatch",
        ),
        (
            "measurement byte",
            nv(flip(spdm.clone(), 52), chain.clone()),
            "report_signature",
        ),
        (
            "response nonce",
            nv(flip(spdm.clone(), 45 + 3520), chain.clone()),
            "report_signature",
        ),
        (
            "opaque driver version",
            nv(flip(spdm.clone(), driver_at), chain.clone()),
            "report_signature",
        ),
        (
            "opaque fwid",
            nv(flip(spdm.clone(), fwid_at), chain.clone()),
            "report_signature",
        ),
        (
            "signature",
            nv(flip(spdm.clone(), last), chain.clone()),
            "report_signature",
        ),
        (
            "signature r",
            nv(flip(spdm.clone(), last - 95), chain.clone()),
            "report_signature",
        ),
        (
            "truncated report",
            nv(spdm[..last].to_vec(), chain.clone()),
            "spdm_malformed",
        ),
        ("appended byte", nv(longer, chain.clone()), "spdm_malformed"),
        (
            "record length",
            nv(flip(spdm.clone(), 37 + 5), chain.clone()),
            "spdm_malformed",
        ),
        (
            "request code",
            nv(flip(spdm.clone(), 1), chain.clone()),
            "spdm_malformed",
        ),
        (
            "4 certificates",
            nv(spdm.clone(), [&chain[..3], &chain[4..]].concat()),
            "chain_length",
        ),
        (
            "6 certificates",
            nv(spdm.clone(), [&chain[..2], &chain[1..]].concat()),
            "chain_length",
        ),
        (
            "wrong root",
            nv(
                spdm.clone(),
                [&chain[..4], &[read("intel/intel_sgx_root_ca.der")][..]].concat(),
            ),
            "untrusted_root",
        ),
    ];
    for (name, ev, want) in cases {
        assert_eq!(code(&ev, &opts, &store), want, "{name}");
    }
    let good = nv(spdm.clone(), chain.clone());
    assert_eq!(
        code(&good[..good.len() - 1], &opts, &store),
        "envelope_truncated"
    );
    assert_eq!(
        code(&[good.clone(), vec![7]].concat(), &opts, &store),
        "envelope_trailing"
    );
    assert_eq!(
        code(&good, &raw(&"00".repeat(32), JUNE_2025), &store),
        "nonce_mismatch"
    );
    assert_eq!(
        code(&good, &raw(&"00".repeat(64), JUNE_2025), &store),
        "freshness_length"
    );
    assert_eq!(
        code(&good, &nonce_opts(1, JUNE_2025), &store),
        "nonce_mismatch"
    );
    // Another PKI's root is not the pinned one.
    let pki = TestPki::new().unwrap();
    assert_eq!(code(&good, &opts, &pki.store()), "untrusted_root");
}

#[test]
fn nvidia_every_certificate_byte_matters() {
    let (spdm, chain) = hopper_parts();
    let store = TrustStore::pinned();
    let opts = raw(NV_NONCE, JUNE_2025);
    let mut checked = 0;
    for (i, cert) in chain.iter().enumerate() {
        for pos in (0..cert.len()).step_by(13) {
            let mut c = chain.clone();
            c[i] = flip(cert.clone(), pos);
            let got = code(&nv(spdm.clone(), c), &opts, &store);
            assert!(CERT_CODES.contains(&got), "cert {i} byte {pos}: {got}");
            checked += 1;
        }
    }
    assert!(checked > 200, "{checked}");
}

#[test]
fn nvidia_synthetic_positive_and_mutations() {
    let pki = TestPki::new().unwrap();
    let store = pki.store();
    let nonce = Nonce([9; 32]);
    let opts = VerifyOptions {
        freshness: Freshness::Nonce(nonce),
        at_unix: JUNE_2025,
        reference: None,
    };
    for (gpu, arch) in [
        (Gpu::Hopper, "hopper GH100"),
        (Gpu::Blackwell, "blackwell GB100"),
    ] {
        let ev = pki.gpu_envelope(gpu, &nonce).unwrap().encode().unwrap();
        let a = poai_tee::verify(&ev, &opts, &store).unwrap();
        assert_eq!(a.facts.architecture, arch);
        assert_eq!(a.tier, PrivacyLevel::Confidential);
        // Pinned production roots do not accept test evidence.
        assert_eq!(code(&ev, &opts, &TrustStore::pinned()), "untrusted_root");
        assert_eq!(
            code(&ev, &nonce_opts(8, JUNE_2025), &store),
            "nonce_mismatch"
        );
    }
    let field: [u8; 32] = poai_tee::expected_freshness(EvidenceKind::Nvidia, &nonce)
        .try_into()
        .unwrap();
    let chain = pki.gpu_chain(Gpu::Hopper, (NOT_BEFORE, NOT_AFTER)).unwrap();
    // A genuine signature over a report whose FWID is not the leaf's.
    let other = nv(pki.spdm(&field, &[0xAB; 48]).unwrap(), chain.clone());
    assert_eq!(code(&other, &opts, &store), "fwid_mismatch");
    // Expired and not-yet-valid leaf.
    let spdm = pki.spdm(&field, &pki.fwid).unwrap();
    let expired = pki
        .gpu_chain(Gpu::Hopper, (NOT_BEFORE, JUNE_2025 - 1))
        .unwrap();
    assert_eq!(
        code(&nv(spdm.clone(), expired), &opts, &store),
        "certificate_expired"
    );
    let future = pki
        .gpu_chain(Gpu::Hopper, (JUNE_2025 + 1, NOT_AFTER))
        .unwrap();
    assert_eq!(
        code(&nv(spdm.clone(), future), &opts, &store),
        "certificate_not_yet_valid"
    );
    let good = nv(spdm.clone(), chain.clone());
    assert!(poai_tee::verify(&good, &opts, &store).is_ok());
    let last = spdm.len() - 1;
    assert_eq!(
        code(&nv(flip(spdm.clone(), last), chain.clone()), &opts, &store),
        "report_signature"
    );
    assert_eq!(
        code(&nv(flip(spdm.clone(), 60), chain.clone()), &opts, &store),
        "report_signature"
    );
    assert_eq!(
        code(&nv(spdm.clone(), chain[..4].to_vec()), &opts, &store),
        "chain_length"
    );
    for (i, cert) in chain.iter().enumerate() {
        for pos in (0..cert.len()).step_by(29) {
            let mut c = chain.clone();
            c[i] = flip(cert.clone(), pos);
            let got = code(&nv(spdm.clone(), c), &opts, &store);
            assert!(CERT_CODES.contains(&got), "cert {i} byte {pos}: {got}");
        }
    }
}

fn tdx_parts() -> (Vec<u8>, Vec<u8>) {
    (
        read("intel/dcapqvl_tdx_quote"),
        read("intel/dcapqvl_tdx_quote_collateral.json"),
    )
}

fn tdx(quote: Vec<u8>, collateral: Vec<u8>) -> Vec<u8> {
    Envelope::Tdx { quote, collateral }.encode().unwrap()
}

#[test]
fn intel_real_mutations() {
    let (q, c) = tdx_parts();
    let store = TrustStore::pinned();
    let opts = raw(TDX_REPORT_DATA, JUNE_2025);
    let signed_len = 48 + 584;
    let mut appended = q.clone();
    appended.push(1);
    let mut debug = q.clone();
    debug[48 + 120] |= 0x01;
    let mut bad_json = c.clone();
    let brace = bad_json.iter().rposition(|&b| b == b'}').unwrap();
    bad_json[brace] = b' ';
    let sig_key = "\"tcb_info_signature\": \"";
    let mut tcb_sig = c.clone();
    let sig_at = String::from_utf8(c.clone()).unwrap().find(sig_key).unwrap() + sig_key.len();
    tcb_sig[sig_at] = if tcb_sig[sig_at] == b'0' { b'1' } else { b'0' };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "report_data byte",
            tdx(flip(q.clone(), 48 + 520), c.clone()),
            "nonce_mismatch",
        ),
        (
            "mr_td byte",
            tdx(flip(q.clone(), 48 + 136), c.clone()),
            "dcap_signature",
        ),
        (
            "quote signature",
            tdx(flip(q.clone(), signed_len + 4), c.clone()),
            "dcap_signature",
        ),
        (
            "truncated quote",
            tdx(q[..q.len() - 100].to_vec(), c.clone()),
            "quote_parse",
        ),
        (
            "appended non-zero byte",
            tdx(appended, c.clone()),
            "quote_parse",
        ),
        ("debug on", tdx(debug, c.clone()), "debug_enabled"),
        (
            "collateral not JSON",
            tdx(q.clone(), bad_json),
            "collateral_parse",
        ),
        (
            "tcb info signature",
            tdx(q.clone(), tcb_sig),
            "dcap_signature",
        ),
    ];
    for (name, ev, want) in cases {
        assert_eq!(code(&ev, &opts, &store), want, "{name}");
    }
    let good = tdx(q, c);
    assert_eq!(
        code(&good, &raw(TDX_REPORT_DATA, JULY_2025), &store),
        "collateral_expired"
    );
    assert_eq!(
        code(&good, &nonce_opts(3, JUNE_2025), &store),
        "nonce_mismatch"
    );
}

fn snp(report: Vec<u8>) -> Vec<u8> {
    Envelope::Snp {
        report,
        vek: read("amd/sev_vcek_milan.der"),
        ca: None,
    }
    .encode()
    .unwrap()
}

#[test]
fn amd_real_mutations() {
    let r = hex_file("amd/sev_report_milan.hex");
    let store = TrustStore::pinned();
    let opts = raw(SNP_REPORT_DATA, JUNE_2025);
    let set = |at: usize, v: u8| {
        let mut b = r.clone();
        b[at] = v;
        b
    };
    let mut longer = r.clone();
    longer.push(0);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("report_data byte", flip(r.clone(), 0x50), "nonce_mismatch"),
        (
            "measurement byte",
            flip(r.clone(), 0x90),
            "report_signature",
        ),
        ("host_data byte", flip(r.clone(), 0xC0), "report_signature"),
        ("reserved byte", flip(r.clone(), 0x1F0), "report_signature"),
        ("signature r", flip(r.clone(), 0x2A0), "report_signature"),
        (
            "signature s",
            flip(r.clone(), 0x2A0 + 72),
            "report_signature",
        ),
        (
            "debug on (policy bit 19)",
            set(0x0A, r[0x0A] | 0x08),
            "debug_enabled",
        ),
        ("vmpl 1", set(0x30, 1), "vmpl_not_zero"),
        (
            "signature algorithm",
            set(0x34, 2),
            "unsupported_signature_algorithm",
        ),
        ("reported tcb", flip(r.clone(), 0x180), "snp_vek_mismatch"),
        ("chip id", flip(r.clone(), 0x1A0), "snp_vek_mismatch"),
        ("truncated", r[..r.len() - 1].to_vec(), "snp_report_parse"),
        ("appended", longer, "snp_report_parse"),
    ];
    for (name, report, want) in cases {
        let got = poai_tee::verify(&snp(report), &opts, &store).map_err(|e| e.code());
        assert_eq!(got.err(), Some(want), "{name}");
    }
    let vek = read("amd/sev_vcek_milan.der");
    for pos in (0..vek.len()).step_by(17) {
        let ev = Envelope::Snp {
            report: r.clone(),
            vek: flip(vek.clone(), pos),
            ca: None,
        }
        .encode()
        .unwrap();
        let got = code(&ev, &opts, &store);
        assert!(
            [
                "certificate_parse",
                "snp_chain",
                "unknown_amd_product",
                "snp_vek_mismatch",
                "report_signature",
                "unsupported_algorithm",
                "certificate_expired",
                "certificate_not_yet_valid",
            ]
            .contains(&got),
            "vek byte {pos}: {got}"
        );
    }
    // A Turin VCEK does not sign a Milan report.
    let turin = Envelope::Snp {
        report: r.clone(),
        vek: read("amd/sev_vcek_turin.der"),
        ca: None,
    }
    .encode()
    .unwrap();
    assert!(poai_tee::verify(&turin, &opts, &store).is_err());
}

#[test]
fn cca_synthetic_positive_and_mutations() {
    let pki = TestPki::new().unwrap();
    let store = pki.store();
    let nonce = Nonce([4; 32]);
    let opts = VerifyOptions {
        freshness: Freshness::Nonce(nonce),
        at_unix: JUNE_2025,
        reference: None,
    };
    let ev = pki.cca_envelope(&nonce).unwrap().encode().unwrap();
    let a = poai_tee::verify(&ev, &opts, &store).unwrap();
    assert_eq!(a.tier, PrivacyLevel::Confidential);
    assert_eq!(
        a.device_id.0,
        *blake3::hash(&pki.cca_instance_id).as_bytes()
    );
    assert_eq!(
        code(&ev, &nonce_opts(5, JUNE_2025), &store),
        "nonce_mismatch"
    );
    assert_eq!(
        code(&ev, &opts, &TrustStore::pinned()),
        "cca_unknown_platform"
    );
    let challenge: [u8; 64] = poai_tee::expected_freshness(EvidenceKind::Cca, &nonce)
        .try_into()
        .unwrap();
    let token = |lifecycle: u64| {
        Envelope::Cca {
            token: pki.cca_token(&challenge, lifecycle).unwrap(),
        }
        .encode()
        .unwrap()
    };
    assert_eq!(code(&token(0x4000), &opts, &store), "debug_enabled");
    assert_eq!(code(&token(0x6000), &opts, &store), "cca_lifecycle");
    let raw_token = pki.cca_token(&challenge, 0x3000).unwrap();
    let mut tail = raw_token.clone();
    tail.push(0);
    let wrap = |t: Vec<u8>| Envelope::Cca { token: t }.encode().unwrap();
    assert_eq!(code(&wrap(tail), &opts, &store), "cca_token");
    assert_eq!(
        code(
            &wrap(raw_token[..raw_token.len() - 1].to_vec()),
            &opts,
            &store
        ),
        "cca_token"
    );
    // The last bytes of the token are the realm signature.
    let last = raw_token.len() - 1;
    assert_eq!(
        code(&wrap(flip(raw_token.clone(), last)), &opts, &store),
        "report_signature"
    );
    for pos in (0..raw_token.len()).step_by(7) {
        let got = poai_tee::verify(&wrap(flip(raw_token.clone(), pos)), &opts, &store);
        assert!(got.is_err(), "token byte {pos} accepted");
    }
}

#[test]
fn composite_synthetic() {
    let pki = TestPki::new().unwrap();
    let store = pki.store();
    let nonce = Nonce([6; 32]);
    let opts = VerifyOptions {
        freshness: Freshness::Nonce(nonce),
        at_unix: JUNE_2025,
        reference: None,
    };
    let bw = pki.composite_envelope(Gpu::Blackwell, &nonce).unwrap();
    let a = poai_tee::verify(&bw.encode().unwrap(), &opts, &store).unwrap();
    assert_eq!(a.kind, EvidenceKind::Composite);
    assert_eq!(a.tier, PrivacyLevel::Sovereign);
    assert_eq!(a.trust_score, 100 - 4 - 3 - 4);
    assert_eq!(a.device_id, a.facts.gpu.as_ref().unwrap().device_id);
    let hopper = pki.composite_envelope(Gpu::Hopper, &nonce).unwrap();
    let h = poai_tee::verify(&hopper.encode().unwrap(), &opts, &store).unwrap();
    assert_eq!(h.tier, PrivacyLevel::Confidential);
    // Not bound: the CPU token binds a different (re-signed) GPU report.
    let (Envelope::Composite { cpu, .. }, Envelope::Composite { gpu: other_gpu, .. }) = (
        bw.clone(),
        pki.composite_envelope(Gpu::Blackwell, &nonce).unwrap(),
    ) else {
        unreachable!()
    };
    let unbound = Envelope::Composite {
        gpu: other_gpu,
        cpu,
    }
    .encode()
    .unwrap();
    assert_eq!(code(&unbound, &opts, &store), "composite_not_bound");
    assert_eq!(
        code(
            &bw.encode().unwrap(),
            &raw(&"00".repeat(32), JUNE_2025),
            &store
        ),
        "composite_needs_nonce"
    );
    assert_eq!(
        code(&bw.encode().unwrap(), &nonce_opts(7, JUNE_2025), &store),
        "nonce_mismatch"
    );
    // A real CPU quote cannot be bound to synthetic GPU evidence.
    let Envelope::Composite { gpu, .. } = bw else {
        unreachable!()
    };
    let (q, c) = tdx_parts();
    let with_tdx = Envelope::Composite {
        gpu,
        cpu: Box::new(Envelope::Tdx {
            quote: q,
            collateral: c,
        }),
    }
    .encode()
    .unwrap();
    assert_eq!(code(&with_tdx, &opts, &store), "composite_not_bound");
}

#[test]
fn cli_verifies_real_samples_as_json() {
    use poai_tee::cli::{CliError, KindArg, TeeCommand, VerifyArgs, run};
    let args =
        |kind: KindArg, ev: &str, chain: Option<&str>, coll: Option<&str>, rd: &str, at: u64| {
            TeeCommand::Verify(VerifyArgs {
                evidence: path(ev),
                chain: chain.map(path),
                collateral: coll.map(path),
                reference: None,
                kind,
                nonce: None,
                report_data: Some(rd.into()),
                at,
                json: true,
            })
        };
    let cca01 = cca_challenge_opts("ccatoken_cca-token-01.cbor");
    let Freshness::ReportData(cca_rd) = cca01.freshness else {
        unreachable!()
    };
    let positive = [
        (
            args(
                KindArg::Nvidia,
                "nvidia/nvtrust_hopperAttestationReport.txt",
                Some("nvidia/nvtrust_hopperCertChain.txt"),
                None,
                NV_NONCE,
                JUNE_2025,
            ),
            3,
            77,
        ),
        (
            args(
                KindArg::Nvidia,
                "nvidia/sdk_blackwellAttestationReport.txt",
                Some("nvidia/sdk_blackwellCertChain.txt"),
                None,
                NV_NONCE,
                JUNE_2025,
            ),
            3,
            77,
        ),
        (
            args(
                KindArg::Tdx,
                "intel/dcapqvl_tdx_quote",
                None,
                Some("intel/dcapqvl_tdx_quote_collateral.json"),
                TDX_REPORT_DATA,
                JUNE_2025,
            ),
            3,
            84,
        ),
        (
            args(
                KindArg::Sgx,
                "intel/dcapqvl_sgx_quote",
                None,
                Some("intel/dcapqvl_sgx_quote_collateral.json"),
                SGX_REPORT_DATA,
                JUNE_2025,
            ),
            2,
            0,
        ),
        (
            args(
                KindArg::Snp,
                "amd/sev_report_milan.hex",
                Some("amd/sev_vcek_milan.der"),
                None,
                SNP_REPORT_DATA,
                JUNE_2025,
            ),
            3,
            80,
        ),
        (
            args(
                KindArg::Cca,
                "arm/ccatoken_cca-token-01.cbor",
                Some("arm/ccatoken_cpak.json"),
                None,
                &hex::encode(&cca_rd),
                JUNE_2025,
            ),
            3,
            80,
        ),
    ];
    for (cmd, tier, score) in positive {
        let out = run(cmd).unwrap_or_else(|e| panic!("{e}"));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["verdict"], "valid", "{out}");
        assert_eq!(v["tier"], tier, "{out}");
        if score > 0 {
            assert_eq!(v["trust_score"], score, "{out}");
        }
        assert_eq!(v["device_id"].as_str().unwrap().len(), 64);
    }
    let negative = [
        (
            args(
                KindArg::Nvidia,
                "nvidia/sdk_hopperAttestationReportInvalidSignature.txt",
                Some("nvidia/sdk_hopperCertChainExpired.txt"),
                None,
                NV_NONCE,
                JUNE_2025,
            ),
            "report_signature",
        ),
        (
            args(
                KindArg::Tdx,
                "intel/dcapqvl_tdx_quote",
                None,
                Some("intel/dcapqvl_tdx_quote_collateral.json"),
                TDX_REPORT_DATA,
                JULY_2025,
            ),
            "collateral_expired",
        ),
        (
            args(
                KindArg::Tdx,
                "intel/dcapqvl_tdx_quote_outdated",
                None,
                Some("intel/dcapqvl_tdx_quote_outdated_collateral.json"),
                &hex::encode(&read("intel/dcapqvl_tdx_quote_outdated")[574..638]),
                MARCH_2026,
            ),
            "tcb_no_match",
        ),
        (
            args(
                KindArg::Cca,
                "arm/ccatoken_cca-token-02.cbor",
                Some("arm/ccatoken_ta-02-bad.json"),
                None,
                &hex::encode(
                    match cca_challenge_opts("ccatoken_cca-token-02.cbor").freshness {
                        Freshness::ReportData(b) => b,
                        Freshness::Nonce(_) => unreachable!(),
                    },
                ),
                JUNE_2025,
            ),
            "report_signature",
        ),
    ];
    for (cmd, want) in negative {
        match run(cmd) {
            Err(CliError::Rejected { output, error }) => {
                assert_eq!(error.code(), want);
                let v: serde_json::Value = serde_json::from_str(&output).unwrap();
                assert_eq!(v["verdict"], "rejected");
                assert_eq!(v["error"], want);
                assert_eq!(v["trust_score"], 0);
            }
            other => panic!("expected rejection {want}, got {other:?}"),
        }
    }
}

#[test]
fn cli_envelope_then_verify() {
    use poai_tee::cli::{EnvelopeArgs, KindArg, TeeCommand, VerifyArgs, run};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snp.env");
    let msg = run(TeeCommand::Envelope(EnvelopeArgs {
        kind: KindArg::Snp,
        evidence: Some(path("amd/sev_report_milan.hex")),
        chain: Some(path("amd/sev_vcek_milan.der")),
        collateral: None,
        gpu: None,
        cpu: None,
        out: out.clone(),
    }))
    .unwrap();
    assert!(msg.contains("snp envelope"), "{msg}");
    assert_eq!(std::fs::read(&out).unwrap(), snp_milan());
    let text = run(TeeCommand::Verify(VerifyArgs {
        evidence: out,
        chain: None,
        collateral: None,
        reference: None,
        kind: KindArg::Envelope,
        nonce: None,
        report_data: Some(SNP_REPORT_DATA.into()),
        at: JUNE_2025,
        json: false,
    }))
    .unwrap();
    assert!(
        text.starts_with("verdict: valid\ntier: 3 (Confidential)\ntrust_score: 80\n"),
        "{text}"
    );
}
