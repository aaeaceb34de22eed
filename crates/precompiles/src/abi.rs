//! The Solidity interfaces of seed 001, as alloy `sol!` types, and the strict decoder the
//! precompiles use for them.
//!
//! `IModelRegistry.authorizeProvider` is this project's addition: `verifyExecution` needs to
//! know which provider keys may attest for a model, and the seed's interface has no way to say
//! it (`docs/` records the decision). So is `IModelRegistry.importAChainBlock`: A-chain
//! receipts (proof kind 0x02) verify against an A-chain block hash the EVM side trusts, which
//! the chain's bridge contract imports.

use crate::error::Halt;
use alloy_sol_types::SolCall;

alloy_sol_types::sol! {
    /// 0x0300 AI_MINING (seed 001).
    interface IAIMining {
        /// Starts a mining session for `miner` on the device and tier `teeQuote` proves.
        function startSession(address miner, bytes teeQuote) external returns (bytes32 sessionId);
        /// Pays the minutes since the session's previous heartbeat, at its tier's rate.
        function heartbeat(bytes32 sessionId) external returns (uint256 reward);
    }

    /// 0x0301 NV_TRUST (seed 001).
    interface INVTrust {
        /// Whether the quote (`envelope ‖ nonce`) is genuine NVIDIA GPU evidence, fresh for its nonce.
        function verifyQuote(bytes quote) external view returns (bool);
        /// Tier (0 if not verified), GPU id and compute units per hour of the quote's GPU.
        function parseQuote(bytes quote) external view returns (uint8 trustLevel, bytes32 gpuId, uint256 computeUnits);
    }

    /// 0x0302 MODEL_REGISTRY (seed 001).
    interface IModelRegistry {
        /// Registers a model; the caller owns it.
        function register(string name, bytes32 modelHash, bytes metadata) external returns (bytes32 modelId);
        /// Whether `proof` attests that the model turned `inputHash` into `outputHash`.
        function verifyExecution(bytes32 modelId, bytes32 inputHash, bytes32 outputHash, bytes proof) external view returns (bool);
        /// Allows or disallows a provider key (BLAKE3 of its ML-DSA public key) to attest for a model (owner only).
        function authorizeProvider(bytes32 modelId, bytes32 providerKeyHash, bool allowed) external;
        /// Records the A-chain block hash at `height` (the chain's bridge contracts only; never replaces a different hash).
        function importAChainBlock(uint64 height, bytes32 blockHash) external;
    }
}

/// Decodes a call's arguments strictly (canonical encoding, selector checked).
pub fn decode<C: SolCall>(input: &[u8], function: &'static str) -> Result<C, Halt> {
    C::abi_decode_validate(input).map_err(|e| Halt::Abi {
        function,
        reason: e.to_string(),
    })
}

/// Every selector of the three interfaces, with its signature.
pub fn selectors() -> Vec<(&'static str, [u8; 4])> {
    vec![
        (
            IAIMining::startSessionCall::SIGNATURE,
            IAIMining::startSessionCall::SELECTOR,
        ),
        (
            IAIMining::heartbeatCall::SIGNATURE,
            IAIMining::heartbeatCall::SELECTOR,
        ),
        (
            INVTrust::verifyQuoteCall::SIGNATURE,
            INVTrust::verifyQuoteCall::SELECTOR,
        ),
        (
            INVTrust::parseQuoteCall::SIGNATURE,
            INVTrust::parseQuoteCall::SELECTOR,
        ),
        (
            IModelRegistry::registerCall::SIGNATURE,
            IModelRegistry::registerCall::SELECTOR,
        ),
        (
            IModelRegistry::verifyExecutionCall::SIGNATURE,
            IModelRegistry::verifyExecutionCall::SELECTOR,
        ),
        (
            IModelRegistry::authorizeProviderCall::SIGNATURE,
            IModelRegistry::authorizeProviderCall::SELECTOR,
        ),
        (
            IModelRegistry::importAChainBlockCall::SIGNATURE,
            IModelRegistry::importAChainBlockCall::SELECTOR,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;

    #[test]
    fn no_selector_starts_with_an_op_byte() {
        for (sig, sel) in selectors() {
            assert!(
                !(0x00..=0x0F).contains(&sel[0]),
                "{sig} has selector {sel:02x?}, which the 0x0300 dispatcher would read as an LP-130 op"
            );
        }
    }

    #[test]
    fn selectors_are_keccak_of_signatures() {
        let expected = [
            "startSession(address,bytes)",
            "heartbeat(bytes32)",
            "verifyQuote(bytes)",
            "parseQuote(bytes)",
            "register(string,bytes32,bytes)",
            "verifyExecution(bytes32,bytes32,bytes32,bytes)",
            "authorizeProvider(bytes32,bytes32,bool)",
            "importAChainBlock(uint64,bytes32)",
        ];
        for ((sig, sel), want) in selectors().into_iter().zip(expected) {
            assert_eq!(sig, want);
            assert_eq!(sel, keccak256(want.as_bytes())[..4], "{sig}");
        }
    }

    #[test]
    fn non_canonical_abi_is_rejected() {
        let mut data = IAIMining::heartbeatCall {
            sessionId: [1u8; 32].into(),
        }
        .abi_encode();
        assert!(decode::<IAIMining::heartbeatCall>(&data, "heartbeat").is_ok());
        data.truncate(20);
        assert!(matches!(
            decode::<IAIMining::heartbeatCall>(&data, "heartbeat"),
            Err(Halt::Abi { .. })
        ));
    }
}
