//! A typed JSON-RPC client for the node's `poai_*` methods (see `poai-node`'s `rpc` module),
//! with retries on transient errors.
//!
//! A node's answer that names a rule (`data.name`, e.g. `ProofTooSoon`) is final and returned as
//! [`ClientError::Rejected`]; a connection failure or timeout is transient and retried with
//! exponential backoff up to [`NodeClient::retries`] times.

use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::traits::ToRpcParams;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use poai_chain::api::{
    AccountView, BlockView, ChainInfo, DeviceView, EmissionView, MinerStatus, SubmitResult,
    TxStatus,
};
use poai_chain::{Hash32, Transaction};
use poai_primitives::{Address, DeviceId, WorkId};
use serde::de::DeserializeOwned;
use std::time::Duration;
use thiserror::Error;

/// Why a call failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The node refused: a rule was broken. Final.
    #[error("{name} (code {code}): {message}")]
    Rejected {
        /// The error's name (a `TxError` variant), or `rpc` for other call errors.
        name: String,
        /// The JSON-RPC error code.
        code: i32,
        /// The node's message.
        message: String,
    },
    /// The node could not be reached or did not answer in time, after every retry.
    #[error("node unreachable at {url}: {message}")]
    Transport {
        /// The node's URL.
        url: String,
        /// The last error.
        message: String,
    },
}

impl ClientError {
    /// The rule's name, if the node refused.
    pub fn rejection_name(&self) -> Option<&str> {
        match self {
            Self::Rejected { name, .. } => Some(name),
            Self::Transport { .. } => None,
        }
    }
}

/// `poai_sendTransactions` parameters serialized once, ahead of the call. A benchmark builds them
/// before its clock starts: serializing a batch escapes every byte of its hex (3.4 MB for 500
/// ML-DSA-65 proofs), and the client shares the validators' cores. Each call copies the JSON
/// once into its request; nothing parses it again on this side.
#[derive(Debug, Clone)]
pub struct PreparedBatch(std::sync::Arc<serde_json::value::RawValue>);

impl PreparedBatch {
    /// The parameters `[raws]` of a `poai_sendTransactions` call.
    pub fn new(raws: &[String]) -> Result<Self, serde_json::Error> {
        let raw = serde_json::value::to_raw_value(&(raws,))?;
        Ok(Self(raw.into()))
    }
}

impl ToRpcParams for PreparedBatch {
    fn to_rpc_params(self) -> Result<Option<Box<serde_json::value::RawValue>>, serde_json::Error> {
        Ok(Some(self.0.as_ref().to_owned()))
    }
}

/// A client of one node.
#[derive(Debug, Clone)]
pub struct NodeClient {
    url: String,
    http: HttpClient,
    /// Retries of a transient failure.
    pub retries: u32,
}

impl NodeClient {
    /// A client of the node at `url` (e.g. `http://127.0.0.1:8545`).
    pub fn new(url: &str) -> Result<Self, ClientError> {
        let http = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(30))
            .max_request_size(16 * 1024 * 1024)
            .max_response_size(64 * 1024 * 1024)
            .build(url)
            .map_err(|e| ClientError::Transport {
                url: url.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Self {
            url: url.to_owned(),
            http,
            retries: 5,
        })
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls any JSON-RPC method (with retries on transport errors, like the typed methods).
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: impl ToRpcParams + Clone + Send,
    ) -> Result<T, ClientError> {
        let mut delay = Duration::from_millis(100);
        let mut attempt = 0u32;
        loop {
            match self.http.request::<T, _>(method, params.clone()).await {
                Ok(v) => return Ok(v),
                Err(jsonrpsee::core::ClientError::Call(obj)) => {
                    let name = obj
                        .data()
                        .and_then(|d| serde_json::from_str::<serde_json::Value>(d.get()).ok())
                        .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_owned))
                        .unwrap_or_else(|| "rpc".to_owned());
                    return Err(ClientError::Rejected {
                        name,
                        code: obj.code(),
                        message: obj.message().to_owned(),
                    });
                }
                Err(e) if attempt < self.retries => {
                    let _ = e;
                    attempt = attempt.saturating_add(1);
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    return Err(ClientError::Transport {
                        url: self.url.clone(),
                        message: e.to_string(),
                    });
                }
            }
        }
    }

    /// `poai_chainInfo`.
    pub async fn chain_info(&self) -> Result<ChainInfo, ClientError> {
        self.call("poai_chainInfo", rpc_params![]).await
    }

    /// `poai_sendTransaction`.
    pub async fn send(&self, tx: &Transaction) -> Result<Hash32, ClientError> {
        self.call(
            "poai_sendTransaction",
            rpc_params![hex::encode(tx.encode())],
        )
        .await
    }

    /// `poai_sendTransactions`.
    pub async fn send_many(&self, txs: &[Transaction]) -> Result<Vec<SubmitResult>, ClientError> {
        let raws: Vec<String> = txs.iter().map(|t| hex::encode(t.encode())).collect();
        self.call("poai_sendTransactions", rpc_params![raws]).await
    }

    /// `poai_sendTransactions` with parameters serialized ahead ([`PreparedBatch`]).
    pub async fn send_prepared(
        &self,
        batch: &PreparedBatch,
    ) -> Result<Vec<SubmitResult>, ClientError> {
        self.call("poai_sendTransactions", batch.clone()).await
    }

    /// `poai_txStatus`.
    pub async fn tx_status(&self, hash: Hash32) -> Result<TxStatus, ClientError> {
        self.call("poai_txStatus", rpc_params![hash]).await
    }

    /// Polls `poai_txStatus` until the transaction leaves the mempool or `timeout` passes.
    pub async fn wait_tx(&self, hash: Hash32, timeout: Duration) -> Result<TxStatus, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let s = self.tx_status(hash).await?;
            if s != TxStatus::Pending || tokio::time::Instant::now() >= deadline {
                return Ok(s);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `poai_getBlock`.
    pub async fn block(&self, height: u64) -> Result<Option<BlockView>, ClientError> {
        self.call("poai_getBlock", rpc_params![height]).await
    }

    /// `poai_getAccount`.
    pub async fn account(&self, address: Address) -> Result<AccountView, ClientError> {
        self.call("poai_getAccount", rpc_params![address]).await
    }

    /// `poai_minerStatus`.
    pub async fn miner_status(&self, miner: Address) -> Result<MinerStatus, ClientError> {
        self.call("poai_minerStatus", rpc_params![miner]).await
    }

    /// `poai_deviceStatus`.
    pub async fn device_status(&self, device: DeviceId) -> Result<Option<DeviceView>, ClientError> {
        self.call("poai_deviceStatus", rpc_params![device]).await
    }

    /// `poai_isSpent`.
    pub async fn is_spent(&self, work_id: WorkId) -> Result<bool, ClientError> {
        self.call("poai_isSpent", rpc_params![work_id]).await
    }

    /// `poai_emissionStatus`.
    pub async fn emission(&self) -> Result<EmissionView, ClientError> {
        self.call("poai_emissionStatus", rpc_params![]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A prepared batch sends the very parameters the plain call builds, however often it is
    /// sent (each send takes a copy).
    #[test]
    fn prepared_batch_sends_the_plain_parameters() {
        let raws = vec!["00ab".to_owned(), "ff".repeat(3), String::new()];
        let plain = rpc_params![raws.clone()].to_rpc_params().unwrap().unwrap();
        let batch = PreparedBatch::new(&raws).unwrap();
        for _ in 0..2 {
            let sent = batch.clone().to_rpc_params().unwrap().unwrap();
            assert_eq!(sent.get(), plain.get());
        }
        let parsed: (Vec<String>,) = serde_json::from_str(plain.get()).unwrap();
        assert_eq!(parsed.0, raws);
    }
}
