//! ML-DSA verification from a cached `tr` (FIPS 204 Algorithm 8 with μ computed outside it).
//!
//! `ML-DSA.Verify_internal` (Algorithm 8) starts with `tr ← H(pk, 64)` (line 6) and
//! `μ ← H(tr ‖ M′, 64)` (line 7), where `H` is SHAKE256 and `M′ = 0x00 ‖ len(ctx) ‖ ctx ‖ M`
//! (Algorithm 3, line 5). `tr` depends on the key alone: for an ML-DSA-65 key it is SHAKE256 over
//! 1,952 bytes, fifteen Keccak permutations, about a tenth of a verification
//! (docs/PERFORMANCE.md, "Crypto"). A device signs a proof a minute for as long as it mines, so
//! [`crate::VerifyingKey`] keeps its `tr`, and verification here starts at line 7. FIPS 204
//! section 6.2 allows μ to be computed outside the module that verifies.
//!
//! aws-lc implements this entry point (its "external μ" verification, reached through
//! `EVP_PKEY_verify` on an ML-DSA key with a 64-byte input), but aws-lc-rs's safe API does not
//! expose it, so this module calls aws-lc's C API through aws-lc-sys, the same library build that
//! aws-lc-rs links. It is the crate's only `unsafe` code.
//!
//! | step | where |
//! |---|---|
//! | `tr = SHAKE256(pk, 64)` | [`tr`], once per key |
//! | `μ = SHAKE256(tr ‖ 0x00 ‖ len(ctx) ‖ ctx ‖ M, 64)` | [`mu`], per signature |
//! | lines 8-16 of Algorithm 8 | aws-lc, [`verify_mu`] |
#![allow(unsafe_code)]

use crate::mldsa::{MlDsaError, ParamSet};
use aws_lc_sys as sys;
use sha3::Shake256;
use sha3::digest::{ExtendableOutput, Update, XofReader};

/// Length of `tr` and `μ` (FIPS 204: 64 bytes each).
pub const LEN: usize = 64;

/// SHAKE256 of the concatenation of `parts`, 64 bytes out.
fn shake256_64(parts: &[&[u8]]) -> [u8; LEN] {
    let mut h = Shake256::default();
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; LEN];
    h.finalize_xof().read(&mut out);
    out
}

/// `tr = H(pk, 64)` (Algorithm 8, line 6). Also what the GPU backend hashes on the host.
pub fn tr(pk: &[u8]) -> [u8; LEN] {
    shake256_64(&[pk])
}

/// `μ = H(tr ‖ M′, 64)` with `M′ = 0x00 ‖ len(ctx) ‖ ctx ‖ msg` (Algorithm 3 line 5, Algorithm 8
/// line 7). A context over 255 bytes has no `M′`: [`MlDsaError::ContextTooLong`].
pub fn mu(tr: &[u8; LEN], ctx: &[u8], msg: &[u8]) -> Result<[u8; LEN], MlDsaError> {
    let ctx_len = u8::try_from(ctx.len()).map_err(|_| MlDsaError::ContextTooLong(ctx.len()))?;
    Ok(shake256_64(&[tr, &[0, ctx_len], ctx, msg]))
}

/// Lines 8-16 of Algorithm 8 in aws-lc: does `sig` verify under `pk` for message representative
/// `mu`? The caller has checked both lengths against `param`; a key aws-lc cannot parse is
/// reported as a signature that does not verify, as the aws-lc-rs path does.
pub(crate) fn verify_mu(param: ParamSet, pk: &[u8], mu: &[u8; LEN], sig: &[u8]) -> bool {
    let nid = match param {
        ParamSet::MlDsa44 => sys::NID_MLDSA44,
        ParamSet::MlDsa65 => sys::NID_MLDSA65,
        ParamSet::MlDsa87 => sys::NID_MLDSA87,
    };
    // aws-lc initialises itself when loaded; this makes sure of it (a `Once`) the way aws-lc-rs's
    // own entry points do, so CPU feature detection has run before the first call here.
    aws_lc_rs::init();
    // SAFETY: every pointer passed is either valid for the length passed beside it (`pk`, `sig`,
    // `mu` are live Rust slices) or null where the API allows it (no engine). The key and the
    // context are owned here: each is checked for null before use and freed exactly once below;
    // `EVP_PKEY_CTX_new` takes its own reference to the key, so freeing both is the documented
    // pattern. aws-lc does not keep any of the buffers after returning.
    unsafe {
        let pkey = sys::EVP_PKEY_pqdsa_new_raw_public_key(nid, pk.as_ptr(), pk.len());
        if pkey.is_null() {
            return false;
        }
        let ctx = sys::EVP_PKEY_CTX_new(pkey, std::ptr::null_mut());
        let valid = !ctx.is_null()
            && sys::EVP_PKEY_verify_init(ctx) == 1
            && sys::EVP_PKEY_verify(ctx, sig.as_ptr(), sig.len(), mu.as_ptr(), mu.len()) == 1;
        sys::EVP_PKEY_CTX_free(ctx);
        sys::EVP_PKEY_free(pkey);
        valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;

    /// μ computed here and handed to aws-lc gives the verdict of the whole verification, for
    /// every parameter set and for empty and non-empty contexts.
    #[test]
    fn verdicts_match_full_verification() {
        for p in ParamSet::ALL {
            let sk = SigningKey::from_seed(p, &[p.id(); 32]).unwrap();
            let pk = sk.verifying_key().as_bytes();
            let t = tr(pk);
            for ctx in [&b""[..], b"poai", &[7u8; 255][..]] {
                let sig = sk.sign(b"msg", ctx).unwrap();
                assert!(
                    verify_mu(p, pk, &mu(&t, ctx, b"msg").unwrap(), &sig),
                    "{p} ctx {}",
                    ctx.len()
                );
                assert!(!verify_mu(p, pk, &mu(&t, ctx, b"msG").unwrap(), &sig));
                assert!(!verify_mu(p, pk, &mu(&t, b"other", b"msg").unwrap(), &sig));
                // A `tr` of another key binds another key: the signature no longer verifies.
                let other = SigningKey::from_seed(p, &[0xaa; 32]).unwrap();
                let wrong = tr(other.verifying_key().as_bytes());
                assert!(!verify_mu(p, pk, &mu(&wrong, ctx, b"msg").unwrap(), &sig));
            }
        }
    }

    /// A key of the right length that aws-lc refuses to parse is a `false`, not a crash.
    #[test]
    fn unparsable_inputs_are_false() {
        let p = ParamSet::MlDsa65;
        let sk = SigningKey::from_seed(p, &[1; 32]).unwrap();
        let sig = sk.sign(b"m", b"").unwrap();
        let m = mu(&tr(sk.verifying_key().as_bytes()), b"", b"m").unwrap();
        assert!(!verify_mu(p, &[0xff; 1952], &m, &sig));
        assert!(!verify_mu(
            p,
            sk.verifying_key().as_bytes(),
            &m,
            &[0xff; 3309]
        ));
        assert!(!verify_mu(
            ParamSet::MlDsa44,
            sk.verifying_key().as_bytes(),
            &m,
            &sig
        ));
    }
}
