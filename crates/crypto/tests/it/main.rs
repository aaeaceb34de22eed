//! poai-crypto integration tests: Wycheproof ML-DSA vectors through the public API, and
//! differential tests against RustCrypto `ml-dsa` and `fips204`.

// Test and bench code: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod differential;
mod wycheproof;
