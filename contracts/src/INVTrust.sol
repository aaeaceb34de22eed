// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title INVTrust: the Solidity ABI of the NV_TRUST precompile at 0x0301 (seed 001; SPEC sections 4, 5).
/// @notice A quote is `evidence envelope || nonce(32)`: the evidence must be fresh for that nonce,
/// and the caller decides what the nonce must be. Only GPU evidence (NVIDIA, or a GPU bound to a CPU
/// confidential VM) verifies here; anything else gives false and zeros. An envelope that does not
/// decode makes the call fail.
interface INVTrust {
    /// @notice Whether the quote is genuine NVIDIA GPU evidence, fresh for its nonce.
    function verifyQuote(bytes calldata quote) external view returns (bool);

    /// @notice Tier (0 if not verified), attested GPU id (the device id) and LP-092 compute units
    /// per hour of the quote's GPU.
    function parseQuote(bytes calldata quote)
        external
        view
        returns (uint8 trustLevel, bytes32 gpuId, uint256 computeUnits);
}
