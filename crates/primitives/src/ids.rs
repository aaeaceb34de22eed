//! Identifier newtypes (SPEC sections 1 and 2).
//!
//! Ids are fixed-size arrays so that a wrong length is a type error, not a run-time surprise.
//! They print and parse as hex (optional `0x` on input) and serialise as hex strings.

use crate::hexfmt::{self, HexError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The lexicographic order of two byte arrays (the order `[u8; N]` derives), compared eight
/// bytes at a time as big-endian words. Ids and hashes key the chain state's ordered maps, which
/// are searched several times per transaction on every validator; the derived order calls
/// `memcmp` at every step of a search, this one compares registers inline.
#[inline]
pub fn cmp_bytes<const N: usize>(a: &[u8; N], b: &[u8; N]) -> Ordering {
    let word = |c: &[u8]| <[u8; 8]>::try_from(c).map(u64::from_be_bytes).unwrap_or(0);
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    for (p, q) in x.by_ref().zip(y.by_ref()) {
        match word(p).cmp(&word(q)) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    x.remainder().cmp(y.remainder())
}

/// An EVM-style chain id. The work id binds it, so one proof can be minted once per chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChainId(pub u64);

impl ChainId {
    /// Lux C-Chain mainnet.
    pub const LUX_C_CHAIN: Self = Self(96369);
    /// Lux C-Chain testnet.
    pub const LUX_C_CHAIN_TESTNET: Self = Self(96368);
    /// Hanzo EVM mainnet.
    pub const HANZO_EVM: Self = Self(36963);
    /// Hanzo EVM testnet.
    pub const HANZO_EVM_TESTNET: Self = Self(36962);
    /// Zoo EVM mainnet.
    pub const ZOO_EVM: Self = Self(200200);
    /// Zoo EVM testnet.
    pub const ZOO_EVM_TESTNET: Self = Self(200201);

    /// The id as big-endian bytes, as it enters work ids and signed messages.
    pub const fn to_be_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! byte_id {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub [u8; $len]);

        /// Lexicographic by bytes ([`cmp_bytes`]).
        impl Ord for $name {
            #[inline]
            fn cmp(&self, other: &Self) -> Ordering {
                cmp_bytes(&self.0, &other.0)
            }
        }

        impl PartialOrd for $name {
            #[inline]
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;

            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Builds the id from a slice of exactly the right length.
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                <[u8; $len]>::try_from(bytes).ok().map(Self)
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(b: [u8; $len]) -> Self {
                Self(b)
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), hex::encode(self.0))
            }
        }

        impl FromStr for $name {
            type Err = HexError;
            fn from_str(s: &str) -> Result<Self, HexError> {
                hexfmt::decode_array::<$len>(s).map(Self)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&hex::encode(self.0))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

byte_id!(
    /// The attested hardware identity of a device: BLAKE3 of the identity its TEE evidence
    /// proves (SPEC section 5).
    DeviceId,
    32
);
byte_id!(
    /// A 32-byte nonce, unique per proof of a device.
    Nonce,
    32
);
byte_id!(
    /// BLAKE3(device_id ‖ nonce ‖ u64be(chain_id)): the key of the spent set.
    WorkId,
    32
);
byte_id!(
    /// A 20-byte account address (EVM style): the beneficiary of a proof.
    Address,
    20
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The first `N` bytes of `x`.
    fn prefix<const N: usize>(x: &[u8; 32]) -> [u8; N] {
        <[u8; N]>::try_from(&x[..N]).unwrap()
    }

    proptest! {
        /// The word-wise order is the byte order, for every length an id has and one with a
        /// remainder; arrays sharing a long prefix are generated too, so that later words decide.
        #[test]
        fn word_order_is_byte_order(
            a in proptest::array::uniform32(any::<u8>()),
            b in proptest::array::uniform32(any::<u8>()),
            shared in 0usize..=32,
        ) {
            let mut b = b;
            if let (Some(dst), Some(src)) = (b.get_mut(..shared), a.get(..shared)) {
                dst.copy_from_slice(src);
            }
            prop_assert_eq!(cmp_bytes(&a, &b), a.cmp(&b));
            prop_assert_eq!(cmp_bytes(&a, &a), Ordering::Equal);
            prop_assert_eq!(DeviceId(a).cmp(&DeviceId(b)), a.cmp(&b));
            let (a20, b20) = (prefix::<20>(&a), prefix::<20>(&b));
            prop_assert_eq!(Address(a20).cmp(&Address(b20)), a20.cmp(&b20));
            let (a13, b13) = (prefix::<13>(&a), prefix::<13>(&b));
            prop_assert_eq!(cmp_bytes(&a13, &b13), a13.cmp(&b13));
        }
    }

    #[test]
    fn hex_round_trip_and_serde() {
        let id: WorkId = "0x0102030000000000000000000000000000000000000000000000000000000000"
            .parse()
            .unwrap();
        assert_eq!(id.0[..3], [1, 2, 3]);
        assert_eq!(id.to_string().len(), 64);
        assert!("0102".parse::<WorkId>().is_err());
        let a: Address = "00000000000000000000000000000000000000aa".parse().unwrap();
        assert_eq!(a.0[19], 0xaa);
    }

    #[test]
    fn chain_ids_match_spec() {
        assert_eq!(ChainId::LUX_C_CHAIN.0, 96369);
        assert_eq!(ChainId::HANZO_EVM.0, 36963);
        assert_eq!(ChainId::ZOO_EVM.0, 200200);
        assert_eq!(ChainId(96369).to_be_bytes(), [0, 0, 0, 0, 0, 1, 0x78, 0x71]);
    }
}
