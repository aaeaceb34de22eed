//! Wycheproof ML-DSA-44/65 vectors (C2SP/wycheproof testvectors_v1; provenance in
//! testdata/PROVENANCE.md), run through `poai_crypto`'s public API: `verify` (what the
//! precompile and the chain call), `verify_with_tr` (a device's proofs) and `SigningKey::from_seed` +
//! `sign_with_rnd`.

use poai_crypto::{MlDsaError, ParamSet, SigningKey, VerifyingKey, verify};
use serde::Deserialize;

fn path(file: &str) -> String {
    format!(
        "{}/../../testdata/crypto/wycheproof/{file}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File<G> {
    algorithm: String,
    number_of_tests: usize,
    test_groups: Vec<G>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerifyGroup {
    public_key: String,
    tests: Vec<VerifyTest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerifyTest {
    tc_id: u32,
    msg: String,
    #[serde(default)]
    ctx: String,
    sig: String,
    result: String,
    flags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignGroup {
    private_seed: String,
    /// Null for groups whose seed has the wrong length.
    public_key: Option<String>,
    tests: Vec<SignTest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignTest {
    tc_id: u32,
    msg: Option<String>,
    mu: Option<String>,
    #[serde(default)]
    ctx: String,
    rnd: Option<String>,
    sig: String,
    result: String,
}

fn load<G: for<'de> Deserialize<'de>>(file: &str) -> File<G> {
    let text = std::fs::read_to_string(path(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn run_verify(file: &str, param: ParamSet) {
    let f: File<VerifyGroup> = load(file);
    assert_eq!(f.algorithm, param.name());
    let mut seen = 0;
    let (mut valid, mut invalid) = (0, 0);
    for g in &f.test_groups {
        let pk = h(&g.public_key);
        for t in &g.tests {
            seen += 1;
            let got = verify(param, &pk, &h(&t.msg), &h(&t.ctx), &h(&t.sig));
            // The libcrux path must agree for every context, empty ones included.
            let lc = poai_crypto::mldsa::verify_with_libcrux(
                param,
                &pk,
                &h(&t.msg),
                &h(&t.ctx),
                &h(&t.sig),
            );
            assert_eq!(got, lc, "{file} tc {}: backends disagree", t.tc_id);
            // Starting from the key's cached tr (poai_crypto::mu) must not change a verdict.
            if let Ok(key) = VerifyingKey::from_bytes(param, &pk) {
                let from_tr = poai_crypto::verify_with_tr(
                    param,
                    key.as_bytes(),
                    key.tr(),
                    &h(&t.msg),
                    &h(&t.ctx),
                    &h(&t.sig),
                );
                assert_eq!(got, from_tr, "{file} tc {}: cached tr disagrees", t.tc_id);
                assert_eq!(
                    got,
                    key.verify(&h(&t.msg), &h(&t.ctx), &h(&t.sig)),
                    "{file} tc {}: VerifyingKey::verify with its tr",
                    t.tc_id
                );
            }
            match t.result.as_str() {
                "valid" => {
                    valid += 1;
                    assert_eq!(got, Ok(true), "{file} tc {} {:?}", t.tc_id, t.flags);
                }
                "invalid" => {
                    invalid += 1;
                    // Either a well-formed signature that fails, or malformed input with the
                    // field named.
                    match got {
                        Ok(false) => {}
                        Err(
                            MlDsaError::PublicKeyLength { .. }
                            | MlDsaError::SignatureLength { .. }
                            | MlDsaError::ContextTooLong(_),
                        ) => {}
                        other => panic!("{file} tc {} {:?}: {other:?}", t.tc_id, t.flags),
                    }
                }
                other => panic!("{file} tc {}: unexpected result {other}", t.tc_id),
            }
        }
    }
    assert_eq!(seen, f.number_of_tests, "{file}: every test id ran");
    assert!(valid > 0 && invalid > 0);
}

#[test]
fn mldsa_44_verify() {
    run_verify("mldsa_44_verify_test.json", ParamSet::MlDsa44);
}

#[test]
fn mldsa_65_verify() {
    run_verify("mldsa_65_verify_test.json", ParamSet::MlDsa65);
}

/// Seeded signing: key generation from the seed must give the group's public key, and signing
/// with the vector's rnd (zero when absent: deterministic) must give exactly the expected
/// signature, which then verifies.
///
/// Tests flagged `Internal` give only mu = H(tr ‖ M') (external-mu signing, for HSM-style use);
/// poai's API signs messages, never a caller-computed mu, so for those ids the key must still
/// match the group's public key and the expected signature is checked with RustCrypto's
/// external-mu signer (the differential implementation) over our expanded key's seed.
fn run_sign(file: &str, param: ParamSet) {
    let f: File<SignGroup> = load(file);
    assert_eq!(f.algorithm, param.name());
    let mut seen = 0;
    for g in &f.test_groups {
        let seed = h(&g.private_seed);
        let key = SigningKey::from_seed(param, &seed);
        for t in &g.tests {
            seen += 1;
            let key = match (&key, t.result.as_str()) {
                (Ok(k), _) => k,
                (Err(MlDsaError::SeedLength(n)), "invalid") => {
                    assert_eq!(*n, seed.len(), "tc {}", t.tc_id);
                    continue;
                }
                (Err(e), r) => panic!("{file} tc {}: keygen {e:?}, expected {r}", t.tc_id),
            };
            let want_pk = g
                .public_key
                .as_deref()
                .expect("a valid seed has a public key");
            assert_eq!(key.verifying_key().as_bytes(), h(want_pk), "tc {}", t.tc_id);
            let rnd: [u8; 32] = t
                .rnd
                .as_deref()
                .map(|r| h(r).try_into().unwrap())
                .unwrap_or([0; 32]);
            let ctx = h(&t.ctx);
            match (&t.msg, &t.mu) {
                (Some(msg), _) => {
                    let msg = h(msg);
                    let got = key.sign_with_rnd(&msg, &ctx, rnd);
                    match t.result.as_str() {
                        "valid" => {
                            let sig = got.unwrap_or_else(|e| panic!("tc {}: {e}", t.tc_id));
                            assert_eq!(hex::encode(&sig), t.sig, "{file} tc {}", t.tc_id);
                            assert_eq!(
                                verify(param, key.verifying_key().as_bytes(), &msg, &ctx, &sig),
                                Ok(true)
                            );
                        }
                        _ => assert_eq!(
                            got,
                            Err(MlDsaError::ContextTooLong(ctx.len())),
                            "{file} tc {}",
                            t.tc_id
                        ),
                    }
                }
                (None, Some(mu)) => {
                    assert_eq!(t.result, "valid");
                    assert_eq!(rnd, [0; 32], "external-mu vectors are deterministic");
                    let sig = crate::differential::rustcrypto_sign_mu(param, &seed, &h(mu));
                    assert_eq!(
                        hex::encode(sig),
                        t.sig,
                        "{file} tc {} (external mu)",
                        t.tc_id
                    );
                }
                (None, None) => panic!("tc {}: neither msg nor mu", t.tc_id),
            }
        }
    }
    assert_eq!(seen, f.number_of_tests, "{file}: every test id ran");
}

#[test]
fn mldsa_44_sign_seed() {
    run_sign("mldsa_44_sign_seed_test.json", ParamSet::MlDsa44);
}

#[test]
fn mldsa_65_sign_seed() {
    run_sign("mldsa_65_sign_seed_test.json", ParamSet::MlDsa65);
}
