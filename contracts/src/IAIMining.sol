// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title IAIMining: the Solidity ABI of the AI_MINING precompile at 0x0300 (seed 001; SPEC section 4).
/// @notice The same address also serves the LP-130 raw ops (first input byte 0x01..=0x0F); those have
/// no selector and are called with raw calldata (see `LP130` in AIMining.sol). No selector here
/// starts with 0x00..=0x0F, so the two never collide.
interface IAIMining {
    /// @notice Starts a mining session for `miner` on the device and tier `teeQuote` proves.
    /// `teeQuote` is `evidence envelope || nonce(32)`. Only configured mining contracts may call.
    function startSession(address miner, bytes calldata teeQuote) external returns (bytes32 sessionId);

    /// @notice Pays the minutes since the session's previous heartbeat, at its tier's rate.
    function heartbeat(bytes32 sessionId) external returns (uint256 reward);
}
