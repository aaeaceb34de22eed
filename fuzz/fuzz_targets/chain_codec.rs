//! Fuzz the A-chain's bounded decoders (crates/chain): transactions, blocks, receipts, the
//! stored account, device and meta rows, the transaction batches validators gossip and the
//! compact block relay's messages. The first byte picks the decoder. Any bytes give Ok or
//! a named `CodecError`, never a panic, and whatever decodes re-encodes to the same bytes (one
//! canonical encoding, so a block's hash cannot be malleated).
#![no_main]

use libfuzzer_sys::fuzz_target;
use poai_chain::block::{decode_receipts, encode_receipts};
use poai_chain::relay::RelayMessage;
use poai_chain::state::Meta;
use poai_chain::tx::{decode_batch, encode_batch};
use poai_chain::{Account, Block, Device, Transaction};

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 8 {
        0 => {
            if let Ok(tx) = Transaction::decode(bytes) {
                assert_eq!(tx.encode(), bytes);
            }
        }
        1 => {
            if let Ok(block) = Block::decode(bytes) {
                assert_eq!(block.encode(), bytes);
            }
        }
        2 => {
            if let Ok(receipts) = decode_receipts(bytes) {
                assert_eq!(encode_receipts(&receipts), bytes);
            }
        }
        3 => {
            if let Ok(account) = Account::decode(bytes) {
                assert_eq!(account.encode(), bytes);
            }
        }
        4 => {
            if let Ok(device) = Device::decode(bytes) {
                assert_eq!(device.encode(), bytes);
            }
        }
        5 => {
            if let Ok(meta) = Meta::decode(bytes) {
                assert_eq!(meta.encode(), bytes);
            }
        }
        6 => {
            if let Ok(m) = RelayMessage::decode(bytes) {
                assert_eq!(m.encode(), bytes);
            }
        }
        _ => {
            if let Ok(txs) = decode_batch(bytes) {
                let encoded: Vec<Vec<u8>> = txs.iter().map(Transaction::encode).collect();
                assert_eq!(encode_batch(encoded.iter().map(Vec::as_slice)), bytes);
            }
        }
    }
});
