//! Prometheus metrics and a minimal `/metrics` endpoint.
//!
//! The endpoint is a few lines over a TCP listener rather than a web framework: it answers every
//! request with the text exposition format and closes the connection, which is all a Prometheus
//! scraper needs and keeps the dependency set small.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The node's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Head height.
    pub height: IntGauge,
    /// Blocks produced or applied.
    pub blocks: IntCounter,
    /// Transactions included.
    pub txs_included: IntCounter,
    /// Proofs minted.
    pub proofs_accepted: IntCounter,
    /// Transactions refused (at admission or left out of a block), by error name.
    pub txs_rejected: IntCounterVec,
    /// Transactions pending.
    pub mempool: IntGauge,
    /// Seconds to build, execute and commit a block.
    pub block_seconds: Histogram,
    /// Peers' compact blocks assembled (multi-validator mode), by how: `at_once` from the
    /// mempool on arrival, `waited` for gossip, `asked` the sender for missing transactions.
    pub relay_blocks: IntCounterVec,
    /// Transactions asked from the proposer of a compact block.
    pub relay_txs_asked: IntCounter,
    /// Consensus views that ended without a block (multi-validator mode: a nullification
    /// certificate), by the account of the validator that was to lead them.
    pub views_skipped: IntCounterVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let height = IntGauge::new("poai_height", "Head block height")?;
        let blocks = IntCounter::new("poai_blocks_total", "Blocks committed")?;
        let txs_included = IntCounter::new("poai_txs_included_total", "Transactions included")?;
        let proofs_accepted = IntCounter::new("poai_proofs_accepted_total", "Work proofs minted")?;
        let txs_rejected = IntCounterVec::new(
            Opts::new("poai_txs_rejected_total", "Transactions refused, by error"),
            &["error"],
        )?;
        let mempool = IntGauge::new("poai_mempool_size", "Transactions pending")?;
        let block_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "poai_block_seconds",
                "Seconds to build, execute and commit a block",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
        )?;
        let relay_blocks = IntCounterVec::new(
            Opts::new(
                "poai_relay_blocks_total",
                "Peers' compact blocks assembled, by how the transactions were found",
            ),
            &["how"],
        )?;
        let relay_txs_asked = IntCounter::new(
            "poai_relay_txs_asked_total",
            "Transactions asked from the proposer of a compact block",
        )?;
        let views_skipped = IntCounterVec::new(
            Opts::new(
                "poai_consensus_views_skipped_total",
                "Consensus views that ended without a block, by the account of their leader",
            ),
            &["leader"],
        )?;
        registry.register(Box::new(views_skipped.clone()))?;
        registry.register(Box::new(relay_blocks.clone()))?;
        registry.register(Box::new(relay_txs_asked.clone()))?;
        registry.register(Box::new(height.clone()))?;
        registry.register(Box::new(blocks.clone()))?;
        registry.register(Box::new(txs_included.clone()))?;
        registry.register(Box::new(proofs_accepted.clone()))?;
        registry.register(Box::new(txs_rejected.clone()))?;
        registry.register(Box::new(mempool.clone()))?;
        registry.register(Box::new(block_seconds.clone()))?;
        Ok(Self {
            registry,
            height,
            blocks,
            txs_included,
            proofs_accepted,
            txs_rejected,
            mempool,
            block_seconds,
            relay_blocks,
            relay_txs_asked,
            views_skipped,
        })
    }

    /// Views skipped, whoever led them ([`Metrics::views_skipped`] summed over its labels).
    pub fn views_skipped_total(&self) -> u64 {
        use prometheus::core::Collector as _;
        self.views_skipped
            .collect()
            .iter()
            .flat_map(|family| family.get_metric())
            // A counter only ever holds a whole number well below 2^53.
            .map(|m| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let n = m.get_counter().get_value() as u64;
                n
            })
            .sum()
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        // Encoding into a Vec only fails on a metric family with no samples' type; log-free
        // fallback: an empty body.
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .is_err()
        {
            buf.clear();
        }
        buf
    }

    /// Serves `/metrics` on `addr` until the task is dropped; returns the bound address.
    pub async fn serve(
        &self,
        addr: SocketAddr,
    ) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let me = self.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let body = me.render();
                tokio::spawn(async move {
                    // Read (and ignore) the request head; bounded so a client cannot make us buffer.
                    let mut buf = [0u8; 4096];
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_secs(2),
                        sock.read(&mut buf),
                    )
                    .await;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Ok((bound, task))
    }
}
