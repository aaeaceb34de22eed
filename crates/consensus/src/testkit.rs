//! Test helpers shared by the crate's unit tests.

use poai_chain::genesis::{Genesis, GenesisAccount};
use poai_chain::tx::{Call, SignedTx, TxBody};
use poai_chain::{Machine, Transaction, address_of};
use poai_crypto::{ParamSet, SigningKey};
use poai_node::NodeConfig;
use poai_node::devnet::devnet_genesis;
use poai_node::node::Shared;
use poai_primitives::Address;
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
