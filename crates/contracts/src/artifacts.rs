//! The committed solc artifacts (`contracts/out/<Name>.json`: `abi`, `bytecode`,
//! `deployedBytecode`), embedded with `include_str!`, and a check that an ABI another crate uses
//! (for example the precompiles' hand-written `sol!` interfaces) matches the compiled one.
//!
//! The artifacts come from `scripts/contracts.sh build` (solc-js 0.8.37, evmVersion prague,
//! optimizer 200 runs, no metadata hash; `contracts/out/build-info.json` records it).

use alloy_json_abi::{ContractObject, JsonAbi};
use alloy_primitives::{Bytes, Selector};
use std::collections::BTreeSet;

/// One compiled contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Artifact {
    /// The contract's name (and file stem).
    pub name: &'static str,
    /// The artifact's JSON text.
    pub json: &'static str,
}

macro_rules! artifact {
    ($name:literal) => {
        Artifact {
            name: $name,
            json: include_str!(concat!("../../../contracts/out/", $name, ".json")),
        }
    };
}

/// AIToken.
pub const AI_TOKEN: Artifact = artifact!("AIToken");
/// AIMining.
pub const AI_MINING: Artifact = artifact!("AIMining");
/// ChainConfig.
pub const CHAIN_CONFIG: Artifact = artifact!("ChainConfig");
/// ComputeMarket.
pub const COMPUTE_MARKET: Artifact = artifact!("ComputeMarket");
/// The 0x0300 interface.
pub const I_AI_MINING: Artifact = artifact!("IAIMining");
/// The 0x0301 interface.
pub const I_NV_TRUST: Artifact = artifact!("INVTrust");
/// The 0x0302 interface.
pub const I_MODEL_REGISTRY: Artifact = artifact!("IModelRegistry");

/// Every artifact the bindings use.
pub const ARTIFACTS: [Artifact; 7] = [
    AI_TOKEN,
    AI_MINING,
    CHAIN_CONFIG,
    COMPUTE_MARKET,
    I_AI_MINING,
    I_NV_TRUST,
    I_MODEL_REGISTRY,
];

/// Why an artifact or an ABI does not match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbiMismatch {
    /// The artifact's JSON does not parse.
    #[error("artifact `{name}`: invalid JSON: {reason}")]
    Json {
        /// The artifact.
        name: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// The artifact has no `abi` field.
    #[error("artifact `{name}` has no `abi`")]
    NoAbi {
        /// The artifact.
        name: &'static str,
    },
    /// Functions differ: each side's extra signatures are listed.
    #[error(
        "artifact `{name}`: functions differ; only in the compiled ABI: {only_compiled:?}; only on the Rust side: {only_rust:?}"
    )]
    Functions {
        /// The artifact.
        name: &'static str,
        /// Signatures (with outputs) only the compiled ABI has.
        only_compiled: Vec<String>,
        /// Signatures (with outputs) only the checked side has.
        only_rust: Vec<String>,
    },
}

impl Artifact {
    /// The parsed artifact.
    pub fn object(&self) -> Result<ContractObject, AbiMismatch> {
        ContractObject::from_json(self.json).map_err(|e| AbiMismatch::Json {
            name: self.name,
            reason: e.to_string(),
        })
    }

    /// The compiled ABI.
    pub fn abi(&self) -> Result<JsonAbi, AbiMismatch> {
        self.object()?
            .abi
            .ok_or(AbiMismatch::NoAbi { name: self.name })
    }

    /// Creation bytecode (empty for interfaces).
    pub fn bytecode(&self) -> Result<Bytes, AbiMismatch> {
        Ok(self.object()?.bytecode.unwrap_or_default())
    }

    /// Every function selector of the compiled ABI.
    pub fn selectors(&self) -> Result<BTreeSet<Selector>, AbiMismatch> {
        Ok(self.abi()?.functions().map(|f| f.selector()).collect())
    }
}

/// Checks that `rust` declares exactly the functions (names, input and output types) of the
/// compiled `artifact`.
pub fn check_abi(artifact: &Artifact, rust: &JsonAbi) -> Result<(), AbiMismatch> {
    let signatures = |abi: &JsonAbi| -> BTreeSet<String> {
        abi.functions()
            .map(|f| f.signature_with_outputs())
            .collect()
    };
    let compiled = signatures(&artifact.abi()?);
    let ours = signatures(rust);
    if compiled == ours {
        return Ok(());
    }
    Err(AbiMismatch::Functions {
        name: artifact.name,
        only_compiled: compiled.difference(&ours).cloned().collect(),
        only_rust: ours.difference(&compiled).cloned().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_artifact_parses_and_contracts_have_code() {
        for a in ARTIFACTS {
            let abi = a.abi().unwrap();
            let code = a.bytecode().unwrap();
            let is_interface = a.name.starts_with('I');
            assert_eq!(code.is_empty(), is_interface, "{}", a.name);
            assert!(
                abi.functions().next().is_some(),
                "{} has no functions",
                a.name
            );
        }
    }

    #[test]
    fn check_abi_names_the_difference() {
        let compiled = I_AI_MINING.abi().unwrap();
        assert_eq!(check_abi(&I_AI_MINING, &compiled), Ok(()));
        let other = I_NV_TRUST.abi().unwrap();
        let Err(AbiMismatch::Functions {
            only_compiled,
            only_rust,
            ..
        }) = check_abi(&I_AI_MINING, &other)
        else {
            panic!("a different ABI must not match");
        };
        assert!(
            only_compiled
                .iter()
                .any(|s| s.starts_with("heartbeat(bytes32)"))
        );
        assert!(
            only_rust
                .iter()
                .any(|s| s.starts_with("verifyQuote(bytes)"))
        );
    }

    #[test]
    fn broken_json_is_an_error() {
        let bad = Artifact {
            name: "Bad",
            json: "{ not json",
        };
        assert!(matches!(
            bad.abi(),
            Err(AbiMismatch::Json { name: "Bad", .. })
        ));
        let no_abi = Artifact {
            name: "NoAbi",
            json: "{}",
        };
        assert_eq!(no_abi.abi(), Err(AbiMismatch::NoAbi { name: "NoAbi" }));
    }
}
