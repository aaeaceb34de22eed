// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {Roles} from "./Roles.sol";

/// @title ChainConfig: per-chain GPU tier configuration (seed 004; SPEC sections 1 and 2).
/// @notice One deployment describes every supported chain; AIMining reads the entry of
/// `block.chainid`. Defaults, for Lux C-Chain 96369, Hanzo EVM 36963, Zoo EVM 200200 and their
/// testnets 96368, 36962, 200201:
///
/// | tier | name | multiplier (bps) |
/// |---|---|---|
/// | 1 | Public | 2500 |
/// | 2 | Private | 5000 |
/// | 3 | Confidential | 10000 |
/// | 4 | Sovereign | 15000 |
///
/// plus how long a device attestation counts (1 day) and the native-coin stake that a device whose
/// identity no evidence proves (soft attestation, CPU-only TEEs) must lock (1 coin).
contract ChainConfig is Roles {
    /// @notice Hardware tiers; the numeric value is the LP-130 privacy level.
    enum GPUTier {
        None,
        Public,
        Private,
        Confidential,
        Sovereign
    }

    /// @notice Highest multiplier an admin may set (the seed's Sovereign 1.5x).
    uint16 public constant MAX_MULTIPLIER_BPS = 15_000;
    /// @notice Shortest attestation validity an admin may set.
    uint64 public constant MIN_ATTESTATION_VALIDITY = 1 hours;
    /// @notice Longest attestation validity an admin may set.
    uint64 public constant MAX_ATTESTATION_VALIDITY = 30 days;

    /// @notice One chain's parameters.
    struct Params {
        bool supported;
        uint64 attestationValidity;
        uint128 softStake;
        uint16[4] multiplierBps;
        string name;
    }

    mapping(uint256 chainId => Params) private _chains;
    uint256[] private _chainIds;

    /// @notice A chain was added or its parameters replaced.
    event ChainConfigured(uint256 indexed chainId, string name);
    /// @notice A tier's multiplier changed on a chain.
    event TierMultiplierSet(uint256 indexed chainId, GPUTier tier, uint16 oldBps, uint16 newBps);

    /// @notice The chain has no configuration.
    error UnsupportedChain(uint256 chainId);
    /// @notice A tier outside Public..Sovereign.
    error InvalidTier(uint8 tier);
    /// @notice A multiplier above MAX_MULTIPLIER_BPS.
    error MultiplierTooHigh(uint16 bps);
    /// @notice An attestation validity outside [MIN_ATTESTATION_VALIDITY, MAX_ATTESTATION_VALIDITY].
    error InvalidAttestationValidity(uint64 secs);

    constructor(address admin) Roles(admin) {
        uint16[4] memory m = [uint16(2_500), 5_000, 10_000, 15_000];
        _set(96_369, "Lux C-Chain", m, 1 days, 1 ether);
        _set(96_368, "Lux C-Chain testnet", m, 1 days, 1 ether);
        _set(36_963, "Hanzo EVM", m, 1 days, 1 ether);
        _set(36_962, "Hanzo EVM testnet", m, 1 days, 1 ether);
        _set(200_200, "Zoo EVM", m, 1 days, 1 ether);
        _set(200_201, "Zoo EVM testnet", m, 1 days, 1 ether);
    }

    /// @notice The multiplier of `tier` (1..4) on `chainId`, in basis points.
    function multiplierBps(uint256 chainId, uint8 tier) external view returns (uint16) {
        if (tier < uint8(GPUTier.Public) || tier > uint8(GPUTier.Sovereign)) revert InvalidTier(tier);
        return _get(chainId).multiplierBps[tier - 1];
    }

    /// @notice Seconds a device attestation counts on `chainId`.
    function attestationValidity(uint256 chainId) external view returns (uint64) {
        return _get(chainId).attestationValidity;
    }

    /// @notice Native-coin stake a device without attested identity locks on `chainId`.
    function softStake(uint256 chainId) external view returns (uint128) {
        return _get(chainId).softStake;
    }

    /// @notice Whether `chainId` is configured.
    function isSupported(uint256 chainId) external view returns (bool) {
        return _chains[chainId].supported;
    }

    /// @notice The chain's display name.
    function chainName(uint256 chainId) external view returns (string memory) {
        return _get(chainId).name;
    }

    /// @notice Every configured chain id, in the order added.
    function chainIds() external view returns (uint256[] memory) {
        return _chainIds;
    }

    /// @notice Adds a chain or replaces its parameters (admins only).
    function configureChain(
        uint256 chainId,
        string calldata name,
        uint16[4] calldata multipliers,
        uint64 validity,
        uint128 stake
    ) external onlyRole(ADMIN_ROLE) {
        _set(chainId, name, multipliers, validity, stake);
    }

    /// @notice Changes one tier's multiplier on a configured chain (admins only).
    function setTierMultiplier(uint256 chainId, uint8 tier, uint16 bps) external onlyRole(ADMIN_ROLE) {
        if (tier < uint8(GPUTier.Public) || tier > uint8(GPUTier.Sovereign)) revert InvalidTier(tier);
        if (bps > MAX_MULTIPLIER_BPS) revert MultiplierTooHigh(bps);
        Params storage p = _get(chainId);
        emit TierMultiplierSet(chainId, GPUTier(tier), p.multiplierBps[tier - 1], bps);
        p.multiplierBps[tier - 1] = bps;
    }

    function _get(uint256 chainId) private view returns (Params storage p) {
        p = _chains[chainId];
        if (!p.supported) revert UnsupportedChain(chainId);
    }

    function _set(uint256 chainId, string memory name, uint16[4] memory m, uint64 validity, uint128 stake) private {
        for (uint256 i; i < 4; ++i) {
            if (m[i] > MAX_MULTIPLIER_BPS) revert MultiplierTooHigh(m[i]);
        }
        if (validity < MIN_ATTESTATION_VALIDITY || validity > MAX_ATTESTATION_VALIDITY) {
            revert InvalidAttestationValidity(validity);
        }
        Params storage p = _chains[chainId];
        if (!p.supported) _chainIds.push(chainId);
        p.supported = true;
        p.attestationValidity = validity;
        p.softStake = stake;
        p.multiplierBps = m;
        p.name = name;
        emit ChainConfigured(chainId, name);
    }
}
