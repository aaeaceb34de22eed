//! Fuzz the A-chain transaction decoder, AI VM calls included (SPEC section 6): any bytes give
//! Ok or a named error, never a panic, and whatever decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poai_chain::Transaction;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = Transaction::decode(data) {
        assert_eq!(tx.encode(), data);
    }
});
