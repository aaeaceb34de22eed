//! Registration and the proof loop (SPEC section 7).
//!
//! The loop, per device: read the chain's next block time and the device's last accepted proof
//! (or registration) time; once at least a whole minute has elapsed, build a proof claiming the
//! elapsed whole minutes (at most 60) at the device's tier, sign it for this chain and the
//! beneficiary, submit it, and wait for its block. Time comes from the node (`next_block_time`),
//! so proofs line up with the chain's clock, including a devnet's accelerated one.

use crate::client::{ClientError, NodeClient};
use poai_chain::api::{DeviceView, TxStatus};
use poai_chain::hash::hash_tagged;
use poai_chain::{Call, Outcome, ProofTx, SignedTx, Transaction, TxBody, address_of};
use poai_crypto::SigningKey;
use poai_primitives::{Address, DeviceId, Nonce, PrivacyLevel, WorkProof};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::watch;

/// Miner errors.
#[derive(Debug, Error)]
pub enum MinerError {
    /// The node refused or could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(#[from] poai_crypto::MlDsaError),
    /// A registration was not included.
    #[error("registration {hash} was not included: {status}")]
    NotRegistered {
        /// The transaction.
        hash: String,
        /// Its status.
        status: String,
    },
    /// The device is not registered on the node.
    #[error("device {0} is not registered on this chain (run `poai miner register` first)")]
    UnknownDevice(DeviceId),
    /// The operating system's random number generator failed.
    #[error("random number generator: {0}")]
    Rng(String),
}

/// The miner's address for its key.
pub fn miner_address(key: &SigningKey) -> Address {
    address_of(key.verifying_key())
}

/// The seed of a miner's `index`-th dev device: derived from its public key, so `miner run`
/// finds the same device without storing anything.
pub fn dev_device_seed(key: &SigningKey, index: u32) -> [u8; 32] {
    hash_tagged(
        b"poai/dev-device-seed/v1",
        &[key.verifying_key().as_bytes(), &index.to_be_bytes()],
    )
    .0
}

/// Registers a device with `evidence`; waits for the block and returns the device.
pub async fn register(
    client: &NodeClient,
    key: &SigningKey,
    evidence: Vec<u8>,
    fee: u128,
) -> Result<DeviceView, MinerError> {
    let info = client.chain_info().await?;
    let me = miner_address(key);
    let acct = client.account(me).await?;
    let body = TxBody {
        chain_id: info.chain_id,
        nonce: acct.account.nonce,
        fee: fee.max(info.min_fee),
        call: Call::RegisterDevice { evidence },
    };
    let tx = Transaction::Account(SignedTx::sign(body, key)?);
    let hash = client.send(&tx).await?;
    let status = client.wait_tx(hash, Duration::from_secs(120)).await?;
    let TxStatus::Included {
        outcome: Outcome::Registered { device_id, .. },
        ..
    } = status
    else {
        return Err(MinerError::NotRegistered {
            hash: hash.to_string(),
            status: format!("{status:?}"),
        });
    };
    client
        .device_status(device_id)
        .await?
        .ok_or(MinerError::UnknownDevice(device_id))
}

/// Counters of one miner, shared with a progress display.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Proofs included.
    pub accepted: u64,
    /// Proofs refused at submission or left out of a block.
    pub rejected: u64,
    /// AI paid to the beneficiary (miner share), wei.
    pub earned: u128,
    /// Submission attempts that failed in transport.
    pub transport_errors: u64,
    /// The last refusal or error.
    pub last_error: Option<String>,
}

/// Shared [`Stats`].
pub type SharedStats = Arc<Mutex<Stats>>;

fn update(stats: &SharedStats, f: impl FnOnce(&mut Stats)) {
    let mut s = stats.lock().unwrap_or_else(PoisonError::into_inner);
    f(&mut s);
}

/// How the loop mines.
#[derive(Debug, Clone)]
pub struct MineOptions {
    /// Who is paid.
    pub beneficiary: Address,
    /// Stop after this many accepted proofs.
    pub max_proofs: Option<u64>,
    /// How often to poll the node while waiting for time to pass.
    pub poll: Duration,
}

/// A random proof nonce.
pub fn random_nonce() -> Result<Nonce, MinerError> {
    let mut n = [0u8; 32];
    getrandom::fill(&mut n).map_err(|e| MinerError::Rng(e.to_string()))?;
    Ok(Nonce(n))
}

/// Builds and signs the proof for `device` at chain time `now`, claiming the whole minutes
/// elapsed since its previous proof (or registration), at most 60; `None` if less than a minute
/// has elapsed or the 30 s interval has not passed.
pub fn build_proof(
    key: &SigningKey,
    chain_id: poai_primitives::ChainId,
    device: &DeviceView,
    now: u64,
    level: PrivacyLevel,
    beneficiary: Address,
) -> Result<Option<ProofTx>, MinerError> {
    let since = device.last_proof_at.unwrap_or(device.registered_at);
    let minutes = (now.saturating_sub(since) / 60).min(60);
    if minutes == 0 {
        return Ok(None);
    }
    let proof = WorkProof {
        device_id: device.device_id,
        nonce: random_nonce()?,
        timestamp: now,
        privacy_level: level.min(device.tier),
        compute_minutes: u32::try_from(minutes).unwrap_or(60),
        tee_evidence: Vec::new(),
    };
    Ok(Some(ProofTx::sign(proof, beneficiary, chain_id, key)?))
}

/// Mines with one device until `stop` is set, `opts.max_proofs` are accepted, or the device
/// disappears. Rejections and transport errors are counted and the loop goes on.
pub async fn mine_device(
    client: &NodeClient,
    key: &SigningKey,
    device_id: DeviceId,
    opts: &MineOptions,
    stats: SharedStats,
    mut stop: watch::Receiver<bool>,
) -> Result<(), MinerError> {
    let mut accepted = 0u64;
    loop {
        if *stop.borrow() || opts.max_proofs.is_some_and(|m| accepted >= m) {
            return Ok(());
        }
        match step(client, key, device_id, opts, &stats).await {
            Ok(true) => accepted = accepted.saturating_add(1),
            Ok(false) => {
                tokio::select! {
                    _ = tokio::time::sleep(opts.poll) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(MinerError::Client(ClientError::Transport { message, .. })) => {
                update(&stats, |s| {
                    s.transport_errors = s.transport_errors.saturating_add(1);
                    s.last_error = Some(message);
                });
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// One attempt: `Ok(true)` if a proof was included.
async fn step(
    client: &NodeClient,
    key: &SigningKey,
    device_id: DeviceId,
    opts: &MineOptions,
    stats: &SharedStats,
) -> Result<bool, MinerError> {
    let info = client.chain_info().await?;
    let device = client
        .device_status(device_id)
        .await?
        .ok_or(MinerError::UnknownDevice(device_id))?;
    let now = info.next_block_time;
    if device
        .last_proof_at
        .is_some_and(|l| now < l.saturating_add(30))
    {
        return Ok(false);
    }
    let Some(ptx) = build_proof(
        key,
        info.chain_id,
        &device,
        now,
        device.tier,
        opts.beneficiary,
    )?
    else {
        return Ok(false);
    };
    let hash = match client.send(&Transaction::Proof(ptx)).await {
        Ok(h) => h,
        Err(ClientError::Rejected { name, message, .. }) => {
            update(stats, |s| {
                s.rejected = s.rejected.saturating_add(1);
                s.last_error = Some(format!("{name}: {message}"));
            });
            return Ok(false);
        }
        Err(e) => return Err(e.into()),
    };
    match client.wait_tx(hash, Duration::from_secs(60)).await? {
        TxStatus::Included {
            outcome: Outcome::Mined { payout, .. },
            ..
        } => {
            update(stats, |s| {
                s.accepted = s.accepted.saturating_add(1);
                s.earned = s.earned.saturating_add(payout.miner);
            });
            Ok(true)
        }
        TxStatus::Rejected { name, message } => {
            update(stats, |s| {
                s.rejected = s.rejected.saturating_add(1);
                s.last_error = Some(format!("{name}: {message}"));
            });
            Ok(false)
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poai_crypto::ParamSet;
    use poai_primitives::ChainId;

    fn device(tier: PrivacyLevel, registered_at: u64, last: Option<u64>) -> DeviceView {
        DeviceView {
            device_id: DeviceId([4; 32]),
            miner: Address([1; 20]),
            tier,
            trust_score: 0,
            kind: 0xde,
            registered_at,
            last_proof_at: last,
            proofs: 0,
            paid: 0,
        }
    }

    #[test]
    fn proofs_claim_whole_elapsed_minutes_at_most_60() {
        let key = SigningKey::from_seed(ParamSet::MlDsa44, &[2; 32]).unwrap();
        let chain = ChainId(5);
        let to = Address([9; 20]);
        let cases = [
            (
                "under a minute since registration",
                device(PrivacyLevel::Private, 1000, None),
                1059,
                None,
            ),
            (
                "one minute",
                device(PrivacyLevel::Private, 1000, None),
                1060,
                Some(1),
            ),
            (
                "counts from the last proof",
                device(PrivacyLevel::Private, 0, Some(1000)),
                1150,
                Some(2),
            ),
            (
                "capped at 60",
                device(PrivacyLevel::Private, 0, None),
                100_000,
                Some(60),
            ),
        ];
        for (name, d, now, minutes) in cases {
            let p = build_proof(&key, chain, &d, now, PrivacyLevel::Sovereign, to).unwrap();
            assert_eq!(
                p.as_ref().map(|p| p.proof.compute_minutes),
                minutes,
                "{name}"
            );
            if let Some(p) = p {
                assert_eq!(p.proof.timestamp, now, "{name}");
                assert_eq!(
                    p.proof.privacy_level,
                    PrivacyLevel::Private,
                    "{name}: never above the tier"
                );
                let ok = key
                    .verifying_key()
                    .verify(&p.message(chain), &[], &p.signature)
                    .unwrap();
                assert!(ok, "{name}: signed for this chain and beneficiary");
            }
        }
    }

    #[test]
    fn dev_seeds_are_per_key_and_index() {
        let a = SigningKey::from_seed(ParamSet::MlDsa44, &[1; 32]).unwrap();
        let b = SigningKey::from_seed(ParamSet::MlDsa44, &[2; 32]).unwrap();
        assert_eq!(dev_device_seed(&a, 0), dev_device_seed(&a, 0));
        assert_ne!(dev_device_seed(&a, 0), dev_device_seed(&a, 1));
        assert_ne!(dev_device_seed(&a, 0), dev_device_seed(&b, 0));
    }
}
