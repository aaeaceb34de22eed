//! 0x…0300 AI_MINING: the LP-130 raw ops and the `IAIMining` ABI (seeds 000 and 001; SPEC
//! sections 2 and 4).
//!
//! Dispatch on the first input byte: 0x01..=0x0F is an LP-130 op byte followed by its payload;
//! anything else starts a 4-byte Solidity selector (no selector of `IAIMining`, `INVTrust` or
//! `IModelRegistry` starts with 0x00..=0x0F; a test checks it).
//!
//! | op | name | payload | output | gas (charged before the work) |
//! |---|---|---|---|---|
//! | 0x01 | VerifyMLDSA | param_set(1) ‖ pubkey ‖ signature ‖ message | bool word | per set + [`VERIFY_MLDSA_PER_WORD_GAS`] × ⌈message/32⌉ |
//! | 0x02 | CalculateReward | work proof (78 ‖ evidence ≤ 64 KiB) | uint256 gross reward | [`CALCULATE_REWARD_GAS`] + [`PROOF_PER_WORD_GAS`] × words |
//! | 0x03 | VerifyTEE | evidence envelope ‖ nonce(32) | bool word ‖ uint8 trust_score word | [`VERIFY_TEE_GAS`] + per word + per signature ([`crate::tee`]) |
//! | 0x04 | IsSpent | work_id(32) | bool word | [`IS_SPENT_GAS`] + 1 SLOAD |
//! | 0x05 | ComputeWorkId | work proof | work_id (32) | [`COMPUTE_WORK_ID_GAS`] + [`PROOF_PER_WORD_GAS`] × words |
//! | 0x06 | MarkSpent | work_id(32) | empty | [`MARK_SPENT_GAS`] + 1 SLOAD + 1 SSTORE |
//!
//! - param_set: 0x02 ML-DSA-44, 0x03 ML-DSA-65, 0x05 ML-DSA-87 (pk 1312/1952/2592, sig
//!   2420/3309/4627 bytes); pure ML-DSA, empty context; at most [`MAX_MESSAGE_LEN`] bytes of
//!   message.
//! - The work id is `BLAKE3(device_id ‖ nonce ‖ u64be(chain_id))` with the chain id of the EVM's
//!   configuration. CalculateReward is `compute_minutes × 10^18 × multiplier / 10000`.
//! - IsSpent/MarkSpent take exactly 32 bytes. MarkSpent halts in a static call, from a caller
//!   that is not a configured mining contract, and for a work id already spent.
//!
//! `IAIMining` (gas floor 100,000, seed 001):
//! - `startSession(address miner, bytes teeQuote) returns (bytes32 sessionId)`: `teeQuote` is
//!   `envelope ‖ nonce`, the nonce must be [`session_nonce`]`(chain, miner, n)` where `n` counts
//!   the miner's sessions (slot in [`crate::state`]), so a quote starts one session only. The
//!   evidence proves the device and tier; a device's newer session supersedes its older one.
//!   Soft attestation (envelope kind none) gives a Public session on a per-miner device id.
//! - `heartbeat(bytes32 sessionId) returns (uint256 reward)`: at least [`MIN_HEARTBEAT_SECS`]
//!   after the previous heartbeat (or the start); pays the whole minutes since the last paid
//!   point at the tier's rate, at most [`MAX_HEARTBEAT_MINUTES`] (a longer gap pays 60 and
//!   forfeits the rest), never past the attestation's expiry, when the session ends.
//! - Both are session writes: refused in static calls and from callers that are not mining
//!   contracts.

use crate::abi::IAIMining;
use crate::config::PoaiConfig;
use crate::error::{Failure, Halt, Result};
use crate::gas::{self, GasMeter, SLOAD_GAS, SSTORE_GAS};
use crate::state::{self, CallEnv, Storage, bool_word, field, slot};
use crate::tee;
use alloy_primitives::{Address, B256, FixedBytes, U256, address};
use alloy_sol_types::SolCall;
use poai_crypto::ParamSet;
use poai_primitives::{ChainId, DeviceId, MAX_PROOF_LEN, Nonce, PrivacyLevel, WorkId, WorkProof};

/// The precompile's address.
pub const ADDRESS: Address = address!("0000000000000000000000000000000000000300");
/// Name used in errors.
pub const NAME: &str = "AI_MINING";

/// LP-130 op bytes.
pub mod op {
    /// VerifyMLDSA.
    pub const VERIFY_MLDSA: u8 = 0x01;
    /// CalculateReward.
    pub const CALCULATE_REWARD: u8 = 0x02;
    /// VerifyTEE.
    pub const VERIFY_TEE: u8 = 0x03;
    /// IsSpent.
    pub const IS_SPENT: u8 = 0x04;
    /// ComputeWorkId.
    pub const COMPUTE_WORK_ID: u8 = 0x05;
    /// MarkSpent.
    pub const MARK_SPENT: u8 = 0x06;
    /// The op-byte range; the first byte of an ABI call is never in it.
    pub const RANGE: core::ops::RangeInclusive<u8> = 0x01..=0x0F;
}

/// VerifyMLDSA floor (LP-130).
pub const VERIFY_MLDSA_FLOOR_GAS: u64 = 3_000;
/// VerifyMLDSA with ML-DSA-44, before the message.
pub const VERIFY_MLDSA_44_GAS: u64 = 6_000;
/// VerifyMLDSA with ML-DSA-65, before the message.
pub const VERIFY_MLDSA_65_GAS: u64 = 9_000;
/// VerifyMLDSA with ML-DSA-87, before the message.
pub const VERIFY_MLDSA_87_GAS: u64 = 14_000;
/// VerifyMLDSA per 32-byte word of message (SHAKE256 absorbs it once).
pub const VERIFY_MLDSA_PER_WORD_GAS: u64 = 12;
/// Longest message VerifyMLDSA takes: a signed work proof with 64 KiB of evidence fits.
pub const MAX_MESSAGE_LEN: usize = 128 * 1024;
/// CalculateReward (LP-130).
pub const CALCULATE_REWARD_GAS: u64 = 1_000;
/// ComputeWorkId (LP-130).
pub const COMPUTE_WORK_ID_GAS: u64 = 50;
/// Per 32-byte word of a work proof (decoding copies the evidence).
pub const PROOF_PER_WORD_GAS: u64 = 3;
/// VerifyTEE floor (LP-130), before evidence words and signatures.
pub const VERIFY_TEE_GAS: u64 = 5_000;
/// IsSpent (LP-130), before its SLOAD.
pub const IS_SPENT_GAS: u64 = 100;
/// MarkSpent (LP-130), before its SLOAD and SSTORE.
pub const MARK_SPENT_GAS: u64 = 5_000;
/// `IAIMining` functions' floor (seed 001).
pub const ABI_FLOOR_GAS: u64 = 100_000;
/// startSession: reads the miner's counter and the device slot; writes the counter, three
/// session words and the device slot.
pub const START_SESSION_STATE_GAS: u64 = 2 * SLOAD_GAS + 5 * SSTORE_GAS;
/// heartbeat: reads three session words and the device slot; writes two session words.
pub const HEARTBEAT_STATE_GAS: u64 = 4 * SLOAD_GAS + 2 * SSTORE_GAS;
/// Minimum seconds between heartbeats of a session.
pub const MIN_HEARTBEAT_SECS: u64 = 30;
/// Most minutes one heartbeat pays.
pub const MAX_HEARTBEAT_MINUTES: u64 = 60;

const SPENT_TAG: &[u8] = b"poai.spent";
const SESSION_TAG: &[u8] = b"poai.session";
const DEVICE_TAG: &[u8] = b"poai.device";
const MINER_SESSIONS_TAG: &[u8] = b"poai.miner.sessions";
const SESSION_ID_DOMAIN: &[u8] = b"poai/session/v1";
const SESSION_NONCE_DOMAIN: &[u8] = b"poai/session-nonce/v1";
const SOFT_DEVICE_DOMAIN: &[u8] = b"poai/soft-device/v1";

const STATUS_ACTIVE: u8 = 1;
const STATUS_ENDED: u8 = 2;

/// Runs a call to 0x0300.
pub fn run(
    input: &[u8],
    env: &CallEnv,
    gas: &mut GasMeter,
    storage: &mut dyn Storage,
    config: &PoaiConfig,
) -> Result<Vec<u8>> {
    if env.delegated {
        return Err(Halt::DelegateCallRefused(NAME).into());
    }
    let (&first, payload) = input.split_first().ok_or(Halt::EmptyInput)?;
    if op::RANGE.contains(&first) {
        return match first {
            op::VERIFY_MLDSA => verify_mldsa(payload, gas).map(|b| bool_word(b).to_vec()),
            op::CALCULATE_REWARD => calculate_reward(payload, gas).map(|r| r.to_be_bytes_vec()),
            op::VERIFY_TEE => verify_tee(payload, env, gas, config).map(|(ok, score)| {
                let mut out = bool_word(ok).to_vec();
                out.extend_from_slice(&U256::from(score).to_be_bytes::<32>());
                out
            }),
            op::IS_SPENT => is_spent(payload, env, gas, storage).map(|b| bool_word(b).to_vec()),
            op::COMPUTE_WORK_ID => {
                compute_work_id(payload, env.chain_id, gas).map(|w| w.0.to_vec())
            }
            op::MARK_SPENT => mark_spent(payload, env, gas, storage, config).map(|()| Vec::new()),
            other => Err(Halt::UnknownOp(other).into()),
        };
    }
    let selector = input.get(..4).ok_or(Halt::Truncated {
        field: "selector",
        needed: 4,
        available: input.len(),
    })?;
    match <[u8; 4]>::try_from(selector).unwrap_or_default() {
        IAIMining::startSessionCall::SELECTOR => {
            let call = crate::abi::decode::<IAIMining::startSessionCall>(input, "startSession")?;
            let id = start_session(call.miner, &call.teeQuote, env, gas, storage, config)?;
            Ok(IAIMining::startSessionCall::abi_encode_returns(&id))
        }
        IAIMining::heartbeatCall::SELECTOR => {
            let call = crate::abi::decode::<IAIMining::heartbeatCall>(input, "heartbeat")?;
            let reward = heartbeat(call.sessionId, env, gas, storage, config)?;
            Ok(IAIMining::heartbeatCall::abi_encode_returns(&reward))
        }
        _ => Err(Halt::UnknownSelector(hex_of(selector), "IAIMining").into()),
    }
}

pub(crate) fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The gas VerifyMLDSA charges for a parameter set and message length.
pub const fn verify_mldsa_gas(param: ParamSet, message_len: usize) -> u64 {
    let base = match param {
        ParamSet::MlDsa44 => VERIFY_MLDSA_44_GAS,
        ParamSet::MlDsa65 => VERIFY_MLDSA_65_GAS,
        ParamSet::MlDsa87 => VERIFY_MLDSA_87_GAS,
    };
    gas::linear(base, VERIFY_MLDSA_PER_WORD_GAS, message_len)
}

/// Splits `n` bytes off `input`, naming the field if it is short.
pub(crate) fn take<'a>(
    input: &mut &'a [u8],
    n: usize,
    field: &'static str,
) -> Result<&'a [u8], Halt> {
    let (head, tail) = input.split_at_checked(n).ok_or(Halt::Truncated {
        field,
        needed: n,
        available: input.len(),
    })?;
    *input = tail;
    Ok(head)
}

/// Splits an ML-DSA `param_set(1) ‖ pubkey ‖ signature` prefix off `input`.
pub(crate) fn take_mldsa<'a>(
    input: &mut &'a [u8],
) -> Result<(ParamSet, &'a [u8], &'a [u8]), Failure> {
    let id = take(input, 1, "param_set")?;
    let param = ParamSet::from_id(id.first().copied().unwrap_or_default())?;
    let pk = take(input, param.public_key_len(), "public_key")?;
    let sig = take(input, param.signature_len(), "signature")?;
    Ok((param, pk, sig))
}

/// Op 0x01: `param_set ‖ pubkey ‖ signature ‖ message` → whether the signature verifies.
pub fn verify_mldsa(payload: &[u8], gas: &mut GasMeter) -> Result<bool> {
    let mut rest = payload;
    let (param, pk, sig) = take_mldsa(&mut rest)?;
    let msg = rest;
    if msg.len() > MAX_MESSAGE_LEN {
        return Err(Halt::TooLong {
            field: "message",
            len: msg.len(),
            max: MAX_MESSAGE_LEN,
        }
        .into());
    }
    gas.charge(verify_mldsa_gas(param, msg.len()))?;
    Ok(poai_crypto::verify(param, pk, msg, &[], sig)?)
}

fn check_proof_len(payload: &[u8]) -> Result<(), Halt> {
    if payload.len() > MAX_PROOF_LEN {
        return Err(Halt::TooLong {
            field: "work_proof",
            len: payload.len(),
            max: MAX_PROOF_LEN,
        });
    }
    Ok(())
}

/// Op 0x02: the gross reward of a work proof, in wei.
pub fn calculate_reward(payload: &[u8], gas: &mut GasMeter) -> Result<U256> {
    check_proof_len(payload)?;
    gas.charge(gas::linear(
        CALCULATE_REWARD_GAS,
        PROOF_PER_WORD_GAS,
        payload.len(),
    ))?;
    let proof = WorkProof::decode(payload)?;
    Ok(U256::from(poai_economics::gross_reward_for(&proof)))
}

/// Op 0x05: the work id of a work proof on the executing chain.
pub fn compute_work_id(payload: &[u8], chain_id: ChainId, gas: &mut GasMeter) -> Result<WorkId> {
    check_proof_len(payload)?;
    gas.charge(gas::linear(
        COMPUTE_WORK_ID_GAS,
        PROOF_PER_WORD_GAS,
        payload.len(),
    ))?;
    let proof = WorkProof::decode(payload)?;
    Ok(poai_crypto::proof_work_id(&proof, chain_id))
}

/// Op 0x03: `envelope ‖ nonce` → (verified, trust score); 0 when not verified.
pub fn verify_tee(
    payload: &[u8],
    env: &CallEnv,
    gas: &mut GasMeter,
    config: &PoaiConfig,
) -> Result<(bool, u8)> {
    let (evidence, nonce) = tee::split_quote(payload)?;
    let envelope = tee::decode(evidence)?;
    gas.charge(tee::gas(
        VERIFY_TEE_GAS,
        evidence.len(),
        tee::signatures(&envelope),
    ))?;
    Ok(
        match tee::verify(&envelope, nonce, env.timestamp, &config.tee) {
            Ok(att) => (true, att.trust_score),
            Err(_) => (false, 0),
        },
    )
}

fn work_id_arg(payload: &[u8]) -> Result<WorkId, Halt> {
    if payload.len() > WorkId::LEN {
        return Err(Halt::Trailing {
            after: "work_id",
            len: payload.len() - WorkId::LEN,
        });
    }
    WorkId::from_slice(payload).ok_or(Halt::Truncated {
        field: "work_id",
        needed: WorkId::LEN,
        available: payload.len(),
    })
}

/// The spent-set slot of a work id.
pub fn spent_slot(id: &WorkId) -> U256 {
    slot(SPENT_TAG, &[id.as_bytes()])
}

/// Op 0x04: whether a work id is in the spent set.
pub fn is_spent(
    payload: &[u8],
    _env: &CallEnv,
    gas: &mut GasMeter,
    storage: &mut dyn Storage,
) -> Result<bool> {
    let id = work_id_arg(payload)?;
    gas.charge(IS_SPENT_GAS + SLOAD_GAS)?;
    Ok(!storage.sload(spent_slot(&id))?.is_zero())
}

fn require_writer(op: &'static str, env: &CallEnv, config: &PoaiConfig) -> Result<(), Halt> {
    if env.is_static {
        return Err(Halt::StaticCallWrite(op));
    }
    if !config.is_mining_contract(&env.caller) {
        return Err(Halt::CallerNotAllowed {
            op,
            caller: env.caller.to_string(),
        });
    }
    Ok(())
}

/// Op 0x06: adds a work id to the spent set.
pub fn mark_spent(
    payload: &[u8],
    env: &CallEnv,
    gas: &mut GasMeter,
    storage: &mut dyn Storage,
    config: &PoaiConfig,
) -> Result<()> {
    require_writer("MarkSpent", env, config)?;
    let id = work_id_arg(payload)?;
    gas.charge(MARK_SPENT_GAS + SLOAD_GAS + SSTORE_GAS)?;
    let key = spent_slot(&id);
    if !storage.sload(key)?.is_zero() {
        return Err(Halt::AlreadySpent(id.to_string()).into());
    }
    storage.sstore(key, U256::from(1))
}

/// The nonce a miner's `n`-th session quote must bind (n counts from 0).
pub fn session_nonce(chain_id: ChainId, miner: &Address, n: u64) -> Nonce {
    let mut h = blake3::Hasher::new();
    h.update(SESSION_NONCE_DOMAIN);
    h.update(&chain_id.to_be_bytes());
    h.update(miner.as_slice());
    h.update(&n.to_be_bytes());
    Nonce(*h.finalize().as_bytes())
}

/// The session id of a miner's `n`-th session on a device.
pub fn session_id(chain_id: ChainId, miner: &Address, device: &DeviceId, n: u64) -> B256 {
    let mut h = blake3::Hasher::new();
    h.update(SESSION_ID_DOMAIN);
    h.update(&chain_id.to_be_bytes());
    h.update(miner.as_slice());
    h.update(device.as_bytes());
    h.update(&n.to_be_bytes());
    B256::from(*h.finalize().as_bytes())
}

/// The device id of a soft-attested (no TEE) miner: one per miner address.
pub fn soft_device_id(miner: &Address) -> DeviceId {
    let mut h = blake3::Hasher::new();
    h.update(SOFT_DEVICE_DOMAIN);
    h.update(miner.as_slice());
    DeviceId(*h.finalize().as_bytes())
}

/// The slot counting a miner's sessions.
pub fn miner_sessions_slot(miner: &Address) -> U256 {
    slot(MINER_SESSIONS_TAG, &[miner.as_slice()])
}

/// The slot holding a device's current session id.
pub fn device_slot(device: &DeviceId) -> U256 {
    slot(DEVICE_TAG, &[device.as_bytes()])
}

/// The first of a session's three slots.
pub fn session_slot(id: &B256) -> U256 {
    slot(SESSION_TAG, &[id.as_slice()])
}

/// A session as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// The miner paid.
    pub miner: Address,
    /// The tier the attestation proved.
    pub tier: PrivacyLevel,
    /// The attestation's trust score.
    pub trust_score: u8,
    /// Whether the session has ended.
    pub ended: bool,
    /// The attested device.
    pub device: DeviceId,
    /// Block time the session started.
    pub started_at: u64,
    /// Block time the attestation stops counting.
    pub expires_at: u64,
    /// Time up to which minutes have been paid.
    pub paid_until: u64,
    /// Block time of the previous heartbeat (or the start).
    pub last_heartbeat: u64,
}

fn u64_at(word: &[u8; 32], at: usize) -> u64 {
    word.get(at..at + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes)
}

impl Session {
    fn words(&self) -> [U256; 3] {
        let mut w0 = [0u8; 32];
        let mut w2 = [0u8; 32];
        for (dst, src) in w0.iter_mut().zip(self.miner.as_slice()) {
            *dst = *src;
        }
        let status = if self.ended {
            STATUS_ENDED
        } else {
            STATUS_ACTIVE
        };
        let tier = u8::try_from(self.tier.as_u16()).unwrap_or_default();
        for (dst, src) in w0.iter_mut().skip(20).zip([tier, self.trust_score, status]) {
            *dst = src;
        }
        let times = [
            self.started_at,
            self.expires_at,
            self.paid_until,
            self.last_heartbeat,
        ];
        for (chunk, t) in w2.chunks_exact_mut(8).zip(times) {
            chunk.copy_from_slice(&t.to_be_bytes());
        }
        [
            U256::from_be_bytes(w0),
            U256::from_be_bytes(self.device.0),
            U256::from_be_bytes(w2),
        ]
    }

    /// Decodes the three words; `None` if no session is stored there.
    fn from_words(w: [U256; 3]) -> Result<Option<Self>, Halt> {
        let [w0, w1, w2] = w.map(state::bytes);
        if w0 == [0u8; 32] {
            return Ok(None);
        }
        let miner = Address::from_slice(w0.get(..20).unwrap_or(&[0u8; 20]));
        let tier_byte = w0.get(20).copied().unwrap_or_default();
        let tier = PrivacyLevel::try_from(u16::from(tier_byte))
            .map_err(|e| Halt::invalid("session.tier", e.to_string()))?;
        Ok(Some(Self {
            miner,
            tier,
            trust_score: w0.get(21).copied().unwrap_or_default(),
            ended: w0.get(22).copied() == Some(STATUS_ENDED),
            device: DeviceId(w1),
            started_at: u64_at(&w2, 0),
            expires_at: u64_at(&w2, 8),
            paid_until: u64_at(&w2, 16),
            last_heartbeat: u64_at(&w2, 24),
        }))
    }
}

/// Reads a session.
pub fn load_session(storage: &mut dyn Storage, id: &B256) -> Result<Option<Session>> {
    let base = session_slot(id);
    let w = [
        storage.sload(base)?,
        storage.sload(field(base, 1))?,
        storage.sload(field(base, 2))?,
    ];
    Ok(Session::from_words(w)?)
}

fn store_session(storage: &mut dyn Storage, id: &B256, s: &Session, all: bool) -> Result<()> {
    let base = session_slot(id);
    let [w0, w1, w2] = s.words();
    storage.sstore(base, w0)?;
    if all {
        storage.sstore(field(base, 1), w1)?;
    }
    storage.sstore(field(base, 2), w2)
}

/// `startSession(miner, teeQuote)`.
pub fn start_session(
    miner: Address,
    quote: &[u8],
    env: &CallEnv,
    gas: &mut GasMeter,
    storage: &mut dyn Storage,
    config: &PoaiConfig,
) -> Result<FixedBytes<32>> {
    require_writer("startSession", env, config)?;
    if miner == Address::ZERO {
        return Err(Halt::invalid("miner", "must not be the zero address").into());
    }
    let (evidence, nonce) = tee::split_quote(quote)?;
    let envelope = tee::decode(evidence)?;
    gas.charge(
        tee::gas(ABI_FLOOR_GAS, quote.len(), tee::signatures(&envelope))
            .saturating_add(START_SESSION_STATE_GAS),
    )?;
    let counter_slot = miner_sessions_slot(&miner);
    let n = u64::try_from(storage.sload(counter_slot)?).unwrap_or(u64::MAX);
    if nonce != session_nonce(env.chain_id, &miner, n) {
        return Err(Halt::QuoteRejected(format!(
            "nonce must be the session nonce of miner {miner} for session {n} on chain {}",
            env.chain_id
        ))
        .into());
    }
    let att = tee::verify(&envelope, nonce, env.timestamp, &config.tee)
        .map_err(|e| Halt::QuoteRejected(e.to_string()))?;
    let device = if att.device_id == DeviceId::default() {
        soft_device_id(&miner)
    } else {
        att.device_id
    };
    let id = session_id(env.chain_id, &miner, &device, n);
    let session = Session {
        miner,
        tier: att.tier,
        trust_score: att.trust_score,
        ended: false,
        device,
        started_at: env.timestamp,
        expires_at: env.timestamp.saturating_add(config.session_validity_secs),
        paid_until: env.timestamp,
        last_heartbeat: env.timestamp,
    };
    storage.sstore(counter_slot, U256::from(n.saturating_add(1)))?;
    store_session(storage, &id, &session, true)?;
    storage.sstore(device_slot(&device), state::word(id))?;
    Ok(id)
}

/// What a heartbeat pays and how it moves the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    /// Whole minutes paid.
    pub minutes: u64,
    /// New `paid_until`.
    pub paid_until: u64,
    /// Whether the session ends with this heartbeat.
    pub ends: bool,
}

/// The pure heartbeat rule: minutes since `paid_until`, capped at 60 (the rest of a longer gap
/// is forfeited) and at the expiry; seconds short of a minute carry over.
pub fn beat(s: &Session, now: u64) -> Result<Beat, Halt> {
    let elapsed = now.saturating_sub(s.last_heartbeat);
    if elapsed < MIN_HEARTBEAT_SECS {
        return Err(Halt::HeartbeatTooSoon {
            elapsed,
            min: MIN_HEARTBEAT_SECS,
        });
    }
    let end = now.min(s.expires_at);
    let minutes = end.saturating_sub(s.paid_until) / 60;
    let (minutes, paid_until) = if minutes > MAX_HEARTBEAT_MINUTES {
        (MAX_HEARTBEAT_MINUTES, end)
    } else {
        (minutes, s.paid_until.saturating_add(minutes * 60))
    };
    Ok(Beat {
        minutes,
        paid_until,
        ends: now >= s.expires_at,
    })
}

/// `heartbeat(sessionId)`: the reward for the minutes since the last one, in wei.
pub fn heartbeat(
    id: FixedBytes<32>,
    env: &CallEnv,
    gas: &mut GasMeter,
    storage: &mut dyn Storage,
    config: &PoaiConfig,
) -> Result<U256> {
    require_writer("heartbeat", env, config)?;
    gas.charge(ABI_FLOOR_GAS + HEARTBEAT_STATE_GAS)?;
    let hex = hex_of(id.as_slice());
    let mut s = load_session(storage, &id)?.ok_or_else(|| Halt::UnknownSession(hex.clone()))?;
    if s.ended {
        return Err(Halt::SessionEnded(hex).into());
    }
    if storage.sload(device_slot(&s.device))? != state::word(id) {
        return Err(Halt::SessionSuperseded(hex).into());
    }
    let b = beat(&s, env.timestamp)?;
    s.paid_until = b.paid_until;
    s.last_heartbeat = env.timestamp;
    s.ended = b.ends;
    store_session(storage, &id, &s, false)?;
    let minutes = u32::try_from(b.minutes).unwrap_or(u32::MAX);
    Ok(U256::from(poai_economics::gross_reward(s.tier, minutes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryStorage;
    use poai_crypto::SigningKey;

    const MINER: Address = address!("00000000000000000000000000000000000000aa");
    const CONTRACT: Address = address!("00000000000000000000000000000000000000cc");

    fn env(chain: u64) -> CallEnv {
        CallEnv {
            caller: CONTRACT,
            is_static: false,
            delegated: false,
            chain_id: ChainId(chain),
            timestamp: 1_700_000_000,
        }
    }

    fn config() -> PoaiConfig {
        PoaiConfig::with_mining_contracts([CONTRACT])
    }

    fn call(input: &[u8], env: &CallEnv, storage: &mut MemoryStorage) -> (Result<Vec<u8>>, u64) {
        let mut gas = GasMeter::new(10_000_000);
        let r = run(input, env, &mut gas, storage, &config());
        (r, gas.used())
    }

    fn proof_bytes(device: [u8; 32], nonce: [u8; 32], level: u16, minutes: u32) -> Vec<u8> {
        let mut p = device.to_vec();
        p.extend_from_slice(&nonce);
        p.extend_from_slice(&1_700_000_000u64.to_be_bytes());
        p.extend_from_slice(&level.to_be_bytes());
        p.extend_from_slice(&minutes.to_be_bytes());
        p
    }

    fn foundation_device() -> [u8; 32] {
        let mut d = [0u8; 32];
        d[..3].copy_from_slice(&[1, 2, 3]);
        d
    }

    fn foundation_nonce() -> [u8; 32] {
        let mut n = [0u8; 32];
        n[..3].copy_from_slice(&[4, 5, 6]);
        n
    }

    #[test]
    fn compute_work_id_foundation_vectors() {
        let cases = [
            (
                "lux_c_chain",
                foundation_device(),
                foundation_nonce(),
                96_369,
                "d6be424ffa2b7c5e627bcaf31881d10dac9b78b3e8916c46f4d92a456ac1972e",
            ),
            (
                "zoo_evm",
                [0xAA; 32],
                [0xBB; 32],
                200_200,
                "4e0f8c071a1c92eefbe1d23e9e4425ccebe29a4ac40361c009fbfae0c5c2360c",
            ),
        ];
        for (name, device, nonce, chain, expected) in cases {
            let mut input = vec![op::COMPUTE_WORK_ID];
            input.extend(proof_bytes(device, nonce, 3, 10));
            let (out, used) = call(&input, &env(chain), &mut MemoryStorage::default());
            assert_eq!(hex_of(&out.unwrap()), expected, "{name}");
            assert_eq!(
                used,
                gas::linear(COMPUTE_WORK_ID_GAS, PROOF_PER_WORD_GAS, 78)
            );
        }
    }

    #[test]
    fn calculate_reward_table() {
        let cases = [
            (
                "ten_confidential_minutes",
                3u16,
                10u32,
                10u128 * 10u128.pow(18),
            ),
            ("one_public_minute", 1, 1, 25 * 10u128.pow(16)),
            ("sixty_sovereign_minutes", 4, 60, 90 * 10u128.pow(18)),
            ("zero_minutes", 2, 0, 0),
        ];
        for (name, level, minutes, wei) in cases {
            let mut input = vec![op::CALCULATE_REWARD];
            input.extend(proof_bytes([1; 32], [2; 32], level, minutes));
            let (out, _) = call(&input, &env(96_369), &mut MemoryStorage::default());
            assert_eq!(
                U256::from_be_slice(&out.unwrap()),
                U256::from(wei),
                "{name}"
            );
        }
        let mut bad = vec![op::CALCULATE_REWARD];
        bad.extend(proof_bytes([1; 32], [2; 32], 5, 1));
        let (out, _) = call(&bad, &env(1), &mut MemoryStorage::default());
        assert!(matches!(out, Err(Failure::Halt(Halt::WorkProof(_)))));
    }

    #[test]
    fn verify_mldsa_true_false_and_malformed() {
        for param in ParamSet::ALL {
            let sk = SigningKey::from_seed(param, &[7; 32]).unwrap();
            let msg = b"poai precompile".to_vec();
            let sig = sk.sign_deterministic(&msg, &[]).unwrap();
            let mut input = vec![op::VERIFY_MLDSA, param.id()];
            input.extend_from_slice(sk.verifying_key().as_bytes());
            input.extend_from_slice(&sig);
            input.extend_from_slice(&msg);
            let (out, used) = call(&input, &env(1), &mut MemoryStorage::default());
            assert_eq!(out.unwrap(), bool_word(true).to_vec(), "{param}");
            assert_eq!(used, verify_mldsa_gas(param, msg.len()));
            assert!(used >= VERIFY_MLDSA_FLOOR_GAS);
            let last = input.len() - 1;
            input[last] ^= 1;
            let (out, _) = call(&input, &env(1), &mut MemoryStorage::default());
            assert_eq!(out.unwrap(), bool_word(false).to_vec(), "{param} tampered");
            input.truncate(2 + param.public_key_len() + 10);
            let (out, _) = call(&input, &env(1), &mut MemoryStorage::default());
            assert!(matches!(
                out,
                Err(Failure::Halt(Halt::Truncated {
                    field: "signature",
                    ..
                }))
            ));
        }
        let (out, _) = call(
            &[op::VERIFY_MLDSA, 0x04],
            &env(1),
            &mut MemoryStorage::default(),
        );
        assert!(matches!(out, Err(Failure::Halt(Halt::MlDsa(_)))));
    }

    #[test]
    fn spent_set_and_writers() {
        let id = [9u8; 32];
        let mut st = MemoryStorage::default();
        let is_spent = |st: &mut MemoryStorage| {
            let mut input = vec![op::IS_SPENT];
            input.extend_from_slice(&id);
            call(&input, &env(1), st).0.unwrap()
        };
        assert_eq!(is_spent(&mut st), bool_word(false).to_vec());
        let mut mark = vec![op::MARK_SPENT];
        mark.extend_from_slice(&id);
        let (out, used) = call(&mark, &env(1), &mut st);
        assert_eq!(out.unwrap(), Vec::<u8>::new());
        assert_eq!(used, MARK_SPENT_GAS + SLOAD_GAS + SSTORE_GAS);
        assert_eq!(is_spent(&mut st), bool_word(true).to_vec());
        let (again, _) = call(&mark, &env(1), &mut st);
        assert!(matches!(again, Err(Failure::Halt(Halt::AlreadySpent(_)))));

        let stranger = CallEnv {
            caller: MINER,
            ..env(1)
        };
        let (out, _) = call(&mark, &stranger, &mut MemoryStorage::default());
        assert!(matches!(
            out,
            Err(Failure::Halt(Halt::CallerNotAllowed { .. }))
        ));
        let static_env = CallEnv {
            is_static: true,
            ..env(1)
        };
        let (out, _) = call(&mark, &static_env, &mut MemoryStorage::default());
        assert!(matches!(out, Err(Failure::Halt(Halt::StaticCallWrite(_)))));
        let delegated = CallEnv {
            delegated: true,
            ..env(1)
        };
        let (out, _) = call(&mark, &delegated, &mut MemoryStorage::default());
        assert!(matches!(
            out,
            Err(Failure::Halt(Halt::DelegateCallRefused(_)))
        ));

        let (short, _) = call(&mark[..20], &env(1), &mut MemoryStorage::default());
        assert!(matches!(short, Err(Failure::Halt(Halt::Truncated { .. }))));
        let mut long = mark.clone();
        long.push(0);
        let (long, _) = call(&long, &env(1), &mut MemoryStorage::default());
        assert!(matches!(
            long,
            Err(Failure::Halt(Halt::Trailing { len: 1, .. }))
        ));
    }

    #[test]
    fn database_errors_are_fatal() {
        let mut input = vec![op::IS_SPENT];
        input.extend_from_slice(&[0; 32]);
        let mut gas = GasMeter::new(1_000_000);
        let r = run(
            &input,
            &env(1),
            &mut gas,
            &mut state::FailingStorage,
            &config(),
        );
        assert!(matches!(r, Err(Failure::Fatal(_))));
    }

    #[test]
    fn dispatch_errors() {
        let st = &mut MemoryStorage::default();
        assert!(matches!(
            call(&[], &env(1), st).0,
            Err(Failure::Halt(Halt::EmptyInput))
        ));
        assert!(matches!(
            call(&[0x07], &env(1), st).0,
            Err(Failure::Halt(Halt::UnknownOp(7)))
        ));
        assert!(matches!(
            call(&[0xde, 0xad, 0xbe, 0xef], &env(1), st).0,
            Err(Failure::Halt(Halt::UnknownSelector(..)))
        ));
        assert!(matches!(
            call(&[0x00, 0x01], &env(1), st).0,
            Err(Failure::Halt(Halt::Truncated {
                field: "selector",
                ..
            }))
        ));
    }

    #[test]
    fn out_of_gas_is_charged_before_the_work() {
        let mut input = vec![op::COMPUTE_WORK_ID];
        input.extend(proof_bytes([1; 32], [2; 32], 3, 1));
        let mut gas = GasMeter::new(COMPUTE_WORK_ID_GAS);
        let r = run(
            &input,
            &env(1),
            &mut gas,
            &mut MemoryStorage::default(),
            &config(),
        );
        assert!(matches!(r, Err(Failure::Halt(Halt::OutOfGas { .. }))));
        assert_eq!(gas.used(), 0);
    }

    fn session(last: u64, paid: u64, expires: u64) -> Session {
        Session {
            miner: MINER,
            tier: PrivacyLevel::Confidential,
            trust_score: 80,
            ended: false,
            device: DeviceId([1; 32]),
            started_at: 0,
            expires_at: expires,
            paid_until: paid,
            last_heartbeat: last,
        }
    }

    #[test]
    fn heartbeat_rule_table() {
        // (name, last_heartbeat, paid_until, expires_at, now, Ok(minutes, paid_until, ends) or too soon)
        type Case = (&'static str, u64, u64, u64, u64, Option<(u64, u64, bool)>);
        let cases: [Case; 7] = [
            ("too_soon", 1000, 1000, 100_000, 1029, None),
            (
                "thirty_seconds_pays_nothing",
                1000,
                1000,
                100_000,
                1030,
                Some((0, 1000, false)),
            ),
            (
                "ninety_seconds_carries_thirty",
                1000,
                1000,
                100_000,
                1090,
                Some((1, 1060, false)),
            ),
            (
                "exactly_sixty_minutes",
                0,
                0,
                100_000,
                3600,
                Some((60, 3600, false)),
            ),
            (
                "gap_of_two_hours_pays_sixty",
                0,
                0,
                100_000,
                7200,
                Some((60, 7200, false)),
            ),
            ("stops_at_expiry", 0, 0, 600, 900, Some((10, 600, true))),
            (
                "carry_counts",
                1060,
                1030,
                100_000,
                1100,
                Some((1, 1090, false)),
            ),
        ];
        for (name, last, paid, expires, now, expected) in cases {
            let got = beat(&session(last, paid, expires), now);
            match expected {
                None => assert!(matches!(got, Err(Halt::HeartbeatTooSoon { .. })), "{name}"),
                Some((minutes, paid_until, ends)) => assert_eq!(
                    got.unwrap(),
                    Beat {
                        minutes,
                        paid_until,
                        ends
                    },
                    "{name}"
                ),
            }
        }
    }

    #[test]
    fn session_words_round_trip() {
        let s = session(5, 6, 7);
        let mut st = MemoryStorage::default();
        let id = B256::repeat_byte(3);
        store_session(&mut st, &id, &s, true).unwrap();
        assert_eq!(load_session(&mut st, &id).unwrap(), Some(s));
        assert_eq!(load_session(&mut st, &B256::ZERO).unwrap(), None);
    }

    #[test]
    fn soft_session_pays_public_rate() {
        let mut st = MemoryStorage::default();
        let e = env(96_369);
        let nonce = session_nonce(e.chain_id, &MINER, 0);
        let mut quote = poai_tee::Envelope::None.encode().unwrap();
        quote.extend_from_slice(nonce.as_bytes());
        let call_data = IAIMining::startSessionCall {
            miner: MINER,
            teeQuote: quote.clone().into(),
        }
        .abi_encode();
        let (out, used) = call(&call_data, &e, &mut st);
        let id = B256::from_slice(&out.unwrap());
        assert_eq!(
            id,
            session_id(e.chain_id, &MINER, &soft_device_id(&MINER), 0)
        );
        assert_eq!(
            used,
            ABI_FLOOR_GAS + tee::gas(0, quote.len(), 0) + START_SESSION_STATE_GAS
        );
        // The same quote cannot start a second session: the nonce moved on.
        let (again, _) = call(&call_data, &e, &mut st);
        assert!(matches!(again, Err(Failure::Halt(Halt::QuoteRejected(_)))));

        let hb = IAIMining::heartbeatCall { sessionId: id }.abi_encode();
        let later = CallEnv {
            timestamp: e.timestamp + 600,
            ..e
        };
        let (out, _) = call(&hb, &later, &mut st);
        assert_eq!(
            U256::from_be_slice(&out.unwrap()),
            U256::from(10u128 * 25 * 10u128.pow(16))
        );
    }
}
