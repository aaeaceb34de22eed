//! Inference receipts: a proof, checkable without the A-chain's state, that an attestation was
//! included in an A-chain block (LP-035 "verifying attestation on-chain (A-chain lookup via
//! Warp)"; SPEC section 6 "receipts verifiable elsewhere").
//!
//! A receipt is the block header, the transaction that carried the attestation, and the Merkle
//! path from the transaction's hash to the header's `tx_root`. A block only holds valid
//! transactions, so inclusion means the A-chain checked the attestation (model registered,
//! provider staked and attested at the model's tier, signature). The verifier needs one trusted
//! input: the block hash at that height, which another chain gets from the A-chain's validators
//! (Warp-signed headers). Only attestations recorded as results count (`submit_attestation`,
//! `reveal_result`, `referee_result`); attestations quoted as evidence in a dispute do not.
//!
//! Encoding (kind byte 0x02 of 0x0302 `verifyExecution`'s `proof`, after that byte):
//! header (height u64 ‖ parent 32 ‖ timestamp u64 ‖ state_root 32 ‖ tx_root 32 ‖ proposer 20) ‖
//! index u32 ‖ path count u8 (≤ 32) ‖ per step: side u8 (0 = sibling on the right, 1 = left) ‖
//! sibling 32 ‖ tx (u32 len ≤ `MAX_TX_LEN`) ‖ attestation id 32.

use super::call::{AiCall, SignedAttestation};
use crate::block::Header;
use crate::codec::{CodecError, Reader, Writer};
use crate::hash::{Hash32, hash_tagged};
use crate::tx::{Call, MAX_TX_LEN, Transaction};
use poai_primitives::Address;
use thiserror::Error;

/// Most Merkle steps (2^32 transactions would need 32).
pub const MAX_PATH_LEN: usize = 32;

/// One step of a Merkle path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathStep {
    /// The sibling's hash.
    pub sibling: Hash32,
    /// Whether the sibling is the left child.
    pub sibling_is_left: bool,
}

/// The Merkle path of leaf `index` in the tree of [`crate::hash::merkle_root`] (odd nodes are
/// carried up, so a level without a sibling adds no step).
pub fn merkle_path(leaves: &[Hash32], index: usize) -> Option<Vec<PathStep>> {
    if index >= leaves.len() {
        return None;
    }
    let mut level = leaves.to_vec();
    let mut i = index;
    let mut path = Vec::new();
    while level.len() > 1 {
        let sib = i ^ 1;
        if let Some(s) = level.get(sib) {
            path.push(PathStep {
                sibling: *s,
                sibling_is_left: sib < i,
            });
        }
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => hash_tagged(b"poai/node/v1", &[&l.0, &r.0]),
                [one] => *one,
                _ => Hash32::ZERO,
            })
            .collect();
        i /= 2;
    }
    Some(path)
}

/// Folds a leaf up its path.
pub fn fold_path(leaf: Hash32, path: &[PathStep]) -> Hash32 {
    path.iter().fold(leaf, |acc, s| {
        if s.sibling_is_left {
            hash_tagged(b"poai/node/v1", &[&s.sibling.0, &acc.0])
        } else {
            hash_tagged(b"poai/node/v1", &[&acc.0, &s.sibling.0])
        }
    })
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReceiptError {
    /// The bytes do not decode.
    #[error("receipt: {0}")]
    Malformed(#[from] CodecError),
    /// The header is not the trusted block.
    #[error(
        "field `header`: its hash {got} is not the trusted block hash {trusted} at height {height}"
    )]
    UntrustedHeader {
        /// Height.
        height: u64,
        /// Its hash.
        got: Hash32,
        /// Trusted hash.
        trusted: Hash32,
    },
    /// No trusted hash for the height.
    #[error("field `header.height`: no trusted block hash for height {0}")]
    UnknownHeight(u64),
    /// The path does not lead to the header's tx root.
    #[error("field `path`: the transaction is not under the header's tx_root")]
    NotIncluded,
    /// The transaction carries no result attestation with that id.
    #[error("field `attestation_id`: the transaction records no result attestation {0}")]
    NoSuchAttestation(Hash32),
}

/// A receipt for one attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferenceReceipt {
    /// The including block's header.
    pub header: Header,
    /// The transaction's index in the block.
    pub index: u32,
    /// Merkle path of the transaction hash to `header.tx_root`.
    pub path: Vec<PathStep>,
    /// The transaction.
    pub tx: Transaction,
    /// The attestation.
    pub attestation_id: Hash32,
}

/// The result attestations a transaction records.
pub fn result_attestations(tx: &Transaction) -> Vec<&SignedAttestation> {
    match tx {
        Transaction::Account(t) => match &t.body.call {
            Call::Ai(call) => match call.as_ref() {
                AiCall::SubmitAttestation { attestation }
                | AiCall::RevealResult { attestation, .. }
                | AiCall::RefereeResult { attestation, .. } => vec![attestation],
                _ => Vec::new(),
            },
            _ => Vec::new(),
        },
        Transaction::Proof(_) => Vec::new(),
    }
}

impl InferenceReceipt {
    /// The canonical encoding (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(4096);
        let h = &self.header;
        w.u64(h.height);
        w.raw(&h.parent.0);
        w.u64(h.timestamp);
        w.raw(&h.state_root.0);
        w.raw(&h.tx_root.0);
        w.raw(&h.proposer.0);
        w.u32(self.index);
        w.u8(u8::try_from(self.path.len()).unwrap_or(u8::MAX));
        for s in &self.path {
            w.u8(u8::from(s.sibling_is_left));
            w.raw(&s.sibling.0);
        }
        w.bytes(&self.tx.encode());
        w.raw(&self.attestation_id.0);
        w.finish()
    }

    /// Decodes [`InferenceReceipt::encode`]; bounded, no trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let header = Header {
            height: r.u64("header.height")?,
            parent: Hash32(r.array("header.parent")?),
            timestamp: r.u64("header.timestamp")?,
            state_root: Hash32(r.array("header.state_root")?),
            tx_root: Hash32(r.array("header.tx_root")?),
            proposer: Address(r.array("header.proposer")?),
        };
        let index = r.u32("index")?;
        let n = usize::from(r.u8("path")?);
        if n > MAX_PATH_LEN {
            return Err(CodecError::TooLong {
                field: "path",
                len: n,
                max: MAX_PATH_LEN,
            });
        }
        let mut path = Vec::with_capacity(n);
        for _ in 0..n {
            let side = r.u8("path.side")?;
            if side > 1 {
                return Err(CodecError::UnknownTag {
                    field: "path.side",
                    tag: side,
                });
            }
            path.push(PathStep {
                sibling_is_left: side == 1,
                sibling: Hash32(r.array("path.sibling")?),
            });
        }
        let tx =
            Transaction::decode(r.bytes(MAX_TX_LEN, "tx")?).map_err(|e| CodecError::Invalid {
                field: "tx",
                reason: e.to_string(),
            })?;
        let attestation_id = Hash32(r.array("attestation_id")?);
        r.finish()?;
        Ok(Self {
            header,
            index,
            path,
            tx,
            attestation_id,
        })
    }

    /// Verifies the receipt against the trusted block hash of its height (`trusted`), and
    /// returns the attestation it proves.
    pub fn verify(
        &self,
        trusted: impl Fn(u64) -> Option<Hash32>,
    ) -> Result<&SignedAttestation, ReceiptError> {
        let height = self.header.height;
        let want = trusted(height).ok_or(ReceiptError::UnknownHeight(height))?;
        let got = self.header.hash();
        if got != want {
            return Err(ReceiptError::UntrustedHeader {
                height,
                got,
                trusted: want,
            });
        }
        if fold_path(self.tx.hash(), &self.path) != self.header.tx_root {
            return Err(ReceiptError::NotIncluded);
        }
        let chain_id = match &self.tx {
            Transaction::Account(t) => t.body.chain_id,
            Transaction::Proof(_) => {
                return Err(ReceiptError::NoSuchAttestation(self.attestation_id));
            }
        };
        result_attestations(&self.tx)
            .into_iter()
            .find(|a| a.body.id(chain_id) == self.attestation_id)
            .ok_or(ReceiptError::NoSuchAttestation(self.attestation_id))
    }
}

/// `verifyExecution(modelId, inputHash, outputHash, proof)` for an A-chain receipt: true iff the
/// receipt verifies against `trusted` and its attestation is for exactly that model, input and
/// output. This is what 0x0302's proof kind 0x02 calls (docs/DESIGN-aivm.md, "Receipts").
pub fn verify_execution(
    receipt_bytes: &[u8],
    trusted: impl Fn(u64) -> Option<Hash32>,
    model_id: &Hash32,
    input_hash: &Hash32,
    output_hash: &Hash32,
) -> Result<bool, ReceiptError> {
    let r = InferenceReceipt::decode(receipt_bytes)?;
    let a = r.verify(trusted)?;
    Ok(a.body.model_id == *model_id
        && a.body.input_hash == *input_hash
        && a.body.output_hash == *output_hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::merkle_root;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_leaf_path_folds_to_the_root(n in 1usize..40, pick in 0usize..40) {
            let leaves: Vec<Hash32> = (0..n).map(|i| hash_tagged(b"leaf", &[&(i as u64).to_be_bytes()])).collect();
            let i = pick % n;
            let path = merkle_path(&leaves, i).unwrap();
            prop_assert_eq!(fold_path(leaves[i], &path), merkle_root(&leaves));
            // Another leaf on the same path does not.
            let other = (i + 1) % n;
            if other != i {
                prop_assert_ne!(fold_path(leaves[other], &path), merkle_root(&leaves));
            }
        }

        #[test]
        fn receipt_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(r) = InferenceReceipt::decode(&bytes) {
                prop_assert_eq!(r.encode(), bytes);
            }
        }
    }

    #[test]
    fn path_of_missing_leaf_is_none() {
        assert!(merkle_path(&[], 0).is_none());
        assert!(merkle_path(&[Hash32::ZERO], 1).is_none());
        assert_eq!(merkle_path(&[Hash32::ZERO], 0).unwrap(), vec![]);
    }
}
