//! ML-DSA, FIPS 204 (pure ML-DSA, not HashML-DSA).
//!
//! | param set | NIST category | id byte (LP-130) | public key | signature | expanded signing key |
//! |---|---|---|---|---|---|
//! | ML-DSA-44 | 2 | 0x02 | 1312 | 2420 | 2560 |
//! | ML-DSA-65 | 3 | 0x03 | 1952 | 3309 | 4032 |
//! | ML-DSA-87 | 5 | 0x05 | 2592 | 4627 | 4896 |
//!
//! - Key generation is `ML-DSA.KeyGen_internal` (Algorithm 6) from a 32-byte seed ξ; the seed is
//!   what a key file stores.
//! - Signing is `ML-DSA.Sign` (Algorithm 2) with a context of at most 255 bytes; `rnd` is fresh
//!   randomness (hedged, the default) or 32 zero bytes (deterministic).
//! - Verification is `ML-DSA.Verify` (Algorithm 3). [`verify`] returns `Ok(false)` for a
//!   well-formed signature that does not verify, and an error only for malformed input (a wrong
//!   key or signature length, a context over 255 bytes): the precompile turns the first into a
//!   `false` word and the second into a halt.

use std::fmt;
use std::str::FromStr;
use thiserror::Error;
use zeroize::Zeroizing;

/// Length of the key-generation seed ξ.
pub const SEED_LEN: usize = 32;
/// Longest context string FIPS 204 allows.
pub const MAX_CONTEXT_LEN: usize = 255;

/// An ML-DSA parameter set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ParamSet {
    /// ML-DSA-44 (category 2).
    MlDsa44,
    /// ML-DSA-65 (category 3): the default for miners.
    MlDsa65,
    /// ML-DSA-87 (category 5).
    MlDsa87,
}

impl ParamSet {
    /// All parameter sets.
    pub const ALL: [Self; 3] = [Self::MlDsa44, Self::MlDsa65, Self::MlDsa87];

    /// The LP-130 parameter-set byte: the NIST security category (2, 3, 5).
    pub const fn id(self) -> u8 {
        match self {
            Self::MlDsa44 => 0x02,
            Self::MlDsa65 => 0x03,
            Self::MlDsa87 => 0x05,
        }
    }

    /// Parses the LP-130 parameter-set byte.
    pub const fn from_id(id: u8) -> Result<Self, MlDsaError> {
        match id {
            0x02 => Ok(Self::MlDsa44),
            0x03 => Ok(Self::MlDsa65),
            0x05 => Ok(Self::MlDsa87),
            other => Err(MlDsaError::UnknownParamSet(other)),
        }
    }

    /// Encoded public key length.
    pub const fn public_key_len(self) -> usize {
        match self {
            Self::MlDsa44 => 1312,
            Self::MlDsa65 => 1952,
            Self::MlDsa87 => 2592,
        }
    }

    /// Encoded signature length.
    pub const fn signature_len(self) -> usize {
        match self {
            Self::MlDsa44 => 2420,
            Self::MlDsa65 => 3309,
            Self::MlDsa87 => 4627,
        }
    }

    /// Expanded signing key length.
    pub const fn signing_key_len(self) -> usize {
        match self {
            Self::MlDsa44 => 2560,
            Self::MlDsa65 => 4032,
            Self::MlDsa87 => 4896,
        }
    }

    /// The FIPS 204 name, e.g. `ML-DSA-65`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::MlDsa44 => "ML-DSA-44",
            Self::MlDsa65 => "ML-DSA-65",
            Self::MlDsa87 => "ML-DSA-87",
        }
    }
}

impl fmt::Display for ParamSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ParamSet {
    type Err = MlDsaError;
    /// Accepts `44`, `65`, `87`, `ML-DSA-65`, `mldsa65` and similar spellings.
    fn from_str(s: &str) -> Result<Self, MlDsaError> {
        let norm: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match norm.trim_start_matches("mldsa") {
            "44" => Ok(Self::MlDsa44),
            "65" => Ok(Self::MlDsa65),
            "87" => Ok(Self::MlDsa87),
            _ => Err(MlDsaError::UnknownParamSetName(s.to_owned())),
        }
    }
}

/// ML-DSA errors. Malformed input is an error; a signature that does not verify is not (see
/// [`verify`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MlDsaError {
    /// A parameter-set byte other than 0x02, 0x03, 0x05.
    #[error(
        "param_set byte 0x{0:02x} is not ML-DSA-44 (0x02), ML-DSA-65 (0x03) or ML-DSA-87 (0x05)"
    )]
    UnknownParamSet(u8),
    /// A parameter-set name that is not 44, 65 or 87.
    #[error("parameter set `{0}` is not one of ML-DSA-44, ML-DSA-65, ML-DSA-87")]
    UnknownParamSetName(String),
    /// The public key has the wrong length for its parameter set.
    #[error("public_key is {got} bytes, {param} needs {expected}")]
    PublicKeyLength {
        /// Parameter set.
        param: ParamSet,
        /// Required length.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// The signature has the wrong length for its parameter set.
    #[error("signature is {got} bytes, {param} needs {expected}")]
    SignatureLength {
        /// Parameter set.
        param: ParamSet,
        /// Required length.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// The context string is longer than 255 bytes.
    #[error("context is {0} bytes, FIPS 204 allows at most 255")]
    ContextTooLong(usize),
    /// The key-generation seed is not 32 bytes.
    #[error("seed is {0} bytes, ML-DSA needs 32")]
    SeedLength(usize),
    /// Signing gave up in its rejection loop (probability below 2^-64 per FIPS 204).
    #[error("signing failed: rejection sampling did not terminate")]
    SigningFailed,
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {0}")]
    Rng(String),
}

impl MlDsaError {
    /// True for errors caused by the caller's input (as opposed to an RNG or signing failure).
    pub const fn is_malformed_input(&self) -> bool {
        !matches!(self, Self::SigningFailed | Self::Rng(_))
    }
}

/// The libcrux backend, one instantiation per parameter set. Lengths are checked by the caller,
/// so the conversions here only fail on a bug; they still map to errors rather than panicking.
macro_rules! libcrux_backend {
    ($module:ident, $param:expr) => {
        pub(super) mod $module {
            use super::{MlDsaError, ParamSet};
            use libcrux_ml_dsa::$module as imp;

            const PARAM: ParamSet = $param;

            pub(super) fn keygen(seed: [u8; 32]) -> (Vec<u8>, Vec<u8>) {
                let kp = imp::generate_key_pair(seed);
                (
                    kp.signing_key.as_slice().to_vec(),
                    kp.verification_key.as_slice().to_vec(),
                )
            }

            pub(super) fn sign(
                sk: &[u8],
                msg: &[u8],
                ctx: &[u8],
                rnd: [u8; 32],
            ) -> Result<Vec<u8>, MlDsaError> {
                // The expanded key was produced by `keygen` for this parameter set.
                let sk = libcrux_ml_dsa::MLDSASigningKey::new(
                    sk.try_into().map_err(|_| MlDsaError::SigningFailed)?,
                );
                imp::sign(&sk, msg, ctx, rnd)
                    .map(|s| s.as_slice().to_vec())
                    .map_err(|e| match e {
                        libcrux_ml_dsa::SigningError::ContextTooLongError => {
                            MlDsaError::ContextTooLong(ctx.len())
                        }
                        libcrux_ml_dsa::SigningError::RejectionSamplingError => {
                            MlDsaError::SigningFailed
                        }
                    })
            }

            pub(super) fn verify(
                pk: &[u8],
                msg: &[u8],
                ctx: &[u8],
                sig: &[u8],
            ) -> Result<bool, MlDsaError> {
                let pk =
                    libcrux_ml_dsa::MLDSAVerificationKey::new(pk.try_into().map_err(|_| {
                        MlDsaError::PublicKeyLength {
                            param: PARAM,
                            expected: PARAM.public_key_len(),
                            got: pk.len(),
                        }
                    })?);
                let sig = libcrux_ml_dsa::MLDSASignature::new(sig.try_into().map_err(|_| {
                    MlDsaError::SignatureLength {
                        param: PARAM,
                        expected: PARAM.signature_len(),
                        got: sig.len(),
                    }
                })?);
                match imp::verify(&pk, msg, ctx, &sig) {
                    Ok(()) => Ok(true),
                    Err(libcrux_ml_dsa::VerificationError::VerificationContextTooLongError) => {
                        Err(MlDsaError::ContextTooLong(ctx.len()))
                    }
                    Err(_) => Ok(false),
                }
            }
        }
    };
}

mod backend {
    use super::{MlDsaError, ParamSet};

    libcrux_backend!(ml_dsa_44, ParamSet::MlDsa44);
    libcrux_backend!(ml_dsa_65, ParamSet::MlDsa65);
    libcrux_backend!(ml_dsa_87, ParamSet::MlDsa87);

    pub(super) fn keygen(param: ParamSet, seed: [u8; 32]) -> (Vec<u8>, Vec<u8>) {
        match param {
            ParamSet::MlDsa44 => ml_dsa_44::keygen(seed),
            ParamSet::MlDsa65 => ml_dsa_65::keygen(seed),
            ParamSet::MlDsa87 => ml_dsa_87::keygen(seed),
        }
    }

    pub(super) fn sign(
        param: ParamSet,
        sk: &[u8],
        msg: &[u8],
        ctx: &[u8],
        rnd: [u8; 32],
    ) -> Result<Vec<u8>, MlDsaError> {
        match param {
            ParamSet::MlDsa44 => ml_dsa_44::sign(sk, msg, ctx, rnd),
            ParamSet::MlDsa65 => ml_dsa_65::sign(sk, msg, ctx, rnd),
            ParamSet::MlDsa87 => ml_dsa_87::sign(sk, msg, ctx, rnd),
        }
    }

    /// Verification. The empty context (every on-chain check) goes to aws-lc-rs, the fastest
    /// verifier in a default build (docs/DESIGN.md); a non-empty context goes to libcrux, since
    /// aws-lc-rs's safe API has no context parameter.
    pub(super) fn verify(
        param: ParamSet,
        pk: &[u8],
        msg: &[u8],
        ctx: &[u8],
        sig: &[u8],
    ) -> Result<bool, MlDsaError> {
        if ctx.is_empty() {
            use aws_lc_rs::signature::{self as lc, UnparsedPublicKey};
            let alg = match param {
                ParamSet::MlDsa44 => &lc::ML_DSA_44,
                ParamSet::MlDsa65 => &lc::ML_DSA_65,
                ParamSet::MlDsa87 => &lc::ML_DSA_87,
            };
            return Ok(UnparsedPublicKey::new(alg, pk).verify(msg, sig).is_ok());
        }
        match param {
            ParamSet::MlDsa44 => ml_dsa_44::verify(pk, msg, ctx, sig),
            ParamSet::MlDsa65 => ml_dsa_65::verify(pk, msg, ctx, sig),
            ParamSet::MlDsa87 => ml_dsa_87::verify(pk, msg, ctx, sig),
        }
    }

    /// libcrux for every context, for the differential tests and benches.
    pub(super) fn verify_libcrux(
        param: ParamSet,
        pk: &[u8],
        msg: &[u8],
        ctx: &[u8],
        sig: &[u8],
    ) -> Result<bool, MlDsaError> {
        match param {
            ParamSet::MlDsa44 => ml_dsa_44::verify(pk, msg, ctx, sig),
            ParamSet::MlDsa65 => ml_dsa_65::verify(pk, msg, ctx, sig),
            ParamSet::MlDsa87 => ml_dsa_87::verify(pk, msg, ctx, sig),
        }
    }
}

fn check_lengths(param: ParamSet, pk: &[u8], ctx: &[u8], sig: &[u8]) -> Result<(), MlDsaError> {
    if pk.len() != param.public_key_len() {
        return Err(MlDsaError::PublicKeyLength {
            param,
            expected: param.public_key_len(),
            got: pk.len(),
        });
    }
    if sig.len() != param.signature_len() {
        return Err(MlDsaError::SignatureLength {
            param,
            expected: param.signature_len(),
            got: sig.len(),
        });
    }
    if ctx.len() > MAX_CONTEXT_LEN {
        return Err(MlDsaError::ContextTooLong(ctx.len()));
    }
    Ok(())
}

/// Verifies `sig` over `msg` with context `ctx` under public key `pk` (FIPS 204 Algorithm 3).
///
/// `Ok(true)`: valid. `Ok(false)`: well-formed but not a valid signature. `Err`: malformed input
/// (lengths, context), with the field named.
pub fn verify(
    param: ParamSet,
    pk: &[u8],
    msg: &[u8],
    ctx: &[u8],
    sig: &[u8],
) -> Result<bool, MlDsaError> {
    check_lengths(param, pk, ctx, sig)?;
    backend::verify(param, pk, msg, ctx, sig)
}

/// [`verify`] on the libcrux backend for every context. For differential tests and benches;
/// production code calls [`verify`].
#[doc(hidden)]
pub fn verify_with_libcrux(
    param: ParamSet,
    pk: &[u8],
    msg: &[u8],
    ctx: &[u8],
    sig: &[u8],
) -> Result<bool, MlDsaError> {
    check_lengths(param, pk, ctx, sig)?;
    backend::verify_libcrux(param, pk, msg, ctx, sig)
}

/// [`verify`] starting from the key's `tr` (FIPS 204 Algorithm 8 from line 7, [`crate::mu`]):
/// the same verdicts and errors, without hashing the key. A `tr` that does not belong to `pk`
/// ([`Tr`]) is ignored and the key hashed as usual.
pub fn verify_with_tr(
    param: ParamSet,
    pk: &[u8],
    tr: Tr<'_>,
    msg: &[u8],
    ctx: &[u8],
    sig: &[u8],
) -> Result<bool, MlDsaError> {
    check_lengths(param, pk, ctx, sig)?;
    if !tr.belongs_to(pk) {
        return backend::verify(param, pk, msg, ctx, sig);
    }
    let mu = crate::mu::mu(tr.tr, ctx, msg)?;
    Ok(crate::mu::verify_mu(param, pk, &mu, sig))
}

/// An ML-DSA public key of a known parameter set, length-checked.
///
/// The bytes are shared: a key is cloned with every copy of the chain state that holds it (a
/// validator keeps one per unfinalized block), and a 1,952-byte copy per device per block was a
/// measured cost with four validators (docs/PERFORMANCE.md). So is `tr = H(pk)`, computed at most
/// once per key ([`VerifyingKey::tr`]) and shared the same way.
#[derive(Clone)]
pub struct VerifyingKey {
    param: ParamSet,
    inner: std::sync::Arc<KeyInner>,
}

struct KeyInner {
    bytes: Box<[u8]>,
    tr: std::sync::OnceLock<[u8; crate::mu::LEN]>,
}

impl PartialEq for VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        // Copies of one key (the state's, block after block) share their bytes.
        self.param == other.param
            && (std::sync::Arc::ptr_eq(&self.inner, &other.inner)
                || self.inner.bytes == other.inner.bytes)
    }
}

impl Eq for VerifyingKey {}

impl std::hash::Hash for VerifyingKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.param.hash(state);
        self.inner.bytes.hash(state);
    }
}

/// A key's `tr = H(pk, 64)` (FIPS 204 Algorithm 8, line 6), from [`VerifyingKey::tr`].
///
/// It remembers the key bytes it belongs to: [`verify_with_tr`] uses it only for those same bytes
/// (the same allocation), and otherwise verifies as [`verify`] does, so a `Tr` handed in with
/// another key cannot change a verdict.
#[derive(Debug, Clone, Copy)]
pub struct Tr<'a> {
    tr: &'a [u8; crate::mu::LEN],
    key: &'a [u8],
}

impl Tr<'_> {
    /// The 64 bytes of `tr`: a public hash of the public key, which binds it as SHAKE256 does
    /// (a state root may commit to a key through it).
    pub fn as_bytes(&self) -> &[u8; crate::mu::LEN] {
        self.tr
    }

    /// Whether this is the `tr` of exactly `pk` (the same bytes in memory, not a copy).
    fn belongs_to(&self, pk: &[u8]) -> bool {
        std::ptr::eq(self.key, pk)
    }
}

impl VerifyingKey {
    /// Wraps encoded public-key bytes, checking their length.
    pub fn from_bytes(param: ParamSet, bytes: &[u8]) -> Result<Self, MlDsaError> {
        if bytes.len() != param.public_key_len() {
            return Err(MlDsaError::PublicKeyLength {
                param,
                expected: param.public_key_len(),
                got: bytes.len(),
            });
        }
        Ok(Self::wrap(param, bytes.into()))
    }

    fn wrap(param: ParamSet, bytes: Box<[u8]>) -> Self {
        Self {
            param,
            inner: std::sync::Arc::new(KeyInner {
                bytes,
                tr: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The parameter set.
    pub const fn param_set(&self) -> ParamSet {
        self.param
    }

    /// The encoded key.
    pub fn as_bytes(&self) -> &[u8] {
        &self.inner.bytes
    }

    /// `tr = H(pk, 64)`, computed on the first call and kept with the key (and its clones).
    /// Verifying with it ([`verify_with_tr`], [`crate::BatchItem::tr`]) skips hashing the key,
    /// about a tenth of an ML-DSA-65 verification. The chain computes it when a device is
    /// registered, so that the device's proofs never hash its key.
    pub fn tr(&self) -> Tr<'_> {
        let tr = self
            .inner
            .tr
            .get_or_init(|| crate::mu::tr(&self.inner.bytes));
        self.tr_of(tr)
    }

    fn tr_of<'a>(&'a self, tr: &'a [u8; crate::mu::LEN]) -> Tr<'a> {
        Tr {
            tr,
            key: &self.inner.bytes,
        }
    }

    /// Verifies a signature; see [`verify`]. Uses the key's `tr` if it was computed already.
    pub fn verify(&self, msg: &[u8], ctx: &[u8], sig: &[u8]) -> Result<bool, MlDsaError> {
        match self.inner.tr.get() {
            Some(tr) => verify_with_tr(self.param, self.as_bytes(), self.tr_of(tr), msg, ctx, sig),
            None => verify(self.param, self.as_bytes(), msg, ctx, sig),
        }
    }

    /// A short, stable fingerprint for display: the first 8 bytes of BLAKE3(param id ‖ key).
    pub fn fingerprint(&self) -> String {
        let mut h = blake3::Hasher::new();
        h.update(&[self.param.id()]);
        h.update(self.as_bytes());
        hex::encode(h.finalize().as_bytes().get(..8).unwrap_or_default())
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({}, {})", self.param, self.fingerprint())
    }
}

/// An ML-DSA signing key: the 32-byte seed and its expansion, both zeroized on drop.
/// `Debug` prints only the parameter set and the public fingerprint.
#[derive(Clone)]
pub struct SigningKey {
    param: ParamSet,
    seed: Zeroizing<[u8; SEED_LEN]>,
    expanded: Zeroizing<Vec<u8>>,
    public: VerifyingKey,
}

impl SigningKey {
    /// Derives the key pair from a 32-byte seed ξ (FIPS 204 Algorithm 6).
    pub fn from_seed(param: ParamSet, seed: &[u8]) -> Result<Self, MlDsaError> {
        let seed: [u8; SEED_LEN] = seed
            .try_into()
            .map_err(|_| MlDsaError::SeedLength(seed.len()))?;
        let (sk, pk) = backend::keygen(param, seed);
        Ok(Self {
            param,
            seed: Zeroizing::new(seed),
            expanded: Zeroizing::new(sk),
            public: VerifyingKey::wrap(param, pk.into_boxed_slice()),
        })
    }

    /// Generates a fresh key from the operating system's random number generator.
    pub fn generate(param: ParamSet) -> Result<Self, MlDsaError> {
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        getrandom::fill(seed.as_mut()).map_err(|e| MlDsaError::Rng(e.to_string()))?;
        Self::from_seed(param, seed.as_ref())
    }

    /// The parameter set.
    pub const fn param_set(&self) -> ParamSet {
        self.param
    }

    /// The public key.
    pub const fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// The seed, for writing a key file. Handle with care: it is the whole secret.
    pub fn seed(&self) -> &[u8; SEED_LEN] {
        &self.seed
    }

    /// Hedged signing (FIPS 204's default): fresh randomness from the operating system.
    pub fn sign(&self, msg: &[u8], ctx: &[u8]) -> Result<Vec<u8>, MlDsaError> {
        let mut rnd = Zeroizing::new([0u8; 32]);
        getrandom::fill(rnd.as_mut()).map_err(|e| MlDsaError::Rng(e.to_string()))?;
        self.sign_with_rnd(msg, ctx, *rnd)
    }

    /// Deterministic signing: `rnd` is 32 zero bytes, so the same input gives the same signature.
    pub fn sign_deterministic(&self, msg: &[u8], ctx: &[u8]) -> Result<Vec<u8>, MlDsaError> {
        self.sign_with_rnd(msg, ctx, [0u8; 32])
    }

    /// Signing with caller-supplied `rnd` (test vectors).
    pub fn sign_with_rnd(
        &self,
        msg: &[u8],
        ctx: &[u8],
        rnd: [u8; 32],
    ) -> Result<Vec<u8>, MlDsaError> {
        if ctx.len() > MAX_CONTEXT_LEN {
            return Err(MlDsaError::ContextTooLong(ctx.len()));
        }
        backend::sign(self.param, &self.expanded, msg, ctx, rnd)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey({}, public {}, secret redacted)",
            self.param,
            self.public.fingerprint()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_set_ids_and_names() {
        for p in ParamSet::ALL {
            assert_eq!(ParamSet::from_id(p.id()).unwrap(), p);
            assert_eq!(p.name().parse::<ParamSet>().unwrap(), p);
        }
        assert_eq!("65".parse::<ParamSet>().unwrap(), ParamSet::MlDsa65);
        assert_eq!("mldsa87".parse::<ParamSet>().unwrap(), ParamSet::MlDsa87);
        for bad in [0u8, 1, 4, 6, 0xff] {
            assert_eq!(
                ParamSet::from_id(bad),
                Err(MlDsaError::UnknownParamSet(bad))
            );
        }
        assert!("66".parse::<ParamSet>().is_err());
    }

    #[test]
    fn sign_verify_every_param_set() {
        for p in ParamSet::ALL {
            let sk = SigningKey::from_seed(p, &[p.id(); 32]).unwrap();
            let pk = sk.verifying_key();
            assert_eq!(pk.as_bytes().len(), p.public_key_len());
            for ctx in [&b""[..], b"poai"] {
                let sig = sk.sign(b"msg", ctx).unwrap();
                assert_eq!(sig.len(), p.signature_len());
                assert_eq!(pk.verify(b"msg", ctx, &sig), Ok(true));
                assert_eq!(pk.verify(b"msG", ctx, &sig), Ok(false));
                assert_eq!(pk.verify(b"msg", b"other", &sig), Ok(false));
            }
            let d1 = sk.sign_deterministic(b"m", b"").unwrap();
            assert_eq!(d1, sk.sign_deterministic(b"m", b"").unwrap());
            assert_ne!(sk.sign(b"m", b"").unwrap(), sk.sign(b"m", b"").unwrap());
        }
    }

    #[test]
    fn malformed_inputs_are_named_errors() {
        let p = ParamSet::MlDsa44;
        let sk = SigningKey::from_seed(p, &[1; 32]).unwrap();
        let pk = sk.verifying_key().as_bytes();
        let sig = sk.sign(b"m", b"").unwrap();
        assert!(matches!(
            verify(p, &pk[1..], b"m", b"", &sig),
            Err(MlDsaError::PublicKeyLength { got: 1311, .. })
        ));
        assert!(matches!(
            verify(p, pk, b"m", b"", &sig[1..]),
            Err(MlDsaError::SignatureLength { got: 2419, .. })
        ));
        assert_eq!(
            verify(p, pk, b"m", &[0; 256], &sig),
            Err(MlDsaError::ContextTooLong(256))
        );
        assert_eq!(
            sk.sign(b"m", &[0; 256]),
            Err(MlDsaError::ContextTooLong(256))
        );
        assert_eq!(
            SigningKey::from_seed(p, &[0; 31]).unwrap_err(),
            MlDsaError::SeedLength(31)
        );
        // A key of another parameter set is a length error, not a panic.
        assert!(verify(ParamSet::MlDsa65, pk, b"m", b"", &sig).is_err());
    }

    #[test]
    fn debug_redacts_the_secret() {
        let sk = SigningKey::from_seed(ParamSet::MlDsa65, &[0x42; 32]).unwrap();
        let s = format!("{sk:?}");
        assert!(s.contains("redacted"));
        assert!(!s.contains(&hex::encode([0x42u8; 32])));
        assert!(!s.contains("4242"));
    }
}
