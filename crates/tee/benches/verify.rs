//! Cold and warm verification per evidence kind (docs/PERFORMANCE.md, "TEE evidence verification"), beside the cost of
//! the raw signature checks the warm paths reduce to.
//!
//! Cold: a fresh `Verifier` (chains and collateral verified from scratch). Warm: the same
//! verifier again (chain or collateral cached; one report signature remains).

use criterion::{Criterion, criterion_group, criterion_main};
use poai_primitives::Nonce;
use poai_tee::testpki::{Gpu, TestPki};
use poai_tee::x509::pem_to_der_chain;
use poai_tee::{Envelope, Freshness, TrustStore, Verifier, VerifyOptions};
use std::hint::black_box;

const TD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/tee/");
const JUNE_2025: u64 = 1_750_420_800;

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{TD}{rel}")).unwrap_or_default()
}

fn hex_file(rel: &str) -> Vec<u8> {
    let s: String = String::from_utf8(read(rel))
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    hex::decode(s).unwrap_or_default()
}

fn raw(h: &str) -> VerifyOptions {
    VerifyOptions {
        freshness: Freshness::ReportData(hex::decode(h).unwrap_or_default()),
        at_unix: JUNE_2025,
        reference: None,
    }
}

fn bench_case(c: &mut Criterion, name: &str, store: &TrustStore, ev: &[u8], opts: &VerifyOptions) {
    if let Err(e) = Verifier::new(store.clone()).verify(ev, opts) {
        eprintln!("skipping {name}: {e}");
        return;
    }
    c.bench_function(&format!("{name}/cold"), |b| {
        b.iter(|| Verifier::new(store.clone()).verify(black_box(ev), opts))
    });
    let warm = Verifier::new(store.clone());
    let _ = warm.verify(ev, opts);
    c.bench_function(&format!("{name}/warm"), |b| {
        b.iter(|| warm.verify(black_box(ev), opts))
    });
}

fn kinds(c: &mut Criterion) {
    let pinned = TrustStore::pinned();
    let nv = Envelope::Nvidia {
        spdm: hex_file("nvidia/nvtrust_hopperAttestationReport.txt"),
        chain: pem_to_der_chain(&read("nvidia/nvtrust_hopperCertChain.txt")).unwrap_or_default(),
    }
    .encode()
    .unwrap_or_default();
    bench_case(
        c,
        "nvidia_hopper",
        &pinned,
        &nv,
        &raw("931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb"),
    );
    let tdx = Envelope::Tdx {
        quote: read("intel/dcapqvl_tdx_quote"),
        collateral: read("intel/dcapqvl_tdx_quote_collateral.json"),
    }
    .encode()
    .unwrap_or_default();
    bench_case(
        c,
        "tdx",
        &pinned,
        &tdx,
        &raw(
            "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20",
        ),
    );
    let sgx = Envelope::Sgx {
        quote: read("intel/dcapqvl_sgx_quote"),
        collateral: read("intel/dcapqvl_sgx_quote_collateral.json"),
    }
    .encode()
    .unwrap_or_default();
    bench_case(
        c,
        "sgx",
        &pinned,
        &sgx,
        &raw(&format!(
            "{}{}",
            hex::encode(b"Hello, world!"),
            "00".repeat(51)
        )),
    );
    let snp = Envelope::Snp {
        report: hex_file("amd/sev_report_milan.hex"),
        vek: read("amd/sev_vcek_milan.der"),
        ca: None,
    }
    .encode()
    .unwrap_or_default();
    bench_case(
        c,
        "snp_milan",
        &pinned,
        &snp,
        &raw(
            "d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd",
        ),
    );
    let Ok(pki) = TestPki::new() else { return };
    let store = pki.store();
    let nonce = Nonce([1; 32]);
    let opts = VerifyOptions {
        freshness: Freshness::Nonce(nonce),
        at_unix: JUNE_2025,
        reference: None,
    };
    if let (Ok(cca), Ok(comp)) = (
        pki.cca_envelope(&nonce).and_then(|e| e.encode()),
        pki.composite_envelope(Gpu::Blackwell, &nonce)
            .and_then(|e| e.encode()),
    ) {
        bench_case(c, "cca_synthetic", &store, &cca, &opts);
        bench_case(c, "composite_blackwell_cca_synthetic", &store, &comp, &opts);
    }
}

/// The per-signature baselines: one ecrecover (secp256k1, as the EVM's 0x01 precompile) and the
/// raw ECDSA verifications the warm paths reduce to.
fn baselines(c: &mut Criterion) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
    let secp = secp256k1::Secp256k1::new();
    let Ok(sk) = secp256k1::SecretKey::from_byte_array([7u8; 32]) else {
        return;
    };
    let msg = secp256k1::Message::from_digest([9u8; 32]);
    let sig = secp.sign_ecdsa_recoverable(msg, &sk);
    c.bench_function("baseline/ecrecover_secp256k1", |b| {
        b.iter(|| secp.recover_ecdsa(black_box(msg), black_box(&sig)))
    });
    let rng = SystemRandom::new();
    for (name, signing, verifying) in [
        (
            "baseline/p384_sha384_verify_aws_lc",
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            &signature::ECDSA_P384_SHA384_FIXED,
        ),
        (
            "baseline/p256_sha256_verify_aws_lc",
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &signature::ECDSA_P256_SHA256_FIXED,
        ),
    ] {
        let Ok(kp) = EcdsaKeyPair::generate(signing) else {
            return;
        };
        let Ok(s) = kp.sign(&rng, b"message") else {
            return;
        };
        let pk = UnparsedPublicKey::new(verifying, kp.public_key().as_ref().to_vec());
        c.bench_function(name, |b| {
            b.iter(|| pk.verify(black_box(b"message"), s.as_ref()))
        });
    }
}

criterion_group!(benches, baselines, kinds);
criterion_main!(benches);
