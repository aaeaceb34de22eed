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
use poai_node::node::{Shared, nonce_ahead};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How often the outbox is flushed.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Most early transactions (nonce ahead of the next one here) kept to offer again.
pub const MAX_EARLY: usize = 4096;

/// How long an early transaction is kept.
pub const EARLY_TTL: Duration = Duration::from_secs(60);

/// Splits `txs` into encoded batches ([`poai_chain::tx::encode_batch`]) that each fit one p2p
/// message.
pub fn encode_batches<'a>(txs: impl IntoIterator<Item = &'a Transaction>) -> Vec<Vec<u8>> {
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

/// Account transactions a peer sent before an earlier one of the same sender reached this node
/// (gossip batches are lost or overtaken; admission wants consecutive nonces). They are offered
/// again after each commit until admitted, refused for another reason, or [`EARLY_TTL`] old.
/// Without this, such a transaction could reach only the validator whose client sent it, and
/// wait there for good once that validator is no longer a leader.
#[derive(Default)]
struct Early {
    txs: VecDeque<(SystemTime, Transaction)>,
    height: u64,
}

impl Early {
    fn keep(&mut self, at: SystemTime, txs: Vec<Transaction>) {
        self.txs.extend(txs.into_iter().map(|t| (at, t)));
        while self.txs.len() > MAX_EARLY {
            self.txs.pop_front();
        }
    }

    /// Offers the kept transactions again if a block was committed since the last try.
    fn retry(&mut self, shared: &Shared, now: SystemTime) {
        let height = shared.state().head().height;
        if self.txs.is_empty() || height == self.height {
            return;
        }
        self.height = height;
        let (times, txs): (Vec<SystemTime>, Vec<Transaction>) = std::mem::take(&mut self.txs)
            .into_iter()
            .filter(|(t, _)| now.duration_since(*t).unwrap_or_default() < EARLY_TTL)
            .unzip();
        // The still-early ones come back in order, one per early result: each keeps the time
        // it first arrived.
        let (results, still) = shared.submit_from_peer(txs);
        let arrived = times
            .into_iter()
            .zip(&results)
            .filter_map(|(t, r)| nonce_ahead(r).then_some(t));
        self.txs.extend(arrived.zip(still));
    }
}

/// Runs gossip on one channel until the channel closes.
pub async fn run<E, S, R>(clock: E, shared: Arc<Shared>, mut sender: S, mut receiver: R)
where
    E: Clock,
    S: Sender,
    R: Receiver,
{
    shared.enable_gossip();
    let mut early = Early::default();
    loop {
        let flush = clock.sleep(FLUSH_EVERY);
        futures::pin_mut!(flush);
        let recv = receiver.recv();
        futures::pin_mut!(recv);
        match futures::future::select(flush, recv).await {
            futures::future::Either::Left(((), _)) => {
                let txs = shared.take_gossip();
                for batch in encode_batches(txs.iter().map(|(_, t)| t)) {
                    sender.send(Recipients::All, batch, false);
                }
                early.retry(&shared, clock.current());
            }
            futures::future::Either::Right((Ok((_peer, msg)), _)) => {
                // A bad batch from a peer is dropped; admission reports each transaction's own
                // error to nobody (the sender's RPC already answered its client).
                if let Ok(txs) = decode_batch(msg.as_ref()) {
                    let (_, ahead) = shared.submit_from_peer(txs);
                    early.keep(clock.current(), ahead);
                }
            }
            futures::future::Either::Right((Err(_), _)) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{node, transfers};

    /// A transfer that arrives before its predecessor is refused as early, kept, and admitted
    /// after the next commit once the predecessor is here; kept ones expire after EARLY_TTL.
    #[test]
    fn early_transfers_are_offered_again_until_admitted_or_expired() {
        let dir = tempfile::tempdir().unwrap();
        let shared = node(dir.path());
        let txs = transfers(&shared, 0..3);
        let hashes: Vec<_> = txs.iter().map(Transaction::hash).collect();
        let t0 = SystemTime::UNIX_EPOCH;
        let mut early = Early::default();

        let (results, ahead) = shared.submit_from_peer(txs[1..].to_vec());
        assert!(matches!(
            results[0],
            Err(poai_chain::TxError::BadNonce {
                expected: 0,
                got: 1
            })
        ));
        assert_eq!(ahead, txs[1..].to_vec());
        early.keep(t0, ahead);
        // Nothing committed since: not offered again.
        early.height = shared.state().head().height;
        early.retry(&shared, t0);
        assert_eq!(early.txs.len(), 2);

        // The predecessor arrives; after the next commit the kept ones are admitted, in order.
        let (results, ahead) = shared.submit_from_peer(txs[..1].to_vec());
        assert!(results[0].is_ok() && ahead.is_empty());
        early.height = u64::MAX;
        early.retry(&shared, t0 + Duration::from_secs(1));
        assert!(early.txs.is_empty());
        assert!(hashes.iter().all(|h| shared.mempool().contains(h)));

        // A transfer that stays early is dropped once EARLY_TTL old.
        let far = transfers(&shared, 9..10);
        let (_, ahead) = shared.submit_from_peer(far);
        early.keep(t0, ahead);
        early.height = u64::MAX;
        early.retry(&shared, t0 + EARLY_TTL / 2);
        assert_eq!(early.txs.len(), 1);
        early.height = u64::MAX;
        early.retry(&shared, t0 + EARLY_TTL);
        assert!(early.txs.is_empty());

        // The bound: the oldest go first.
        let many: Vec<_> = (0..MAX_EARLY + 1).map(|_| txs[2].clone()).collect();
        early.keep(t0, many);
        assert_eq!(early.txs.len(), MAX_EARLY);
    }
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
