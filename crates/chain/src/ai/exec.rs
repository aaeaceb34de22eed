//! The AI VM's rules: checking and staging each [`AiCall`], and the begin-block step that draws
//! providers and referees and fires timeouts (SPEC section 6, LP-035, LP-092).
//!
//! **Randomness.** Providers and referees are drawn at the start of a block from the *parent*
//! block's hash, which commits to every transaction of the block that submitted the task. A
//! submitter signs before that block exists, so it cannot compute the draw it will get, and no
//! field of a task enters the draw: the seed is `BLAKE3(tag ‖ parent hash ‖ kind ‖ sequence
//! number or dispute id)`. Providers choose nothing. The block's proposer can bias the draw by
//! trying many blocks (timestamps, transaction order): the usual limit of block-hash randomness,
//! acceptable while one operator runs the chain and the stake at risk exceeds what a biased
//! draw earns; docs/DESIGN-aivm.md says what replaces it under BFT (a VRF or threshold beacon).

use super::call::{AiCall, SignedAttestation, result_commitment};
use super::stage::Stage;
use super::types::{
    Deadline, DeadlineKind, Dispute, DisputeStatus, Model, Provider, Reveal, StoredAttestation,
    TASK_PROVIDERS, TASK_QUORUM, Task, TaskStatus, Tolerance,
};
use crate::error::TxError;
use crate::hash::{Hash32, hash_tagged};
use crate::machine::BlockContext;
use crate::state::{Device, State};
use poai_primitives::{Address, PrivacyLevel};
use serde::{Deserialize, Serialize};

/// How far ahead of the block an attestation's timestamp may be.
pub const ATTESTATION_MAX_AHEAD_SECS: u64 = 60;
/// How old a new attestation (not a disputed one) may be.
pub const ATTESTATION_MAX_AGE_SECS: u64 = 3_600;

/// What an AI call did (its receipt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiOutcome {
    /// The call (snake-case name).
    pub action: AiAction,
    /// The object it created or changed: model, attestation, task or dispute id; a provider or
    /// recipient address left-aligned in 32 bytes.
    pub id: Hash32,
    /// The amount involved (stake, payment, bond, AIT), or 0.
    #[serde(with = "crate::serde_u128")]
    pub amount: u128,
}

/// The kinds of [`AiOutcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AiAction {
    /// A model was registered.
    ModelRegistered = 1,
    /// A provider was registered.
    ProviderRegistered = 2,
    /// Stake was added.
    Staked = 3,
    /// Stake started unbonding.
    Unbonding = 4,
    /// Unbonded stake was withdrawn.
    Withdrawn = 5,
    /// An attestation was recorded.
    Attested = 6,
    /// A task was submitted.
    TaskSubmitted = 7,
    /// A result was committed.
    Committed = 8,
    /// A result was revealed (task still open).
    Revealed = 9,
    /// A result was revealed and the task settled or failed.
    RevealedAndClosed = 10,
    /// A dispute was opened and awaits a referee.
    DisputeOpened = 11,
    /// A dispute was opened over agreeing attestations: bond forfeited.
    DisputeFrivolous = 12,
    /// A referee reported; the dispute closed.
    RefereeReported = 13,
    /// AIT moved.
    CreditsTransferred = 14,
    /// AIT burned.
    CreditsRedeemed = 15,
}

impl AiAction {
    /// Parses the wire byte.
    pub fn from_u8(v: u8) -> Option<Self> {
        use AiAction::*;
        [
            ModelRegistered,
            ProviderRegistered,
            Staked,
            Unbonding,
            Withdrawn,
            Attested,
            TaskSubmitted,
            Committed,
            Revealed,
            RevealedAndClosed,
            DisputeOpened,
            DisputeFrivolous,
            RefereeReported,
            CreditsTransferred,
            CreditsRedeemed,
        ]
        .into_iter()
        .find(|a| *a as u8 == v)
    }
}

fn addr_id(a: &Address) -> Hash32 {
    let mut h = [0u8; 32];
    for (d, s) in h.iter_mut().zip(a.0.iter()) {
        *d = *s;
    }
    Hash32(h)
}

fn out(action: AiAction, id: Hash32, amount: u128) -> AiOutcome {
    AiOutcome { action, id, amount }
}

/// The id of a model: `BLAKE3(tag "poai/model/v1" ‖ owner ‖ weights_id)`.
pub fn model_id(owner: &Address, weights_id: &Hash32) -> Hash32 {
    hash_tagged(b"poai/model/v1", &[&owner.0, &weights_id.0])
}

/// The id of the task submitted by `requester`'s transaction with account nonce `nonce`.
pub fn task_id(chain_id: poai_primitives::ChainId, requester: &Address, nonce: u64) -> Hash32 {
    hash_tagged(
        b"poai/task/v1",
        &[&chain_id.to_be_bytes(), &requester.0, &nonce.to_be_bytes()],
    )
}

/// The id of a dispute over attestations `a` and `b` (order-independent).
pub fn dispute_id(a: &Hash32, b: &Hash32) -> Hash32 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    hash_tagged(b"poai/dispute/v1", &[&lo.0, &hi.0])
}

/// The seed of a draw: the parent block hash, the draw's kind and its sequence number or id.
pub fn draw_seed(parent: &Hash32, kind: DeadlineKind, id: &Hash32) -> Hash32 {
    hash_tagged(b"poai/draw/v1", &[&parent.0, &[kind as u8], &id.0])
}

/// The id a task's draw uses: its sequence number, nothing the submitter chose.
pub fn task_draw_id(seq: u64) -> Hash32 {
    let mut h = [0u8; 32];
    for (d, s) in h.iter_mut().rev().zip(seq.to_le_bytes()) {
        *d = s;
    }
    Hash32(h)
}

/// Draws `n` distinct addresses from `eligible` (sorted, distinct) with `seed`: the i-th pick is
/// `BLAKE3(seed ‖ i) mod remaining`, so the result depends only on the seed and the set.
pub fn draw(seed: &Hash32, eligible: &[Address], n: usize) -> Option<Vec<Address>> {
    if eligible.len() < n {
        return None;
    }
    let mut pool = eligible.to_vec();
    let mut picked = Vec::with_capacity(n);
    for i in 0..n {
        let h = hash_tagged(b"poai/draw-pick/v1", &[&seed.0, &(i as u64).to_be_bytes()]);
        let mut x = [0u8; 16];
        for (d, s) in x.iter_mut().zip(h.0.iter()) {
            *d = *s;
        }
        let len = u128::try_from(pool.len()).ok()?;
        let idx = usize::try_from(u128::from_be_bytes(x) % len).ok()?;
        picked.push(pool.remove(idx));
    }
    Some(picked)
}

/// Why a provider cannot serve a model now, or `None` if it can. `min_tier` is the model's.
pub fn ineligibility(
    state: &State,
    addr: &Address,
    p: &Provider,
    min_tier: PrivacyLevel,
    now: u64,
) -> Option<TxError> {
    if p.jailed {
        return Some(TxError::ProviderJailed { provider: *addr });
    }
    let Some(d) = state.device(&p.device_id) else {
        return Some(TxError::UnknownDevice {
            device_id: p.device_id,
        });
    };
    if d.miner != *addr {
        return Some(TxError::DeviceOwnedByOther {
            device_id: p.device_id,
            owner: d.miner,
        });
    }
    if d.tier < p.gpu.min_tier() {
        return Some(TxError::GpuNeedsTier {
            gpu: p.gpu.to_string(),
            needs: p.gpu.min_tier(),
            tier: d.tier,
        });
    }
    let params = &state.genesis().ai;
    let min = params.min_stake(d.tier);
    if p.stake < min {
        return Some(TxError::StakeBelowMinimum {
            tier: d.tier,
            min: min.to_string(),
            got: p.stake.to_string(),
        });
    }
    let expires = d.registered_at.saturating_add(params.validity(d.tier));
    if now >= expires {
        return Some(TxError::AttestationExpired {
            provider: *addr,
            expired_at: expires,
        });
    }
    if d.tier < min_tier {
        return Some(TxError::TierBelowModel {
            provider: *addr,
            tier: d.tier,
            required: min_tier,
        });
    }
    None
}

fn eligible_set(
    st: &Stage<'_>,
    min_tier: PrivacyLevel,
    now: u64,
    exclude: &[Address],
) -> Vec<Address> {
    st.providers()
        .into_iter()
        .filter(|(a, p)| {
            !exclude.contains(a) && ineligibility(st.base(), a, p, min_tier, now).is_none()
        })
        .map(|(a, _)| a)
        .collect()
}

fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), TxError> {
    if s.is_empty() || s.len() > max {
        return Err(TxError::AiInvalidField {
            field,
            reason: format!("must be 1..={max} bytes, is {}", s.len()),
        });
    }
    if s.chars().any(char::is_control) {
        return Err(TxError::AiInvalidField {
            field,
            reason: "contains control characters".into(),
        });
    }
    Ok(())
}

fn insufficient(sender: Address, available: u128, needed: u128) -> TxError {
    TxError::InsufficientBalance {
        sender,
        asset: "native",
        available: available.to_string(),
        needed: needed.to_string(),
    }
}

fn debit_native(st: &mut Stage<'_>, a: Address, amount: u128) -> Result<(), TxError> {
    let mut acct = st.account(&a);
    acct.balance = acct
        .balance
        .checked_sub(amount)
        .ok_or_else(|| insufficient(a, acct.balance, amount))?;
    st.set_account(a, acct);
    Ok(())
}

fn debit_credits(st: &mut Stage<'_>, a: Address, amount: u128) -> Result<(), TxError> {
    let have = st.credits(&a);
    let left = have
        .checked_sub(amount)
        .ok_or_else(|| TxError::InsufficientCredits {
            holder: a,
            available: have.to_string(),
            needed: amount.to_string(),
        })?;
    st.set_credits(a, left);
    Ok(())
}

fn nonzero(field: &'static str, v: u128) -> Result<(), TxError> {
    if v == 0 {
        Err(TxError::ZeroAmount { field })
    } else {
        Ok(())
    }
}

fn provider_of(st: &Stage<'_>, a: &Address) -> Result<Provider, TxError> {
    st.provider(a)
        .ok_or(TxError::UnknownProvider { provider: *a })
}

fn bps_of(amount: u128, bps: u32) -> u128 {
    // (a / 10^4) * bps + (a mod 10^4) * bps / 10^4: exact floor of a * bps / 10^4 without the
    // product overflowing.
    let bps = u128::from(bps);
    (amount / 10_000)
        .saturating_mul(bps)
        .saturating_add((amount % 10_000).saturating_mul(bps) / 10_000)
}

/// How an attestation is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AttCheck {
    /// A new result: the provider must be eligible for the model now, the timestamp recent.
    Fresh,
    /// Evidence in a dispute: signature and registration only, timestamp within the window.
    Evidence,
}

/// Checks an attestation: model registered, provider registered (and, for fresh results,
/// staked, attested and of the model's tier), timestamp, signature. Returns its id and model.
fn check_attestation(
    st: &Stage<'_>,
    ctx: &BlockContext,
    att: &SignedAttestation,
    mode: AttCheck,
) -> Result<(Hash32, Model), TxError> {
    let b = &att.body;
    let model = st.model(&b.model_id).ok_or(TxError::UnknownModel {
        model_id: b.model_id,
    })?;
    let provider = provider_of(st, &b.provider)?;
    let device: &Device = st
        .device(&provider.device_id)
        .ok_or(TxError::UnknownDevice {
            device_id: provider.device_id,
        })?;
    if mode == AttCheck::Fresh {
        let min_tier = model.required_tier();
        if let Some(e) = ineligibility(st.base(), &b.provider, &provider, min_tier, ctx.timestamp) {
            return Err(e);
        }
    }
    if b.timestamp > ctx.timestamp.saturating_add(ATTESTATION_MAX_AHEAD_SECS) {
        return Err(TxError::AttestationFromFuture {
            timestamp: b.timestamp,
            block_time: ctx.timestamp,
        });
    }
    let max_age = match mode {
        AttCheck::Fresh => ATTESTATION_MAX_AGE_SECS,
        AttCheck::Evidence => st.base().genesis().ai.dispute_window_secs,
    };
    let oldest = ctx.timestamp.saturating_sub(max_age);
    if b.timestamp < oldest {
        return Err(TxError::AttestationTooOld {
            timestamp: b.timestamp,
            oldest,
        });
    }
    let chain_id = st.base().genesis().chain_id;
    let ok = matches!(
        device
            .key
            .verify(&b.signing_message(chain_id), &[], &att.signature),
        Ok(true)
    );
    if !ok {
        return Err(TxError::AttestationSignatureInvalid {
            provider: b.provider,
        });
    }
    Ok((b.id(chain_id), model))
}

fn store_attestation(
    st: &mut Stage<'_>,
    ctx: &BlockContext,
    tx_hash: Hash32,
    id: Hash32,
    att: &SignedAttestation,
    fail_if_exists: bool,
) -> Result<(), TxError> {
    if st.has_attestation(&id) {
        if fail_if_exists {
            return Err(TxError::AttestationExists { attestation_id: id });
        }
        return Ok(());
    }
    st.set_attestation(
        id,
        StoredAttestation {
            attestation: att.clone(),
            height: ctx.height,
            tx_hash,
        },
    );
    Ok(())
}

/// The transaction an AI call arrived in.
#[derive(Debug, Clone, Copy)]
pub struct TxInfo {
    /// The sender.
    pub sender: Address,
    /// The sender's account nonce of this transaction.
    pub nonce: u64,
    /// The transaction hash.
    pub hash: Hash32,
}

/// Checks `call` and stages its effects. The sender's account (with nonce and fee already
/// taken) must be staged by the caller.
pub fn stage_call(
    st: &mut Stage<'_>,
    ctx: &BlockContext,
    tx: TxInfo,
    call: &AiCall,
) -> Result<AiOutcome, TxError> {
    let sender = tx.sender;
    let now = ctx.timestamp;
    let params = st.base().genesis().ai.clone();
    match call {
        AiCall::RegisterModel {
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
            check_text("name", name, super::call::MAX_NAME_LEN)?;
            check_text("architecture", architecture, super::call::MAX_ARCH_LEN)?;
            check_text("licence", licence, super::call::MAX_LICENCE_LEN)?;
            if *tee_required && *min_tier < PrivacyLevel::Private {
                return Err(TxError::AiInvalidField {
                    field: "min_tier",
                    reason: "a model with tee_required needs min_tier Private or above".into(),
                });
            }
            if !*tee_required && *min_tier != PrivacyLevel::Public {
                return Err(TxError::AiInvalidField {
                    field: "min_tier",
                    reason: "must be Public (1) unless tee_required".into(),
                });
            }
            if let Tolerance::Hamming { max_bits } = tolerance
                && *max_bits > Tolerance::MAX_BITS
            {
                return Err(TxError::AiInvalidField {
                    field: "tolerance.max_bits",
                    reason: format!("is {max_bits}, at most {}", Tolerance::MAX_BITS),
                });
            }
            let id = model_id(&sender, weights_id);
            if st.model(&id).is_some() {
                return Err(TxError::ModelExists { model_id: id });
            }
            if let Some(prev_id) = previous {
                let mut prev = st
                    .model(prev_id)
                    .ok_or(TxError::UnknownModel { model_id: *prev_id })?;
                if prev.owner != sender {
                    return Err(TxError::NotModelOwner {
                        model_id: *prev_id,
                        owner: prev.owner,
                    });
                }
                if let Some(by) = prev.superseded_by {
                    return Err(TxError::ModelSuperseded {
                        model_id: *prev_id,
                        by,
                    });
                }
                if *version <= prev.version {
                    return Err(TxError::VersionNotIncreasing {
                        previous: prev.version,
                        got: *version,
                    });
                }
                prev.superseded_by = Some(id);
                st.set_model(*prev_id, prev);
            }
            st.set_model(
                id,
                Model {
                    owner: sender,
                    name: name.clone(),
                    version: *version,
                    weights_id: *weights_id,
                    weight_hash: *weight_hash,
                    architecture: architecture.clone(),
                    param_count: *param_count,
                    licence: licence.clone(),
                    tee_required: *tee_required,
                    min_tier: *min_tier,
                    tolerance: *tolerance,
                    previous: *previous,
                    superseded_by: None,
                    registered_at: now,
                },
            );
            Ok(out(AiAction::ModelRegistered, id, 0))
        }
        AiCall::RegisterProvider {
            device_id,
            gpu,
            stake,
        } => {
            if st.provider(&sender).is_some() {
                return Err(TxError::ProviderExists { provider: sender });
            }
            let device = st.device(device_id).ok_or(TxError::UnknownDevice {
                device_id: *device_id,
            })?;
            if device.miner != sender {
                return Err(TxError::DeviceOwnedByOther {
                    device_id: *device_id,
                    owner: device.miner,
                });
            }
            if let Some((other, _)) = st
                .providers()
                .into_iter()
                .find(|(_, p)| p.device_id == *device_id)
            {
                return Err(TxError::DeviceTaken {
                    device_id: *device_id,
                    provider: other,
                });
            }
            let provider = Provider {
                device_id: *device_id,
                gpu: *gpu,
                stake: *stake,
                unbonding: 0,
                release_at: 0,
                registered_at: now,
                jailed: false,
                open_disputes: 0,
                tasks_settled: 0,
                missed: 0,
                slashed: 0,
                ait_earned: 0,
            };
            if let Some(e) = ineligibility(st.base(), &sender, &provider, PrivacyLevel::Public, now)
            {
                return Err(e);
            }
            debit_native(st, sender, *stake)?;
            st.update_meta(
                |m| {
                    m.native_staked = m.native_staked.checked_add(*stake)?;
                    Some(())
                },
                "native_staked",
            )?;
            st.set_provider(sender, provider);
            Ok(out(AiAction::ProviderRegistered, addr_id(&sender), *stake))
        }
        AiCall::AddStake { amount } => {
            nonzero("amount", *amount)?;
            let mut p = provider_of(st, &sender)?;
            debit_native(st, sender, *amount)?;
            p.stake = p
                .stake
                .checked_add(*amount)
                .ok_or(TxError::Overflow { field: "stake" })?;
            st.update_meta(
                |m| {
                    m.native_staked = m.native_staked.checked_add(*amount)?;
                    Some(())
                },
                "native_staked",
            )?;
            let total = p.stake;
            st.set_provider(sender, p);
            Ok(out(AiAction::Staked, addr_id(&sender), total))
        }
        AiCall::Unbond { amount } => {
            nonzero("amount", *amount)?;
            let mut p = provider_of(st, &sender)?;
            p.stake = p
                .stake
                .checked_sub(*amount)
                .ok_or_else(|| TxError::UnbondTooMuch {
                    requested: amount.to_string(),
                    staked: p.stake.to_string(),
                })?;
            p.unbonding = p
                .unbonding
                .checked_add(*amount)
                .ok_or(TxError::Overflow { field: "unbonding" })?;
            p.release_at = now
                .checked_add(params.unbonding_secs)
                .ok_or(TxError::Overflow {
                    field: "release_at",
                })?;
            let total = p.unbonding;
            st.set_provider(sender, p);
            Ok(out(AiAction::Unbonding, addr_id(&sender), total))
        }
        AiCall::Withdraw => {
            let mut p = provider_of(st, &sender)?;
            if p.unbonding == 0 {
                return Err(TxError::NothingToWithdraw);
            }
            if now < p.release_at {
                return Err(TxError::UnbondingNotReady {
                    release_at: p.release_at,
                });
            }
            if p.open_disputes > 0 {
                return Err(TxError::StakeLocked {
                    provider: sender,
                    open_disputes: p.open_disputes,
                });
            }
            let amount = p.unbonding;
            p.unbonding = 0;
            st.credit_native(sender, amount)?;
            st.update_meta(
                |m| {
                    m.native_staked = m.native_staked.checked_sub(amount)?;
                    Some(())
                },
                "native_staked",
            )?;
            st.set_provider(sender, p);
            Ok(out(AiAction::Withdrawn, addr_id(&sender), amount))
        }
        AiCall::SubmitAttestation { attestation } => {
            let (id, _) = check_attestation(st, ctx, attestation, AttCheck::Fresh)?;
            store_attestation(st, ctx, tx.hash, id, attestation, true)?;
            Ok(out(AiAction::Attested, id, 0))
        }
        AiCall::SubmitTask {
            model_id: mid,
            input_hash,
            workload,
            max_duration,
            asset,
            payment,
        } => {
            st.model(mid)
                .ok_or(TxError::UnknownModel { model_id: *mid })?;
            let (min, max) = workload.bounds();
            if *max_duration < min || *max_duration > max {
                return Err(TxError::DurationOutOfBounds {
                    field: "max_duration",
                    workload: workload.to_string(),
                    min,
                    max,
                    got: *max_duration,
                });
            }
            nonzero("payment", *payment)?;
            match asset {
                super::types::PaymentAsset::Native => {
                    debit_native(st, sender, *payment)?;
                    st.update_meta(
                        |m| {
                            m.native_escrowed = m.native_escrowed.checked_add(*payment)?;
                            Some(())
                        },
                        "native_escrowed",
                    )?;
                }
                super::types::PaymentAsset::Ait => {
                    debit_credits(st, sender, *payment)?;
                    st.update_meta(
                        |m| {
                            m.ait_escrowed = m.ait_escrowed.checked_add(*payment)?;
                            Some(())
                        },
                        "ait_escrowed",
                    )?;
                }
            }
            let id = task_id(st.base().genesis().chain_id, &sender, tx.nonce);
            let seq = st.meta().task_seq;
            st.update_meta(
                |m| {
                    m.task_seq = m.task_seq.checked_add(1)?;
                    Some(())
                },
                "task_seq",
            )?;
            let deadline = now
                .checked_add(params.assign_timeout_secs)
                .ok_or(TxError::Overflow { field: "deadline" })?;
            st.set_task(
                id,
                Task {
                    requester: sender,
                    model_id: *mid,
                    input_hash: *input_hash,
                    workload: *workload,
                    max_duration: *max_duration,
                    asset: *asset,
                    payment: *payment,
                    submitted_at: now,
                    submitted_height: ctx.height,
                    seq,
                    status: TaskStatus::Queued,
                    providers: Vec::new(),
                    assigned_at: 0,
                    deadline,
                    commits: [None; TASK_PROVIDERS],
                    reveals: [None; TASK_PROVIDERS],
                    agreeing: Vec::new(),
                    result: None,
                    minted: 0,
                },
            );
            st.add_deadline(Deadline {
                time: now,
                kind: DeadlineKind::AssignTask,
                id,
            });
            Ok(out(AiAction::TaskSubmitted, id, *payment))
        }
        AiCall::CommitResult {
            task_id: tid,
            commitment,
        } => {
            let mut t = st.task(tid).ok_or(TxError::UnknownTask { task_id: *tid })?;
            expect_phase(tid, &t, TaskStatus::Committing)?;
            let i = position(tid, &t, &sender)?;
            let slot = t.commits.get_mut(i).ok_or(TxError::NotAssigned {
                task_id: *tid,
                provider: sender,
            })?;
            if slot.is_some() {
                return Err(TxError::AlreadyCommitted { task_id: *tid });
            }
            *slot = Some(*commitment);
            if t.commits.iter().all(Option::is_some) {
                start_reveal(st, ctx, *tid, &mut t)?;
            }
            st.set_task(*tid, t);
            Ok(out(AiAction::Committed, *tid, 0))
        }
        AiCall::RevealResult {
            task_id: tid,
            duration,
            salt,
            attestation,
        } => {
            let mut t = st.task(tid).ok_or(TxError::UnknownTask { task_id: *tid })?;
            expect_phase(tid, &t, TaskStatus::Revealing)?;
            let i = position(tid, &t, &sender)?;
            let commit = t
                .commits
                .get(i)
                .copied()
                .flatten()
                .ok_or(TxError::NotCommitted { task_id: *tid })?;
            if t.reveals.get(i).copied().flatten().is_some() {
                return Err(TxError::AlreadyRevealed { task_id: *tid });
            }
            let b = &attestation.body;
            mismatch("provider", b.provider == sender, &sender)?;
            mismatch("task_id", b.task_id == *tid, tid)?;
            mismatch("model_id", b.model_id == t.model_id, &t.model_id)?;
            mismatch("input_hash", b.input_hash == t.input_hash, &t.input_hash)?;
            let (min, max) = t.workload.bounds();
            if *duration < min || *duration > max {
                return Err(TxError::DurationOutOfBounds {
                    field: "duration",
                    workload: t.workload.to_string(),
                    min,
                    max,
                    got: *duration,
                });
            }
            let elapsed = now.saturating_sub(t.assigned_at);
            if *duration > elapsed {
                return Err(TxError::DurationExceedsElapsed {
                    duration: *duration,
                    elapsed,
                });
            }
            let opened = result_commitment(
                tid,
                &sender,
                &b.output_hash,
                &b.fingerprint,
                *duration,
                salt,
            );
            if opened != commit {
                return Err(TxError::CommitmentMismatch { task_id: *tid });
            }
            let (aid, _) = check_attestation(st, ctx, attestation, AttCheck::Fresh)?;
            store_attestation(st, ctx, tx.hash, aid, attestation, true)?;
            if let Some(r) = t.reveals.get_mut(i) {
                *r = Some(Reveal {
                    attestation_id: aid,
                    output_hash: b.output_hash,
                    fingerprint: b.fingerprint,
                    duration: *duration,
                });
            }
            let all_in = t
                .commits
                .iter()
                .zip(t.reveals.iter())
                .all(|(c, r)| c.is_none() || r.is_some());
            let action = if all_in {
                st.remove_deadline(Deadline {
                    time: t.deadline,
                    kind: DeadlineKind::RevealEnd,
                    id: *tid,
                });
                settle(st, *tid, &mut t)?;
                AiAction::RevealedAndClosed
            } else {
                AiAction::Revealed
            };
            st.set_task(*tid, t);
            Ok(out(action, aid, 0))
        }
        AiCall::OpenDispute { bond, a, b } => {
            if *bond < params.min_dispute_bond {
                return Err(TxError::BondTooLow {
                    min: params.min_dispute_bond.to_string(),
                    got: bond.to_string(),
                });
            }
            let (ba, bb) = (&a.body, &b.body);
            if bb.model_id != ba.model_id {
                return Err(TxError::AttestationMismatch {
                    field: "model_id",
                    expected: format!("{} (the model of `a`)", ba.model_id),
                });
            }
            if bb.input_hash != ba.input_hash {
                return Err(TxError::AttestationMismatch {
                    field: "input_hash",
                    expected: format!("{} (the input of `a`)", ba.input_hash),
                });
            }
            if ba.provider == bb.provider {
                return Err(TxError::SameProvider {
                    provider: ba.provider,
                });
            }
            if ba.output_hash == bb.output_hash {
                return Err(TxError::IdenticalOutputs);
            }
            if sender == ba.provider || sender == bb.provider {
                return Err(TxError::ChallengerIsAccused { challenger: sender });
            }
            let (ida, model) = check_attestation(st, ctx, a, AttCheck::Evidence)?;
            let (idb, _) = check_attestation(st, ctx, b, AttCheck::Evidence)?;
            let did = dispute_id(&ida, &idb);
            if st.dispute(&did).is_some() {
                return Err(TxError::DisputeExists { dispute_id: did });
            }
            debit_native(st, sender, *bond)?;
            store_attestation(st, ctx, tx.hash, ida, a, false)?;
            store_attestation(st, ctx, tx.hash, idb, b, false)?;
            let (first, second) = if ida <= idb { (a, b) } else { (b, a) };
            let mut d = Dispute {
                challenger: sender,
                model_id: ba.model_id,
                input_hash: ba.input_hash,
                a: ida.min(idb),
                b: ida.max(idb),
                provider_a: first.body.provider,
                provider_b: second.body.provider,
                bond: *bond,
                opened_at: now,
                status: DisputeStatus::AwaitingReferee,
                referees: Vec::new(),
                deadline: now.saturating_add(params.assign_timeout_secs),
                referee_attestation: None,
                slashed: None,
                slash_amount: 0,
            };
            let agree = model.tolerance.agree(
                &ba.output_hash,
                &ba.fingerprint,
                &bb.output_hash,
                &bb.fingerprint,
            );
            if agree {
                // Frivolous: the results agree within the model's tolerance. The bond goes to
                // the two providers it accused, half each (the odd unit to the first).
                let half = bond / 2;
                st.credit_native(d.provider_a, bond.saturating_sub(half))?;
                st.credit_native(d.provider_b, half)?;
                d.status = DisputeStatus::Frivolous;
                st.set_dispute(did, d);
                return Ok(out(AiAction::DisputeFrivolous, did, *bond));
            }
            st.update_meta(
                |m| {
                    m.native_escrowed = m.native_escrowed.checked_add(*bond)?;
                    Some(())
                },
                "native_escrowed",
            )?;
            for p in [d.provider_a, d.provider_b] {
                let mut pr = provider_of(st, &p)?;
                pr.open_disputes = pr.open_disputes.saturating_add(1);
                st.set_provider(p, pr);
            }
            st.add_deadline(Deadline {
                time: now,
                kind: DeadlineKind::AssignReferee,
                id: did,
            });
            st.set_dispute(did, d);
            Ok(out(AiAction::DisputeOpened, did, *bond))
        }
        AiCall::RefereeResult {
            dispute_id: did,
            attestation,
        } => {
            let mut d = st
                .dispute(did)
                .ok_or(TxError::UnknownDispute { dispute_id: *did })?;
            if d.status != DisputeStatus::Refereeing {
                return Err(TxError::WrongDisputePhase {
                    dispute_id: *did,
                    status: format!("{:?}", d.status),
                });
            }
            if d.referees.last() != Some(&sender) {
                return Err(TxError::NotReferee {
                    dispute_id: *did,
                    sender,
                });
            }
            let b = &attestation.body;
            mismatch("provider", b.provider == sender, &sender)?;
            mismatch("model_id", b.model_id == d.model_id, &d.model_id)?;
            mismatch("input_hash", b.input_hash == d.input_hash, &d.input_hash)?;
            let (rid, model) = check_attestation(st, ctx, attestation, AttCheck::Fresh)?;
            store_attestation(st, ctx, tx.hash, rid, attestation, true)?;
            let sa = st.attestation(&d.a).map(|s| s.attestation.body);
            let sb = st.attestation(&d.b).map(|s| s.attestation.body);
            let (Some(sa), Some(sb)) = (sa, sb) else {
                return Err(TxError::UnknownDispute { dispute_id: *did });
            };
            let tol = model.tolerance;
            let ra = tol.agree(
                &b.output_hash,
                &b.fingerprint,
                &sa.output_hash,
                &sa.fingerprint,
            );
            let rb = tol.agree(
                &b.output_hash,
                &b.fingerprint,
                &sb.output_hash,
                &sb.fingerprint,
            );
            st.remove_deadline(Deadline {
                time: d.deadline,
                kind: DeadlineKind::RefereeEnd,
                id: *did,
            });
            d.referee_attestation = Some(rid);
            let loser = match (ra, rb) {
                (true, false) => Some(d.provider_b),
                (false, true) => Some(d.provider_a),
                _ => None,
            };
            release_escrow(st, d.bond)?;
            st.credit_native(d.challenger, d.bond)?;
            if let Some(loser) = loser {
                let amount = slash(st, &loser, params.slash_bps, true)?;
                let to_challenger = bps_of(amount, params.challenger_bps);
                let to_referee = bps_of(amount, params.referee_bps);
                let burned = amount
                    .saturating_sub(to_challenger)
                    .saturating_sub(to_referee);
                st.credit_native(d.challenger, to_challenger)?;
                st.credit_native(sender, to_referee)?;
                st.update_meta(
                    |m| {
                        m.native_burned = m.native_burned.checked_add(burned)?;
                        Some(())
                    },
                    "native_burned",
                )?;
                d.slashed = Some(loser);
                d.slash_amount = amount;
                d.status = DisputeStatus::Upheld;
            } else {
                d.status = DisputeStatus::Inconclusive;
            }
            close_dispute(st, &d)?;
            let amount = d.slash_amount;
            st.set_dispute(*did, d);
            Ok(out(AiAction::RefereeReported, *did, amount))
        }
        AiCall::TransferCredits { to, amount } => {
            nonzero("amount", *amount)?;
            debit_credits(st, sender, *amount)?;
            st.credit_ait(*to, *amount)?;
            Ok(out(AiAction::CreditsTransferred, addr_id(to), *amount))
        }
        AiCall::RedeemCredits {
            amount,
            workload_id,
        } => {
            nonzero("amount", *amount)?;
            debit_credits(st, sender, *amount)?;
            st.update_meta(
                |m| {
                    m.ait_burned = m.ait_burned.checked_add(*amount)?;
                    Some(())
                },
                "ait_burned",
            )?;
            Ok(out(AiAction::CreditsRedeemed, *workload_id, *amount))
        }
    }
}

fn mismatch(
    field: &'static str,
    ok: bool,
    expected: &dyn std::fmt::Display,
) -> Result<(), TxError> {
    if ok {
        Ok(())
    } else {
        Err(TxError::AttestationMismatch {
            field,
            expected: expected.to_string(),
        })
    }
}

fn expect_phase(id: &Hash32, t: &Task, want: TaskStatus) -> Result<(), TxError> {
    if t.status == want {
        Ok(())
    } else {
        Err(TxError::WrongTaskPhase {
            task_id: *id,
            status: t.status.name().into(),
            expected: want.name().into(),
        })
    }
}

fn position(id: &Hash32, t: &Task, who: &Address) -> Result<usize, TxError> {
    t.providers
        .iter()
        .position(|p| p == who)
        .ok_or(TxError::NotAssigned {
            task_id: *id,
            provider: *who,
        })
}

fn start_reveal(
    st: &mut Stage<'_>,
    ctx: &BlockContext,
    id: Hash32,
    t: &mut Task,
) -> Result<(), TxError> {
    st.remove_deadline(Deadline {
        time: t.deadline,
        kind: DeadlineKind::CommitEnd,
        id,
    });
    t.status = TaskStatus::Revealing;
    t.deadline = ctx
        .timestamp
        .checked_add(st.base().genesis().ai.reveal_secs)
        .ok_or(TxError::Overflow { field: "deadline" })?;
    st.add_deadline(Deadline {
        time: t.deadline,
        kind: DeadlineKind::RevealEnd,
        id,
    });
    Ok(())
}

fn release_escrow(st: &mut Stage<'_>, amount: u128) -> Result<(), TxError> {
    st.update_meta(
        |m| {
            m.native_escrowed = m.native_escrowed.checked_sub(amount)?;
            Some(())
        },
        "native_escrowed",
    )
}

/// Takes `bps` of a provider's stake (active first, then unbonding); `jail` bars it for good.
/// Returns the amount taken (the caller distributes it). The amount leaves `native_staked`.
fn slash(st: &mut Stage<'_>, who: &Address, bps: u32, jail: bool) -> Result<u128, TxError> {
    let mut p = provider_of(st, who)?;
    let total = p
        .stake
        .checked_add(p.unbonding)
        .ok_or(TxError::Overflow { field: "stake" })?;
    let amount = bps_of(total, bps);
    let from_stake = amount.min(p.stake);
    p.stake = p.stake.saturating_sub(from_stake);
    p.unbonding = p
        .unbonding
        .saturating_sub(amount.saturating_sub(from_stake));
    p.slashed = p.slashed.saturating_add(amount);
    if jail {
        p.jailed = true;
    }
    st.set_provider(*who, p);
    st.update_meta(
        |m| {
            m.native_staked = m.native_staked.checked_sub(amount)?;
            Some(())
        },
        "native_staked",
    )?;
    Ok(amount)
}

fn close_dispute(st: &mut Stage<'_>, d: &Dispute) -> Result<(), TxError> {
    for p in [d.provider_a, d.provider_b] {
        let mut pr = provider_of(st, &p)?;
        pr.open_disputes = pr.open_disputes.saturating_sub(1);
        st.set_provider(p, pr);
    }
    Ok(())
}

/// Settles a task whose reveal phase is over: the largest group of results that agree with one
/// of them (ties to the earliest position) wins if it has at least two; they share the payment
/// and are minted AIT. Otherwise the requester is refunded.
fn settle(st: &mut Stage<'_>, _id: Hash32, t: &mut Task) -> Result<(), TxError> {
    let model = st.model(&t.model_id).ok_or(TxError::UnknownModel {
        model_id: t.model_id,
    })?;
    let revealed: Vec<(usize, Reveal)> = t
        .reveals
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.map(|r| (i, r)))
        .collect();
    let mut best: Vec<usize> = Vec::new();
    for (i, ri) in &revealed {
        let group: Vec<usize> = revealed
            .iter()
            .filter(|(j, rj)| {
                j == i
                    || model.tolerance.agree(
                        &ri.output_hash,
                        &ri.fingerprint,
                        &rj.output_hash,
                        &rj.fingerprint,
                    )
            })
            .map(|(j, _)| *j)
            .collect();
        if group.len() > best.len() {
            best = group;
        }
    }
    // Providers that committed nothing or revealed nothing missed their duty.
    for (i, p) in t.providers.iter().enumerate() {
        if t.reveals.get(i).copied().flatten().is_none() {
            let mut pr = provider_of(st, p)?;
            pr.missed = pr.missed.saturating_add(1);
            st.set_provider(*p, pr);
        }
    }
    if best.len() < TASK_QUORUM {
        t.status = TaskStatus::Failed;
        return refund(st, t);
    }
    let anchor = best.first().copied().unwrap_or(0);
    t.result = t
        .reveals
        .get(anchor)
        .copied()
        .flatten()
        .map(|r| r.output_hash);
    let winners: Vec<(Address, Reveal)> = best
        .iter()
        .filter_map(|i| Some((*t.providers.get(*i)?, t.reveals.get(*i).copied().flatten()?)))
        .collect();
    let n = u128::try_from(winners.len()).unwrap_or(1).max(1);
    let share = t.payment / n;
    let remainder = t.payment % n;
    let mut minted_total = 0u128;
    for (k, (addr, r)) in winners.iter().enumerate() {
        let mut pr = provider_of(st, addr)?;
        let secs = r.duration.min(t.max_duration);
        let ait = super::ait_for(pr.gpu, secs).ok_or(TxError::Overflow { field: "ait" })?;
        st.credit_ait(*addr, ait)?;
        pr.ait_earned = pr.ait_earned.saturating_add(ait);
        pr.tasks_settled = pr.tasks_settled.saturating_add(1);
        st.set_provider(*addr, pr);
        minted_total = minted_total
            .checked_add(ait)
            .ok_or(TxError::Overflow { field: "ait" })?;
        if t.asset == super::types::PaymentAsset::Native {
            let pay = if k == 0 {
                share.saturating_add(remainder)
            } else {
                share
            };
            st.credit_native(*addr, pay)?;
        }
    }
    let payment = t.payment;
    let asset = t.asset;
    st.update_meta(
        |m| {
            m.ait_minted = m.ait_minted.checked_add(minted_total)?;
            match asset {
                super::types::PaymentAsset::Native => {
                    m.native_escrowed = m.native_escrowed.checked_sub(payment)?;
                }
                super::types::PaymentAsset::Ait => {
                    m.ait_escrowed = m.ait_escrowed.checked_sub(payment)?;
                    m.ait_burned = m.ait_burned.checked_add(payment)?;
                }
            }
            Some(())
        },
        "ait_minted",
    )?;
    t.agreeing = winners.into_iter().map(|(a, _)| a).collect();
    t.minted = minted_total;
    t.status = TaskStatus::Settled;
    Ok(())
}

fn refund(st: &mut Stage<'_>, t: &Task) -> Result<(), TxError> {
    let payment = t.payment;
    match t.asset {
        super::types::PaymentAsset::Native => {
            st.credit_native(t.requester, payment)?;
            release_escrow(st, payment)
        }
        super::types::PaymentAsset::Ait => {
            st.credit_ait(t.requester, payment)?;
            st.update_meta(
                |m| {
                    m.ait_escrowed = m.ait_escrowed.checked_sub(payment)?;
                    Some(())
                },
                "ait_escrowed",
            )
        }
    }
}

/// Runs every deadline due at the block's time, in queue order, before the block's
/// transactions. The parent hash (`state.head().hash`) seeds the draws. A deadline whose
/// handling fails (only on arithmetic overflow) is dropped, so it cannot stall the queue.
pub fn begin_block(state: &mut State, ctx: &BlockContext) {
    let upper = Deadline {
        time: ctx.timestamp,
        kind: DeadlineKind::RefereeEnd,
        id: Hash32([0xff; 32]),
    };
    let due: Vec<Deadline> = state
        .ai()
        .deadlines
        .range(..=upper)
        .map(|(k, ())| *k)
        .collect();
    for d in due {
        let mut st = Stage::new(state);
        let result = run_deadline(&mut st, ctx, d);
        let writes = match result {
            Ok(()) => st.finish(),
            Err(_) => {
                let mut st = Stage::new(state);
                st.remove_deadline(d);
                st.finish()
            }
        };
        state.apply_ai_writes(writes);
    }
}

fn run_deadline(st: &mut Stage<'_>, ctx: &BlockContext, d: Deadline) -> Result<(), TxError> {
    let now = ctx.timestamp;
    let params = st.base().genesis().ai.clone();
    let parent = st.base().head().hash;
    match d.kind {
        DeadlineKind::AssignTask => {
            let Some(mut t) = st.task(&d.id) else {
                st.remove_deadline(d);
                return Ok(());
            };
            if t.status != TaskStatus::Queued {
                st.remove_deadline(d);
                return Ok(());
            }
            let model = st.model(&t.model_id).ok_or(TxError::UnknownModel {
                model_id: t.model_id,
            })?;
            let min_tier = model.required_tier();
            let pool = eligible_set(st, min_tier, now, &[t.requester]);
            let seed = draw_seed(&parent, DeadlineKind::AssignTask, &task_draw_id(t.seq));
            match draw(&seed, &pool, TASK_PROVIDERS) {
                Some(providers) => {
                    st.remove_deadline(d);
                    t.providers = providers;
                    t.status = TaskStatus::Committing;
                    t.assigned_at = now;
                    t.deadline = now
                        .checked_add(t.max_duration)
                        .and_then(|v| v.checked_add(params.commit_grace_secs))
                        .ok_or(TxError::Overflow { field: "deadline" })?;
                    st.add_deadline(Deadline {
                        time: t.deadline,
                        kind: DeadlineKind::CommitEnd,
                        id: d.id,
                    });
                }
                None if now >= t.deadline => {
                    st.remove_deadline(d);
                    t.status = TaskStatus::Cancelled;
                    refund(st, &t)?;
                }
                // Too few eligible providers yet: the entry stays and is retried next block.
                None => {}
            }
            st.set_task(d.id, t);
        }
        DeadlineKind::CommitEnd => {
            st.remove_deadline(d);
            let Some(mut t) = st.task(&d.id) else {
                return Ok(());
            };
            if t.status != TaskStatus::Committing {
                return Ok(());
            }
            let committed = t.commits.iter().filter(|c| c.is_some()).count();
            if committed >= TASK_QUORUM {
                // start_reveal removes the (already removed) commit deadline again: harmless.
                start_reveal(st, ctx, d.id, &mut t)?;
            } else {
                for (i, p) in t.providers.iter().enumerate() {
                    if t.commits.get(i).copied().flatten().is_none() {
                        let mut pr = provider_of(st, p)?;
                        pr.missed = pr.missed.saturating_add(1);
                        st.set_provider(*p, pr);
                    }
                }
                t.status = TaskStatus::Failed;
                refund(st, &t)?;
            }
            st.set_task(d.id, t);
        }
        DeadlineKind::RevealEnd => {
            st.remove_deadline(d);
            let Some(mut t) = st.task(&d.id) else {
                return Ok(());
            };
            if t.status != TaskStatus::Revealing {
                return Ok(());
            }
            settle(st, d.id, &mut t)?;
            st.set_task(d.id, t);
        }
        DeadlineKind::AssignReferee => {
            let Some(mut disp) = st.dispute(&d.id) else {
                st.remove_deadline(d);
                return Ok(());
            };
            if disp.status != DisputeStatus::AwaitingReferee {
                st.remove_deadline(d);
                return Ok(());
            }
            let model = st.model(&disp.model_id).ok_or(TxError::UnknownModel {
                model_id: disp.model_id,
            })?;
            let min_tier = model.required_tier();
            let mut exclude = vec![disp.provider_a, disp.provider_b, disp.challenger];
            exclude.extend(disp.referees.iter().copied());
            let pool = eligible_set(st, min_tier, now, &exclude);
            let round_id = hash_tagged(
                b"poai/referee-round/v1",
                &[
                    &d.id.0,
                    &[u8::try_from(disp.referees.len()).unwrap_or(u8::MAX)],
                ],
            );
            let seed = draw_seed(&parent, DeadlineKind::AssignReferee, &round_id);
            match draw(&seed, &pool, 1).and_then(|v| v.first().copied()) {
                Some(referee) => {
                    st.remove_deadline(d);
                    disp.referees.push(referee);
                    disp.status = DisputeStatus::Refereeing;
                    disp.deadline = now
                        .checked_add(params.referee_secs)
                        .ok_or(TxError::Overflow { field: "deadline" })?;
                    st.add_deadline(Deadline {
                        time: disp.deadline,
                        kind: DeadlineKind::RefereeEnd,
                        id: d.id,
                    });
                }
                None if now >= disp.deadline => {
                    st.remove_deadline(d);
                    expire_dispute(st, &mut disp)?;
                }
                None => {}
            }
            st.set_dispute(d.id, disp);
        }
        DeadlineKind::RefereeEnd => {
            st.remove_deadline(d);
            let Some(mut disp) = st.dispute(&d.id) else {
                return Ok(());
            };
            if disp.status != DisputeStatus::Refereeing {
                return Ok(());
            }
            if let Some(referee) = disp.referees.last().copied() {
                // The referee missed its deadline: a liveness slash, burned, no jail.
                let amount = slash(st, &referee, params.liveness_slash_bps, false)?;
                let mut pr = provider_of(st, &referee)?;
                pr.missed = pr.missed.saturating_add(1);
                st.set_provider(referee, pr);
                st.update_meta(
                    |m| {
                        m.native_burned = m.native_burned.checked_add(amount)?;
                        Some(())
                    },
                    "native_burned",
                )?;
            }
            let rounds = disp.referees.len();
            if rounds < usize::from(params.max_referee_rounds)
                && rounds < super::types::MAX_REFEREE_ROUNDS
            {
                disp.status = DisputeStatus::AwaitingReferee;
                disp.deadline = now.saturating_add(params.assign_timeout_secs);
                st.add_deadline(Deadline {
                    time: now,
                    kind: DeadlineKind::AssignReferee,
                    id: d.id,
                });
            } else {
                expire_dispute(st, &mut disp)?;
            }
            st.set_dispute(d.id, disp);
        }
    }
    Ok(())
}

fn expire_dispute(st: &mut Stage<'_>, d: &mut Dispute) -> Result<(), TxError> {
    d.status = DisputeStatus::Expired;
    release_escrow(st, d.bond)?;
    st.credit_native(d.challenger, d.bond)?;
    close_dispute(st, d)
}
