//! Chain configuration of the precompiles. The chain id is not here: it is the EVM's
//! (`cfg.chain_id`), read on every call.

use crate::tee::TeeConfig;
use alloy_primitives::Address;
use std::collections::{BTreeMap, BTreeSet};

/// How long a session's attestation counts, from the block that started it, by default: one
/// day. A miner re-attests with a new `startSession` before it ends.
pub const DEFAULT_SESSION_VALIDITY_SECS: u64 = 24 * 3600;

/// Compute units per hour per GPU model, LP-092's table, keyed by the chip name that the device
/// certificate or report names. GH100 covers H100 (and the H200/H800 parts, which attest as
/// GH100). Blackwell has no LP-092 figure yet, so it is absent: a chain adds it here once
/// measured.
pub const LP092_COMPUTE_UNITS: [(&str, u64); 4] = [
    ("GH100", 1_000), // NVIDIA H100
    ("GA100", 600),   // NVIDIA A100
    ("AD102", 400),   // NVIDIA L40S
    ("MI300X", 800),  // AMD MI300X
];

/// The precompiles' configuration.
#[derive(Debug, Clone)]
pub struct PoaiConfig {
    /// Contracts allowed to write AI_MINING state (MarkSpent, startSession, heartbeat).
    pub mining_contracts: BTreeSet<Address>,
    /// Contracts allowed to import A-chain block hashes into MODEL_REGISTRY
    /// (`importAChainBlock`): the chain's bridge, which checks the A-chain validators' Warp
    /// signatures over a header before importing its hash. A separate set from
    /// `mining_contracts` because it is a different trust: whoever may import a hash decides
    /// which A-chain receipts `verifyExecution` accepts.
    pub bridge_contracts: BTreeSet<Address>,
    /// TEE verification: pinned roots and GPU reference values.
    pub tee: TeeConfig,
    /// Seconds a session's attestation is valid after the session starts.
    pub session_validity_secs: u64,
    /// Compute units per hour by chip name (NV_TRUST `parseQuote`).
    pub compute_units: BTreeMap<String, u64>,
}

impl Default for PoaiConfig {
    fn default() -> Self {
        Self {
            mining_contracts: BTreeSet::new(),
            bridge_contracts: BTreeSet::new(),
            tee: TeeConfig::default(),
            session_validity_secs: DEFAULT_SESSION_VALIDITY_SECS,
            compute_units: LP092_COMPUTE_UNITS
                .iter()
                .map(|&(chip, units)| (chip.to_owned(), units))
                .collect(),
        }
    }
}

impl PoaiConfig {
    /// The default configuration with these mining contracts allowed.
    pub fn with_mining_contracts(contracts: impl IntoIterator<Item = Address>) -> Self {
        Self {
            mining_contracts: contracts.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Whether `caller` may write AI_MINING state.
    pub fn is_mining_contract(&self, caller: &Address) -> bool {
        self.mining_contracts.contains(caller)
    }

    /// This configuration with these bridge contracts allowed (replacing any set before).
    #[must_use]
    pub fn with_bridge_contracts(self, contracts: impl IntoIterator<Item = Address>) -> Self {
        Self {
            bridge_contracts: contracts.into_iter().collect(),
            ..self
        }
    }

    /// Whether `caller` may import A-chain block hashes.
    pub fn is_bridge_contract(&self, caller: &Address) -> bool {
        self.bridge_contracts.contains(caller)
    }
}
