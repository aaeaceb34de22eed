//! A-chain transactions (SPEC sections 2 and 6) and their canonical encoding.
//!
//! Two families:
//!
//! - **Account transactions** ([`SignedTx`]): a body (chain id, account nonce, fee, call) signed
//!   with the sender's ML-DSA key over `"poai/tx/v1" ‖ encode(body)`. The sender's address is
//!   derived from its public key, which the transaction carries. Calls: native transfer, AI
//!   transfer, device registration with TEE evidence.
//! - **Proof transactions** ([`ProofTx`]): an LP-130 work proof, its beneficiary and the miner's
//!   signature over `signed_message(chain_id, beneficiary, proof bytes)` (SPEC section 2), made
//!   with the key registered to the device. That signature is the transaction's only
//!   authorisation: a proof carries no account nonce and no fee, because the spent set makes it
//!   single-use and the per-device interval and per-miner block limit bound how many a miner can
//!   send (docs/DESIGN-chain.md, "Proof transactions").
//!
//! | tx tag | layout |
//! |---|---|
//! | 0x01 account | chain_id u64 ‖ nonce u64 ‖ fee u128 ‖ call ‖ param u8 ‖ public key ‖ signature |
//! | 0x02 proof | proof (u32 len ‖ bytes, ≤ 65,614) ‖ beneficiary 20 ‖ signature (u32 len ‖ bytes, ≤ 4627) |
//!
//! | call tag | fields |
//! |---|---|
//! | 0x01 transfer | to 20 ‖ amount u128 (native coin) |
//! | 0x02 transfer_ai | to 20 ‖ amount u128 (AI token) |
//! | 0x03 register_device | evidence (u32 len ‖ bytes, ≤ 64 KiB) |
//! | 0x10..=0x1c AI VM | see [`crate::ai::call`] |
//! | 0x20..=0x22 validators | see [`crate::validator`] |
//!
//! Public keys and account signatures have the fixed lengths of the parameter set, so they carry
//! no prefix.

use crate::codec::{CodecError, Reader, Writer, len_prefix};
use crate::hash::{Hash32, hash_tagged};
use poai_crypto::{MlDsaError, ParamSet, VerifyingKey};
use poai_primitives::{
    Address, ChainId, MAX_EVIDENCE_LEN, MAX_PROOF_LEN, WorkProof, signed_message,
};
use serde::{Deserialize, Serialize};

/// Domain tag of the account-transaction signing message.
pub const TX_SIGNING_TAG: &[u8] = b"poai/tx/v1";
/// Largest signature of any parameter set (ML-DSA-87).
pub const MAX_SIGNATURE_LEN: usize = 4627;
/// Largest encoded transaction (a proof with full evidence and the largest signature).
pub const MAX_TX_LEN: usize = 1 + 4 + MAX_PROOF_LEN + 20 + 4 + MAX_SIGNATURE_LEN;

/// The hash of a transaction: BLAKE3 of its encoding under the `poai/txid/v1` tag.
pub type TxHash = Hash32;

/// What an account transaction does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "call")]
pub enum Call {
    /// Moves native coin.
    Transfer {
        /// Recipient.
        to: Address,
        /// Amount in the smallest unit.
        #[serde(with = "crate::serde_u128")]
        amount: u128,
    },
    /// Moves AI tokens.
    TransferAi {
        /// Recipient.
        to: Address,
        /// Amount in wei.
        #[serde(with = "crate::serde_u128")]
        amount: u128,
    },
    /// Registers (or re-attests) a device: binds the sender's key to the device and tier that
    /// the evidence proves (SPEC section 5).
    RegisterDevice {
        /// A TEE evidence envelope, or dev evidence where genesis allows it.
        #[serde(with = "crate::serde_hex")]
        evidence: Vec<u8>,
    },
    /// An AI VM call (SPEC section 6; [`crate::ai`]).
    Ai(Box<crate::ai::AiCall>),
    /// A validator call: bond, add stake, unbond ([`crate::validator`]).
    Validator(crate::validator::ValidatorCall),
}

/// The signed part of an account transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxBody {
    /// The chain this transaction is for (replay protection across chains).
    pub chain_id: ChainId,
    /// The sender's account nonce (0 for its first transaction).
    pub nonce: u64,
    /// Fee in native coin, paid to the block's proposer.
    #[serde(with = "crate::serde_u128")]
    pub fee: u128,
    /// What to do.
    pub call: Call,
}

impl TxBody {
    fn encode_into(&self, w: &mut Writer) {
        w.u64(self.chain_id.0);
        w.u64(self.nonce);
        w.u128(self.fee);
        match &self.call {
            Call::Transfer { to, amount } => {
                w.u8(0x01);
                w.raw(&to.0);
                w.u128(*amount);
            }
            Call::TransferAi { to, amount } => {
                w.u8(0x02);
                w.raw(&to.0);
                w.u128(*amount);
            }
            Call::RegisterDevice { evidence } => {
                w.u8(0x03);
                w.bytes(evidence);
            }
            Call::Ai(c) => c.encode_into(w),
            Call::Validator(c) => c.encode_into(w),
        }
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let chain_id = ChainId(r.u64("chain_id")?);
        let nonce = r.u64("nonce")?;
        let fee = r.u128("fee")?;
        let call = match r.u8("call")? {
            0x01 => Call::Transfer {
                to: Address(r.array("to")?),
                amount: r.u128("amount")?,
            },
            0x02 => Call::TransferAi {
                to: Address(r.array("to")?),
                amount: r.u128("amount")?,
            },
            0x03 => Call::RegisterDevice {
                evidence: r.bytes(MAX_EVIDENCE_LEN, "evidence")?.to_vec(),
            },
            tag if crate::ai::call::AI_TAGS.contains(&tag) => {
                Call::Ai(Box::new(crate::ai::AiCall::decode_fields(tag, r)?))
            }
            tag if crate::validator::VALIDATOR_TAGS.contains(&tag) => {
                Call::Validator(crate::validator::ValidatorCall::decode_fields(tag, r)?)
            }
            tag => return Err(CodecError::UnknownTag { field: "call", tag }),
        };
        Ok(Self {
            chain_id,
            nonce,
            fee,
            call,
        })
    }

    /// The message the sender signs: `"poai/tx/v1" ‖ encode(body)`.
    pub fn signing_message(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(64);
        w.raw(TX_SIGNING_TAG);
        self.encode_into(&mut w);
        w.finish()
    }
}

/// An account transaction with its sender's public key and signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx {
    /// The signed body.
    pub body: TxBody,
    /// The sender's public key; the sender's address derives from it.
    pub public_key: VerifyingKey,
    /// ML-DSA signature over [`TxBody::signing_message`], empty context.
    pub signature: Vec<u8>,
}

impl SignedTx {
    /// Signs `body` with `key`.
    pub fn sign(body: TxBody, key: &poai_crypto::SigningKey) -> Result<Self, MlDsaError> {
        let signature = key.sign(&body.signing_message(), &[])?;
        Ok(Self {
            body,
            public_key: key.verifying_key().clone(),
            signature,
        })
    }

    /// The sender's address.
    pub fn sender(&self) -> Address {
        address_of(&self.public_key)
    }

    /// Whether the signature verifies. Malformed (wrong length) counts as invalid.
    pub fn verify(&self) -> bool {
        matches!(
            self.public_key
                .verify(&self.body.signing_message(), &[], &self.signature),
            Ok(true)
        )
    }
}

/// A work proof submitted for minting (SPEC section 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofTx {
    /// The work proof.
    pub proof: WorkProof,
    /// Who is paid; bound by the signature so it cannot be front-run.
    pub beneficiary: Address,
    /// The device key's signature over `signed_message(chain_id, beneficiary, proof bytes)`.
    pub signature: Vec<u8>,
}

impl ProofTx {
    /// Signs `proof` for `chain_id`, paying `beneficiary`.
    pub fn sign(
        proof: WorkProof,
        beneficiary: Address,
        chain_id: ChainId,
        key: &poai_crypto::SigningKey,
    ) -> Result<Self, MlDsaError> {
        let msg = signed_message(chain_id, &beneficiary, &proof.encode());
        let signature = key.sign(&msg, &[])?;
        Ok(Self {
            proof,
            beneficiary,
            signature,
        })
    }

    /// The message the signature must cover on `chain_id`.
    pub fn message(&self, chain_id: ChainId) -> Vec<u8> {
        signed_message(chain_id, &self.beneficiary, &self.proof.encode())
    }
}

/// A transaction of either family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transaction {
    /// An account transaction.
    Account(SignedTx),
    /// A work proof.
    Proof(ProofTx),
}

impl Transaction {
    /// The canonical encoding (see the module table).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(4096);
        self.encode_into(&mut w);
        w.finish()
    }

    /// Appends the canonical encoding.
    pub fn encode_into(&self, w: &mut Writer) {
        match self {
            Self::Account(tx) => {
                w.u8(0x01);
                tx.body.encode_into(w);
                w.u8(tx.public_key.param_set().id());
                w.raw(tx.public_key.as_bytes());
                w.raw(&tx.signature);
            }
            Self::Proof(p) => {
                w.u8(0x02);
                w.bytes(&p.proof.encode());
                w.raw(&p.beneficiary.0);
                w.bytes(&p.signature);
            }
        }
    }

    /// Decodes one transaction; the whole input must be used.
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.len() > MAX_TX_LEN {
            return Err(CodecError::TooLong {
                field: "transaction",
                len: bytes.len(),
                max: MAX_TX_LEN,
            });
        }
        let mut r = Reader::new(bytes);
        let tx = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(tx)
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        match r.u8("tx_type")? {
            0x01 => {
                let body = TxBody::decode_from(r)?;
                let param =
                    ParamSet::from_id(r.u8("param_set")?).map_err(|e| CodecError::Invalid {
                        field: "param_set",
                        reason: e.to_string(),
                    })?;
                let pk = r.take(param.public_key_len(), "public_key")?;
                let public_key =
                    VerifyingKey::from_bytes(param, pk).map_err(|e| CodecError::Invalid {
                        field: "public_key",
                        reason: e.to_string(),
                    })?;
                let signature = r.take(param.signature_len(), "signature")?.to_vec();
                Ok(Self::Account(SignedTx {
                    body,
                    public_key,
                    signature,
                }))
            }
            0x02 => {
                let proof_bytes = r.bytes(MAX_PROOF_LEN, "proof")?;
                let proof = WorkProof::decode(proof_bytes).map_err(|e| CodecError::Invalid {
                    field: "proof",
                    reason: e.to_string(),
                })?;
                let beneficiary = Address(r.array("beneficiary")?);
                let signature = r.bytes(MAX_SIGNATURE_LEN, "signature")?.to_vec();
                Ok(Self::Proof(ProofTx {
                    proof,
                    beneficiary,
                    signature,
                }))
            }
            tag => Err(CodecError::UnknownTag {
                field: "tx_type",
                tag,
            }),
        }
    }

    /// The transaction hash: BLAKE3 under `poai/txid/v1` of the encoding.
    pub fn hash(&self) -> TxHash {
        match self {
            // The encoding's pieces are hashed where they lie: a proof's signature (most of
            // its 3.4 KB) is not first copied into a fresh buffer, once per transaction per
            // validator.
            Self::Proof(p) => {
                let proof = p.proof.encode();
                hash_tagged(
                    b"poai/txid/v1",
                    &[
                        &[0x02],
                        &len_prefix(proof.len()),
                        &proof,
                        &p.beneficiary.0,
                        &len_prefix(p.signature.len()),
                        &p.signature,
                    ],
                )
            }
            Self::Account(_) => hash_tagged(b"poai/txid/v1", &[&self.encode()]),
        }
    }

    /// The length of [`Transaction::encode`], without building a proof's encoding.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Proof(p) => 1 + 4 + p.proof.encoded_len() + 20 + 4 + p.signature.len(),
            Self::Account(_) => self.encode().len(),
        }
    }
}

/// The address of an ML-DSA public key: the first 20 bytes of
/// BLAKE3(`"poai/address/v1"` ‖ param byte ‖ key).
pub fn address_of(key: &VerifyingKey) -> Address {
    let h = hash_tagged(
        b"poai/address/v1",
        &[&[key.param_set().id()], key.as_bytes()],
    );
    let mut a = [0u8; 20];
    for (dst, src) in a.iter_mut().zip(h.0.iter()) {
        *dst = *src;
    }
    Address(a)
}

/// Most transactions in one encoded batch ([`encode_batch`]).
pub const MAX_BATCH_TXS: usize = 4096;

/// Encodes a batch of transactions (validators gossip them this way):
///
/// | field | bytes |
/// |---|---|
/// | count `n`, 1 to [`MAX_BATCH_TXS`], big-endian | 4 |
/// | `n` × (length, big-endian u32 ‖ [`Transaction::encode`]) | each at most [`MAX_TX_LEN`] |
///
/// The caller keeps `txs` within 1 to [`MAX_BATCH_TXS`] entries.
pub fn encode_batch<'a>(txs: impl ExactSizeIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(u32::try_from(txs.len()).unwrap_or(u32::MAX));
    for t in txs {
        w.bytes(t);
    }
    w.finish()
}

/// Decodes a batch of [`encode_batch`]; refuses an empty or oversized count, any transaction
/// that does not decode and trailing bytes.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<Transaction>, CodecError> {
    let mut r = Reader::new(bytes);
    let n = usize::try_from(r.u32("batch_count")?).unwrap_or(usize::MAX);
    if n == 0 || n > MAX_BATCH_TXS {
        return Err(CodecError::Invalid {
            field: "batch_count",
            reason: format!("must be 1 to {MAX_BATCH_TXS}, not {n}"),
        });
    }
    // Each entry takes at least its 4-byte length, so `n` is also bounded by the input.
    let mut txs = Vec::with_capacity(n.min(r.remaining() / 4));
    for _ in 0..n {
        txs.push(Transaction::decode(r.bytes(MAX_TX_LEN, "batch_tx")?)?);
    }
    r.finish()?;
    Ok(txs)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use poai_crypto::SigningKey;
    use poai_primitives::{DeviceId, Nonce, PrivacyLevel};

    fn key() -> SigningKey {
        SigningKey::from_seed(ParamSet::MlDsa44, &[7u8; 32]).unwrap()
    }

    pub(crate) fn proof() -> WorkProof {
        WorkProof {
            device_id: DeviceId([1; 32]),
            nonce: Nonce([2; 32]),
            timestamp: 1_700_000_000,
            privacy_level: PrivacyLevel::Confidential,
            compute_minutes: 10,
            tee_evidence: vec![9, 9],
        }
    }

    /// A device registration's body.
    pub(crate) fn register_body() -> TxBody {
        TxBody {
            chain_id: ChainId(7),
            nonce: 3,
            fee: 11,
            call: Call::RegisterDevice {
                evidence: vec![1, 2, 3],
            },
        }
    }

    #[test]
    fn account_tx_round_trip_and_signature() {
        let body = register_body();
        let tx = SignedTx::sign(body, &key()).unwrap();
        assert!(tx.verify());
        let t = Transaction::Account(tx.clone());
        let bytes = t.encode();
        assert_eq!(Transaction::decode(&bytes).unwrap(), t);
        // Changing any signed field breaks the signature.
        let mut other = tx;
        other.body.nonce = 4;
        assert!(!other.verify());
        // Trailing bytes are refused.
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            Transaction::decode(&long),
            Err(CodecError::TrailingBytes(1))
        );
    }

    #[test]
    fn proof_tx_round_trip_and_hash() {
        let p = ProofTx::sign(proof(), Address([5; 20]), ChainId(9), &key()).unwrap();
        let t = Transaction::Proof(p.clone());
        let bytes = t.encode();
        assert_eq!(Transaction::decode(&bytes).unwrap(), t);
        assert!(
            key()
                .verifying_key()
                .verify(&p.message(ChainId(9)), &[], &p.signature)
                .unwrap()
        );
        assert!(
            !key()
                .verifying_key()
                .verify(&p.message(ChainId(10)), &[], &p.signature)
                .unwrap()
        );
        let mut p2 = p;
        p2.beneficiary = Address([6; 20]);
        assert_ne!(Transaction::Proof(p2).hash(), t.hash());
    }

    #[test]
    fn decode_errors_name_the_field() {
        let cases: [(&[u8], &str); 4] = [
            (&[], "tx_type"),
            (&[0x03], "tx_type"),
            (&[0x02, 0, 0, 0, 1, 0], "proof"),
            (&[0x01, 0, 0], "chain_id"),
        ];
        for (bytes, field) in cases {
            let err = Transaction::decode(bytes).unwrap_err();
            assert!(err.to_string().contains(field), "{bytes:?}: {err}");
        }
    }

    proptest::proptest! {
        /// The hash streamed from a proof's pieces and the length computed without encoding
        /// match the encoding, for any field values (evidence and signature of any length).
        #[test]
        fn proof_hash_and_length_follow_the_encoding(
            device in proptest::prelude::any::<[u8; 32]>(),
            timestamp in proptest::prelude::any::<u64>(),
            minutes in proptest::prelude::any::<u32>(),
            evidence in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000),
            beneficiary in proptest::prelude::any::<[u8; 20]>(),
            signature in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..5000),
        ) {
            let mut wp = proof();
            wp.device_id = DeviceId(device);
            wp.timestamp = timestamp;
            wp.compute_minutes = minutes;
            wp.tee_evidence = evidence;
            let t = Transaction::Proof(ProofTx { proof: wp, beneficiary: Address(beneficiary), signature });
            let bytes = t.encode();
            proptest::prop_assert_eq!(t.encoded_len(), bytes.len());
            proptest::prop_assert_eq!(t.hash(), hash_tagged(b"poai/txid/v1", &[&bytes]));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Ok(tx) = Transaction::decode(&bytes) {
                proptest::prop_assert_eq!(tx.encode(), bytes);
            }
        }
    }
}
