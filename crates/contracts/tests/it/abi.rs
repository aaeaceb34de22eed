//! The ABIs the Rust side uses against the compiled ones: the precompiles implement exactly the
//! interfaces that solc compiled from contracts/src, and the bindings carry the committed code.

use alloy_json_abi::JsonAbi;
use poai_contracts::artifacts::{self, I_AI_MINING, I_MODEL_REGISTRY, I_NV_TRUST};
use poai_contracts::check_abi;
use poai_precompiles::abi as pre;

/// The precompiles' hand-written interfaces as JSON ABI (signatures with outputs).
fn precompile_abi(functions: &[(&str, &str)]) -> JsonAbi {
    let items: Vec<String> = functions
        .iter()
        .map(|(sig, outputs)| match *outputs {
            "" => format!("function {sig} external"),
            outputs => format!("function {sig} external returns ({outputs})"),
        })
        .collect();
    JsonAbi::parse(items.iter().map(String::as_str)).unwrap()
}

#[test]
fn precompile_interfaces_match_the_compiled_ones() {
    use alloy_sol_types::SolCall;
    let ai_mining = precompile_abi(&[
        (pre::IAIMining::startSessionCall::SIGNATURE, "bytes32"),
        (pre::IAIMining::heartbeatCall::SIGNATURE, "uint256"),
    ]);
    check_abi(&I_AI_MINING, &ai_mining).unwrap();
    let nv_trust = precompile_abi(&[
        (pre::INVTrust::verifyQuoteCall::SIGNATURE, "bool"),
        (
            pre::INVTrust::parseQuoteCall::SIGNATURE,
            "uint8,bytes32,uint256",
        ),
    ]);
    check_abi(&I_NV_TRUST, &nv_trust).unwrap();
    let registry = precompile_abi(&[
        (pre::IModelRegistry::registerCall::SIGNATURE, "bytes32"),
        (pre::IModelRegistry::verifyExecutionCall::SIGNATURE, "bool"),
        (pre::IModelRegistry::authorizeProviderCall::SIGNATURE, ""),
        (pre::IModelRegistry::importAChainBlockCall::SIGNATURE, ""),
    ]);
    check_abi(&I_MODEL_REGISTRY, &registry).unwrap();

    // And every selector the precompiles dispatch on is one the compiled interfaces declare.
    let compiled: std::collections::BTreeSet<_> = [I_AI_MINING, I_NV_TRUST, I_MODEL_REGISTRY]
        .iter()
        .flat_map(|a| a.selectors().unwrap())
        .collect();
    let dispatched: std::collections::BTreeSet<_> = pre::selectors()
        .into_iter()
        .map(|(_, s)| s.into())
        .collect();
    assert_eq!(compiled, dispatched);
    for s in &compiled {
        assert!(
            s[0] > 0x0F,
            "selector {s} would be read as an LP-130 op byte"
        );
    }
}

#[test]
fn bindings_carry_the_committed_bytecode() {
    use poai_contracts::{AIMining, AIToken, ChainConfig, ComputeMarket};
    let pairs = [
        (artifacts::AI_TOKEN, &AIToken::BYTECODE),
        (artifacts::AI_MINING, &AIMining::BYTECODE),
        (artifacts::CHAIN_CONFIG, &ChainConfig::BYTECODE),
        (artifacts::COMPUTE_MARKET, &ComputeMarket::BYTECODE),
    ];
    for (artifact, bytecode) in pairs {
        assert_eq!(&artifact.bytecode().unwrap(), bytecode, "{}", artifact.name);
        // EIP-170: deployed code must fit in 24,576 bytes.
        let deployed = artifact.object().unwrap().deployed_bytecode.unwrap();
        assert!(
            deployed.len() <= 24_576,
            "{} is {} bytes",
            artifact.name,
            deployed.len()
        );
    }
}
