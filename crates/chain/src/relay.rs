//! Compact block relay messages (docs/DESIGN-consensus.md, section 1.6).
//!
//! Validators already hold a block's transactions from mempool gossip, so a proposal travels as
//! its header and the hashes of its transactions, in block order; a validator that lacks some of
//! them asks the sender for those positions. The block hash covers the header, whose `tx_root`
//! commits to the hashes ([`crate::hash::merkle_root`]), so a receiver checks the hashes against
//! the header before looking anything up.
//!
//! | message | layout |
//! |---|---|
//! | `Compact` | tag 0 ‖ header ([`Header::LEN`]) ‖ count `n` ≤ [`MAX_BLOCK_TXS`] (u32) ‖ `n` × 32-byte tx hash |
//! | `Want` | tag 1 ‖ block hash (32) ‖ count `n`, 1 to [`MAX_BLOCK_TXS`] ‖ `n` × u32 position, strictly increasing, each < [`MAX_BLOCK_TXS`] |
//! | `Txs` | tag 2 ‖ block hash (32) ‖ count `n`, 1 to [`MAX_BLOCK_TXS`] ‖ `n` × (u32 position, strictly increasing, < [`MAX_BLOCK_TXS`] ‖ u32 length ≤ [`MAX_TX_LEN`] ‖ [`Transaction::encode`]) |
//!
//! Integers are big-endian. Decoding is bounded by the input (a count is checked against the
//! bytes left before anything is allocated), rejects trailing bytes, and accepts only one
//! encoding of each message (positions strictly increasing), so whatever decodes re-encodes to
//! the same bytes.

use crate::block::{Header, MAX_BLOCK_TXS};
use crate::codec::{CodecError, Reader, Writer};
use crate::hash::Hash32;
use crate::tx::{MAX_TX_LEN, Transaction, TxHash};

/// One message of the block relay (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayMessage {
    /// A proposed block as its header and its transactions' hashes, in block order.
    Compact {
        /// The block's header.
        header: Header,
        /// The hashes of its transactions.
        hashes: Vec<TxHash>,
    },
    /// A request for the transactions at `positions` of block `block`.
    Want {
        /// The block hash.
        block: Hash32,
        /// Positions in the block, strictly increasing.
        positions: Vec<u32>,
    },
    /// The answer to a [`RelayMessage::Want`]: transactions with their positions.
    Txs {
        /// The block hash.
        block: Hash32,
        /// `(position, transaction)`, positions strictly increasing.
        txs: Vec<(u32, Transaction)>,
    },
}

const TAG_COMPACT: u8 = 0;
const TAG_WANT: u8 = 1;
const TAG_TXS: u8 = 2;

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl RelayMessage {
    /// The encoding (see the module docs). The caller keeps counts and positions within the
    /// bounds the decoder enforces; a block this node built or accepted always does.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Compact { header, hashes } => {
                let mut w = Writer::with_capacity(1 + Header::LEN + 4 + 32 * hashes.len());
                w.u8(TAG_COMPACT);
                header.encode_into(&mut w);
                w.u32(len_u32(hashes.len()));
                for h in hashes {
                    w.raw(&h.0);
                }
                w.finish()
            }
            Self::Want { block, positions } => {
                let mut w = Writer::with_capacity(1 + 32 + 4 + 4 * positions.len());
                w.u8(TAG_WANT);
                w.raw(&block.0);
                w.u32(len_u32(positions.len()));
                for p in positions {
                    w.u32(*p);
                }
                w.finish()
            }
            Self::Txs { block, txs } => {
                let mut w = Writer::new();
                w.u8(TAG_TXS);
                w.raw(&block.0);
                w.u32(len_u32(txs.len()));
                for (p, tx) in txs {
                    w.u32(*p);
                    w.bytes(&tx.encode());
                }
                w.finish()
            }
        }
    }

    /// Decodes a message; every count, position and transaction is bounded (module docs).
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let msg = match r.u8("relay_tag")? {
            TAG_COMPACT => {
                let header = Header::decode_from(&mut r)?;
                let n = count(&mut r, "tx_hash_count", 32, false)?;
                let mut hashes = Vec::with_capacity(n);
                for _ in 0..n {
                    hashes.push(Hash32(r.array("tx_hash")?));
                }
                Self::Compact { header, hashes }
            }
            TAG_WANT => {
                let block = Hash32(r.array("block_hash")?);
                let n = count(&mut r, "position_count", 4, true)?;
                let mut positions = Vec::with_capacity(n);
                for _ in 0..n {
                    positions.push(position(&mut r, positions.last().copied())?);
                }
                Self::Want { block, positions }
            }
            TAG_TXS => {
                let block = Hash32(r.array("block_hash")?);
                // Each entry takes at least its position and length.
                let n = count(&mut r, "tx_count", 8, true)?;
                let mut txs: Vec<(u32, Transaction)> = Vec::with_capacity(n);
                for _ in 0..n {
                    let p = position(&mut r, txs.last().map(|(p, _)| *p))?;
                    txs.push((p, Transaction::decode(r.bytes(MAX_TX_LEN, "tx")?)?));
                }
                Self::Txs { block, txs }
            }
            tag => {
                return Err(CodecError::UnknownTag {
                    field: "relay_tag",
                    tag,
                });
            }
        };
        r.finish()?;
        Ok(msg)
    }
}

/// Reads a count of entries of at least `min_entry` bytes each: at most [`MAX_BLOCK_TXS`], at
/// least 1 if `nonempty`, and no more than the bytes left could hold.
fn count(
    r: &mut Reader<'_>,
    field: &'static str,
    min_entry: usize,
    nonempty: bool,
) -> Result<usize, CodecError> {
    let n = usize::try_from(r.u32(field)?).unwrap_or(usize::MAX);
    if n > MAX_BLOCK_TXS {
        return Err(CodecError::TooLong {
            field,
            len: n,
            max: MAX_BLOCK_TXS,
        });
    }
    if nonempty && n == 0 {
        return Err(CodecError::Invalid {
            field,
            reason: "must be at least 1".into(),
        });
    }
    let needed = n.saturating_mul(min_entry);
    if needed > r.remaining() {
        return Err(CodecError::Truncated {
            field,
            needed,
            available: r.remaining(),
        });
    }
    Ok(n)
}

/// Reads a position: below [`MAX_BLOCK_TXS`] and above `previous`.
fn position(r: &mut Reader<'_>, previous: Option<u32>) -> Result<u32, CodecError> {
    let p = r.u32("position")?;
    if usize::try_from(p).unwrap_or(usize::MAX) >= MAX_BLOCK_TXS {
        return Err(CodecError::Invalid {
            field: "position",
            reason: format!("{p} is not below {MAX_BLOCK_TXS}"),
        });
    }
    if previous.is_some_and(|q| p <= q) {
        return Err(CodecError::Invalid {
            field: "position",
            reason: format!("{p} does not follow {}", previous.unwrap_or_default()),
        });
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::{Call, SignedTx, TxBody};
    use poai_crypto::{ParamSet, SigningKey};
    use poai_primitives::{Address, ChainId};
    use proptest::prelude::*;

    fn header() -> Header {
        Header {
            height: 7,
            parent: Hash32([1; 32]),
            timestamp: 1_800_000_000,
            state_root: Hash32([2; 32]),
            tx_root: Hash32([3; 32]),
            proposer: Address([4; 20]),
        }
    }

    fn tx(nonce: u64) -> Transaction {
        let key = SigningKey::from_seed(ParamSet::MlDsa44, &[9; 32]).unwrap();
        let body = TxBody {
            chain_id: ChainId(1),
            nonce,
            fee: 0,
            call: Call::Transfer {
                to: Address([5; 20]),
                amount: 1,
            },
        };
        Transaction::Account(SignedTx::sign(body, &key).unwrap())
    }

    #[test]
    fn each_message_round_trips() {
        let messages = [
            RelayMessage::Compact {
                header: header(),
                hashes: vec![],
            },
            RelayMessage::Compact {
                header: header(),
                hashes: vec![Hash32([6; 32]), Hash32([7; 32])],
            },
            RelayMessage::Want {
                block: Hash32([8; 32]),
                positions: vec![0, 5, 99_999],
            },
            RelayMessage::Txs {
                block: Hash32([8; 32]),
                txs: vec![(1, tx(0)), (4, tx(1))],
            },
        ];
        for m in messages {
            assert_eq!(RelayMessage::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn bad_messages_name_their_field() {
        let field = |bytes: &[u8]| match RelayMessage::decode(bytes).unwrap_err() {
            CodecError::Truncated { field, .. }
            | CodecError::TooLong { field, .. }
            | CodecError::UnknownTag { field, .. }
            | CodecError::Invalid { field, .. } => field,
            CodecError::TrailingBytes(_) => "trailing",
        };
        assert_eq!(field(&[]), "relay_tag");
        assert_eq!(field(&[3]), "relay_tag");
        let want = |positions: &[u32]| {
            let mut w = Writer::new();
            w.u8(TAG_WANT);
            w.raw(&[0; 32]);
            w.u32(len_u32(positions.len()));
            for p in positions {
                w.u32(*p);
            }
            w.finish()
        };
        assert_eq!(field(&want(&[])), "position_count");
        assert_eq!(field(&want(&[2, 2])), "position");
        assert_eq!(field(&want(&[3, 1])), "position");
        assert_eq!(field(&want(&[100_000])), "position");
        // A count larger than the bytes that follow is refused before allocating.
        let mut big = want(&[1]);
        big[33..37].copy_from_slice(&1000u32.to_be_bytes());
        assert_eq!(field(&big), "position_count");
        let mut huge = want(&[1]);
        huge[33..37].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(field(&huge), "position_count");
        let mut trailing = want(&[1]);
        trailing.push(0);
        assert_eq!(field(&trailing), "trailing");
        let compact = RelayMessage::Compact {
            header: header(),
            hashes: vec![Hash32([6; 32])],
        }
        .encode();
        assert_eq!(field(&compact[..compact.len() - 1]), "tx_hash_count");
        assert_eq!(field(&compact[..20]), "parent");
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_fail_and_decoded_bytes_are_canonical(
            bytes in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            if let Ok(m) = RelayMessage::decode(&bytes) {
                prop_assert_eq!(m.encode(), bytes);
            }
        }

        #[test]
        fn compact_and_want_round_trip(
            hashes in proptest::collection::vec(any::<[u8; 32]>(), 0..64),
            mut positions in proptest::collection::btree_set(0u32..100_000, 1..64),
        ) {
            let m = RelayMessage::Compact { header: header(), hashes: hashes.into_iter().map(Hash32).collect() };
            prop_assert_eq!(RelayMessage::decode(&m.encode()).unwrap(), m);
            let positions: Vec<u32> = std::mem::take(&mut positions).into_iter().collect();
            let m = RelayMessage::Want { block: Hash32([1; 32]), positions };
            prop_assert_eq!(RelayMessage::decode(&m.encode()).unwrap(), m);
        }
    }
}
