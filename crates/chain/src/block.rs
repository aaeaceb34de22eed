//! Blocks and receipts (SPEC section 6) and their canonical encoding.
//!
//! | part | layout |
//! |---|---|
//! | header | height u64 ‖ parent 32 ‖ timestamp u64 ‖ state_root 32 ‖ tx_root 32 ‖ proposer 20 |
//! | block | header ‖ u32 tx count (≤ [`MAX_BLOCK_TXS`]) ‖ each tx as u32 len ‖ bytes |
//! | receipt | tx hash 32 ‖ outcome tag ‖ fields |
//!
//! The block hash is BLAKE3(`poai/block/v1` ‖ header). The state root is the state after the
//! block's transactions (see [`crate::state`]).

use crate::codec::{CodecError, Reader, Writer, len_prefix};
use crate::hash::{Hash32, hash_tagged, merkle_root};
use crate::tx::{MAX_TX_LEN, Transaction, TxHash};
use poai_economics::Payout;
use poai_primitives::{Address, DeviceId, PrivacyLevel, WorkId};
use serde::{Deserialize, Serialize};

/// The hard cap on transactions in a block (a genesis may set a lower one).
pub const MAX_BLOCK_TXS: usize = 100_000;

/// A block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Height (genesis is 0).
    pub height: u64,
    /// The parent's hash.
    pub parent: Hash32,
    /// Unix seconds, set by the proposer (the state machine never reads a clock).
    pub timestamp: u64,
    /// The state root after this block.
    pub state_root: Hash32,
    /// The Merkle root of the transaction hashes.
    pub tx_root: Hash32,
    /// The proposer, paid the fees.
    pub proposer: Address,
}

impl Header {
    /// Length of the encoding.
    pub const LEN: usize = 8 + 32 + 8 + 32 + 32 + 20;

    /// Appends the header's encoding ([`Header::LEN`] bytes).
    pub fn encode_into(&self, w: &mut Writer) {
        w.u64(self.height);
        w.raw(&self.parent.0);
        w.u64(self.timestamp);
        w.raw(&self.state_root.0);
        w.raw(&self.tx_root.0);
        w.raw(&self.proposer.0);
    }

    /// Reads a header ([`Header::LEN`] bytes).
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Self {
            height: r.u64("height")?,
            parent: Hash32(r.array("parent")?),
            timestamp: r.u64("timestamp")?,
            state_root: Hash32(r.array("state_root")?),
            tx_root: Hash32(r.array("tx_root")?),
            proposer: Address(r.array("proposer")?),
        })
    }

    /// The block hash.
    pub fn hash(&self) -> Hash32 {
        let mut w = Writer::with_capacity(Self::LEN);
        self.encode_into(&mut w);
        hash_tagged(b"poai/block/v1", &[&w.finish()])
    }
}

/// A block: a header and its ordered transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// The transactions, in execution order.
    pub txs: Vec<Transaction>,
}

impl Block {
    /// The canonical encoding: header, u32 transaction count, then each transaction as a u32
    /// length and [`Transaction::encode`].
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_pieces(|piece| out.extend_from_slice(piece));
        out
    }

    /// The length of [`Block::encode`], without encoding the block.
    pub fn encoded_len(&self) -> usize {
        self.txs.iter().fold(Header::LEN + 4, |n, tx| {
            n.saturating_add(4).saturating_add(tx.encoded_len())
        })
    }

    /// Hands [`Block::encode`] to `out` in pieces, in order (the header with the count, then each
    /// transaction's length and its encoding), so that a caller writing the block into a buffer
    /// of its own (a store's page, a network frame) does not first build the whole encoding:
    /// blocks run to megabytes, and a fresh buffer that size costs page faults as well as a copy.
    pub fn encode_pieces(&self, mut out: impl FnMut(&[u8])) {
        let mut w = Writer::with_capacity(4096);
        self.header.encode_into(&mut w);
        w.u32(u32::try_from(self.txs.len()).unwrap_or(u32::MAX));
        out(w.as_slice());
        for tx in &self.txs {
            w.clear();
            tx.encode_into(&mut w);
            out(&len_prefix(w.as_slice().len()));
            out(w.as_slice());
        }
    }

    /// Decodes a block; every transaction is decoded and bounded.
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let header = Header::decode_from(&mut r)?;
        let n = usize::try_from(r.u32("tx_count")?).unwrap_or(usize::MAX);
        if n > MAX_BLOCK_TXS {
            return Err(CodecError::TooLong {
                field: "tx_count",
                len: n,
                max: MAX_BLOCK_TXS,
            });
        }
        // Each transaction takes at least its 4-byte prefix, so `n` is also bounded by the input.
        let mut txs = Vec::with_capacity(n.min(r.remaining() / 4));
        for _ in 0..n {
            txs.push(
                Transaction::decode(r.bytes(MAX_TX_LEN, "tx")?).map_err(|e| {
                    CodecError::Invalid {
                        field: "tx",
                        reason: e.to_string(),
                    }
                })?,
            );
        }
        r.finish()?;
        Ok(Self { header, txs })
    }

    /// The hashes of the transactions.
    pub fn tx_hashes(&self) -> Vec<TxHash> {
        self.txs.iter().map(Transaction::hash).collect()
    }

    /// The Merkle root of the transactions.
    pub fn compute_tx_root(&self) -> Hash32 {
        merkle_root(&self.tx_hashes())
    }

    /// The block hash.
    pub fn hash(&self) -> Hash32 {
        self.header.hash()
    }
}

/// What an included transaction did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Native coin moved.
    Transfer,
    /// AI tokens moved.
    TransferAi,
    /// A device was registered or re-attested.
    Registered {
        /// The device.
        device_id: DeviceId,
        /// Its miner.
        miner: Address,
        /// Tier proven.
        tier: PrivacyLevel,
        /// Trust score.
        trust_score: u8,
    },
    /// A proof was minted.
    Mined {
        /// Its work id (now spent).
        work_id: WorkId,
        /// The device.
        device_id: DeviceId,
        /// The device's miner.
        miner: Address,
        /// Who was paid.
        beneficiary: Address,
        /// The payout (SPEC section 3).
        payout: Payout,
    },
    /// An AI VM call's effect (SPEC section 6).
    Ai(crate::ai::exec::AiOutcome),
    /// A validator call's effect ([`crate::validator`]).
    Validator(crate::validator::ValidatorOutcome),
}

/// The receipt of one included transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The transaction.
    pub tx_hash: TxHash,
    /// What it did.
    pub outcome: Outcome,
}

impl Receipt {
    fn encode_into(&self, w: &mut Writer) {
        w.raw(&self.tx_hash.0);
        match &self.outcome {
            Outcome::Transfer => w.u8(1),
            Outcome::TransferAi => w.u8(2),
            Outcome::Registered {
                device_id,
                miner,
                tier,
                trust_score,
            } => {
                w.u8(3);
                w.raw(&device_id.0);
                w.raw(&miner.0);
                w.u16(tier.as_u16());
                w.u8(*trust_score);
            }
            Outcome::Mined {
                work_id,
                device_id,
                miner,
                beneficiary,
                payout,
            } => {
                w.u8(4);
                w.raw(&work_id.0);
                w.raw(&device_id.0);
                w.raw(&miner.0);
                w.raw(&beneficiary.0);
                w.u64(payout.height);
                w.u64(payout.epoch);
                for v in [
                    payout.gross,
                    payout.halved,
                    payout.ceiling,
                    payout.mined_before,
                    payout.paid,
                    payout.miner,
                    payout.treasury,
                    payout.mined_after,
                ] {
                    w.u128(v);
                }
            }
            Outcome::Ai(o) => {
                w.u8(5);
                w.u8(o.action as u8);
                w.raw(&o.id.0);
                w.u128(o.amount);
            }
            Outcome::Validator(o) => {
                w.u8(6);
                w.u8(o.action as u8);
                w.raw(&o.consensus_key);
                w.u128(o.amount);
                w.opt_u64(o.release_height);
            }
        }
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let tx_hash = Hash32(r.array("tx_hash")?);
        let outcome = match r.u8("outcome")? {
            1 => Outcome::Transfer,
            2 => Outcome::TransferAi,
            3 => Outcome::Registered {
                device_id: DeviceId(r.array("device_id")?),
                miner: Address(r.array("miner")?),
                tier: PrivacyLevel::try_from(r.u16("tier")?).map_err(|e| CodecError::Invalid {
                    field: "tier",
                    reason: e.to_string(),
                })?,
                trust_score: r.u8("trust_score")?,
            },
            4 => Outcome::Mined {
                work_id: WorkId(r.array("work_id")?),
                device_id: DeviceId(r.array("device_id")?),
                miner: Address(r.array("miner")?),
                beneficiary: Address(r.array("beneficiary")?),
                payout: Payout {
                    height: r.u64("payout.height")?,
                    epoch: r.u64("payout.epoch")?,
                    gross: r.u128("payout.gross")?,
                    halved: r.u128("payout.halved")?,
                    ceiling: r.u128("payout.ceiling")?,
                    mined_before: r.u128("payout.mined_before")?,
                    paid: r.u128("payout.paid")?,
                    miner: r.u128("payout.miner")?,
                    treasury: r.u128("payout.treasury")?,
                    mined_after: r.u128("payout.mined_after")?,
                },
            },
            5 => {
                let a = r.u8("outcome.action")?;
                Outcome::Ai(crate::ai::exec::AiOutcome {
                    action: crate::ai::exec::AiAction::from_u8(a).ok_or(
                        CodecError::UnknownTag {
                            field: "outcome.action",
                            tag: a,
                        },
                    )?,
                    id: Hash32(r.array("outcome.id")?),
                    amount: r.u128("outcome.amount")?,
                })
            }
            6 => {
                let a = r.u8("outcome.action")?;
                Outcome::Validator(crate::validator::ValidatorOutcome {
                    action: crate::validator::ValidatorAction::from_u8(a).ok_or(
                        CodecError::UnknownTag {
                            field: "outcome.action",
                            tag: a,
                        },
                    )?,
                    consensus_key: r.array("outcome.consensus_key")?,
                    amount: r.u128("outcome.amount")?,
                    release_height: r.opt_u64("outcome.release_height")?,
                })
            }
            tag => {
                return Err(CodecError::UnknownTag {
                    field: "outcome",
                    tag,
                });
            }
        };
        Ok(Self { tx_hash, outcome })
    }
}

/// Encodes a block's receipts: u32 count ‖ receipts.
pub fn encode_receipts(receipts: &[Receipt]) -> Vec<u8> {
    let mut w = Writer::with_capacity(4 + receipts.len() * 300);
    w.u32(u32::try_from(receipts.len()).unwrap_or(u32::MAX));
    for r in receipts {
        r.encode_into(&mut w);
    }
    w.finish()
}

/// Decodes [`encode_receipts`].
pub fn decode_receipts(bytes: &[u8]) -> Result<Vec<Receipt>, CodecError> {
    let mut r = Reader::new(bytes);
    let n = usize::try_from(r.u32("receipt_count")?).unwrap_or(usize::MAX);
    if n > MAX_BLOCK_TXS {
        return Err(CodecError::TooLong {
            field: "receipt_count",
            len: n,
            max: MAX_BLOCK_TXS,
        });
    }
    let mut out = Vec::with_capacity(n.min(r.remaining() / 33));
    for _ in 0..n {
        out.push(Receipt::decode_from(&mut r)?);
    }
    r.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn payout(n: u128) -> Payout {
        Payout {
            height: 3,
            epoch: 0,
            gross: n,
            halved: n,
            ceiling: n * 2,
            mined_before: 1,
            paid: n,
            miner: n - n / 50,
            treasury: n / 50,
            mined_after: n + 1,
        }
    }

    #[test]
    fn receipts_round_trip() {
        let rs = vec![
            Receipt {
                tx_hash: Hash32([1; 32]),
                outcome: Outcome::Transfer,
            },
            Receipt {
                tx_hash: Hash32([2; 32]),
                outcome: Outcome::Registered {
                    device_id: DeviceId([3; 32]),
                    miner: Address([4; 20]),
                    tier: PrivacyLevel::Sovereign,
                    trust_score: 90,
                },
            },
            Receipt {
                tx_hash: Hash32([5; 32]),
                outcome: Outcome::Mined {
                    work_id: WorkId([6; 32]),
                    device_id: DeviceId([7; 32]),
                    miner: Address([8; 20]),
                    beneficiary: Address([9; 20]),
                    payout: payout(10u128.pow(19)),
                },
            },
            Receipt {
                tx_hash: Hash32([10; 32]),
                outcome: Outcome::Validator(crate::validator::ValidatorOutcome {
                    action: crate::validator::ValidatorAction::Unbonding,
                    consensus_key: [11; 32],
                    amount: 1 << 90,
                    release_height: Some(30),
                }),
            },
            Receipt {
                tx_hash: Hash32([12; 32]),
                outcome: Outcome::Validator(crate::validator::ValidatorOutcome {
                    action: crate::validator::ValidatorAction::Bonded,
                    consensus_key: [13; 32],
                    amount: 5,
                    release_height: None,
                }),
            },
        ];
        let bytes = encode_receipts(&rs);
        assert_eq!(decode_receipts(&bytes).unwrap(), rs);
        assert!(decode_receipts(&bytes[..bytes.len() - 1]).is_err());
        let mut long = bytes;
        long.push(0);
        assert_eq!(decode_receipts(&long), Err(CodecError::TrailingBytes(1)));
    }

    /// A block of real transactions, one of each kind: the length computed without encoding,
    /// the encoding built from pieces and the decoder agree, and the layout is the documented
    /// one (header, count, each transaction behind its length), which stored blocks and peers
    /// rely on.
    #[test]
    fn encoding_from_pieces_has_the_documented_layout() {
        use crate::tx::tests::{proof, register_body};
        use crate::tx::{ProofTx, SignedTx};
        use poai_crypto::{ParamSet, SigningKey};
        use poai_primitives::ChainId;
        let key = SigningKey::from_seed(ParamSet::MlDsa65, &[3u8; 32]).unwrap();
        let (proof, body) = (proof(), register_body());
        let txs = vec![
            Transaction::Proof(ProofTx::sign(proof, Address([5; 20]), ChainId(7), &key).unwrap()),
            Transaction::Account(SignedTx::sign(body, &key).unwrap()),
        ];
        let block = Block {
            header: header(),
            txs,
        };
        let mut w = Writer::new();
        block.header.encode_into(&mut w);
        w.u32(2);
        for tx in &block.txs {
            w.bytes(&tx.encode());
        }
        let expected = w.finish();
        let bytes = block.encode();
        assert_eq!(bytes, expected);
        assert_eq!(block.encoded_len(), bytes.len());
        let mut pieces = Vec::new();
        block.encode_pieces(|p| pieces.push(p.len()));
        assert_eq!(
            pieces.len(),
            1 + 2 * 2,
            "header and count, then length and body per tx"
        );
        assert_eq!(pieces.iter().sum::<usize>(), bytes.len());
        assert_eq!(Block::decode(&bytes).unwrap(), block);
    }

    /// A header with every field distinct.
    fn header() -> Header {
        Header {
            height: 1,
            parent: Hash32([1; 32]),
            timestamp: 2,
            state_root: Hash32([3; 32]),
            tx_root: Hash32([4; 32]),
            proposer: Address([5; 20]),
        }
    }

    #[test]
    fn header_hash_covers_every_field() {
        let h = header();
        let variants = [
            Header { height: 9, ..h },
            Header {
                parent: Hash32([9; 32]),
                ..h
            },
            Header { timestamp: 9, ..h },
            Header {
                state_root: Hash32([9; 32]),
                ..h
            },
            Header {
                tx_root: Hash32([9; 32]),
                ..h
            },
            Header {
                proposer: Address([9; 20]),
                ..h
            },
        ];
        for v in variants {
            assert_ne!(v.hash(), h.hash(), "{v:?}");
        }
    }

    proptest! {
        #[test]
        fn block_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(b) = Block::decode(&bytes) {
                prop_assert_eq!(b.encoded_len(), bytes.len());
                prop_assert_eq!(b.encode(), bytes);
            }
        }

        #[test]
        fn receipts_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(r) = decode_receipts(&bytes) {
                prop_assert_eq!(encode_receipts(&r), bytes);
            }
        }
    }
}
