//! BLAKE3 hashes of the A-chain (SPEC section 1): block, transaction and state commitments.
//!
//! Every hash is domain-separated by a tag (`poai/<what>/v1`) hashed first, with its length, so
//! that no two kinds of object can share a preimage. The transaction root is a binary Merkle
//! tree: leaves are transaction hashes, an inner node is BLAKE3(`poai/node/v1` ‖ left ‖ right),
//! an odd node is carried up unchanged, and the empty tree is BLAKE3(`poai/txroot/v1`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A 32-byte BLAKE3 hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Hash32(pub [u8; 32]);

/// Lexicographic by bytes, a word at a time ([`poai_primitives::cmp_bytes`]).
impl Ord for Hash32 {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        poai_primitives::cmp_bytes(&self.0, &other.0)
    }
}

impl PartialOrd for Hash32 {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash32 {
    /// All zeros: the parent of the genesis block.
    pub const ZERO: Self = Self([0; 32]);
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", hex::encode(self.0))
    }
}

impl FromStr for Hash32 {
    type Err = poai_primitives::hexfmt::HexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        poai_primitives::hexfmt::decode_array::<32>(s).map(Self)
    }
}

impl Serialize for Hash32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Hash32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// BLAKE3(len(tag) ‖ tag ‖ parts...).
pub fn hash_tagged(tag: &[u8], parts: &[&[u8]]) -> Hash32 {
    let mut h = blake3::Hasher::new();
    h.update(&[u8::try_from(tag.len()).unwrap_or(u8::MAX)]);
    h.update(tag);
    for p in parts {
        h.update(p);
    }
    Hash32(*h.finalize().as_bytes())
}

/// The Merkle root of transaction hashes (see the module docs).
pub fn merkle_root(leaves: &[Hash32]) -> Hash32 {
    if leaves.is_empty() {
        return hash_tagged(b"poai/txroot/v1", &[]);
    }
    let mut level: Vec<Hash32> = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => hash_tagged(b"poai/node/v1", &[&l.0, &r.0]),
                [one] => *one,
                _ => Hash32::ZERO,
            })
            .collect();
    }
    level.first().copied().unwrap_or(Hash32::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merkle_shapes() {
        let a = Hash32([1; 32]);
        let b = Hash32([2; 32]);
        let c = Hash32([3; 32]);
        assert_eq!(merkle_root(&[a]), a);
        let ab = hash_tagged(b"poai/node/v1", &[&a.0, &b.0]);
        assert_eq!(merkle_root(&[a, b]), ab);
        assert_eq!(
            merkle_root(&[a, b, c]),
            hash_tagged(b"poai/node/v1", &[&ab.0, &c.0])
        );
        assert_ne!(merkle_root(&[b, a]), ab, "order matters");
        assert_ne!(merkle_root(&[]), Hash32::ZERO);
        // Tags separate domains: the same bytes under two tags differ.
        assert_ne!(hash_tagged(b"x", &[b"y"]), hash_tagged(b"xy", &[]));
    }

    #[test]
    fn hex_serde() {
        let h = Hash32([0xab; 32]);
        let s = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<Hash32>(&s).unwrap(), h);
        assert!("0x12".parse::<Hash32>().is_err());
    }
}
