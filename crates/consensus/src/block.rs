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

/// A block with its hash, encoded length and transaction hashes computed once. The encoding
/// itself is not kept: it is written straight into marshal's buffers and the node's store
/// ([`Block::encode_pieces`]), so a block is never also held as one multi-megabyte buffer.
#[derive(Debug)]
struct Inner {
    block: Block,
    encoded_len: usize,
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
        let encoded_len = block.encoded_len();
        let hash = block.hash();
        Self(Arc::new(Inner {
            block,
            encoded_len,
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

    /// The length of the chain's encoding of the block (`Block::encode`).
    pub fn encoded_len(&self) -> usize {
        self.0.encoded_len
    }

    /// Decodes a block from the chain's encoding (`Block::encode`).
    pub fn from_encoded(bytes: &[u8]) -> Result<Self, poai_chain::codec::CodecError> {
        let block = Block::decode(bytes)?;
        let hash = block.hash();
        // Equal to `bytes.len()` (the decoder refuses trailing bytes and every field has one
        // encoding), but computed from the block so that `encode_size` always matches what
        // `write` writes.
        let encoded_len = block.encoded_len();
        Ok(Self(Arc::new(Inner {
            block,
            encoded_len,
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
        let len = u32::try_from(self.0.encoded_len).unwrap_or(u32::MAX);
        buf.put_u32(len);
        self.0.block.encode_pieces(|piece| buf.put_slice(piece));
    }
}

impl EncodeSize for PoaiBlock {
    fn encode_size(&self) -> usize {
        4 + self.0.encoded_len
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
        let refused = |_| CodecError::Invalid("PoaiBlock", "block does not decode");
        // Decode in place where the buffer holds the block in one piece (it does when it is one
        // received message or one stored record); copy it out only where it does not.
        if let Some(bytes) = buf.chunk().get(..len) {
            let block = Self::from_encoded(bytes).map_err(refused)?;
            buf.advance(len);
            return Ok(block);
        }
        let mut bytes = vec![0u8; len];
        buf.copy_to_slice(&mut bytes);
        Self::from_encoded(&bytes).map_err(refused)
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

    /// A block read from a buffer in two pieces (copied out) and from one piece (decoded in
    /// place) is the same block, and both reads consume exactly the block.
    #[test]
    fn reads_from_split_and_whole_buffers_agree() {
        use bytes::{Buf as _, Bytes};
        let b = sample();
        let mut bytes = b.encode().to_vec();
        bytes.extend_from_slice(b"next");
        let bytes = Bytes::from(bytes);
        let mut split = bytes.slice(..7).chain(bytes.slice(7..));
        let from_split = PoaiBlock::read_cfg(&mut split, &()).unwrap();
        assert_eq!(split.remaining(), 4);
        let mut whole = bytes.clone();
        let from_whole = PoaiBlock::read_cfg(&mut whole, &()).unwrap();
        assert_eq!(whole.as_ref(), b"next");
        assert_eq!(from_split.block(), b.block());
        assert_eq!(from_whole.block(), b.block());
        assert_eq!(from_whole.encoded_len(), b.encoded_len());
        assert_eq!(b.encode().len(), 4 + b.block().encode().len());
    }
}
