// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title IModelRegistry: the Solidity ABI of the MODEL_REGISTRY precompile at 0x0302 (seed 001;
/// LP-035; SPEC sections 4 and 6).
/// @notice `verifyExecution`'s proof is either a signed inference attestation:
/// `0x01 || param_set(1) || ML-DSA public key || signature || u64be(timestamp)`, the signature over
/// `"poai/inference/v1" || u64be(chain_id) || modelId || inputHash || outputHash || u64be(timestamp)`;
/// or an A-chain inference receipt: `0x02 || receipt` (header, transaction, Merkle path; see
/// docs/DESIGN-aivm.md, "Receipts"), checked against the A-chain block hash imported for the
/// header's height, with `modelId` the A-chain's model id.
/// `authorizeProvider` and `importAChainBlock` are this project's additions to the seed's
/// interface: verification needs to know which provider keys (BLAKE3 of the ML-DSA public key) may
/// attest for a model, and which A-chain block hashes the chain trusts.
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

    /// @notice Records the A-chain block hash at `height` (the chain's bridge contracts only, after
    /// checking the A-chain validators' signatures). A height keeps its first hash: importing it
    /// again is a no-op, a different hash reverts.
    function importAChainBlock(uint64 height, bytes32 blockHash) external;
}
