// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title IModelRegistry: the Solidity ABI of the MODEL_REGISTRY precompile at 0x0302 (seed 001;
/// LP-035; SPEC sections 4 and 6).
/// @notice `verifyExecution`'s proof is a signed inference attestation:
/// `0x01 || param_set(1) || ML-DSA public key || signature || u64be(timestamp)`, the signature over
/// `"poai/inference/v1" || u64be(chain_id) || modelId || inputHash || outputHash || u64be(timestamp)`.
/// `authorizeProvider` is this project's addition to the seed's interface: verification needs to
/// know which provider keys (BLAKE3 of the ML-DSA public key) may attest for a model.
interface IModelRegistry {
    /// @notice Registers a model; the caller owns it.
    /// `modelId = BLAKE3("poai/model/v1" || u64be(chain_id) || owner || modelHash)`.
    function register(string calldata name, bytes32 modelHash, bytes calldata metadata)
        external
        returns (bytes32 modelId);

    /// @notice Whether `proof` attests that the model turned `inputHash` into `outputHash`.
    function verifyExecution(bytes32 modelId, bytes32 inputHash, bytes32 outputHash, bytes calldata proof)
        external
        view
        returns (bool);

    /// @notice Allows or disallows a provider key to attest for a model (the model's owner only).
    function authorizeProvider(bytes32 modelId, bytes32 providerKeyHash, bool allowed) external;
}
