//! Mempool gossip (docs/DESIGN-consensus.md, section 1.5): with rotating leaders a transaction
//! must reach every validator, not just the one whose RPC received it. Each node sends what its
//! own clients submitted to all peers in batches; receivers run the same admission as RPC
//! ([`Shared::submit_from_peer`]) and never forward, so nothing circulates.
//!
//! Wire form: one batch of transactions per p2p message, as [`poai_chain::tx::encode_batch`]
//! lays it out (count, then length-prefixed transactions; bounded, no trailing bytes).

use crate::block::MAX_MESSAGE_BYTES;
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::Clock;
use poai_chain::Transaction;
use poai_chain::tx::{MAX_BATCH_TXS, decode_batch, encode_batch};
use poai_node::node::Shared;
use std::sync::Arc;
use std::time::Duration;

/// How often the outbox is flushed.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Splits `txs` into encoded batches ([`poai_chain::tx::encode_batch`]) that each fit one p2p
/// message.
pub fn encode_batches(txs: &[Transaction]) -> Vec<Vec<u8>> {
    let limit = usize::try_from(MAX_MESSAGE_BYTES).unwrap_or(usize::MAX) / 2;
    let mut out = Vec::new();
    let mut current: Vec<Vec<u8>> = Vec::new();
    let mut size = 4usize;
    for tx in txs {
        let e = tx.encode();
        if current.len() >= MAX_BATCH_TXS || size.saturating_add(e.len() + 4) > limit {
            out.push(encode_batch(current.iter().map(Vec::as_slice)));
            current.clear();
            size = 4;
        }
        size = size.saturating_add(e.len() + 4);
        current.push(e);
    }
    if !current.is_empty() {
        out.push(encode_batch(current.iter().map(Vec::as_slice)));
    }
    out
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
                    let _ = shared.submit_from_peer(txs);
                }
            }
            futures::future::Either::Right((Err(_), _)) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poai_chain::{Call, SignedTx, TxBody};
    use poai_crypto::{ParamSet, SigningKey};

    #[test]
    fn batches_round_trip_and_fit_one_message() {
        let key = SigningKey::from_seed(ParamSet::MlDsa44, &[3; 32]).unwrap();
        let txs: Vec<Transaction> = (0..MAX_BATCH_TXS as u64 + 5)
            .map(|nonce| {
                let body = TxBody {
                    chain_id: poai_primitives::ChainId(1),
                    nonce,
                    fee: 0,
                    call: Call::Transfer {
                        to: poai_primitives::Address([7; 20]),
                        amount: 1,
                    },
                };
                // One signature, reused: the codec does not verify.
                Transaction::Account(SignedTx {
                    body,
                    public_key: key.verifying_key().clone(),
                    signature: vec![0; ParamSet::MlDsa44.signature_len()],
                })
            })
            .collect();
        let batches = encode_batches(&txs);
        // About 3.8 KB each: split by bytes (half a p2p message), every batch within bounds.
        assert!(batches.len() > 1);
        for b in &batches {
            assert!(b.len() <= usize::try_from(MAX_MESSAGE_BYTES).unwrap() / 2);
            assert!(decode_batch(b).unwrap().len() <= MAX_BATCH_TXS);
        }
        let back: Vec<Transaction> = batches
            .iter()
            .flat_map(|b| decode_batch(b).unwrap())
            .collect();
        assert_eq!(back, txs);
        assert!(encode_batches(&[]).is_empty());
        // Empty, truncated and trailing-byte batches are refused.
        assert!(decode_batch(&0u32.to_be_bytes()).is_err());
        let b = &batches[1];
        assert!(decode_batch(&b[..b.len() - 1]).is_err());
        let mut long = b.clone();
        long.push(0);
        assert!(decode_batch(&long).is_err());
    }
}
