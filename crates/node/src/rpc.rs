//! JSON-RPC 2.0 (jsonrpsee): the `poai_*` methods, their implementation, and the one place
//! where errors become JSON-RPC error codes ([`tx_error`]).
//!
//! | method | params | result |
//! |---|---|---|
//! | `poai_chainInfo` | | [`ChainInfo`] |
//! | `poai_sendTransaction` | raw tx hex | tx hash, or an error with code and `data.name` |
//! | `poai_sendTransactions` | [raw tx hex] (≤ 512) | [[`SubmitResult`]] |
//! | `poai_txStatus` | tx hash | [`TxStatus`] (pending, included, rejected with name) |
//! | `poai_getBlock` | height | [`BlockView`] or null |
//! | `poai_getAccount` | address | [`AccountView`] |
//! | `poai_minerStatus` | address | [`MinerStatus`] |
//! | `poai_deviceStatus` | device id | [`DeviceView`] or null |
//! | `poai_isSpent` | work id | bool |
//! | `poai_emissionStatus` | | [`EmissionView`] |
//! | `poai_validators` | | [`ValidatorsView`]: the validator set at the head, its epoch |
//!
//! The AI VM's reads (`poai_getModel`, `poai_getTask`, …) are in [`crate::ai_rpc`]; error codes
//! 1100–1141 are the AI VM's [`TxError`] variants, in declaration order; 1200–1208 the
//! validator calls' ([`poai_chain::validator`]).

use crate::node::Shared;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;
use poai_chain::api::{
    AccountView, BlockView, ChainInfo, DeviceView, EmissionView, MinerStatus, SubmitResult,
    TxStatus, TxView, ValidatorsView,
};
use poai_chain::{Device, Hash32, Transaction, TxError};
use poai_primitives::{Address, DeviceId, WorkId};
use std::sync::Arc;

/// Most transactions in one `poai_sendTransactions` call.
pub const MAX_BATCH: usize = 512;

/// JSON-RPC code of invalid params (JSON-RPC 2.0).
pub const INVALID_PARAMS: i32 = -32602;
/// JSON-RPC code of an internal error (JSON-RPC 2.0).
pub const INTERNAL_ERROR: i32 = -32603;

/// The JSON-RPC error code of each transaction error: 1000s for account rules, 1010s for
/// registration, 1020s for work-proof rules (SPEC section 2), 1040 for mempool limits. Stable:
/// clients may match on codes as well as on `data.name`.
pub fn tx_error_code(e: &TxError) -> i32 {
    match e {
        TxError::Malformed { .. } => INVALID_PARAMS,
        TxError::WrongChainId { .. } => 1001,
        TxError::TxSignatureInvalid { .. } => 1002,
        TxError::BadNonce { .. } => 1003,
        TxError::FeeTooLow { .. } => 1004,
        TxError::InsufficientBalance { .. } => 1005,
        TxError::DevEvidenceDisabled => 1010,
        TxError::EvidenceInvalid { .. } => 1011,
        TxError::DeviceOwnedByOther { .. } => 1012,
        TxError::UnknownDevice { .. } => 1020,
        TxError::ProofSignatureInvalid { .. } => 1021,
        TxError::WorkIdSpent { .. } => 1022,
        TxError::WorkIdPending { .. } => 1023,
        TxError::ProofExpired { .. } => 1024,
        TxError::ProofFromFuture { .. } => 1025,
        TxError::ProofTooSoon { .. } => 1026,
        TxError::TooManyMinutes { .. } => 1027,
        TxError::MinutesExceedElapsed { .. } => 1028,
        TxError::PrivacyAboveTier { .. } => 1029,
        TxError::TooManyProofsInBlock { .. } => 1030,
        TxError::MempoolFull { .. } => 1040,
        TxError::AiInvalidField { .. } => 1100,
        TxError::ZeroAmount { .. } => 1101,
        TxError::ModelExists { .. } => 1102,
        TxError::UnknownModel { .. } => 1103,
        TxError::NotModelOwner { .. } => 1104,
        TxError::ModelSuperseded { .. } => 1105,
        TxError::VersionNotIncreasing { .. } => 1106,
        TxError::ProviderExists { .. } => 1107,
        TxError::UnknownProvider { .. } => 1108,
        TxError::DeviceTaken { .. } => 1109,
        TxError::GpuNeedsTier { .. } => 1110,
        TxError::StakeBelowMinimum { .. } => 1111,
        TxError::ProviderJailed { .. } => 1112,
        TxError::AttestationExpired { .. } => 1113,
        TxError::TierBelowModel { .. } => 1114,
        TxError::UnbondTooMuch { .. } => 1115,
        TxError::NothingToWithdraw => 1116,
        TxError::UnbondingNotReady { .. } => 1117,
        TxError::StakeLocked { .. } => 1118,
        TxError::AttestationSignatureInvalid { .. } => 1119,
        TxError::AttestationFromFuture { .. } => 1120,
        TxError::AttestationTooOld { .. } => 1121,
        TxError::AttestationExists { .. } => 1122,
        TxError::AttestationMismatch { .. } => 1123,
        TxError::DurationOutOfBounds { .. } => 1124,
        TxError::DurationExceedsElapsed { .. } => 1125,
        TxError::UnknownTask { .. } => 1126,
        TxError::WrongTaskPhase { .. } => 1127,
        TxError::NotAssigned { .. } => 1128,
        TxError::AlreadyCommitted { .. } => 1129,
        TxError::NotCommitted { .. } => 1130,
        TxError::AlreadyRevealed { .. } => 1131,
        TxError::CommitmentMismatch { .. } => 1132,
        TxError::BondTooLow { .. } => 1133,
        TxError::SameProvider { .. } => 1134,
        TxError::IdenticalOutputs => 1135,
        TxError::ChallengerIsAccused { .. } => 1136,
        TxError::DisputeExists { .. } => 1137,
        TxError::UnknownDispute { .. } => 1138,
        TxError::WrongDisputePhase { .. } => 1139,
        TxError::NotReferee { .. } => 1140,
        TxError::InsufficientCredits { .. } => 1141,
        TxError::ValidatorsDisabled => 1200,
        TxError::ConsensusKeyInvalid { .. } => 1201,
        TxError::ValidatorExists { .. } => 1202,
        TxError::ValidatorStakeTooLow { .. } => 1203,
        TxError::NetAddrInvalid { .. } => 1204,
        TxError::PopInvalid { .. } => 1205,
        TxError::UnknownValidator { .. } => 1206,
        TxError::NotValidatorOwner { .. } => 1207,
        TxError::ValidatorUnbonding { .. } => 1208,
        TxError::Overflow { .. } | TxError::Emission { .. } => INTERNAL_ERROR,
    }
}

/// A transaction error as a JSON-RPC error: its code, its message, and `data` holding the
/// error's JSON form (with `name`).
pub fn tx_error(e: &TxError) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(tx_error_code(e), e.to_string(), Some(e))
}

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INTERNAL_ERROR, e.to_string(), None::<()>)
}

fn invalid_params(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS, msg.into(), None::<()>)
}

/// The `poai` JSON-RPC namespace.
#[rpc(server, namespace = "poai")]
pub trait PoaiApi {
    /// Chain id, head, next block time, mempool size.
    #[method(name = "chainInfo")]
    fn chain_info(&self) -> RpcResult<ChainInfo>;

    /// Submits one encoded transaction (hex). Checked against every rule at once.
    #[method(name = "sendTransaction", blocking)]
    fn send_transaction(&self, raw: String) -> RpcResult<Hash32>;

    /// Submits up to [`MAX_BATCH`] encoded transactions; one result each, in order.
    #[method(name = "sendTransactions", blocking)]
    fn send_transactions(&self, raws: Vec<String>) -> RpcResult<Vec<SubmitResult>>;

    /// Where a transaction is: pending, included (with its outcome), rejected (with why).
    #[method(name = "txStatus", blocking)]
    fn tx_status(&self, hash: Hash32) -> RpcResult<TxStatus>;

    /// A block with its transactions and their outcomes.
    #[method(name = "getBlock", blocking)]
    fn get_block(&self, height: u64) -> RpcResult<Option<BlockView>>;

    /// Balances and nonce.
    #[method(name = "getAccount")]
    fn get_account(&self, address: Address) -> RpcResult<AccountView>;

    /// A miner's account and devices.
    #[method(name = "minerStatus")]
    fn miner_status(&self, miner: Address) -> RpcResult<MinerStatus>;

    /// One device.
    #[method(name = "deviceStatus")]
    fn device_status(&self, device: DeviceId) -> RpcResult<Option<DeviceView>>;

    /// Whether a work id is spent.
    #[method(name = "isSpent")]
    fn is_spent(&self, work_id: WorkId) -> RpcResult<bool>;

    /// Emission at the head: epoch, subsidy, ceiling, mined, treasury.
    #[method(name = "emissionStatus")]
    fn emission_status(&self) -> RpcResult<EmissionView>;

    /// The validator set the head's state defines (highest stake first) and the head's epoch.
    #[method(name = "validators")]
    fn validators(&self) -> RpcResult<ValidatorsView>;
}

/// The implementation over the node's shared state.
pub struct RpcServerImpl {
    shared: Arc<Shared>,
}

impl RpcServerImpl {
    /// Serves `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

fn decode_raw(raw: &str) -> Result<Transaction, TxError> {
    let bytes = poai_primitives::hexfmt::decode(raw).map_err(|e| TxError::Malformed {
        reason: format!("transaction hex: {e}"),
    })?;
    Transaction::decode(&bytes).map_err(|e| TxError::Malformed {
        reason: e.to_string(),
    })
}

fn device_view(device_id: DeviceId, d: &Device) -> DeviceView {
    DeviceView {
        device_id,
        miner: d.miner,
        tier: d.tier,
        trust_score: d.trust_score,
        kind: d.kind,
        registered_at: d.registered_at,
        last_proof_at: d.last_proof_at,
        proofs: d.proofs,
        paid: d.paid,
    }
}

impl PoaiApiServer for RpcServerImpl {
    fn chain_info(&self) -> RpcResult<ChainInfo> {
        let state = self.shared.state();
        let head = state.head();
        let g = state.genesis();
        let next = self.shared.next_context(&state);
        Ok(ChainInfo {
            chain_id: g.chain_id,
            height: head.height,
            head: head.hash,
            timestamp: head.timestamp,
            state_root: head.state_root,
            next_block_time: next.timestamp,
            dev_block_time_step: g.dev_block_time_step,
            allow_dev_evidence: g.allow_dev_evidence,
            min_fee: g.min_fee,
            mempool: self.shared.mempool().len(),
        })
    }

    fn send_transaction(&self, raw: String) -> RpcResult<Hash32> {
        let tx = decode_raw(&raw).map_err(|e| tx_error(&e))?;
        match self.shared.submit(vec![tx]).pop() {
            Some(Ok(h)) => Ok(h),
            Some(Err(e)) => Err(tx_error(&e)),
            None => Err(internal("no result")),
        }
    }

    fn send_transactions(&self, raws: Vec<String>) -> RpcResult<Vec<SubmitResult>> {
        if raws.len() > MAX_BATCH {
            return Err(invalid_params(format!(
                "{} transactions in one call, at most {MAX_BATCH}",
                raws.len()
            )));
        }
        // The decoded transactions move into admission (not copies: a proof is 3.4 KB); a
        // malformed one keeps its slot with its error.
        let mut ok = Vec::with_capacity(raws.len());
        let slots: Vec<Option<TxError>> = raws
            .iter()
            .map(|r| match decode_raw(r) {
                Ok(tx) => {
                    ok.push(tx);
                    None
                }
                Err(e) => Some(e),
            })
            .collect();
        drop(raws);
        let mut results = self.shared.submit(ok).into_iter();
        let reject = |e: TxError| SubmitResult::Rejected {
            name: e.name().to_owned(),
            message: e.to_string(),
        };
        Ok(slots
            .into_iter()
            .map(|slot| match slot {
                Some(e) => reject(e),
                None => match results.next() {
                    Some(Ok(h)) => SubmitResult::Accepted(h),
                    Some(Err(e)) => reject(e),
                    None => reject(TxError::Malformed {
                        reason: "no result".into(),
                    }),
                },
            })
            .collect())
    }

    fn tx_status(&self, hash: Hash32) -> RpcResult<TxStatus> {
        if self.shared.mempool().contains(&hash) {
            return Ok(TxStatus::Pending);
        }
        if let Some(e) = self.shared.rejections().get(&hash) {
            return Ok(TxStatus::Rejected {
                name: e.name().to_owned(),
                message: e.to_string(),
            });
        }
        let store = &self.shared.store;
        let Some((height, index)) = store.tx_location(&hash).map_err(internal)? else {
            return Ok(TxStatus::Unknown);
        };
        let receipts = store
            .receipts(height)
            .map_err(internal)?
            .unwrap_or_default();
        let outcome = receipts
            .into_iter()
            .nth(usize::try_from(index).unwrap_or(usize::MAX))
            .ok_or_else(|| internal("tx index points past the block's receipts"))?
            .outcome;
        Ok(TxStatus::Included {
            height,
            index,
            outcome,
        })
    }

    fn get_block(&self, height: u64) -> RpcResult<Option<BlockView>> {
        let store = &self.shared.store;
        let Some(block) = store.block(height).map_err(internal)? else {
            return Ok(None);
        };
        let receipts = store
            .receipts(height)
            .map_err(internal)?
            .unwrap_or_default();
        Ok(Some(BlockView {
            hash: block.hash(),
            header: block.header,
            txs: block
                .txs
                .iter()
                .zip(receipts)
                .map(|(tx, r)| TxView {
                    hash: r.tx_hash,
                    raw: tx.encode(),
                    outcome: r.outcome,
                })
                .collect(),
        }))
    }

    fn get_account(&self, address: Address) -> RpcResult<AccountView> {
        Ok(AccountView {
            address,
            account: self.shared.state().account(&address),
        })
    }

    fn miner_status(&self, miner: Address) -> RpcResult<MinerStatus> {
        let state = self.shared.state();
        Ok(MinerStatus {
            account: AccountView {
                address: miner,
                account: state.account(&miner),
            },
            devices: state
                .devices_of(&miner)
                .iter()
                .map(|(id, d)| device_view(*id, d))
                .collect(),
        })
    }

    fn device_status(&self, device: DeviceId) -> RpcResult<Option<DeviceView>> {
        Ok(self
            .shared
            .state()
            .device(&device)
            .map(|d| device_view(device, d)))
    }

    fn is_spent(&self, work_id: WorkId) -> RpcResult<bool> {
        Ok(self.shared.state().is_spent(&work_id))
    }

    fn emission_status(&self) -> RpcResult<EmissionView> {
        let state = self.shared.state();
        let head = state.head().height;
        let e = state.emission();
        let at = head.max(e.genesis_height);
        let status = e.status(at).map_err(internal)?;
        let treasury = state.genesis().treasury;
        Ok(EmissionView {
            height: head,
            epoch: status.epoch,
            block_subsidy: status.block_subsidy,
            ceiling: status.ceiling,
            mined: state.ledger().mined,
            treasury_balance: state.account(&treasury).ai,
            treasury,
            spent: u64::try_from(state.spent_count()).unwrap_or(u64::MAX),
        })
    }

    fn validators(&self) -> RpcResult<ValidatorsView> {
        let state = self.shared.state();
        let height = state.head().height;
        Ok(ValidatorsView {
            height,
            epoch: state.epoch_of(height),
            epoch_length: state.epoch_length(),
            boundary: state.is_epoch_boundary(height),
            validators: state.validator_set(),
        })
    }
}
