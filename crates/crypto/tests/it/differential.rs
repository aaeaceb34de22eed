//! Differential tests: poai's verifier (aws-lc-rs for the empty context, libcrux otherwise)
//! against RustCrypto `ml-dsa` and `fips204`, on random keys, messages and contexts, and on
//! mutated signatures (flipped bytes anywhere: commitment hash, response z, hint encoding).

use ml_dsa::{EncodedSignature, EncodedVerifyingKey};
use poai_crypto::{ParamSet, SigningKey, verify};
use proptest::prelude::*;

/// RustCrypto's verdict. `None` when it cannot even decode the signature (malformed hints),
/// which FIPS 204 also calls invalid.
fn rustcrypto_verify(param: ParamSet, pk: &[u8], msg: &[u8], ctx: &[u8], sig: &[u8]) -> bool {
    macro_rules! v {
        ($p:ty) => {{
            let Ok(pk) = EncodedVerifyingKey::<$p>::try_from(pk) else {
                return false;
            };
            let Ok(sig) = EncodedSignature::<$p>::try_from(sig) else {
                return false;
            };
            let vk = ml_dsa::VerifyingKey::<$p>::decode(&pk);
            match ml_dsa::Signature::<$p>::decode(&sig) {
                Some(sig) => vk.verify_with_context(msg, ctx, &sig),
                None => false,
            }
        }};
    }
    match param {
        ParamSet::MlDsa44 => v!(ml_dsa::MlDsa44),
        ParamSet::MlDsa65 => v!(ml_dsa::MlDsa65),
        ParamSet::MlDsa87 => v!(ml_dsa::MlDsa87),
    }
}

fn fips204_verify(param: ParamSet, pk: &[u8], msg: &[u8], ctx: &[u8], sig: &[u8]) -> bool {
    use fips204::traits::{SerDes, Verifier};
    macro_rules! v {
        ($m:ident) => {{
            let Ok(pk) = pk.try_into() else { return false };
            let Ok(sig) = sig.try_into() else {
                return false;
            };
            match fips204::$m::PublicKey::try_from_bytes(pk) {
                Ok(pk) => pk.verify(msg, &sig, ctx),
                Err(_) => false,
            }
        }};
    }
    match param {
        ParamSet::MlDsa44 => v!(ml_dsa_44),
        ParamSet::MlDsa65 => v!(ml_dsa_65),
        ParamSet::MlDsa87 => v!(ml_dsa_87),
    }
}

/// External-mu deterministic signing with RustCrypto (used for Wycheproof's `Internal` ids).
pub fn rustcrypto_sign_mu(param: ParamSet, seed: &[u8], mu: &[u8]) -> Vec<u8> {
    macro_rules! s {
        ($p:ty) => {{
            let seed = ml_dsa::B32::try_from(seed).unwrap();
            let kp = ml_dsa::SigningKey::<$p>::from_seed(&seed);
            let mu = mu.try_into().unwrap();
            kp.expanded_key()
                .sign_mu_deterministic(&mu)
                .encode()
                .to_vec()
        }};
    }
    match param {
        ParamSet::MlDsa44 => s!(ml_dsa::MlDsa44),
        ParamSet::MlDsa65 => s!(ml_dsa::MlDsa65),
        ParamSet::MlDsa87 => s!(ml_dsa::MlDsa87),
    }
}

fn all_agree(param: ParamSet, pk: &[u8], msg: &[u8], ctx: &[u8], sig: &[u8]) -> bool {
    let ours = verify(param, pk, msg, ctx, sig).unwrap();
    let lc = poai_crypto::mldsa::verify_with_libcrux(param, pk, msg, ctx, sig).unwrap();
    let key = poai_crypto::VerifyingKey::from_bytes(param, pk).unwrap();
    let from_tr = poai_crypto::verify_with_tr(param, key.as_bytes(), key.tr(), msg, ctx, sig);
    assert_eq!(Ok(ours), from_tr, "{param}: poai vs poai from a cached tr");
    let rc = rustcrypto_verify(param, pk, msg, ctx, sig);
    let fp = fips204_verify(param, pk, msg, ctx, sig);
    assert_eq!(ours, lc, "{param}: poai vs libcrux");
    assert_eq!(ours, rc, "{param}: poai vs RustCrypto ml-dsa");
    assert_eq!(ours, fp, "{param}: poai vs fips204");
    ours
}

fn arb_param() -> impl Strategy<Value = ParamSet> {
    prop_oneof![
        Just(ParamSet::MlDsa44),
        Just(ParamSet::MlDsa65),
        Just(ParamSet::MlDsa87)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Valid signatures verify everywhere; one flipped byte in the signature gives the same
    /// verdict everywhere (almost always false; a flip in unused hint padding may still be
    /// rejected by all for non-canonical encoding).
    #[test]
    fn verdicts_agree(
        param in arb_param(),
        seed in any::<[u8; 32]>(),
        msg in proptest::collection::vec(any::<u8>(), 0..300),
        ctx in prop_oneof![Just(Vec::new()), proptest::collection::vec(any::<u8>(), 0..=255)],
        flip_at in any::<proptest::sample::Index>(),
        flip_bits in 1u8..=255,
    ) {
        let sk = SigningKey::from_seed(param, &seed).unwrap();
        let pk = sk.verifying_key().as_bytes();
        let sig = sk.sign(&msg, &ctx).unwrap();
        prop_assert!(all_agree(param, pk, &msg, &ctx, &sig));

        let mut bad = sig.clone();
        let i = flip_at.index(bad.len());
        bad[i] ^= flip_bits;
        prop_assert!(!all_agree(param, pk, &msg, &ctx, &bad));

        let mut other_msg = msg.clone();
        other_msg.push(0);
        prop_assert!(!all_agree(param, pk, &other_msg, &ctx, &sig));
    }

    /// Keys derived from the same seed are identical across implementations.
    #[test]
    fn keygen_agrees(seed in any::<[u8; 32]>()) {
        let sk = SigningKey::from_seed(ParamSet::MlDsa65, &seed).unwrap();
        let kp = ml_dsa::SigningKey::<ml_dsa::MlDsa65>::from_seed(&ml_dsa::B32::try_from(&seed[..]).unwrap());
        prop_assert_eq!(sk.verifying_key().as_bytes(), &ml_dsa::signature::Keypair::verifying_key(&kp).encode()[..]);
    }
}

/// Signatures from RustCrypto verify under poai and vice versa (interoperability, hedged).
#[test]
fn cross_signing() {
    for (i, param) in ParamSet::ALL.into_iter().enumerate() {
        let seed = [u8::try_from(i).unwrap() + 40; 32];
        let sk = SigningKey::from_seed(param, &seed).unwrap();
        let ours = sk.sign(b"cross", b"ctx").unwrap();
        assert!(rustcrypto_verify(
            param,
            sk.verifying_key().as_bytes(),
            b"cross",
            b"ctx",
            &ours
        ));
        assert!(fips204_verify(
            param,
            sk.verifying_key().as_bytes(),
            b"cross",
            b"ctx",
            &ours
        ));
    }
}
