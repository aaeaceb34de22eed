//! Mempool gossip (docs/DESIGN-consensus.md, section 1.5): with rotating leaders a transaction
//! must reach every validator, not just the one whose RPC received it. Each node sends what its
//! own clients submitted to all peers in batches; receivers run the same admission as RPC
//! ([`Shared::submit_from_peer`]) and never forward, so nothing circulates.
//!
//! Batch wire form (one p2p message):
//!
//! | field | bytes |
//! |---|---|
//! | count `n` (1 ≤ n ≤ [`MAX_BATCH_TXS`]), big-endian | 4 |
//! | `n` × (length big-endian u32 ‖ `Transaction::encode()`) | each ≤ `MAX_TX_LEN` |

use crate::block::MAX_MESSAGE_BYTES;
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::Clock;
use poai_chain::Transaction;
use poai_chain::codec::{CodecError, Reader, Writer};
use poai_chain::tx::MAX_TX_LEN;
use poai_node::node::Shared;
use std::sync::Arc;
use std::time::Duration;

/// Most transactions in one gossip message.
pub const MAX_BATCH_TXS: usize = 4096;

/// How often the outbox is flushed.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Splits `txs` into encoded batches that each fit one p2p message.
pub fn encode_batches(txs: &[Transaction]) -> Vec<Vec<u8>> {
    let limit = usize::try_from(MAX_MESSAGE_BYTES).unwrap_or(usize::MAX) / 2;
    let mut out = Vec::new();
    let mut current: Vec<Vec<u8>> = Vec::new();
    let mut size = 4usize;
    let flush = |current: &mut Vec<Vec<u8>>, out: &mut Vec<Vec<u8>>| {
        if current.is_empty() {
            return;
        }
        let mut w = Writer::new();
        w.u32(u32::try_from(current.len()).unwrap_or(u32::MAX));
        for t in current.drain(..) {
            w.bytes(&t);
        }
        out.push(w.finish());
    };
    for tx in txs {
        let e = tx.encode();
        if current.len() >= MAX_BATCH_TXS || size.saturating_add(e.len() + 4) > limit {
            flush(&mut current, &mut out);
            size = 4;
        }
        size = size.saturating_add(e.len() + 4);
        current.push(e);
    }
    flush(&mut current, &mut out);
    out
}

/// Decodes one batch; refuses an empty or oversized count, any bad transaction and trailing
/// bytes.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<Transaction>, CodecError> {
    let mut r = Reader::new(bytes);
    let n = usize::try_from(r.u32("gossip_count")?).unwrap_or(usize::MAX);
    if n == 0 || n > MAX_BATCH_TXS {
        return Err(CodecError::Invalid {
            field: "gossip_count",
            reason: format!("must be 1 to {MAX_BATCH_TXS}, not {n}"),
        });
    }
    let mut txs = Vec::with_capacity(n.min(r.remaining() / 4));
    for _ in 0..n {
        txs.push(Transaction::decode(r.bytes(MAX_TX_LEN, "gossip_tx")?)?);
    }
    r.finish()?;
    Ok(txs)
}

/// Runs gossip on one channel until the channel closes.
pub async fn run<E, S, R>(clock: E, shared: Arc<Shared>, mut sender: S, mut receiver: R)
where
    E: Clock,
    S: Sender,
    R: Receiver,
{
    shared.enable_gossip();
    loop {
        let flush = clock.sleep(FLUSH_EVERY);
        futures::pin_mut!(flush);
        let recv = receiver.recv();
        futures::pin_mut!(recv);
        match futures::future::select(flush, recv).await {
            futures::future::Either::Left(((), _)) => {
                let txs = shared.take_gossip();
                for batch in encode_batches(&txs) {
                    sender.send(Recipients::All, batch, false);
                }
            }
            futures::future::Either::Right((Ok((_peer, msg)), _)) => {
                // A bad batch from a peer is dropped; admission reports each transaction's own
                // error to nobody (the sender's RPC already answered its client).
                if let Ok(txs) = decode_batch(msg.as_ref()) {
                    let shared = shared.clone();
                    let _ = shared.submit_from_peer(txs);
                }
            }
            futures::future::Either::Right((Err(_), _)) => return,
        }
    }
}
