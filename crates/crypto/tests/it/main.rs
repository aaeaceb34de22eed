//! poai-crypto integration tests: Wycheproof ML-DSA vectors through the public API, and
//! differential tests against RustCrypto `ml-dsa` and `fips204`.

mod differential;
mod wycheproof;
