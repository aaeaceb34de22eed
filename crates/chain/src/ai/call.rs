//! AI VM calls (account transactions, call tags 0x10..=0x1c) and signed inference attestations,
//! with their bounded canonical encodings.
//!
//! | tag | call | fields |
//! |---|---|---|
//! | 0x10 | register_model | weights_id 32 ‖ weight_hash 32 ‖ name str ≤ 64 ‖ version u64 ‖ architecture str ≤ 32 ‖ param_count u64 ‖ licence str ≤ 64 ‖ tee_required u8 ‖ min_tier u16 ‖ tolerance ‖ previous opt32 |
//! | 0x11 | register_provider | device_id 32 ‖ gpu u8 ‖ stake u128 |
//! | 0x12 | add_stake | amount u128 |
//! | 0x13 | unbond | amount u128 |
//! | 0x14 | withdraw | |
//! | 0x15 | submit_attestation | attestation |
//! | 0x16 | submit_task | model_id 32 ‖ input_hash 32 ‖ workload u8 ‖ max_duration u64 ‖ asset u8 ‖ payment u128 |
//! | 0x17 | commit_result | task_id 32 ‖ commitment 32 |
//! | 0x18 | reveal_result | task_id 32 ‖ duration u64 ‖ salt 32 ‖ attestation |
//! | 0x19 | open_dispute | bond u128 ‖ attestation ‖ attestation |
//! | 0x1a | referee_result | dispute_id 32 ‖ attestation |
//! | 0x1b | transfer_credits | to 20 ‖ amount u128 |
//! | 0x1c | redeem_credits | amount u128 ‖ workload_id 32 |
//!
//! Strings are u32 length ‖ UTF-8; `tolerance` is 0x00 (exact) or 0x01 ‖ max_bits u16; `opt32`
//! is 0x00 or 0x01 ‖ 32 bytes.
//!
//! An **attestation** (LP-035) is model_id 32 ‖ input_hash 32 ‖ output_hash 32 ‖ fingerprint 32 ‖
//! provider 20 ‖ task_id 32 (zero if none) ‖ timestamp u64 ‖ tee_report (u32 len ≤ 16 KiB) ‖
//! signature (u32 len ≤ 4627). The provider signs, with the ML-DSA key bound to its device,
//! `"poai/attestation/v1" ‖ u64be(chain_id) ‖ model_id ‖ input_hash ‖ output_hash ‖ fingerprint ‖
//! provider ‖ task_id ‖ u64be(timestamp) ‖ BLAKE3(tee_report)` with an empty context; the
//! attestation id is `BLAKE3(tag "poai/attestation-id/v1" ‖ that message)`.

use super::types::{
    PaymentAsset, Tolerance, Workload, read_bool, read_opt_hash, read_str, read_tier,
    write_opt_hash, write_str,
};
use crate::codec::{CodecError, Reader, Writer};
use crate::hash::{Hash32, hash_tagged};
use crate::tx::MAX_SIGNATURE_LEN;
use poai_primitives::{Address, ChainId, DeviceId, PrivacyLevel};
use serde::{Deserialize, Serialize};

/// Longest model name.
pub const MAX_NAME_LEN: usize = 64;
/// Longest architecture string.
pub const MAX_ARCH_LEN: usize = 32;
/// Longest licence string.
pub const MAX_LICENCE_LEN: usize = 64;
/// Longest TEE report carried in an attestation.
pub const MAX_TEE_REPORT_LEN: usize = 16 * 1024;
/// Domain of the attestation signing message.
pub const ATTESTATION_TAG: &[u8] = b"poai/attestation/v1";

/// The signed fields of an inference attestation (LP-035).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationBody {
    /// The model.
    pub model_id: Hash32,
    /// Hash of the inference input.
    pub input_hash: Hash32,
    /// Hash of the output.
    pub output_hash: Hash32,
    /// 256-bit output fingerprint for tolerance models (zero for exact ones).
    pub fingerprint: Hash32,
    /// The provider (its address).
    pub provider: Address,
    /// The task it answers (zero when not for a task).
    pub task_id: Hash32,
    /// Unix seconds.
    pub timestamp: u64,
    /// TEE report (SGX/TDX/SNP/NVIDIA), optional; its hash is signed.
    #[serde(with = "crate::serde_hex")]
    pub tee_report: Vec<u8>,
}

impl AttestationBody {
    /// The message the provider signs on `chain_id` (see the module docs).
    pub fn signing_message(&self, chain_id: ChainId) -> Vec<u8> {
        let mut w = Writer::with_capacity(256);
        w.raw(ATTESTATION_TAG);
        w.u64(chain_id.0);
        w.raw(&self.model_id.0);
        w.raw(&self.input_hash.0);
        w.raw(&self.output_hash.0);
        w.raw(&self.fingerprint.0);
        w.raw(&self.provider.0);
        w.raw(&self.task_id.0);
        w.u64(self.timestamp);
        w.raw(blake3::hash(&self.tee_report).as_bytes());
        w.finish()
    }

    /// The attestation id on `chain_id`.
    pub fn id(&self, chain_id: ChainId) -> Hash32 {
        hash_tagged(
            b"poai/attestation-id/v1",
            &[&self.signing_message(chain_id)],
        )
    }

    /// Signs the body with `key`.
    pub fn sign(
        self,
        chain_id: ChainId,
        key: &poai_crypto::SigningKey,
    ) -> Result<SignedAttestation, poai_crypto::MlDsaError> {
        let signature = key.sign(&self.signing_message(chain_id), &[])?;
        Ok(SignedAttestation {
            body: self,
            signature,
        })
    }
}

/// An attestation with the provider's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAttestation {
    /// The signed fields.
    #[serde(flatten)]
    pub body: AttestationBody,
    /// ML-DSA signature over [`AttestationBody::signing_message`].
    #[serde(with = "crate::serde_hex")]
    pub signature: Vec<u8>,
}

impl SignedAttestation {
    /// Appends the encoding.
    pub fn encode_into(&self, w: &mut Writer) {
        let b = &self.body;
        w.raw(&b.model_id.0);
        w.raw(&b.input_hash.0);
        w.raw(&b.output_hash.0);
        w.raw(&b.fingerprint.0);
        w.raw(&b.provider.0);
        w.raw(&b.task_id.0);
        w.u64(b.timestamp);
        w.bytes(&b.tee_report);
        w.bytes(&self.signature);
    }

    /// Reads the encoding.
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Self {
            body: AttestationBody {
                model_id: Hash32(r.array("attestation.model_id")?),
                input_hash: Hash32(r.array("attestation.input_hash")?),
                output_hash: Hash32(r.array("attestation.output_hash")?),
                fingerprint: Hash32(r.array("attestation.fingerprint")?),
                provider: Address(r.array("attestation.provider")?),
                task_id: Hash32(r.array("attestation.task_id")?),
                timestamp: r.u64("attestation.timestamp")?,
                tee_report: r
                    .bytes(MAX_TEE_REPORT_LEN, "attestation.tee_report")?
                    .to_vec(),
            },
            signature: r
                .bytes(MAX_SIGNATURE_LEN, "attestation.signature")?
                .to_vec(),
        })
    }

    /// The encoding alone.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(3000);
        self.encode_into(&mut w);
        w.finish()
    }

    /// Decodes [`SignedAttestation::encode`]; the whole input must be used.
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let a = Self::decode_from(&mut r)?;
        r.finish()?;
        Ok(a)
    }
}

/// The commitment a provider publishes before revealing a task result:
/// `BLAKE3(tag "poai/task-commit/v1" ‖ task_id ‖ provider ‖ output_hash ‖ fingerprint ‖
/// u64be(duration) ‖ salt)`. The salt keeps another provider from guessing a short output.
pub fn result_commitment(
    task_id: &Hash32,
    provider: &Address,
    output_hash: &Hash32,
    fingerprint: &Hash32,
    duration: u64,
    salt: &[u8; 32],
) -> Hash32 {
    hash_tagged(
        b"poai/task-commit/v1",
        &[
            &task_id.0,
            &provider.0,
            &output_hash.0,
            &fingerprint.0,
            &duration.to_be_bytes(),
            salt,
        ],
    )
}

/// An AI VM call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "ai")]
// Calls are built once per transaction; boxing the attestation-carrying variants buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum AiCall {
    /// Registers a model, or a new version of one the sender owns (`previous`).
    RegisterModel {
        /// BLAKE3 of the weights.
        weights_id: Hash32,
        /// SHA-256 of the weights file.
        weight_hash: Hash32,
        /// Name.
        name: String,
        /// Version.
        version: u64,
        /// Architecture.
        architecture: String,
        /// Parameter count.
        param_count: u64,
        /// Licence.
        licence: String,
        /// Must run in a TEE.
        tee_required: bool,
        /// Lowest provider tier.
        min_tier: PrivacyLevel,
        /// Result tolerance.
        tolerance: Tolerance,
        /// The version this one replaces.
        previous: Option<Hash32>,
    },
    /// Becomes a provider with the sender's registered device, staking `stake`.
    RegisterProvider {
        /// The sender's device.
        device_id: DeviceId,
        /// Its GPU.
        gpu: super::types::GpuModel,
        /// Initial stake.
        #[serde(with = "crate::serde_u128")]
        stake: u128,
    },
    /// Adds stake.
    AddStake {
        /// Amount.
        #[serde(with = "crate::serde_u128")]
        amount: u128,
    },
    /// Starts unbonding stake.
    Unbond {
        /// Amount.
        #[serde(with = "crate::serde_u128")]
        amount: u128,
    },
    /// Withdraws unbonded stake whose period has passed.
    Withdraw,
    /// Records an inference attestation.
    SubmitAttestation {
        /// The attestation.
        attestation: SignedAttestation,
    },
    /// Submits a task with its payment.
    SubmitTask {
        /// The model.
        model_id: Hash32,
        /// Hash of the input.
        input_hash: Hash32,
        /// Workload type.
        workload: Workload,
        /// Most seconds credited per provider.
        max_duration: u64,
        /// Payment asset.
        asset: PaymentAsset,
        /// Payment.
        #[serde(with = "crate::serde_u128")]
        payment: u128,
    },
    /// Commits to a task result.
    CommitResult {
        /// The task.
        task_id: Hash32,
        /// [`result_commitment`].
        commitment: Hash32,
    },
    /// Reveals a committed task result as an attestation.
    RevealResult {
        /// The task.
        task_id: Hash32,
        /// Seconds of GPU time.
        duration: u64,
        /// The commitment's salt.
        #[serde(with = "crate::serde_hex32")]
        salt: [u8; 32],
        /// The result as an attestation.
        attestation: SignedAttestation,
    },
    /// Challenges two conflicting attestations.
    OpenDispute {
        /// Bond.
        #[serde(with = "crate::serde_u128")]
        bond: u128,
        /// One attestation.
        a: SignedAttestation,
        /// The other.
        b: SignedAttestation,
    },
    /// The drawn referee's re-run.
    RefereeResult {
        /// The dispute.
        dispute_id: Hash32,
        /// The referee's result.
        attestation: SignedAttestation,
    },
    /// Moves AIT.
    TransferCredits {
        /// Recipient.
        to: Address,
        /// Amount.
        #[serde(with = "crate::serde_u128")]
        amount: u128,
    },
    /// Burns AIT for compute (LP-092 `redeem`).
    RedeemCredits {
        /// Amount.
        #[serde(with = "crate::serde_u128")]
        amount: u128,
        /// The workload it pays for.
        workload_id: Hash32,
    },
}

/// First and last call tags of the AI VM.
pub const AI_TAGS: std::ops::RangeInclusive<u8> = 0x10..=0x1c;

impl AiCall {
    /// The call's name (snake case).
    pub fn name(&self) -> &'static str {
        match self {
            Self::RegisterModel { .. } => "register_model",
            Self::RegisterProvider { .. } => "register_provider",
            Self::AddStake { .. } => "add_stake",
            Self::Unbond { .. } => "unbond",
            Self::Withdraw => "withdraw",
            Self::SubmitAttestation { .. } => "submit_attestation",
            Self::SubmitTask { .. } => "submit_task",
            Self::CommitResult { .. } => "commit_result",
            Self::RevealResult { .. } => "reveal_result",
            Self::OpenDispute { .. } => "open_dispute",
            Self::RefereeResult { .. } => "referee_result",
            Self::TransferCredits { .. } => "transfer_credits",
            Self::RedeemCredits { .. } => "redeem_credits",
        }
    }

    /// Appends tag and fields.
    pub fn encode_into(&self, w: &mut Writer) {
        match self {
            Self::RegisterModel {
                weights_id,
                weight_hash,
                name,
                version,
                architecture,
                param_count,
                licence,
                tee_required,
                min_tier,
                tolerance,
                previous,
            } => {
                w.u8(0x10);
                w.raw(&weights_id.0);
                w.raw(&weight_hash.0);
                write_str(w, name);
                w.u64(*version);
                write_str(w, architecture);
                w.u64(*param_count);
                write_str(w, licence);
                w.u8(u8::from(*tee_required));
                w.u16(min_tier.as_u16());
                tolerance.encode_into(w);
                write_opt_hash(w, previous);
            }
            Self::RegisterProvider {
                device_id,
                gpu,
                stake,
            } => {
                w.u8(0x11);
                w.raw(&device_id.0);
                w.u8(gpu.as_u8());
                w.u128(*stake);
            }
            Self::AddStake { amount } => {
                w.u8(0x12);
                w.u128(*amount);
            }
            Self::Unbond { amount } => {
                w.u8(0x13);
                w.u128(*amount);
            }
            Self::Withdraw => w.u8(0x14),
            Self::SubmitAttestation { attestation } => {
                w.u8(0x15);
                attestation.encode_into(w);
            }
            Self::SubmitTask {
                model_id,
                input_hash,
                workload,
                max_duration,
                asset,
                payment,
            } => {
                w.u8(0x16);
                w.raw(&model_id.0);
                w.raw(&input_hash.0);
                w.u8(workload.as_u8());
                w.u64(*max_duration);
                w.u8(*asset as u8);
                w.u128(*payment);
            }
            Self::CommitResult {
                task_id,
                commitment,
            } => {
                w.u8(0x17);
                w.raw(&task_id.0);
                w.raw(&commitment.0);
            }
            Self::RevealResult {
                task_id,
                duration,
                salt,
                attestation,
            } => {
                w.u8(0x18);
                w.raw(&task_id.0);
                w.u64(*duration);
                w.raw(salt);
                attestation.encode_into(w);
            }
            Self::OpenDispute { bond, a, b } => {
                w.u8(0x19);
                w.u128(*bond);
                a.encode_into(w);
                b.encode_into(w);
            }
            Self::RefereeResult {
                dispute_id,
                attestation,
            } => {
                w.u8(0x1a);
                w.raw(&dispute_id.0);
                attestation.encode_into(w);
            }
            Self::TransferCredits { to, amount } => {
                w.u8(0x1b);
                w.raw(&to.0);
                w.u128(*amount);
            }
            Self::RedeemCredits {
                amount,
                workload_id,
            } => {
                w.u8(0x1c);
                w.u128(*amount);
                w.raw(&workload_id.0);
            }
        }
    }

    /// Reads the fields of call `tag` (already read by the caller).
    pub fn decode_fields(tag: u8, r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(match tag {
            0x10 => Self::RegisterModel {
                weights_id: Hash32(r.array("weights_id")?),
                weight_hash: Hash32(r.array("weight_hash")?),
                name: read_str(r, MAX_NAME_LEN, "name")?,
                version: r.u64("version")?,
                architecture: read_str(r, MAX_ARCH_LEN, "architecture")?,
                param_count: r.u64("param_count")?,
                licence: read_str(r, MAX_LICENCE_LEN, "licence")?,
                tee_required: read_bool(r, "tee_required")?,
                min_tier: read_tier(r, "min_tier")?,
                tolerance: Tolerance::decode_from(r)?,
                previous: read_opt_hash(r, "previous")?,
            },
            0x11 => {
                let device_id = DeviceId(r.array("device_id")?);
                let g = r.u8("gpu")?;
                Self::RegisterProvider {
                    device_id,
                    gpu: super::types::GpuModel::from_u8(g).ok_or(CodecError::UnknownTag {
                        field: "gpu",
                        tag: g,
                    })?,
                    stake: r.u128("stake")?,
                }
            }
            0x12 => Self::AddStake {
                amount: r.u128("amount")?,
            },
            0x13 => Self::Unbond {
                amount: r.u128("amount")?,
            },
            0x14 => Self::Withdraw,
            0x15 => Self::SubmitAttestation {
                attestation: SignedAttestation::decode_from(r)?,
            },
            0x16 => {
                let model_id = Hash32(r.array("model_id")?);
                let input_hash = Hash32(r.array("input_hash")?);
                let wl = r.u8("workload")?;
                let workload = Workload::from_u8(wl).ok_or(CodecError::UnknownTag {
                    field: "workload",
                    tag: wl,
                })?;
                let max_duration = r.u64("max_duration")?;
                let a = r.u8("asset")?;
                Self::SubmitTask {
                    model_id,
                    input_hash,
                    workload,
                    max_duration,
                    asset: PaymentAsset::from_u8(a).ok_or(CodecError::UnknownTag {
                        field: "asset",
                        tag: a,
                    })?,
                    payment: r.u128("payment")?,
                }
            }
            0x17 => Self::CommitResult {
                task_id: Hash32(r.array("task_id")?),
                commitment: Hash32(r.array("commitment")?),
            },
            0x18 => Self::RevealResult {
                task_id: Hash32(r.array("task_id")?),
                duration: r.u64("duration")?,
                salt: r.array("salt")?,
                attestation: SignedAttestation::decode_from(r)?,
            },
            0x19 => Self::OpenDispute {
                bond: r.u128("bond")?,
                a: SignedAttestation::decode_from(r)?,
                b: SignedAttestation::decode_from(r)?,
            },
            0x1a => Self::RefereeResult {
                dispute_id: Hash32(r.array("dispute_id")?),
                attestation: SignedAttestation::decode_from(r)?,
            },
            0x1b => Self::TransferCredits {
                to: Address(r.array("to")?),
                amount: r.u128("amount")?,
            },
            0x1c => Self::RedeemCredits {
                amount: r.u128("amount")?,
                workload_id: Hash32(r.array("workload_id")?),
            },
            tag => return Err(CodecError::UnknownTag { field: "call", tag }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::types::GpuModel;
    use proptest::prelude::*;

    pub(crate) fn att(seed: u8) -> SignedAttestation {
        SignedAttestation {
            body: AttestationBody {
                model_id: Hash32([seed; 32]),
                input_hash: Hash32([2; 32]),
                output_hash: Hash32([3; 32]),
                fingerprint: Hash32([4; 32]),
                provider: Address([5; 20]),
                task_id: Hash32([6; 32]),
                timestamp: 7,
                tee_report: vec![8; 3],
            },
            signature: vec![9; 5],
        }
    }

    fn samples() -> Vec<AiCall> {
        vec![
            AiCall::RegisterModel {
                weights_id: Hash32([1; 32]),
                weight_hash: Hash32([2; 32]),
                name: "llama".into(),
                version: 3,
                architecture: "transformer".into(),
                param_count: 8_000_000_000,
                licence: "Apache-2.0".into(),
                tee_required: true,
                min_tier: PrivacyLevel::Confidential,
                tolerance: Tolerance::Hamming { max_bits: 12 },
                previous: Some(Hash32([4; 32])),
            },
            AiCall::RegisterProvider {
                device_id: DeviceId([1; 32]),
                gpu: GpuModel::H200,
                stake: 5,
            },
            AiCall::AddStake { amount: 1 },
            AiCall::Unbond { amount: 2 },
            AiCall::Withdraw,
            AiCall::SubmitAttestation {
                attestation: att(1),
            },
            AiCall::SubmitTask {
                model_id: Hash32([1; 32]),
                input_hash: Hash32([2; 32]),
                workload: Workload::FineTune,
                max_duration: 900,
                asset: PaymentAsset::Ait,
                payment: 10,
            },
            AiCall::CommitResult {
                task_id: Hash32([1; 32]),
                commitment: Hash32([2; 32]),
            },
            AiCall::RevealResult {
                task_id: Hash32([1; 32]),
                duration: 60,
                salt: [3; 32],
                attestation: att(2),
            },
            AiCall::OpenDispute {
                bond: 100,
                a: att(3),
                b: att(4),
            },
            AiCall::RefereeResult {
                dispute_id: Hash32([1; 32]),
                attestation: att(5),
            },
            AiCall::TransferCredits {
                to: Address([1; 20]),
                amount: 3,
            },
            AiCall::RedeemCredits {
                amount: 3,
                workload_id: Hash32([7; 32]),
            },
        ]
    }

    fn round(c: &AiCall) -> Result<AiCall, CodecError> {
        let mut w = Writer::new();
        c.encode_into(&mut w);
        let bytes = w.finish();
        let mut r = Reader::new(&bytes);
        let tag = r.u8("call")?;
        let d = AiCall::decode_fields(tag, &mut r)?;
        r.finish()?;
        Ok(d)
    }

    #[test]
    fn every_call_round_trips_with_its_tag() {
        let mut tags = Vec::new();
        for c in samples() {
            assert_eq!(round(&c).unwrap(), c, "{}", c.name());
            let mut w = Writer::new();
            c.encode_into(&mut w);
            tags.push(w.finish()[0]);
            // JSON form round-trips too (the CLI reads it).
            let j = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<AiCall>(&j).unwrap(), c, "{j}");
        }
        assert_eq!(tags, AI_TAGS.collect::<Vec<_>>());
    }

    #[test]
    fn bounds_and_errors_name_the_field() {
        let mut w = Writer::new();
        w.u8(0x10);
        w.raw(&[0; 64]);
        w.bytes(&[b'x'; MAX_NAME_LEN + 1]);
        let bytes = w.finish();
        let mut r = Reader::new(&bytes[1..]);
        let e = AiCall::decode_fields(0x10, &mut r).unwrap_err();
        assert!(
            matches!(e, CodecError::TooLong { field: "name", .. }),
            "{e}"
        );

        let mut a = att(1);
        a.body.tee_report = vec![0; MAX_TEE_REPORT_LEN + 1];
        let e = SignedAttestation::decode(&a.encode()).unwrap_err();
        assert!(e.to_string().contains("tee_report"), "{e}");
        let e = SignedAttestation::decode(&att(1).encode()[..40]).unwrap_err();
        assert!(e.to_string().contains("input_hash"), "{e}");
    }

    #[test]
    fn attestation_id_and_message_cover_every_field() {
        let base = att(1).body;
        let c = ChainId(5);
        let id = base.id(c);
        assert_ne!(base.id(ChainId(6)), id);
        let mut variants = Vec::new();
        for i in 0..8 {
            let mut b = base.clone();
            match i {
                0 => b.model_id = Hash32([9; 32]),
                1 => b.input_hash = Hash32([9; 32]),
                2 => b.output_hash = Hash32([9; 32]),
                3 => b.fingerprint = Hash32([9; 32]),
                4 => b.provider = Address([9; 20]),
                5 => b.task_id = Hash32([9; 32]),
                6 => b.timestamp = 99,
                _ => b.tee_report = vec![1],
            }
            variants.push(b.id(c));
        }
        for v in variants {
            assert_ne!(v, id);
        }
    }

    proptest! {
        #[test]
        fn call_decode_never_panics(tag in 0x10u8..=0x1d, bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut r = Reader::new(&bytes);
            if let Ok(c) = AiCall::decode_fields(tag, &mut r)
                && r.finish().is_ok()
            {
                let mut w = Writer::new();
                c.encode_into(&mut w);
                let enc = w.finish();
                prop_assert_eq!(enc.first().copied(), Some(tag));
                prop_assert_eq!(enc.get(1..).unwrap_or_default(), &bytes[..]);
            }
        }
    }
}
