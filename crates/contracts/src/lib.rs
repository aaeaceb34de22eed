//! poai's Solidity contracts (SPEC section 8, seed 004) as Rust sees them: the artifacts that the
//! pinned solc-js writes to `contracts/out` (committed; `scripts/contracts.sh check` proves they
//! are a fresh compile of `contracts/src`), and alloy `sol!` bindings generated from those same
//! JSON files, so a Rust caller can only encode what the compiled contracts accept.
//!
//! | contract | what it is |
//! |---|---|
//! | [`AIToken`] | ERC-20 with SPEC section 3's emission: halving, ceiling, 900M mining cap, 100M LP, 98/2 split |
//! | [`AIMining`] | work proofs through the 0x0300 LP-130 raw ops; tier from verified evidence |
//! | [`ChainConfig`] | tier multipliers, attestation validity and soft stake per chain |
//! | [`ComputeMarket`] | providers with stake, escrowed requests, disputes settled by re-execution |
//! | [`IAIMining`], [`INVTrust`], [`IModelRegistry`] | the precompiles' Solidity interfaces |
//!
//! [`artifacts`] holds the raw JSON and checks ABIs against it ([`artifacts::check_abi`]); the
//! integration tests deploy the bytecode into revm with `poai-precompiles` installed.
//!
//! No feature flags.

pub mod artifacts;

pub use artifacts::{ARTIFACTS, AbiMismatch, Artifact, check_abi};

/// Generates a contract's bindings in a module of its own: an ABI that names another contract's
/// type (AIMining's `ChainConfig.GPUTier`) makes `sol!` emit a library module of that name, which
/// would clash with the other contract's own bindings in a shared module.
macro_rules! bindings {
    ($($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[doc = concat!("Bindings of `", stringify!($name), "`, generated from `contracts/out/", stringify!($name), ".json`.")]
            #[allow(missing_docs, clippy::too_many_arguments)]
            pub mod $module {
                alloy_sol_types::sol!(
                    #[sol(all_derives)]
                    $name,
                    concat!("../../contracts/out/", stringify!($name), ".json")
                );
            }
            pub use $module::$name;
        )*
    };
}

bindings!(
    ai_token::AIToken,
    ai_mining::AIMining,
    chain_config::ChainConfig,
    compute_market::ComputeMarket,
    i_ai_mining::IAIMining,
    i_nv_trust::INVTrust,
    i_model_registry::IModelRegistry,
);
