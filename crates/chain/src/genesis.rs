//! The genesis of an A-chain: its id, start time, rules that differ between a devnet and a real
//! deployment, and the initial allocations (SPEC sections 3 and 6).
//!
//! JSON form (amounts as decimal strings of the smallest unit):
//!
//! ```json
//! {"chain_id": 7777, "genesis_time": 1767225600, "emission_genesis_height": 1,
//!  "allow_dev_evidence": false, "dev_block_time_step": null, "min_fee": "1000",
//!  "max_block_txs": 20000, "lp_address": "…", "treasury": "…",
//!  "accounts": [{"address": "…", "balance": "1000000"}]}
//! ```
//!
//! Two fields exist for devnets only and a real genesis leaves them off:
//! - `allow_dev_evidence`: accept the insecure dev evidence format for device registration.
//! - `dev_block_time_step`: every block's timestamp is exactly the parent's plus this many
//!   seconds. The proof rules of SPEC section 2 (30 s interval, minutes elapsed, 3600 s expiry)
//!   are measured in chain time and stay as they are; a devnet with 60 s of chain time per block
//!   lets miners earn a minute per block within seconds of wall time.
//!
//! The LP allocation (100,000,000 AI) is minted once, here, to `lp_address`.
//!
//! The optional `consensus` section (docs/DESIGN-consensus.md, section 2.1) lists the first
//! epoch's validators and the staking rules (`epoch_length`, `min_validator_stake`,
//! `max_validators`, `unbonding_epochs`). A genesis validator's `stake` is **minted into its
//! bond** at genesis, like the balances of `accounts`: it is not taken from any balance, so a
//! genesis need not fund the validator's account first. The total native coin at genesis is the
//! sum of `accounts` balances plus the sum of validator stakes.

use crate::error::TxError;
use poai_primitives::{Address, ChainId};
use serde::{Deserialize, Serialize};

/// Default for [`Genesis::max_block_txs`].
pub const DEFAULT_MAX_BLOCK_TXS: u32 = 20_000;

/// A genesis allocation of native coin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisAccount {
    /// The account.
    pub address: Address,
    /// Native coin, smallest unit.
    #[serde(with = "crate::serde_u128")]
    pub balance: u128,
}

/// The genesis configuration of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// The chain id (signed into every transaction and work proof).
    pub chain_id: ChainId,
    /// The genesis block's timestamp, Unix seconds.
    pub genesis_time: u64,
    /// The first block that mines (the emission's `genesis_height`).
    #[serde(default = "one")]
    pub emission_genesis_height: u64,
    /// Devnets only: accept dev evidence (see [`crate::evidence`]).
    #[serde(default)]
    pub allow_dev_evidence: bool,
    /// Devnets only: every block's timestamp is the parent's plus this many seconds.
    #[serde(default)]
    pub dev_block_time_step: Option<u64>,
    /// The smallest fee an account transaction may pay (native coin).
    #[serde(with = "crate::serde_u128", default)]
    pub min_fee: u128,
    /// Most transactions in a block.
    #[serde(default = "default_max_block_txs")]
    pub max_block_txs: u32,
    /// Receives the LP allocation.
    pub lp_address: Address,
    /// Receives the treasury's 2 % of every payout.
    pub treasury: Address,
    /// Initial native-coin balances.
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
    /// AI VM parameters (stake minimums, timeouts, slashing); defaults when absent.
    #[serde(default)]
    pub ai: crate::ai::AiParams,
    /// The validator set and epochs of a multi-validator chain (BFT consensus). Absent: one
    /// validator, the node's own block producer (dev mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consensus: Option<ConsensusGenesis>,
}

/// Most validators a genesis may list.
pub const MAX_GENESIS_VALIDATORS: usize = 100;
/// Largest `consensus.max_validators`: simplex's votes and certificates grow with the set.
pub const MAX_VALIDATOR_SET: u32 = 1000;
/// Default for [`ConsensusGenesis::max_validators`].
pub const DEFAULT_MAX_VALIDATORS: u32 = 100;
/// Default for [`ConsensusGenesis::unbonding_epochs`].
pub const DEFAULT_UNBONDING_EPOCHS: u64 = 1;

/// The consensus section of a genesis (docs/DESIGN-consensus.md, section 2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusGenesis {
    /// Blocks per epoch; the validator set may change only between epochs.
    pub epoch_length: u64,
    /// Least bonded stake (native coin) that puts a validator in the set.
    #[serde(with = "crate::serde_u128", default)]
    pub min_validator_stake: u128,
    /// Most validators in the set (the highest stakes).
    #[serde(default = "default_max_validators")]
    pub max_validators: u32,
    /// Whole epochs an unbonded stake stays locked after the epoch of the `unbond`.
    #[serde(default = "default_unbonding_epochs")]
    pub unbonding_epochs: u64,
    /// The validators of the first epoch.
    pub validators: Vec<GenesisValidator>,
}

/// A validator of the first epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// Its ed25519 consensus key (votes and p2p identity), separate from ML-DSA account keys.
    #[serde(with = "crate::serde_hex32")]
    pub consensus_key: [u8; 32],
    /// Its account (ML-DSA address): the proposer named in its blocks, paid the fees, and the
    /// owner of its bond (the only account that may add to it or unbond it).
    pub address: Address,
    /// Its bonded stake (native coin), created at genesis: minted into the bond, not taken
    /// from `accounts`.
    #[serde(with = "crate::serde_u128", default)]
    pub stake: u128,
    /// Where peers reach it (`host:port`), if known at genesis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_addr: Option<String>,
}

fn one() -> u64 {
    1
}

fn default_max_block_txs() -> u32 {
    DEFAULT_MAX_BLOCK_TXS
}

fn default_max_validators() -> u32 {
    DEFAULT_MAX_VALIDATORS
}

fn default_unbonding_epochs() -> u64 {
    DEFAULT_UNBONDING_EPOCHS
}

impl Genesis {
    /// Checks the configuration; the message names the field at fault.
    pub fn validate(&self) -> Result<(), TxError> {
        let bad = |reason: String| Err(TxError::Malformed { reason });
        if self.dev_block_time_step == Some(0) {
            return bad("genesis field `dev_block_time_step` must be at least 1".into());
        }
        if self.max_block_txs == 0 {
            return bad("genesis field `max_block_txs` must be at least 1".into());
        }
        self.ai
            .validate()
            .map_err(|reason| TxError::Malformed { reason })?;
        if let Some(c) = &self.consensus {
            if c.epoch_length == 0 {
                return bad("genesis field `consensus.epoch_length` must be at least 1".into());
            }
            if c.validators.is_empty() || c.validators.len() > MAX_GENESIS_VALIDATORS {
                return bad(format!(
                    "genesis field `consensus.validators` must list 1 to {MAX_GENESIS_VALIDATORS} validators, not {}",
                    c.validators.len()
                ));
            }
            if c.max_validators == 0 || c.max_validators > MAX_VALIDATOR_SET {
                return bad(format!(
                    "genesis field `consensus.max_validators` must be 1 to {MAX_VALIDATOR_SET}, not {}",
                    c.max_validators
                ));
            }
            // The first epoch's set is the list itself, so it must also be what
            // `State::validator_set` computes from the genesis state: every validator above the
            // minimum stake and no more than the set holds.
            if c.validators.len() > usize::try_from(c.max_validators).unwrap_or(usize::MAX) {
                return bad(format!(
                    "genesis field `consensus.validators` lists {} validators, more than `consensus.max_validators` ({})",
                    c.validators.len(),
                    c.max_validators
                ));
            }
            let mut keys = std::collections::BTreeSet::new();
            let mut total: u128 = 0;
            for v in &c.validators {
                let key = hex::encode(v.consensus_key);
                if !keys.insert(v.consensus_key) {
                    return bad(format!(
                        "genesis field `consensus.validators` lists consensus key {key} twice"
                    ));
                }
                if let Err(reason) = crate::validator::check_consensus_key(&v.consensus_key) {
                    return bad(format!(
                        "genesis field `consensus.validators[].consensus_key` {key}: {reason}"
                    ));
                }
                if v.stake < c.min_validator_stake {
                    return bad(format!(
                        "genesis field `consensus.validators[].stake` of {key} is {}, below `consensus.min_validator_stake` {}",
                        v.stake, c.min_validator_stake
                    ));
                }
                if let Some(a) = &v.net_addr
                    && let Err(reason) = crate::validator::check_net_addr(a)
                {
                    return bad(format!(
                        "genesis field `consensus.validators[].net_addr` of {key}: {reason}"
                    ));
                }
                total = total
                    .checked_add(v.stake)
                    .ok_or_else(|| TxError::Malformed {
                        reason:
                            "genesis field `consensus.validators[].stake`: the stakes overflow u128"
                                .into(),
                    })?;
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for a in &self.accounts {
            if !seen.insert(a.address) {
                return bad(format!(
                    "genesis field `accounts` lists {} twice",
                    a.address
                ));
            }
        }
        Ok(())
    }
}
