//! Fuzz the key-file parser: any text gives a key or a named error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = poai_crypto::keyfile::parse(Path::new("fuzz.key"), text);
    }
});
