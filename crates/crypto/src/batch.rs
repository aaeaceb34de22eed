//! Batch verification of ML-DSA signatures across cores.
//!
//! ML-DSA has no algebraic batch check (unlike Schnorr/Ed25519), so a batch is many independent
//! verifications spread over a thread pool. The result is per item, in input order, so a block
//! with one bad signature rejects that transaction, not the whole block.

use crate::mldsa::{self, MlDsaError, ParamSet, Tr};
use rayon::prelude::*;

/// One signature to check.
#[derive(Debug, Clone, Copy)]
pub struct BatchItem<'a> {
    /// Parameter set of the key and signature.
    pub param: ParamSet,
    /// Encoded public key.
    pub public_key: &'a [u8],
    /// The key's `tr` where the caller holds the key ([`crate::VerifyingKey::tr`]): the check
    /// then skips hashing the key. Ignored unless it belongs to `public_key` ([`crate::Tr`]).
    pub tr: Option<Tr<'a>>,
    /// The signed message.
    pub message: &'a [u8],
    /// FIPS 204 context (empty on chain).
    pub context: &'a [u8],
    /// Encoded signature.
    pub signature: &'a [u8],
}

impl BatchItem<'_> {
    fn verify(&self) -> Result<bool, MlDsaError> {
        match self.tr {
            Some(tr) => mldsa::verify_with_tr(
                self.param,
                self.public_key,
                tr,
                self.message,
                self.context,
                self.signature,
            ),
            None => mldsa::verify(
                self.param,
                self.public_key,
                self.message,
                self.context,
                self.signature,
            ),
        }
    }
}

/// A batch verifier with its own thread pool, so a node can bound the cores signature checks
/// take without touching rayon's global pool.
#[derive(Debug)]
pub struct BatchVerifier {
    pool: rayon::ThreadPool,
}

impl BatchVerifier {
    /// A verifier on `threads` threads (0: one per core).
    pub fn new(threads: usize) -> Result<Self, rayon::ThreadPoolBuildError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("poai-verify-{i}"))
            .build()?;
        Ok(Self { pool })
    }

    /// Threads in the pool.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Verifies every item; result `i` belongs to item `i` (see [`mldsa::verify`]).
    pub fn verify(&self, items: &[BatchItem<'_>]) -> Vec<Result<bool, MlDsaError>> {
        self.pool.install(|| verify_batch(items))
    }
}

/// Verifies every item on the current rayon pool; result `i` belongs to item `i`.
pub fn verify_batch(items: &[BatchItem<'_>]) -> Vec<Result<bool, MlDsaError>> {
    // Small batches are not worth the fork-join overhead.
    if items.len() < 4 {
        return items.iter().map(BatchItem::verify).collect();
    }
    items.par_iter().map(BatchItem::verify).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;

    #[test]
    fn per_item_results_in_order() {
        let keys: Vec<SigningKey> = ParamSet::ALL
            .iter()
            .enumerate()
            .map(|(i, p)| SigningKey::from_seed(*p, &[u8::try_from(i).unwrap(); 32]).unwrap())
            .collect();
        let msgs: Vec<Vec<u8>> = (0..30u8).map(|i| vec![i; usize::from(i)]).collect();
        let sigs: Vec<Vec<u8>> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| keys[i % 3].sign(m, b"").unwrap())
            .collect();
        let mut items: Vec<BatchItem<'_>> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| BatchItem {
                param: keys[i % 3].param_set(),
                public_key: keys[i % 3].verifying_key().as_bytes(),
                // Every other item starts from the key's cached tr.
                tr: (i % 2 == 0).then(|| keys[i % 3].verifying_key().tr()),
                message: m,
                context: b"",
                signature: &sigs[i],
            })
            .collect();
        // Item 7: wrong message; item 11: truncated signature; item 12: key of another set (its
        // tr stays that of the signer's key).
        items[7].message = b"not it";
        items[11].signature = &sigs[11][1..];
        items[12].public_key = keys[1].verifying_key().as_bytes();
        // Item 15: the tr of another key of the same set, which is ignored (still valid); item
        // 18: another key's bytes with the signer's tr (not valid: the tr does not vouch for them).
        let other = SigningKey::from_seed(ParamSet::MlDsa44, &[9; 32]).unwrap();
        items[15].tr = Some(other.verifying_key().tr());
        items[18].public_key = other.verifying_key().as_bytes();
        for threads in [1, 2] {
            let v = BatchVerifier::new(threads).unwrap();
            assert_eq!(v.threads(), threads);
            let res = v.verify(&items);
            assert_eq!(res.len(), items.len());
            for (i, r) in res.iter().enumerate() {
                match i {
                    7 => assert_eq!(r, &Ok(false)),
                    11 => assert!(matches!(r, Err(MlDsaError::SignatureLength { .. }))),
                    12 => assert!(matches!(r, Err(MlDsaError::PublicKeyLength { .. }))),
                    18 => assert_eq!(r, &Ok(false)),
                    _ => assert_eq!(r, &Ok(true), "item {i}"),
                }
            }
        }
        assert!(verify_batch(&[]).is_empty());
    }
}
