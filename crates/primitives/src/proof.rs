//! The LP-130 work proof and the message a miner signs (SPEC section 2).
//!
//! Fixed part, 78 bytes, big-endian, as LP-130 and the public reference:
//!
//! | bytes | field | type |
//! |---|---|---|
//! | 0..32 | device_id | 32 bytes |
//! | 32..64 | nonce | 32 bytes |
//! | 64..72 | timestamp | u64, seconds since the Unix epoch |
//! | 72..74 | privacy_level | u16, 1..=4 |
//! | 74..78 | compute_minutes | u32 |
//! | 78.. | tee_evidence | optional TEE evidence envelope, at most 64 KiB |
//!
//! The evidence runs to the end of the input, so a proof has no trailing bytes by construction;
//! its length is bounded by [`MAX_EVIDENCE_LEN`]. The evidence's own format is checked by the
//! TEE verifier, not here.
//!
//! Signed message: `"poai/work/v1" ‖ u64be(chain_id) ‖ beneficiary(20) ‖ proof bytes`. Binding the
//! executing chain and the beneficiary stops cross-chain replay and front-running, which the
//! reference's unsigned layout allows.

use crate::ids::{Address, ChainId, DeviceId, Nonce};
use crate::level::{LevelError, PrivacyLevel};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Length of the fixed part of a work proof.
pub const PROOF_FIXED_LEN: usize = 78;
/// Largest TEE evidence a proof may carry (64 KiB).
pub const MAX_EVIDENCE_LEN: usize = 64 * 1024;
/// Largest encoded work proof.
pub const MAX_PROOF_LEN: usize = PROOF_FIXED_LEN + MAX_EVIDENCE_LEN;
/// Domain-separation tag of the signed message.
pub const SIGNED_MESSAGE_TAG: &[u8; 12] = b"poai/work/v1";

/// Why bytes are not a work proof. Each variant names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ends inside a fixed field.
    #[error("work proof truncated in field `{field}`: need {needed} bytes, have {available}")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the input.
        available: usize,
    },
    /// privacy_level is outside 1..=4.
    #[error("field `privacy_level`: {0}")]
    PrivacyLevel(#[from] LevelError),
    /// The evidence is longer than 64 KiB.
    #[error("field `tee_evidence` is {len} bytes, the maximum is {max}")]
    EvidenceTooLarge {
        /// Length found.
        len: usize,
        /// Length allowed.
        max: usize,
    },
}

/// An LP-130 work proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkProof {
    /// The attested hardware identity.
    pub device_id: DeviceId,
    /// Unique per proof of a device.
    pub nonce: Nonce,
    /// Seconds since the Unix epoch when the work was done.
    pub timestamp: u64,
    /// The privacy level claimed (never above the tier the device's evidence proves).
    pub privacy_level: PrivacyLevel,
    /// Minutes of compute claimed (at most 60, checked where the proof is accepted).
    pub compute_minutes: u32,
    /// Optional TEE evidence envelope (at most 64 KiB), hex in JSON.
    #[serde(with = "hex_bytes", default, skip_serializing_if = "Vec::is_empty")]
    pub tee_evidence: Vec<u8>,
}

/// Splits `n` bytes off the front of `input`, naming `field` if it is too short.
fn take<'a>(input: &mut &'a [u8], n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
    match input.split_at_checked(n) {
        Some((head, tail)) => {
            *input = tail;
            Ok(head)
        }
        None => Err(DecodeError::Truncated {
            field,
            needed: n,
            available: input.len(),
        }),
    }
}

fn take_array<const N: usize>(
    input: &mut &[u8],
    field: &'static str,
) -> Result<[u8; N], DecodeError> {
    let head = take(input, N, field)?;
    // `take` returned exactly N bytes, so the conversion cannot fail; map it anyway rather than
    // unwrap, to keep this decoder free of panics.
    <[u8; N]>::try_from(head).map_err(|_| DecodeError::Truncated {
        field,
        needed: N,
        available: head.len(),
    })
}

impl WorkProof {
    /// Decodes a work proof: 78 fixed bytes, then evidence to the end of the input.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut input = bytes;
        let device_id = DeviceId(take_array::<32>(&mut input, "device_id")?);
        let nonce = Nonce(take_array::<32>(&mut input, "nonce")?);
        let timestamp = u64::from_be_bytes(take_array::<8>(&mut input, "timestamp")?);
        let level = u16::from_be_bytes(take_array::<2>(&mut input, "privacy_level")?);
        let privacy_level = PrivacyLevel::try_from(level)?;
        let compute_minutes = u32::from_be_bytes(take_array::<4>(&mut input, "compute_minutes")?);
        if input.len() > MAX_EVIDENCE_LEN {
            return Err(DecodeError::EvidenceTooLarge {
                len: input.len(),
                max: MAX_EVIDENCE_LEN,
            });
        }
        Ok(Self {
            device_id,
            nonce,
            timestamp,
            privacy_level,
            compute_minutes,
            tee_evidence: input.to_vec(),
        })
    }

    /// Encodes the proof. The caller keeps evidence within [`MAX_EVIDENCE_LEN`]; [`Self::validate`]
    /// checks it for values built in code rather than decoded.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.device_id.0);
        out.extend_from_slice(&self.nonce.0);
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.privacy_level.as_u16().to_be_bytes());
        out.extend_from_slice(&self.compute_minutes.to_be_bytes());
        out.extend_from_slice(&self.tee_evidence);
    }

    /// Length of the encoding.
    pub fn encoded_len(&self) -> usize {
        PROOF_FIXED_LEN.saturating_add(self.tee_evidence.len())
    }

    /// Checks the bounds that decoding enforces, for proofs built in code.
    pub fn validate(&self) -> Result<(), DecodeError> {
        if self.tee_evidence.len() > MAX_EVIDENCE_LEN {
            return Err(DecodeError::EvidenceTooLarge {
                len: self.tee_evidence.len(),
                max: MAX_EVIDENCE_LEN,
            });
        }
        Ok(())
    }
}

/// The message a miner signs for `proof_bytes` (an encoded [`WorkProof`]) to be minted on
/// `chain_id` and paid to `beneficiary` (SPEC section 2).
pub fn signed_message(chain_id: ChainId, beneficiary: &Address, proof_bytes: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(
        SIGNED_MESSAGE_TAG
            .len()
            .saturating_add(8 + 20)
            .saturating_add(proof_bytes.len()),
    );
    m.extend_from_slice(SIGNED_MESSAGE_TAG);
    m.extend_from_slice(&chain_id.to_be_bytes());
    m.extend_from_slice(&beneficiary.0);
    m.extend_from_slice(proof_bytes);
    m
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        crate::hexfmt::decode(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference_proof() -> WorkProof {
        let mut device = [0u8; 32];
        device[..3].copy_from_slice(&[1, 2, 3]);
        let mut nonce = [0u8; 32];
        nonce[..3].copy_from_slice(&[4, 5, 6]);
        WorkProof {
            device_id: DeviceId(device),
            nonce: Nonce(nonce),
            timestamp: 1_700_000_000,
            privacy_level: PrivacyLevel::Confidential,
            compute_minutes: 60,
            tee_evidence: Vec::new(),
        }
    }

    /// The reference vector of the foundation issue: the exact 78 bytes.
    #[test]
    fn reference_encoding() {
        let expected = format!(
            "010203{}040506{}000000006553f10000030000003c",
            "00".repeat(29),
            "00".repeat(29)
        );
        let bytes = reference_proof().encode();
        assert_eq!(bytes.len(), PROOF_FIXED_LEN);
        assert_eq!(hex::encode(&bytes), expected);
        assert_eq!(WorkProof::decode(&bytes).unwrap(), reference_proof());
    }

    #[test]
    fn named_errors() {
        let bytes = reference_proof().encode();
        let cases: [(usize, &str); 6] = [
            (0, "device_id"),
            (31, "device_id"),
            (32, "nonce"),
            (70, "timestamp"),
            (73, "privacy_level"),
            (77, "compute_minutes"),
        ];
        for (len, field) in cases {
            match WorkProof::decode(&bytes[..len]) {
                Err(DecodeError::Truncated { field: f, .. }) => assert_eq!(f, field, "len {len}"),
                other => panic!("len {len}: {other:?}"),
            }
        }
        let mut bad = bytes.clone();
        bad[73] = 5;
        assert_eq!(
            WorkProof::decode(&bad),
            Err(DecodeError::PrivacyLevel(LevelError(5)))
        );
        let mut big = bytes.clone();
        big.resize(PROOF_FIXED_LEN + MAX_EVIDENCE_LEN + 1, 0xee);
        assert!(matches!(
            WorkProof::decode(&big),
            Err(DecodeError::EvidenceTooLarge { len, .. }) if len == MAX_EVIDENCE_LEN + 1
        ));
        big.pop();
        assert_eq!(
            WorkProof::decode(&big).unwrap().tee_evidence.len(),
            MAX_EVIDENCE_LEN
        );
    }

    #[test]
    fn signed_message_layout() {
        let proof = reference_proof().encode();
        let beneficiary = Address([0xbb; 20]);
        let m = signed_message(ChainId::ZOO_EVM, &beneficiary, &proof);
        assert_eq!(&m[..12], b"poai/work/v1");
        assert_eq!(&m[12..20], &200200u64.to_be_bytes());
        assert_eq!(&m[20..40], &[0xbb; 20]);
        assert_eq!(&m[40..], &proof[..]);
    }

    #[test]
    fn json_round_trip() {
        let mut p = reference_proof();
        p.tee_evidence = vec![0xde, 0xad];
        let s = serde_json::to_string(&p).unwrap();
        assert!(s.contains("\"tee_evidence\":\"dead\""), "{s}");
        assert!(s.contains("\"privacy_level\":3"), "{s}");
        assert_eq!(serde_json::from_str::<WorkProof>(&s).unwrap(), p);
        let bad = s.replace("\"privacy_level\":3", "\"privacy_level\":9");
        assert!(serde_json::from_str::<WorkProof>(&bad).is_err());
    }

    fn arb_proof() -> impl Strategy<Value = WorkProof> {
        (
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            any::<u64>(),
            1u16..=4,
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..512),
        )
            .prop_map(|(d, n, t, l, m, e)| WorkProof {
                device_id: DeviceId(d),
                nonce: Nonce(n),
                timestamp: t,
                privacy_level: PrivacyLevel::try_from(l).unwrap(),
                compute_minutes: m,
                tee_evidence: e,
            })
    }

    proptest! {
        #[test]
        fn round_trip(p in arb_proof()) {
            let bytes = p.encode();
            prop_assert_eq!(bytes.len(), p.encoded_len());
            prop_assert_eq!(WorkProof::decode(&bytes).unwrap(), p);
        }

        #[test]
        fn decode_never_panics_and_re_encodes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            match WorkProof::decode(&bytes) {
                Ok(p) => prop_assert_eq!(p.encode(), bytes),
                Err(DecodeError::Truncated { needed, available, .. }) => prop_assert!(available < needed),
                Err(DecodeError::PrivacyLevel(LevelError(l))) => prop_assert!(!(1..=4).contains(&l)),
                Err(e @ DecodeError::EvidenceTooLarge { .. }) => prop_assert!(false, "{e}"),
            }
        }
    }
}
