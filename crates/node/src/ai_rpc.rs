//! JSON-RPC methods of the AI VM (SPEC section 6), merged into the `poai` namespace. Writes go
//! through `poai_sendTransaction` like every transaction; these are the reads.
//!
//! | method | params | result |
//! |---|---|---|
//! | `poai_aiStatus` | | [`AiStatus`]: counters, parameters, table sizes |
//! | `poai_getModel` | model id | [`ModelView`] or null |
//! | `poai_listModels` | owner or null | [[`ModelView`]] (≤ [`MAX_LIST`]) |
//! | `poai_getProvider` | address | [`ProviderView`] or null |
//! | `poai_listProviders` | | [[`ProviderView`]] (≤ [`MAX_LIST`]) |
//! | `poai_getAttestation` | attestation id | [`AttestationView`] or null |
//! | `poai_queryAttestations` | [`AttestationQuery`] | [[`AttestationView`]] (≤ its limit, ≤ [`MAX_LIST`]) |
//! | `poai_inferenceReceipt` | attestation id | [`ReceiptView`] or null |
//! | `poai_getTask` | task id | [`TaskView`] or null |
//! | `poai_getDispute` | dispute id | [`DisputeView`] or null |
//! | `poai_providerDuties` | address | [`Duties`]: open tasks and disputes it must act on |
//! | `poai_getCredits` | address | AIT balance (decimal string) |
//!
//! Attestation queries scan the table with the filter (fine at devnet and test scale; a
//! secondary index per field is the follow-up listed in docs/DESIGN-aivm.md).

use crate::node::Shared;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;
use poai_chain::ai::exec::ineligibility;
use poai_chain::ai::receipt::{InferenceReceipt, merkle_path};
use poai_chain::ai::{
    AiMeta, AiParams, Dispute, DisputeStatus, Model, Provider, SignedAttestation, Task, TaskStatus,
};
use poai_chain::hash::Hash32;
use poai_primitives::{Address, PrivacyLevel};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Most rows one list call returns.
pub const MAX_LIST: usize = 1000;

/// `poai_aiStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiStatus {
    /// Counters (minted, burned, escrowed, staked, …).
    pub meta: AiMeta,
    /// Total AIT held in accounts.
    #[serde(with = "poai_chain::serde_u128")]
    pub credits_total: u128,
    /// The genesis parameters.
    pub params: AiParams,
    /// Models registered.
    pub models: usize,
    /// Providers registered.
    pub providers: usize,
    /// Attestations recorded.
    pub attestations: usize,
    /// Tasks submitted.
    pub tasks: usize,
    /// Disputes opened.
    pub disputes: usize,
    /// Pending deadline entries.
    pub deadlines: usize,
}

/// A model with its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelView {
    /// Its id.
    pub model_id: Hash32,
    /// The record.
    #[serde(flatten)]
    pub model: Model,
}

/// A provider with its device's tier and whether it can be drawn now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderView {
    /// Its address.
    pub address: Address,
    /// The record.
    #[serde(flatten)]
    pub provider: Provider,
    /// Its device's attested tier.
    pub tier: Option<PrivacyLevel>,
    /// When its device attestation lapses.
    pub attestation_expires_at: Option<u64>,
    /// Why it cannot be drawn at the next block (for a Public model), or null.
    pub ineligible: Option<String>,
}

/// An attestation with its id and inclusion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationView {
    /// Its id.
    pub attestation_id: Hash32,
    /// The signed attestation.
    pub attestation: SignedAttestation,
    /// Including block.
    pub height: u64,
    /// Carrying transaction.
    pub tx_hash: Hash32,
}

/// Filters of `poai_queryAttestations` (all optional, combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationQuery {
    /// Model id.
    pub model_id: Option<Hash32>,
    /// Provider address.
    pub provider: Option<Address>,
    /// Input hash.
    pub input_hash: Option<Hash32>,
    /// Most results (default and cap [`MAX_LIST`]).
    pub limit: Option<usize>,
}

/// An inference receipt and what to check it against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptView {
    /// The receipt ([`InferenceReceipt::encode`]), hex.
    #[serde(with = "poai_chain::serde_hex")]
    pub receipt: Vec<u8>,
    /// The block's height.
    pub height: u64,
    /// The block hash the verifier must trust (from the A-chain's validators).
    pub block_hash: Hash32,
}

/// A task with its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskView {
    /// Its id.
    pub task_id: Hash32,
    /// The record.
    #[serde(flatten)]
    pub task: Task,
}

/// A dispute with its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeView {
    /// Its id.
    pub dispute_id: Hash32,
    /// The record.
    #[serde(flatten)]
    pub dispute: Dispute,
}

/// What a provider must act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duties {
    /// Tasks assigned to it that are committing or revealing.
    pub tasks: Vec<TaskView>,
    /// Disputes where it is the current referee.
    pub disputes: Vec<DisputeView>,
}

/// The AI VM's read methods.
#[rpc(server, namespace = "poai")]
pub trait AiApi {
    /// Counters, parameters and sizes.
    #[method(name = "aiStatus")]
    fn ai_status(&self) -> RpcResult<AiStatus>;

    /// One model.
    #[method(name = "getModel")]
    fn get_model(&self, model_id: Hash32) -> RpcResult<Option<ModelView>>;

    /// Models, optionally of one owner.
    #[method(name = "listModels")]
    fn list_models(&self, owner: Option<Address>) -> RpcResult<Vec<ModelView>>;

    /// One provider.
    #[method(name = "getProvider")]
    fn get_provider(&self, address: Address) -> RpcResult<Option<ProviderView>>;

    /// Every provider.
    #[method(name = "listProviders")]
    fn list_providers(&self) -> RpcResult<Vec<ProviderView>>;

    /// One attestation.
    #[method(name = "getAttestation")]
    fn get_attestation(&self, attestation_id: Hash32) -> RpcResult<Option<AttestationView>>;

    /// Attestations by model, provider and input hash.
    #[method(name = "queryAttestations")]
    fn query_attestations(&self, query: AttestationQuery) -> RpcResult<Vec<AttestationView>>;

    /// The inclusion receipt of an attestation.
    #[method(name = "inferenceReceipt", blocking)]
    fn inference_receipt(&self, attestation_id: Hash32) -> RpcResult<Option<ReceiptView>>;

    /// One task.
    #[method(name = "getTask")]
    fn get_task(&self, task_id: Hash32) -> RpcResult<Option<TaskView>>;

    /// One dispute.
    #[method(name = "getDispute")]
    fn get_dispute(&self, dispute_id: Hash32) -> RpcResult<Option<DisputeView>>;

    /// Open tasks and disputes a provider must act on.
    #[method(name = "providerDuties")]
    fn provider_duties(&self, address: Address) -> RpcResult<Duties>;

    /// An AIT balance (decimal string).
    #[method(name = "getCredits")]
    fn get_credits(&self, address: Address) -> RpcResult<String>;
}

/// The implementation over the node's shared state.
pub struct AiRpcImpl {
    shared: Arc<Shared>,
}

impl AiRpcImpl {
    /// Serves `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(crate::rpc::INTERNAL_ERROR, e.to_string(), None::<()>)
}

fn provider_view(state: &poai_chain::State, address: Address, p: &Provider) -> ProviderView {
    let device = state.device(&p.device_id);
    let next = state.head().timestamp.saturating_add(1);
    ProviderView {
        address,
        provider: p.clone(),
        tier: device.map(|d| d.tier),
        attestation_expires_at: device.map(|d| {
            d.registered_at
                .saturating_add(state.genesis().ai.validity(d.tier))
        }),
        ineligible: ineligibility(state, &address, p, PrivacyLevel::Public, next)
            .map(|e| e.to_string()),
    }
}

impl AiApiServer for AiRpcImpl {
    fn ai_status(&self) -> RpcResult<AiStatus> {
        let s = self.shared.state();
        let ai = s.ai();
        Ok(AiStatus {
            meta: ai.meta(),
            credits_total: ai.total_credits().unwrap_or(u128::MAX),
            params: s.genesis().ai.clone(),
            models: ai.models().count(),
            providers: ai.providers().count(),
            attestations: ai.attestations().count(),
            tasks: ai.tasks().count(),
            disputes: ai.disputes().count(),
            deadlines: ai.deadlines().count(),
        })
    }

    fn get_model(&self, model_id: Hash32) -> RpcResult<Option<ModelView>> {
        Ok(self
            .shared
            .state()
            .ai()
            .model(&model_id)
            .map(|m| ModelView {
                model_id,
                model: m.clone(),
            }))
    }

    fn list_models(&self, owner: Option<Address>) -> RpcResult<Vec<ModelView>> {
        let s = self.shared.state();
        Ok(s.ai()
            .models()
            .filter(|(_, m)| owner.is_none_or(|o| m.owner == o))
            .take(MAX_LIST)
            .map(|(id, m)| ModelView {
                model_id: *id,
                model: m.clone(),
            })
            .collect())
    }

    fn get_provider(&self, address: Address) -> RpcResult<Option<ProviderView>> {
        let s = self.shared.state();
        Ok(s.ai()
            .provider(&address)
            .map(|p| provider_view(&s, address, p)))
    }

    fn list_providers(&self) -> RpcResult<Vec<ProviderView>> {
        let s = self.shared.state();
        Ok(s.ai()
            .providers()
            .take(MAX_LIST)
            .map(|(a, p)| provider_view(&s, *a, p))
            .collect())
    }

    fn get_attestation(&self, attestation_id: Hash32) -> RpcResult<Option<AttestationView>> {
        Ok(self
            .shared
            .state()
            .ai()
            .attestation(&attestation_id)
            .map(|a| AttestationView {
                attestation_id,
                attestation: a.attestation.clone(),
                height: a.height,
                tx_hash: a.tx_hash,
            }))
    }

    fn query_attestations(&self, q: AttestationQuery) -> RpcResult<Vec<AttestationView>> {
        let limit = q.limit.unwrap_or(MAX_LIST).min(MAX_LIST);
        let s = self.shared.state();
        Ok(s.ai()
            .attestations()
            .filter(|(_, a)| {
                let b = &a.attestation.body;
                q.model_id.is_none_or(|m| b.model_id == m)
                    && q.provider.is_none_or(|p| b.provider == p)
                    && q.input_hash.is_none_or(|i| b.input_hash == i)
            })
            .take(limit)
            .map(|(id, a)| AttestationView {
                attestation_id: *id,
                attestation: a.attestation.clone(),
                height: a.height,
                tx_hash: a.tx_hash,
            })
            .collect())
    }

    fn inference_receipt(&self, attestation_id: Hash32) -> RpcResult<Option<ReceiptView>> {
        let (height, tx_hash) = {
            let s = self.shared.state();
            match s.ai().attestation(&attestation_id) {
                Some(a) => (a.height, a.tx_hash),
                None => return Ok(None),
            }
        };
        let store = &self.shared.store;
        let Some(block) = store.block(height).map_err(internal)? else {
            return Ok(None);
        };
        let hashes = block.tx_hashes();
        let Some(index) = hashes.iter().position(|h| *h == tx_hash) else {
            return Err(internal(
                "the attestation's transaction is not in its block",
            ));
        };
        let path = merkle_path(&hashes, index).ok_or_else(|| internal("no Merkle path"))?;
        let tx = block
            .txs
            .get(index)
            .cloned()
            .ok_or_else(|| internal("transaction index out of range"))?;
        let receipt = InferenceReceipt {
            header: block.header,
            index: u32::try_from(index).map_err(internal)?,
            path,
            tx,
            attestation_id,
        };
        // Only result attestations have receipts (not dispute evidence).
        if receipt.verify(|_| Some(block.hash())).is_err() {
            return Ok(None);
        }
        Ok(Some(ReceiptView {
            receipt: receipt.encode(),
            height,
            block_hash: block.hash(),
        }))
    }

    fn get_task(&self, task_id: Hash32) -> RpcResult<Option<TaskView>> {
        Ok(self.shared.state().ai().task(&task_id).map(|t| TaskView {
            task_id,
            task: t.clone(),
        }))
    }

    fn get_dispute(&self, dispute_id: Hash32) -> RpcResult<Option<DisputeView>> {
        Ok(self
            .shared
            .state()
            .ai()
            .dispute(&dispute_id)
            .map(|d| DisputeView {
                dispute_id,
                dispute: d.clone(),
            }))
    }

    fn provider_duties(&self, address: Address) -> RpcResult<Duties> {
        let s = self.shared.state();
        let ai = s.ai();
        let tasks = ai
            .tasks()
            .filter(|(_, t)| {
                matches!(t.status, TaskStatus::Committing | TaskStatus::Revealing)
                    && t.providers.contains(&address)
            })
            .take(MAX_LIST)
            .map(|(id, t)| TaskView {
                task_id: *id,
                task: t.clone(),
            })
            .collect();
        let disputes = ai
            .disputes()
            .filter(|(_, d)| {
                d.status == DisputeStatus::Refereeing && d.referees.last() == Some(&address)
            })
            .take(MAX_LIST)
            .map(|(id, d)| DisputeView {
                dispute_id: *id,
                dispute: d.clone(),
            })
            .collect();
        Ok(Duties { tasks, disputes })
    }

    fn get_credits(&self, address: Address) -> RpcResult<String> {
        Ok(self.shared.state().ai().credits(&address).to_string())
    }
}
