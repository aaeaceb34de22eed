//! AI VM records, parameters and tables of numbers (SPEC section 6, LP-035, LP-092), with their
//! canonical encodings.

use super::call::{MAX_ARCH_LEN, MAX_LICENCE_LEN, MAX_NAME_LEN};
use super::table::{Record, TableKey};
use crate::codec::{CodecError, Reader, Writer};
use crate::hash::Hash32;
use poai_primitives::{Address, DeviceId, PrivacyLevel};
use serde::{Deserialize, Serialize};
use std::fmt;

pub(crate) fn decode_u128(bytes: &[u8]) -> Result<u128, CodecError> {
    let mut r = Reader::new(bytes);
    let v = r.u128("amount")?;
    r.finish()?;
    Ok(v)
}

pub(crate) fn write_str(w: &mut Writer, s: &str) {
    w.bytes(s.as_bytes());
}

pub(crate) fn read_str(
    r: &mut Reader<'_>,
    max: usize,
    field: &'static str,
) -> Result<String, CodecError> {
    let b = r.bytes(max, field)?;
    String::from_utf8(b.to_vec()).map_err(|_| CodecError::Invalid {
        field,
        reason: "not UTF-8".into(),
    })
}

pub(crate) fn read_bool(r: &mut Reader<'_>, field: &'static str) -> Result<bool, CodecError> {
    match r.u8(field)? {
        0 => Ok(false),
        1 => Ok(true),
        tag => Err(CodecError::UnknownTag { field, tag }),
    }
}

pub(crate) fn read_tier(
    r: &mut Reader<'_>,
    field: &'static str,
) -> Result<PrivacyLevel, CodecError> {
    PrivacyLevel::try_from(r.u16(field)?).map_err(|e| CodecError::Invalid {
        field,
        reason: e.to_string(),
    })
}

pub(crate) fn write_opt_hash(w: &mut Writer, h: &Option<Hash32>) {
    match h {
        None => w.u8(0),
        Some(h) => {
            w.u8(1);
            w.raw(&h.0);
        }
    }
}

pub(crate) fn read_opt_hash(
    r: &mut Reader<'_>,
    field: &'static str,
) -> Result<Option<Hash32>, CodecError> {
    match r.u8(field)? {
        0 => Ok(None),
        1 => Ok(Some(Hash32(r.array(field)?))),
        tag => Err(CodecError::UnknownTag { field, tag }),
    }
}

fn write_opt_addr(w: &mut Writer, a: &Option<Address>) {
    match a {
        None => w.u8(0),
        Some(a) => {
            w.u8(1);
            w.raw(&a.0);
        }
    }
}

fn read_opt_addr(r: &mut Reader<'_>, field: &'static str) -> Result<Option<Address>, CodecError> {
    match r.u8(field)? {
        0 => Ok(None),
        1 => Ok(Some(Address(r.array(field)?))),
        tag => Err(CodecError::UnknownTag { field, tag }),
    }
}

fn write_addrs(w: &mut Writer, v: &[Address]) {
    w.u8(u8::try_from(v.len()).unwrap_or(u8::MAX));
    for a in v {
        w.raw(&a.0);
    }
}

fn read_addrs(
    r: &mut Reader<'_>,
    max: usize,
    field: &'static str,
) -> Result<Vec<Address>, CodecError> {
    let n = usize::from(r.u8(field)?);
    if n > max {
        return Err(CodecError::TooLong { field, len: n, max });
    }
    (0..n).map(|_| Ok(Address(r.array(field)?))).collect()
}

/// GPU models and their compute units per hour (LP-092's table, extended; the sources of the
/// added figures are in docs/DESIGN-aivm.md, "Compute units").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GpuModel {
    /// NVIDIA H100 (LP-092: 1000).
    H100 = 1,
    /// NVIDIA A100 (LP-092: 600).
    A100 = 2,
    /// NVIDIA L40S (LP-092: 400).
    L40s = 3,
    /// AMD MI300X (LP-092: 800).
    Mi300x = 4,
    /// NVIDIA H200 (this project: 1400).
    H200 = 5,
    /// NVIDIA B200 (this project: 2200).
    B200 = 6,
    /// NVIDIA GeForce RTX 4090 (this project: 350).
    Rtx4090 = 7,
    /// NVIDIA GeForce RTX 3090 (this project: 200).
    Rtx3090 = 8,
    /// NVIDIA GeForce RTX 5090 (this project: 500).
    Rtx5090 = 9,
}

impl GpuModel {
    /// Every model.
    pub const ALL: [Self; 9] = [
        Self::H100,
        Self::A100,
        Self::L40s,
        Self::Mi300x,
        Self::H200,
        Self::B200,
        Self::Rtx4090,
        Self::Rtx3090,
        Self::Rtx5090,
    ];

    /// Compute units per hour of this GPU.
    pub const fn units_per_hour(self) -> u64 {
        match self {
            Self::H100 => 1_000,
            Self::A100 => 600,
            Self::L40s => 400,
            Self::Mi300x => 800,
            Self::H200 => 1_400,
            Self::B200 => 2_200,
            Self::Rtx4090 => 350,
            Self::Rtx3090 => 200,
            Self::Rtx5090 => 500,
        }
    }

    /// The lowest device tier at which a claim to be this GPU is accepted: the tier whose
    /// evidence proves the hardware (LP-092: "a CPU cannot impersonate an H100"). GPUs with
    /// confidential computing need a Confidential device; data-centre GPUs without it need at
    /// least Private; consumer GPUs may be Public (stake-backed).
    pub const fn min_tier(self) -> PrivacyLevel {
        match self {
            Self::H100 | Self::H200 | Self::B200 => PrivacyLevel::Confidential,
            Self::A100 | Self::L40s | Self::Mi300x => PrivacyLevel::Private,
            Self::Rtx4090 | Self::Rtx3090 | Self::Rtx5090 => PrivacyLevel::Public,
        }
    }

    /// The wire byte.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Parses the wire byte.
    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_u8() == v)
    }

    /// The lowercase name (as in JSON and the CLI).
    pub fn name(self) -> &'static str {
        match self {
            Self::H100 => "h100",
            Self::A100 => "a100",
            Self::L40s => "l40s",
            Self::Mi300x => "mi300x",
            Self::H200 => "h200",
            Self::B200 => "b200",
            Self::Rtx4090 => "rtx4090",
            Self::Rtx3090 => "rtx3090",
            Self::Rtx5090 => "rtx5090",
        }
    }

    /// Parses [`GpuModel::name`].
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        Self::ALL.into_iter().find(|g| g.name() == s)
    }
}

impl fmt::Display for GpuModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Workload types and their duration bounds (LP-092: "duration is within expected bounds for
/// the workload type").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// One inference request: 1 s to 15 min.
    Inference = 1,
    /// A batch of inference requests: 1 min to 4 h.
    BatchInference = 2,
    /// Fine-tuning: 10 min to 24 h.
    FineTune = 3,
    /// Training: 1 h to 72 h.
    Training = 4,
}

impl Workload {
    /// Every workload type.
    pub const ALL: [Self; 4] = [
        Self::Inference,
        Self::BatchInference,
        Self::FineTune,
        Self::Training,
    ];

    /// (least, most) seconds of GPU time a result may claim.
    pub const fn bounds(self) -> (u64, u64) {
        match self {
            Self::Inference => (1, 900),
            Self::BatchInference => (60, 14_400),
            Self::FineTune => (600, 86_400),
            Self::Training => (3_600, 259_200),
        }
    }

    /// The wire byte.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Parses the wire byte.
    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_u8() == v)
    }

    /// The snake-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Inference => "inference",
            Self::BatchInference => "batch_inference",
            Self::FineTune => "fine_tune",
            Self::Training => "training",
        }
    }

    /// Parses [`Workload::name`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.name() == s)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How close two results of a model must be to count as the same (LP-035, "Non-deterministic
/// inference: tolerance thresholds are configurable per model").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Tolerance {
    /// The output hashes must be equal.
    Exact,
    /// Equal output hashes, or 256-bit output fingerprints (a locality-sensitive hash of the
    /// output, e.g. SimHash of logits or embeddings, computed by the model's runner) that differ
    /// in at most `max_bits` bits.
    Hamming {
        /// Largest Hamming distance that still agrees (0..=256).
        max_bits: u16,
    },
}

impl Tolerance {
    /// Largest `max_bits`.
    pub const MAX_BITS: u16 = 256;

    /// Whether two results agree under this tolerance.
    pub fn agree(&self, a_out: &Hash32, a_fp: &Hash32, b_out: &Hash32, b_fp: &Hash32) -> bool {
        if a_out == b_out {
            return true;
        }
        match self {
            Self::Exact => false,
            Self::Hamming { max_bits } => hamming(a_fp, b_fp) <= u32::from(*max_bits),
        }
    }

    pub(crate) fn encode_into(&self, w: &mut Writer) {
        match self {
            Self::Exact => w.u8(0),
            Self::Hamming { max_bits } => {
                w.u8(1);
                w.u16(*max_bits);
            }
        }
    }

    pub(crate) fn decode_from(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        match r.u8("tolerance")? {
            0 => Ok(Self::Exact),
            1 => Ok(Self::Hamming {
                max_bits: r.u16("tolerance.max_bits")?,
            }),
            tag => Err(CodecError::UnknownTag {
                field: "tolerance",
                tag,
            }),
        }
    }
}

/// Bits that differ between two fingerprints.
pub fn hamming(a: &Hash32, b: &Hash32) -> u32 {
    a.0.iter()
        .zip(b.0.iter())
        .map(|(x, y)| (x ^ y).count_ones())
        .sum()
}

/// What a task's payment is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentAsset {
    /// Native coin, escrowed and paid to the agreeing providers.
    Native = 0,
    /// AIT, escrowed and burned on settlement (LP-092 redemption: 1 AIT buys 1 compute unit).
    Ait = 1,
}

impl PaymentAsset {
    /// Parses the wire byte.
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::Native),
            1 => Some(Self::Ait),
            _ => None,
        }
    }
}

/// AI VM parameters, fixed in the genesis (field `ai`). Amounts in the smallest unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AiParams {
    /// Least active stake of a Public-tier provider (stake stands in for hardware assurance, so
    /// the lowest tier needs the most).
    #[serde(with = "crate::serde_u128")]
    pub min_stake_public: u128,
    /// Least active stake of a Private-tier provider.
    #[serde(with = "crate::serde_u128")]
    pub min_stake_private: u128,
    /// Least active stake of a Confidential-tier provider.
    #[serde(with = "crate::serde_u128")]
    pub min_stake_confidential: u128,
    /// Least active stake of a Sovereign-tier provider.
    #[serde(with = "crate::serde_u128")]
    pub min_stake_sovereign: u128,
    /// How long a device's attestation stays valid, per tier (Public, Private, Confidential,
    /// Sovereign), seconds from its (re-)registration.
    pub attestation_validity_secs: [u64; 4],
    /// Unbonding period: stake leaves this long after `unbond`.
    pub unbonding_secs: u64,
    /// A task not assigned this long after submission is cancelled and refunded.
    pub assign_timeout_secs: u64,
    /// Commit deadline = assignment + the task's max duration + this.
    pub commit_grace_secs: u64,
    /// Reveal window, from the end of the commit phase.
    pub reveal_secs: u64,
    /// A referee's time to report, per round.
    pub referee_secs: u64,
    /// Referee rounds (a referee who misses its deadline is replaced) before a dispute expires.
    pub max_referee_rounds: u8,
    /// Oldest attestation (seconds before the block) that may be disputed.
    pub dispute_window_secs: u64,
    /// Least bond of a dispute.
    #[serde(with = "crate::serde_u128")]
    pub min_dispute_bond: u128,
    /// Share of the minority provider's stake slashed, basis points.
    pub slash_bps: u32,
    /// Share of a slash paid to the challenger, basis points.
    pub challenger_bps: u32,
    /// Share of a slash paid to the referee, basis points (the rest is burned).
    pub referee_bps: u32,
    /// Share of a referee's stake burned when it misses its deadline, basis points.
    pub liveness_slash_bps: u32,
}

const COIN: u128 = super::UNIT;

impl Default for AiParams {
    fn default() -> Self {
        Self {
            min_stake_public: 10_000 * COIN,
            min_stake_private: 5_000 * COIN,
            min_stake_confidential: 2_500 * COIN,
            min_stake_sovereign: 2_500 * COIN,
            attestation_validity_secs: [7 * 86_400, 86_400, 86_400, 86_400],
            unbonding_secs: 14 * 86_400,
            assign_timeout_secs: 600,
            commit_grace_secs: 300,
            reveal_secs: 600,
            referee_secs: 3_600,
            max_referee_rounds: 2,
            dispute_window_secs: 7 * 86_400,
            min_dispute_bond: 100 * COIN,
            slash_bps: 5_000,
            challenger_bps: 4_000,
            referee_bps: 1_000,
            liveness_slash_bps: 100,
        }
    }
}

impl AiParams {
    /// Least active stake for `tier`.
    pub fn min_stake(&self, tier: PrivacyLevel) -> u128 {
        match tier {
            PrivacyLevel::Public => self.min_stake_public,
            PrivacyLevel::Private => self.min_stake_private,
            PrivacyLevel::Confidential => self.min_stake_confidential,
            PrivacyLevel::Sovereign => self.min_stake_sovereign,
        }
    }

    /// Attestation validity of `tier`.
    pub fn validity(&self, tier: PrivacyLevel) -> u64 {
        let i = usize::from(tier.as_u16().saturating_sub(1));
        self.attestation_validity_secs.get(i).copied().unwrap_or(0)
    }

    /// Checks the parameters; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("slash_bps", self.slash_bps),
            ("challenger_bps", self.challenger_bps),
            ("referee_bps", self.referee_bps),
            ("liveness_slash_bps", self.liveness_slash_bps),
        ] {
            if v > 10_000 {
                return Err(format!("genesis field `ai.{name}` is {v}, at most 10000"));
            }
        }
        if self.challenger_bps.saturating_add(self.referee_bps) > 10_000 {
            return Err(
                "genesis fields `ai.challenger_bps` + `ai.referee_bps` exceed 10000".into(),
            );
        }
        if self.unbonding_secs <= self.dispute_window_secs {
            return Err(format!(
                "genesis field `ai.unbonding_secs` ({}) must exceed `ai.dispute_window_secs` ({}), \
                 so that stake behind a disputable attestation is still there",
                self.unbonding_secs, self.dispute_window_secs
            ));
        }
        for (name, v) in [
            ("assign_timeout_secs", self.assign_timeout_secs),
            ("reveal_secs", self.reveal_secs),
            ("referee_secs", self.referee_secs),
        ] {
            if v == 0 {
                return Err(format!("genesis field `ai.{name}` must be at least 1"));
            }
        }
        if self.max_referee_rounds == 0 {
            return Err("genesis field `ai.max_referee_rounds` must be at least 1".into());
        }
        if self.attestation_validity_secs.contains(&0) {
            return Err("genesis field `ai.attestation_validity_secs` has a 0".into());
        }
        Ok(())
    }
}

/// A registered model (LP-035's record, plus tolerance and version links).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    /// Who registered it; only the owner registers its next version.
    pub owner: Address,
    /// Name, 1..=64 bytes of printable UTF-8.
    pub name: String,
    /// Version; each new version is greater than its predecessor's.
    pub version: u64,
    /// BLAKE3 of the weights (the model id derives from it and the owner).
    pub weights_id: Hash32,
    /// SHA-256 of the weights file (LP-035 `weightHash`).
    pub weight_hash: Hash32,
    /// e.g. "transformer".
    pub architecture: String,
    /// Parameter count.
    pub param_count: u64,
    /// e.g. "Apache-2.0".
    pub licence: String,
    /// Must run in a TEE (LP-035 `teeRequired`).
    pub tee_required: bool,
    /// Lowest provider tier that may run it (Public unless `tee_required`).
    pub min_tier: PrivacyLevel,
    /// How close results must be.
    pub tolerance: Tolerance,
    /// The version this one replaces.
    pub previous: Option<Hash32>,
    /// The version that replaced this one.
    pub superseded_by: Option<Hash32>,
    /// Block time of registration.
    pub registered_at: u64,
}

impl Model {
    /// The lowest provider tier this model may be assigned to: its `min_tier` when it requires a
    /// TEE, otherwise any tier.
    pub fn required_tier(&self) -> PrivacyLevel {
        if self.tee_required {
            self.min_tier
        } else {
            PrivacyLevel::Public
        }
    }
}

impl Record for Model {
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(256);
        w.raw(&self.owner.0);
        write_str(&mut w, &self.name);
        w.u64(self.version);
        w.raw(&self.weights_id.0);
        w.raw(&self.weight_hash.0);
        write_str(&mut w, &self.architecture);
        w.u64(self.param_count);
        write_str(&mut w, &self.licence);
        w.u8(u8::from(self.tee_required));
        w.u16(self.min_tier.as_u16());
        self.tolerance.encode_into(&mut w);
        write_opt_hash(&mut w, &self.previous);
        write_opt_hash(&mut w, &self.superseded_by);
        w.u64(self.registered_at);
        w.finish()
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let m = Self {
            owner: Address(r.array("owner")?),
            name: read_str(&mut r, MAX_NAME_LEN, "name")?,
            version: r.u64("version")?,
            weights_id: Hash32(r.array("weights_id")?),
            weight_hash: Hash32(r.array("weight_hash")?),
            architecture: read_str(&mut r, MAX_ARCH_LEN, "architecture")?,
            param_count: r.u64("param_count")?,
            licence: read_str(&mut r, MAX_LICENCE_LEN, "licence")?,
            tee_required: read_bool(&mut r, "tee_required")?,
            min_tier: read_tier(&mut r, "min_tier")?,
            tolerance: Tolerance::decode_from(&mut r)?,
            previous: read_opt_hash(&mut r, "previous")?,
            superseded_by: read_opt_hash(&mut r, "superseded_by")?,
            registered_at: r.u64("registered_at")?,
        };
        r.finish()?;
        Ok(m)
    }
}

/// A staked compute provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// The device its key is bound to (by `RegisterDevice` with TEE evidence).
    pub device_id: DeviceId,
    /// The GPU it declared.
    pub gpu: GpuModel,
    /// Active stake (native coin).
    #[serde(with = "crate::serde_u128")]
    pub stake: u128,
    /// Stake leaving, still slashable until withdrawn.
    #[serde(with = "crate::serde_u128")]
    pub unbonding: u128,
    /// When `unbonding` may be withdrawn.
    pub release_at: u64,
    /// Block time of registration.
    pub registered_at: u64,
    /// Slashed by a dispute: never assigned again.
    pub jailed: bool,
    /// Open disputes naming this provider (its stake cannot leave meanwhile).
    pub open_disputes: u32,
    /// Tasks in which it was among the agreeing providers.
    pub tasks_settled: u64,
    /// Commits or reveals (or referee reports) it missed.
    pub missed: u64,
    /// Total slashed.
    #[serde(with = "crate::serde_u128")]
    pub slashed: u128,
    /// Total AIT minted to it.
    #[serde(with = "crate::serde_u128")]
    pub ait_earned: u128,
}

impl Record for Provider {
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(160);
        w.raw(&self.device_id.0);
        w.u8(self.gpu.as_u8());
        w.u128(self.stake);
        w.u128(self.unbonding);
        w.u64(self.release_at);
        w.u64(self.registered_at);
        w.u8(u8::from(self.jailed));
        w.u32(self.open_disputes);
        w.u64(self.tasks_settled);
        w.u64(self.missed);
        w.u128(self.slashed);
        w.u128(self.ait_earned);
        w.finish()
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let device_id = DeviceId(r.array("device_id")?);
        let g = r.u8("gpu")?;
        let gpu = GpuModel::from_u8(g).ok_or(CodecError::UnknownTag {
            field: "gpu",
            tag: g,
        })?;
        let p = Self {
            device_id,
            gpu,
            stake: r.u128("stake")?,
            unbonding: r.u128("unbonding")?,
            release_at: r.u64("release_at")?,
            registered_at: r.u64("registered_at")?,
            jailed: read_bool(&mut r, "jailed")?,
            open_disputes: r.u32("open_disputes")?,
            tasks_settled: r.u64("tasks_settled")?,
            missed: r.u64("missed")?,
            slashed: r.u128("slashed")?,
            ait_earned: r.u128("ait_earned")?,
        };
        r.finish()?;
        Ok(p)
    }
}

/// An attestation on chain, with where it was included (for receipts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttestation {
    /// The signed attestation.
    pub attestation: super::call::SignedAttestation,
    /// The block that included it.
    pub height: u64,
    /// The transaction that carried it.
    pub tx_hash: Hash32,
}

impl Record for StoredAttestation {
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(3000);
        self.attestation.encode_into(&mut w);
        w.u64(self.height);
        w.raw(&self.tx_hash.0);
        w.finish()
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let s = Self {
            attestation: super::call::SignedAttestation::decode_from(&mut r)?,
            height: r.u64("height")?,
            tx_hash: Hash32(r.array("tx_hash")?),
        };
        r.finish()?;
        Ok(s)
    }
}

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting for the next block's assignment (or for enough eligible providers).
    Queued = 0,
    /// Assigned; providers commit to their results.
    Committing = 1,
    /// Committed providers reveal.
    Revealing = 2,
    /// Two or more agreed: paid and minted.
    Settled = 3,
    /// No two results agreed (or fewer than two committed): refunded.
    Failed = 4,
    /// Never assigned (too few eligible providers before the timeout): refunded.
    Cancelled = 5,
}

impl TaskStatus {
    fn from_u8(v: u8) -> Option<Self> {
        [
            Self::Queued,
            Self::Committing,
            Self::Revealing,
            Self::Settled,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| *s as u8 == v)
    }

    /// The snake-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Committing => "committing",
            Self::Revealing => "revealing",
            Self::Settled => "settled",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// A revealed result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reveal {
    /// The attestation it was revealed as.
    pub attestation_id: Hash32,
    /// Output hash.
    pub output_hash: Hash32,
    /// Output fingerprint.
    pub fingerprint: Hash32,
    /// Seconds of GPU time claimed.
    pub duration: u64,
}

/// Redundancy: providers per task (LP-092 "2-of-3").
pub const TASK_PROVIDERS: usize = 3;
/// Agreeing results that settle a task.
pub const TASK_QUORUM: usize = 2;

/// A task (LP-092).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Who submitted and paid.
    pub requester: Address,
    /// The model.
    pub model_id: Hash32,
    /// Hash of the input.
    pub input_hash: Hash32,
    /// Workload type.
    pub workload: Workload,
    /// Most seconds of GPU time credited per provider (within the workload's bounds).
    pub max_duration: u64,
    /// Payment asset.
    pub asset: PaymentAsset,
    /// Escrowed payment.
    #[serde(with = "crate::serde_u128")]
    pub payment: u128,
    /// Block time of submission.
    pub submitted_at: u64,
    /// Height of submission.
    pub submitted_height: u64,
    /// Global submission sequence number.
    pub seq: u64,
    /// Where it is.
    pub status: TaskStatus,
    /// The three providers drawn (empty until assigned).
    pub providers: Vec<Address>,
    /// Block time of assignment.
    pub assigned_at: u64,
    /// Deadline of the current phase (assign timeout, commit or reveal deadline).
    pub deadline: u64,
    /// Commitments, by provider position.
    pub commits: [Option<Hash32>; TASK_PROVIDERS],
    /// Reveals, by provider position.
    pub reveals: [Option<Reveal>; TASK_PROVIDERS],
    /// Providers whose results agreed (after settlement).
    pub agreeing: Vec<Address>,
    /// The accepted output hash (after settlement).
    pub result: Option<Hash32>,
    /// AIT minted for it.
    #[serde(with = "crate::serde_u128")]
    pub minted: u128,
}

impl Record for Task {
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(512);
        w.raw(&self.requester.0);
        w.raw(&self.model_id.0);
        w.raw(&self.input_hash.0);
        w.u8(self.workload.as_u8());
        w.u64(self.max_duration);
        w.u8(self.asset as u8);
        w.u128(self.payment);
        w.u64(self.submitted_at);
        w.u64(self.submitted_height);
        w.u64(self.seq);
        w.u8(self.status as u8);
        write_addrs(&mut w, &self.providers);
        w.u64(self.assigned_at);
        w.u64(self.deadline);
        for c in &self.commits {
            write_opt_hash(&mut w, c);
        }
        for rv in &self.reveals {
            match rv {
                None => w.u8(0),
                Some(rv) => {
                    w.u8(1);
                    w.raw(&rv.attestation_id.0);
                    w.raw(&rv.output_hash.0);
                    w.raw(&rv.fingerprint.0);
                    w.u64(rv.duration);
                }
            }
        }
        write_addrs(&mut w, &self.agreeing);
        write_opt_hash(&mut w, &self.result);
        w.u128(self.minted);
        w.finish()
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let requester = Address(r.array("requester")?);
        let model_id = Hash32(r.array("model_id")?);
        let input_hash = Hash32(r.array("input_hash")?);
        let wl = r.u8("workload")?;
        let workload = Workload::from_u8(wl).ok_or(CodecError::UnknownTag {
            field: "workload",
            tag: wl,
        })?;
        let max_duration = r.u64("max_duration")?;
        let a = r.u8("asset")?;
        let asset = PaymentAsset::from_u8(a).ok_or(CodecError::UnknownTag {
            field: "asset",
            tag: a,
        })?;
        let payment = r.u128("payment")?;
        let submitted_at = r.u64("submitted_at")?;
        let submitted_height = r.u64("submitted_height")?;
        let seq = r.u64("seq")?;
        let st = r.u8("status")?;
        let status = TaskStatus::from_u8(st).ok_or(CodecError::UnknownTag {
            field: "status",
            tag: st,
        })?;
        let providers = read_addrs(&mut r, TASK_PROVIDERS, "providers")?;
        let assigned_at = r.u64("assigned_at")?;
        let deadline = r.u64("deadline")?;
        let mut commits = [None; TASK_PROVIDERS];
        for c in &mut commits {
            *c = read_opt_hash(&mut r, "commits")?;
        }
        let mut reveals = [None; TASK_PROVIDERS];
        for rv in &mut reveals {
            *rv = match r.u8("reveals")? {
                0 => None,
                1 => Some(Reveal {
                    attestation_id: Hash32(r.array("reveals.attestation_id")?),
                    output_hash: Hash32(r.array("reveals.output_hash")?),
                    fingerprint: Hash32(r.array("reveals.fingerprint")?),
                    duration: r.u64("reveals.duration")?,
                }),
                tag => {
                    return Err(CodecError::UnknownTag {
                        field: "reveals",
                        tag,
                    });
                }
            };
        }
        let t = Self {
            requester,
            model_id,
            input_hash,
            workload,
            max_duration,
            asset,
            payment,
            submitted_at,
            submitted_height,
            seq,
            status,
            providers,
            assigned_at,
            deadline,
            commits,
            reveals,
            agreeing: read_addrs(&mut r, TASK_PROVIDERS, "agreeing")?,
            result: read_opt_hash(&mut r, "result")?,
            minted: r.u128("minted")?,
        };
        r.finish()?;
        Ok(t)
    }
}

/// Where a dispute is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    /// Waiting for a referee to be drawn (next block, or until one is eligible).
    AwaitingReferee = 0,
    /// A referee is re-running the inference.
    Refereeing = 1,
    /// The referee agreed with one side only: the other was slashed.
    Upheld = 2,
    /// The referee agreed with both or neither: no slash, bond returned.
    Inconclusive = 3,
    /// The two attestations agree within the model's tolerance: the bond is forfeited.
    Frivolous = 4,
    /// No referee reported in time: no slash, bond returned.
    Expired = 5,
}

impl DisputeStatus {
    fn from_u8(v: u8) -> Option<Self> {
        [
            Self::AwaitingReferee,
            Self::Refereeing,
            Self::Upheld,
            Self::Inconclusive,
            Self::Frivolous,
            Self::Expired,
        ]
        .into_iter()
        .find(|s| *s as u8 == v)
    }

    /// Whether the dispute is closed.
    pub fn is_closed(self) -> bool {
        !matches!(self, Self::AwaitingReferee | Self::Refereeing)
    }
}

/// Most referee rounds a genesis may set (bounds the excluded-referee list).
pub const MAX_REFEREE_ROUNDS: usize = 8;

/// A dispute (LP-035 "Dispute Resolution").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispute {
    /// Who opened it and posted the bond.
    pub challenger: Address,
    /// The model.
    pub model_id: Hash32,
    /// The input both attestations are for.
    pub input_hash: Hash32,
    /// First attestation (lower id).
    pub a: Hash32,
    /// Second attestation.
    pub b: Hash32,
    /// Provider of `a`.
    pub provider_a: Address,
    /// Provider of `b`.
    pub provider_b: Address,
    /// Bond (native coin).
    #[serde(with = "crate::serde_u128")]
    pub bond: u128,
    /// Block time it was opened.
    pub opened_at: u64,
    /// Where it is.
    pub status: DisputeStatus,
    /// Referees drawn so far (the last is current while refereeing).
    pub referees: Vec<Address>,
    /// Deadline of the current step.
    pub deadline: u64,
    /// The referee's attestation.
    pub referee_attestation: Option<Hash32>,
    /// The provider slashed.
    pub slashed: Option<Address>,
    /// Amount slashed.
    #[serde(with = "crate::serde_u128")]
    pub slash_amount: u128,
}

impl Record for Dispute {
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(400);
        w.raw(&self.challenger.0);
        w.raw(&self.model_id.0);
        w.raw(&self.input_hash.0);
        w.raw(&self.a.0);
        w.raw(&self.b.0);
        w.raw(&self.provider_a.0);
        w.raw(&self.provider_b.0);
        w.u128(self.bond);
        w.u64(self.opened_at);
        w.u8(self.status as u8);
        write_addrs(&mut w, &self.referees);
        w.u64(self.deadline);
        write_opt_hash(&mut w, &self.referee_attestation);
        write_opt_addr(&mut w, &self.slashed);
        w.u128(self.slash_amount);
        w.finish()
    }

    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let challenger = Address(r.array("challenger")?);
        let model_id = Hash32(r.array("model_id")?);
        let input_hash = Hash32(r.array("input_hash")?);
        let a = Hash32(r.array("a")?);
        let b = Hash32(r.array("b")?);
        let provider_a = Address(r.array("provider_a")?);
        let provider_b = Address(r.array("provider_b")?);
        let bond = r.u128("bond")?;
        let opened_at = r.u64("opened_at")?;
        let st = r.u8("status")?;
        let status = DisputeStatus::from_u8(st).ok_or(CodecError::UnknownTag {
            field: "status",
            tag: st,
        })?;
        let d = Self {
            challenger,
            model_id,
            input_hash,
            a,
            b,
            provider_a,
            provider_b,
            bond,
            opened_at,
            status,
            referees: read_addrs(&mut r, MAX_REFEREE_ROUNDS, "referees")?,
            deadline: r.u64("deadline")?,
            referee_attestation: read_opt_hash(&mut r, "referee_attestation")?,
            slashed: read_opt_addr(&mut r, "slashed")?,
            slash_amount: r.u128("slash_amount")?,
        };
        r.finish()?;
        Ok(d)
    }
}

/// Chain-wide AI counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AiMeta {
    /// AIT ever minted.
    #[serde(with = "crate::serde_u128")]
    pub ait_minted: u128,
    /// AIT ever burned.
    #[serde(with = "crate::serde_u128")]
    pub ait_burned: u128,
    /// AIT held in task escrow.
    #[serde(with = "crate::serde_u128")]
    pub ait_escrowed: u128,
    /// Native coin held in escrow: task payments and dispute bonds.
    #[serde(with = "crate::serde_u128")]
    pub native_escrowed: u128,
    /// Native coin staked (active and unbonding).
    #[serde(with = "crate::serde_u128")]
    pub native_staked: u128,
    /// Native coin burned by slashing.
    #[serde(with = "crate::serde_u128")]
    pub native_burned: u128,
    /// Tasks submitted so far.
    pub task_seq: u64,
}

impl AiMeta {
    /// Canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(104);
        for v in [
            self.ait_minted,
            self.ait_burned,
            self.ait_escrowed,
            self.native_escrowed,
            self.native_staked,
            self.native_burned,
        ] {
            w.u128(v);
        }
        w.u64(self.task_seq);
        w.finish()
    }

    /// Decodes [`AiMeta::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let m = Self {
            ait_minted: r.u128("ait_minted")?,
            ait_burned: r.u128("ait_burned")?,
            ait_escrowed: r.u128("ait_escrowed")?,
            native_escrowed: r.u128("native_escrowed")?,
            native_staked: r.u128("native_staked")?,
            native_burned: r.u128("native_burned")?,
            task_seq: r.u64("task_seq")?,
        };
        r.finish()?;
        Ok(m)
    }
}

/// What a deadline entry does when its time comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// Draw a task's providers.
    AssignTask = 1,
    /// End a task's commit phase.
    CommitEnd = 2,
    /// End a task's reveal phase.
    RevealEnd = 3,
    /// Draw a dispute's referee.
    AssignReferee = 4,
    /// End a referee's time.
    RefereeEnd = 5,
}

impl DeadlineKind {
    fn from_u8(v: u8) -> Option<Self> {
        [
            Self::AssignTask,
            Self::CommitEnd,
            Self::RevealEnd,
            Self::AssignReferee,
            Self::RefereeEnd,
        ]
        .into_iter()
        .find(|k| *k as u8 == v)
    }
}

/// An entry of the deadline queue: at `time` (block time), do `kind` for task or dispute `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Deadline {
    /// When.
    pub time: u64,
    /// What.
    pub kind: DeadlineKind,
    /// Task or dispute id.
    pub id: Hash32,
}

impl TableKey for Deadline {
    fn to_key(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(41);
        w.u64(self.time);
        w.u8(self.kind as u8);
        w.raw(&self.id.0);
        w.finish()
    }

    fn from_key(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let time = r.u64("deadline.time")?;
        let k = r.u8("deadline.kind")?;
        let kind = DeadlineKind::from_u8(k).ok_or(CodecError::UnknownTag {
            field: "deadline.kind",
            tag: k,
        })?;
        let id = Hash32(r.array("deadline.id")?);
        r.finish()?;
        Ok(Self { time, kind, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round<T: Record>(v: &T) {
        let bytes = v.encode();
        assert_eq!(&T::decode(&bytes).unwrap(), v);
        let mut long = bytes.clone();
        long.push(0);
        assert!(T::decode(&long).is_err(), "trailing bytes refused");
        if !bytes.is_empty() {
            assert!(
                T::decode(&bytes[..bytes.len() - 1]).is_err(),
                "truncation refused"
            );
        }
    }

    #[test]
    fn records_round_trip() {
        round(&Model {
            owner: Address([1; 20]),
            name: "n".into(),
            version: 2,
            weights_id: Hash32([3; 32]),
            weight_hash: Hash32([4; 32]),
            architecture: "diffusion".into(),
            param_count: 5,
            licence: "MIT".into(),
            tee_required: true,
            min_tier: PrivacyLevel::Sovereign,
            tolerance: Tolerance::Hamming { max_bits: 9 },
            previous: Some(Hash32([6; 32])),
            superseded_by: None,
            registered_at: 7,
        });
        round(&Provider {
            device_id: DeviceId([1; 32]),
            gpu: GpuModel::Rtx5090,
            stake: 1 << 100,
            unbonding: 3,
            release_at: 4,
            registered_at: 5,
            jailed: true,
            open_disputes: 6,
            tasks_settled: 7,
            missed: 8,
            slashed: 9,
            ait_earned: 10,
        });
        let r = Reveal {
            attestation_id: Hash32([1; 32]),
            output_hash: Hash32([2; 32]),
            fingerprint: Hash32([3; 32]),
            duration: 4,
        };
        round(&Task {
            requester: Address([1; 20]),
            model_id: Hash32([2; 32]),
            input_hash: Hash32([3; 32]),
            workload: Workload::Training,
            max_duration: 4,
            asset: PaymentAsset::Ait,
            payment: 5,
            submitted_at: 6,
            submitted_height: 7,
            seq: 8,
            status: TaskStatus::Revealing,
            providers: vec![Address([9; 20]); 3],
            assigned_at: 10,
            deadline: 11,
            commits: [Some(Hash32([12; 32])), None, Some(Hash32([13; 32]))],
            reveals: [None, Some(r), None],
            agreeing: vec![Address([14; 20])],
            result: Some(Hash32([15; 32])),
            minted: 16,
        });
        round(&Dispute {
            challenger: Address([1; 20]),
            model_id: Hash32([2; 32]),
            input_hash: Hash32([3; 32]),
            a: Hash32([4; 32]),
            b: Hash32([5; 32]),
            provider_a: Address([6; 20]),
            provider_b: Address([7; 20]),
            bond: 8,
            opened_at: 9,
            status: DisputeStatus::Upheld,
            referees: vec![Address([10; 20]), Address([11; 20])],
            deadline: 12,
            referee_attestation: Some(Hash32([13; 32])),
            slashed: Some(Address([14; 20])),
            slash_amount: 15,
        });
        let m = AiMeta {
            ait_minted: 1,
            ait_burned: 2,
            ait_escrowed: 3,
            native_escrowed: 4,
            native_staked: 5,
            native_burned: 6,
            task_seq: 7,
        };
        assert_eq!(AiMeta::decode(&m.encode()).unwrap(), m);
        let d = Deadline {
            time: 5,
            kind: DeadlineKind::RefereeEnd,
            id: Hash32([1; 32]),
        };
        assert_eq!(Deadline::from_key(&d.to_key()).unwrap(), d);
        // Key order is (time, kind, id): byte order of the key agrees with it.
        let later = Deadline {
            time: 6,
            kind: DeadlineKind::AssignTask,
            ..d
        };
        assert!(d < later && d.to_key() < later.to_key());
    }

    #[test]
    fn tolerance_and_tables() {
        let z = Hash32::ZERO;
        let mut f = [0u8; 32];
        f[0] = 0b111;
        let f = Hash32(f);
        let (a, b) = (Hash32([1; 32]), Hash32([2; 32]));
        assert!(Tolerance::Exact.agree(&a, &z, &a, &f));
        assert!(!Tolerance::Exact.agree(&a, &z, &b, &z));
        assert!(Tolerance::Hamming { max_bits: 3 }.agree(&a, &z, &b, &f));
        assert!(!Tolerance::Hamming { max_bits: 2 }.agree(&a, &z, &b, &f));
        assert_eq!(hamming(&z, &Hash32([0xff; 32])), 256);
        for g in GpuModel::ALL {
            assert_eq!(GpuModel::from_u8(g.as_u8()), Some(g));
            assert_eq!(GpuModel::parse(g.name()), Some(g));
        }
        for w in Workload::ALL {
            let (lo, hi) = w.bounds();
            assert!(lo >= 1 && lo < hi);
            assert_eq!(Workload::parse(w.name()), Some(w));
        }
        AiParams::default().validate().unwrap();
        let bad = AiParams {
            unbonding_secs: 10,
            ..AiParams::default()
        };
        assert!(bad.validate().unwrap_err().contains("unbonding_secs"));
        let bad = AiParams {
            challenger_bps: 9_500,
            ..AiParams::default()
        };
        assert!(bad.validate().unwrap_err().contains("challenger_bps"));
    }

    proptest! {
        #[test]
        fn record_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(v) = Model::decode(&bytes) { prop_assert_eq!(v.encode(), bytes.clone()); }
            if let Ok(v) = Provider::decode(&bytes) { prop_assert_eq!(v.encode(), bytes.clone()); }
            if let Ok(v) = Task::decode(&bytes) { prop_assert_eq!(v.encode(), bytes.clone()); }
            if let Ok(v) = Dispute::decode(&bytes) { prop_assert_eq!(v.encode(), bytes.clone()); }
            if let Ok(v) = StoredAttestation::decode(&bytes) { prop_assert_eq!(v.encode(), bytes.clone()); }
            if let Ok(v) = AiMeta::decode(&bytes) { prop_assert_eq!(v.encode(), bytes.clone()); }
            if let Ok(v) = Deadline::from_key(&bytes) { prop_assert_eq!(v.to_key(), bytes); }
        }
    }
}
