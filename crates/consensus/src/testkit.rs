//! Test helpers shared by the crate's unit tests.

use poai_chain::evidence::{dev_device_id, dev_evidence};
use poai_chain::genesis::{Genesis, GenesisAccount};
use poai_chain::tx::{Call, ProofTx, SignedTx, TxBody};
use poai_chain::{Machine, Transaction, address_of};
use poai_crypto::{ParamSet, SigningKey};
use poai_node::NodeConfig;
use poai_node::devnet::devnet_genesis;
use poai_node::node::Shared;
use poai_primitives::{Address, Nonce, PrivacyLevel, WorkProof};
use std::sync::Arc;

/// The key whose account [`node`]'s genesis funds.
pub fn key() -> SigningKey {
    SigningKey::from_seed(ParamSet::MlDsa44, &[41; 32]).unwrap()
}

/// A node over a devnet genesis in which [`key`] holds funds, stored in `dir`.
pub fn node(dir: &std::path::Path) -> Arc<Shared> {
    node_with(dir, |_| {})
}

/// [`node`] with `edit` applied to its genesis first.
pub fn node_with(dir: &std::path::Path, edit: impl FnOnce(&mut Genesis)) -> Arc<Shared> {
    let mut g = devnet_genesis(1_700_000_000, 60);
    g.accounts.push(GenesisAccount {
        address: address_of(key().verifying_key()),
        balance: 1_000_000,
    });
    edit(&mut g);
    Shared::open(&NodeConfig::new(g, dir.to_path_buf()), Machine::new()).unwrap()
}

/// Transfers signed by [`key`] with nonces `from..to`.
pub fn transfers(shared: &Shared, nonces: std::ops::Range<u64>) -> Vec<Transaction> {
    nonces
        .map(|nonce| {
            let body = TxBody {
                chain_id: shared.state().genesis().chain_id,
                nonce,
                fee: 0,
                call: Call::Transfer {
                    to: Address([9; 20]),
                    amount: 1,
                },
            };
            Transaction::Account(SignedTx::sign(body, &key()).unwrap())
        })
        .collect()
}

/// [`key`] registers the dev device of evidence seed `seed`, with account nonce `nonce`.
pub fn registration(shared: &Shared, seed: [u8; 32], nonce: u64) -> Transaction {
    let body = TxBody {
        chain_id: shared.state().genesis().chain_id,
        nonce,
        fee: 0,
        call: Call::RegisterDevice {
            evidence: dev_evidence(PrivacyLevel::Public, &seed),
        },
    };
    Transaction::Account(SignedTx::sign(body, &key()).unwrap())
}

/// A proof of the device [`registration`]`(seed)` registers, signed by [`key`] and stamped at
/// the head's time.
pub fn proof(shared: &Shared, seed: [u8; 32]) -> Transaction {
    let (chain_id, timestamp) = {
        let s = shared.state();
        (s.genesis().chain_id, s.head().timestamp)
    };
    let p = WorkProof {
        device_id: dev_device_id(&seed),
        nonce: Nonce(seed),
        timestamp,
        privacy_level: PrivacyLevel::Public,
        compute_minutes: 0,
        tee_evidence: Vec::new(),
    };
    Transaction::Proof(ProofTx::sign(p, Address([1; 20]), chain_id, &key()).unwrap())
}
