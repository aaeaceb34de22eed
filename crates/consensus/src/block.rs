//! The A-chain block as commonware's consensus sees it (docs/DESIGN-consensus.md, section 1.2).
//!
//! Simplex orders 32-byte digests; marshal moves the full blocks. The digest is the block hash
//! the chain already uses, `BLAKE3("poai/block/v1" ‖ header)` (SPEC section 6), so nothing about
//! a block changes when it is finalized by BFT instead of a single producer.
//!
//! Codec form (marshal's storage and backfill; a proposal travels compact, [`crate::relay`]):
//!
//! | field | bytes |
//! |---|---|
//! | length `n` of the encoded block, big-endian | 4 |
//! | `poai_chain::Block::encode()` | `n` ≤ [`MAX_BLOCK_BYTES`] |
//!
//! Decoding refuses a length above the limit, a short buffer and anything the chain's bounded
//! block decoder refuses (which also rejects trailing bytes inside the `n`, so the encoding is
//! canonical as marshal requires).

use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error as CodecError, Read, Write};
use commonware_consensus::types::Height;
use commonware_consensus::{Block as ConsensusBlock, Heightable};
use commonware_cryptography::{Digested, Digestible, blake3::Digest};
use poai_chain::{Block, Hash32, Machine, TxHash};
use std::sync::{Arc, OnceLock};

/// Most bytes of an encoded block. A block travels as one p2p message, so this also sizes the
/// network's message limit ([`MAX_MESSAGE_BYTES`]). About 2,400 ML-DSA-65 proofs.
pub const MAX_BLOCK_BYTES: usize = 8 * 1024 * 1024;

/// The p2p message limit: a block, its length prefix and room for marshal's framing.
pub const MAX_MESSAGE_BYTES: u32 = 9 * 1024 * 1024;

/// A block with its encoding, hash and transaction hashes computed once.
#[derive(Debug)]
struct Inner {
    block: Block,
    encoded: Vec<u8>,
    hash: Hash32,
    /// The transactions' hashes, in block order: known when the block was built here or
    /// assembled from a compact relay message, else computed on first use.
    tx_hashes: OnceLock<Vec<TxHash>>,
}

/// An A-chain block for commonware: cheap to clone, digest = block hash.
#[derive(Debug, Clone)]
pub struct PoaiBlock(Arc<Inner>);

impl PartialEq for PoaiBlock {
    fn eq(&self, other: &Self) -> bool {
        self.0.hash == other.0.hash
    }
}

impl Eq for PoaiBlock {}

impl PoaiBlock {
    /// Wraps a block.
    pub fn new(block: Block) -> Self {
        let encoded = block.encode();
        let hash = block.hash();
        Self(Arc::new(Inner {
            block,
            encoded,
            hash,
            tx_hashes: OnceLock::new(),
        }))
    }

    /// Wraps a block whose transaction hashes are known: `hashes[i]` must be the hash of
    /// `block.txs[i]` (computed here, or the key the transaction was found under; execution reuses
    /// signature verdicts by it, and checks their Merkle root against the header). A list of the
    /// wrong length is not kept (the hashes are then computed when asked for).
    pub(crate) fn with_tx_hashes(block: Block, hashes: Vec<TxHash>) -> Self {
        let b = Self::new(block);
        if hashes.len() == b.0.block.txs.len() {
            let _ = b.0.tx_hashes.set(hashes);
        }
        b
    }

    /// The transactions' hashes, in block order.
    pub fn tx_hashes(&self) -> &[TxHash] {
        self.0
            .tx_hashes
            .get_or_init(|| Machine::tx_hashes(&self.0.block.txs))
    }

    /// The chain's block.
    pub fn block(&self) -> &Block {
        &self.0.block
    }

    /// The block hash.
    pub fn hash(&self) -> Hash32 {
        self.0.hash
    }

    /// The chain's encoding of the block (`Block::encode`).
    pub fn encoded(&self) -> &[u8] {
        &self.0.encoded
    }

    /// The encoded block's length.
    pub fn encoded_len(&self) -> usize {
        self.0.encoded.len()
    }

    /// Decodes a block from the chain's encoding (`Block::encode`), keeping the bytes.
    pub fn from_encoded(bytes: Vec<u8>) -> Result<Self, poai_chain::codec::CodecError> {
        let block = Block::decode(&bytes)?;
        let hash = block.hash();
        Ok(Self(Arc::new(Inner {
            block,
            encoded: bytes,
            hash,
            tx_hashes: OnceLock::new(),
        })))
    }

    /// With its digest, as commonware passes blocks around.
    pub fn digested(self) -> Digested<Self> {
        let d = digest_of(self.0.hash);
        Digested::precomputed(self, d)
    }
}

/// The commonware digest of a block hash.
pub fn digest_of(h: Hash32) -> Digest {
    Digest(h.0)
}

/// The block hash of a commonware digest.
pub fn hash_of(d: &Digest) -> Hash32 {
    Hash32(d.0)
}

impl Write for PoaiBlock {
    fn write(&self, buf: &mut impl BufMut) {
        // The constructor's encoding is at most MAX_BLOCK_BYTES for every block a node proposes
        // or accepts (checked there); a larger one could not have been decoded either.
        let len = u32::try_from(self.0.encoded.len()).unwrap_or(u32::MAX);
        buf.put_u32(len);
        buf.put_slice(&self.0.encoded);
    }
}

impl EncodeSize for PoaiBlock {
    fn encode_size(&self) -> usize {
        4 + self.0.encoded.len()
    }
}

impl Read for PoaiBlock {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        if buf.remaining() < 4 {
            return Err(CodecError::EndOfBuffer);
        }
        let len = usize::try_from(buf.get_u32()).unwrap_or(usize::MAX);
        if len > MAX_BLOCK_BYTES {
            return Err(CodecError::InvalidLength(len));
        }
        if buf.remaining() < len {
            return Err(CodecError::EndOfBuffer);
        }
        let mut bytes = vec![0u8; len];
        buf.copy_to_slice(&mut bytes);
        Self::from_encoded(bytes)
            .map_err(|_| CodecError::Invalid("PoaiBlock", "block does not decode"))
    }
}

impl Digestible for PoaiBlock {
    type Digest = Digest;

    fn digest(&self) -> Digest {
        digest_of(self.0.hash)
    }
}

impl Heightable for PoaiBlock {
    fn height(&self) -> Height {
        Height::new(self.0.block.header.height)
    }
}

impl ConsensusBlock for PoaiBlock {
    fn parent(&self) -> Digest {
        digest_of(self.0.block.header.parent)
    }
}

/// Empty blocks 1..=n on top of `shared`'s genesis, not committed, and the state after them.
#[cfg(test)]
pub(crate) fn empty_blocks(
    shared: &poai_node::node::Shared,
    n: u64,
) -> (Vec<PoaiBlock>, poai_chain::State) {
    use poai_chain::{BlockContext, Machine};
    let mut state = shared.state().clone();
    let blocks = (0..n)
        .map(|_| {
            let ctx = BlockContext::next(
                &state,
                Machine::next_timestamp(&state, 0),
                state.genesis().treasury,
            );
            let p = shared.machine.propose(&mut state, ctx, &[]);
            state.take_changes();
            PoaiBlock::new(p.block)
        })
        .collect();
    (blocks, state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{DecodeExt as _, Encode as _};
    use poai_chain::{Genesis, State, genesis_block};

    fn sample() -> PoaiBlock {
        let g: Genesis = serde_json::from_str(
            r#"{"chain_id": 1, "genesis_time": 5, "lp_address": "0x1111111111111111111111111111111111111111",
                "treasury": "0x2222222222222222222222222222222222222222"}"#,
        )
        .unwrap();
        let mut s = State::from_genesis(&g);
        PoaiBlock::new(genesis_block(&mut s))
    }

    #[test]
    fn round_trip_keeps_hash_and_refuses_damage() {
        let b = sample();
        let bytes = b.encode().to_vec();
        let back = PoaiBlock::decode(bytes.clone()).unwrap();
        assert_eq!(back.hash(), b.hash());
        assert_eq!(back.block(), b.block());
        // A trailing byte is refused (canonical encoding).
        let mut long = bytes.clone();
        long.push(0);
        assert!(PoaiBlock::decode(long).is_err());
        // A short buffer and a length over the limit are refused.
        assert!(PoaiBlock::decode(bytes[..bytes.len() - 1].to_vec()).is_err());
        let mut huge = bytes.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(PoaiBlock::decode(huge).is_err());
    }
}
