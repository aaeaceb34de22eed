// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {AIToken} from "./AIToken.sol";
import {ChainConfig} from "./ChainConfig.sol";
import {INVTrust} from "./INVTrust.sol";

/// @title AIMining: work-proof mining through the AI_MINING precompile (seed 004; SPEC sections 2, 4, 5).
/// @notice Devices register an ML-DSA key and TEE evidence; the evidence, not the miner, sets the
/// device's tier. Proofs are LP-130 work proofs signed with the device's key and are checked with the
/// precompile's raw ops (calldata `op || payload`, no selector):
///
/// | op | name | payload | used for |
/// |---|---|---|---|
/// | 0x01 | VerifyMLDSA | param_set(1) || public key || signature || message | the proof's signature |
/// | 0x03 | VerifyTEE | evidence || nonce(32) | evidence without a GPU identity; evidence inside a proof |
/// | 0x04 | IsSpent | work_id(32) | double-mint check |
/// | 0x05 | ComputeWorkId | proof | BLAKE3(device_id || nonce || u64be(chain id of this chain)) |
/// | 0x06 | MarkSpent | work_id(32) | the spent set (this contract is on the chain's allow-list) |
///
/// The signed message is `"poai/work/v1" || u64be(block.chainid) || beneficiary(20) || proof`.
///
/// Registration. The evidence must be fresh for `attestationNonce(...)`, which binds the chain, this
/// contract, the caller, the claimed device id, the key and a per-caller counter, so a quote
/// registers one key for one caller once. GPU evidence (INVTrust.parseQuote at 0x0301) proves the
/// device id and the tier; the claimed id must equal the attested GPU id. Evidence without a
/// hardware identity (none: soft attestation; CPU-only TEEs, tier from VerifyTEE's trust score)
/// proves a tier but not a device, so such a device locks ChainConfig's `softStake` and gets an id
/// in its own namespace, `softDeviceId(miner, label)`, which cannot collide with a GPU id.
///
/// Acceptance (SPEC section 2), each failure its own error: registered device; work id not spent; key matches; the
/// attestation has not expired; privacy_level in 1..4 and at most the device's tier; timestamp in
/// [block.timestamp - 3600, block.timestamp + 60]; at least 30 s after the device's previous proof;
/// 1 <= compute_minutes <= 60 and at most the whole minutes since the previous proof (or
/// registration); at most 10 proofs per miner per block; signature valid;
/// evidence carried in the proof, if any, verified for the work id and proving at least the level.
/// The reward is `minutes * 1e18 * multiplier / 10000` with ChainConfig's multiplier for this chain,
/// minted by AIToken (halving, ceiling, 98/2 split) to the signed beneficiary.
contract AIMining {
    /// @notice The AI_MINING precompile.
    address public constant AI_MINING = address(0x0300);
    /// @notice The NV_TRUST precompile.
    INVTrust public constant NV_TRUST = INVTrust(address(0x0301));

    /// @notice Fixed part of a work proof.
    uint256 public constant PROOF_FIXED_LEN = 78;
    /// @notice Largest evidence a proof may carry.
    uint256 public constant MAX_EVIDENCE_LEN = 64 * 1024;
    /// @notice How old a proof's timestamp may be.
    uint256 public constant PROOF_EXPIRY = 3600;
    /// @notice How far ahead of the block a proof's timestamp may be.
    uint256 public constant MAX_CLOCK_DRIFT = 60;
    /// @notice Minimum seconds between a device's proofs.
    uint256 public constant MIN_PROOF_INTERVAL = 30;
    /// @notice Most compute minutes one proof may claim.
    uint256 public constant MAX_COMPUTE_MINUTES = 60;
    /// @notice Most proofs per miner per block.
    uint256 public constant MAX_PROOFS_PER_BLOCK = 10;

    uint8 private constant OP_VERIFY_MLDSA = 0x01;
    uint8 private constant OP_VERIFY_TEE = 0x03;
    uint8 private constant OP_IS_SPENT = 0x04;
    uint8 private constant OP_COMPUTE_WORK_ID = 0x05;
    uint8 private constant OP_MARK_SPENT = 0x06;
    bytes12 private constant WORK_TAG = "poai/work/v1";
    bytes32 private constant ATTEST_DOMAIN = keccak256("poai/aimining/attest/v1");
    bytes32 private constant SOFT_DEVICE_DOMAIN = keccak256("poai/aimining/soft-device/v1");

    /// @notice The token this contract mints (it holds MINTER_ROLE there).
    AIToken public immutable token;
    /// @notice Per-chain tier multipliers, attestation validity and soft stake.
    ChainConfig public immutable config;

    /// @notice A registered device.
    struct Device {
        address miner;
        uint8 tier;
        uint8 paramSet;
        bool identityAttested;
        uint64 registeredAt;
        uint64 attestedAt;
        uint64 lastProofAt;
        uint128 stake;
        bytes32 publicKeyHash;
    }

    struct RateWindow {
        uint64 blockNumber;
        uint8 count;
    }

    struct Proof {
        bytes32 deviceId;
        uint64 timestamp;
        uint16 level;
        uint32 minutes_;
        bytes32 workId;
    }

    mapping(bytes32 deviceId => Device) private _devices;
    mapping(address miner => uint256) private _attestations;
    mapping(address miner => RateWindow) private _rate;

    /// @notice A device was registered to `miner` (seed 004's event; `gpuId` is the device id).
    event MinerRegistered(address indexed miner, bytes32 gpuId);
    /// @notice A device's verified tier changed (registration: from None).
    event TierUpdated(bytes32 indexed gpuId, ChainConfig.GPUTier oldTier, ChainConfig.GPUTier newTier);
    /// @notice A proof was accepted: `proofHash` is its work id, `reward` what was minted (miner and treasury).
    event ProofSubmitted(address indexed miner, bytes32 proofHash, uint256 reward);
    /// @notice A device was removed and its stake returned.
    event MinerUnregistered(address indexed miner, bytes32 gpuId, uint256 stakeReturned);

    /// @notice param_set is not 0x02 (ML-DSA-44), 0x03 (ML-DSA-65) or 0x05 (ML-DSA-87).
    error UnsupportedParamSet(uint8 paramSet);
    /// @notice The public key's length does not match its parameter set.
    error InvalidPublicKeyLength(uint256 expected, uint256 actual);
    /// @notice The signature's length does not match the device's parameter set.
    error InvalidSignatureLength(uint256 expected, uint256 actual);
    /// @notice The device id is already registered.
    error DeviceAlreadyRegistered(bytes32 deviceId, address miner);
    /// @notice The device id is not registered.
    error DeviceNotRegistered(bytes32 deviceId);
    /// @notice Only the device's miner may do this.
    error NotDeviceOwner(bytes32 deviceId, address caller);
    /// @notice The evidence did not verify for the expected nonce (or at this block's time).
    error AttestationRejected();
    /// @notice NV_TRUST could not decode the evidence envelope.
    error EvidenceMalformed();
    /// @notice The GPU the evidence attests is not the device claimed.
    error DeviceIdMismatch(bytes32 attested, bytes32 claimed);
    /// @notice A device without an attested identity must lock ChainConfig's soft stake.
    error InsufficientStake(uint256 required, uint256 sent);
    /// @notice Returning a stake failed.
    error StakeRefundFailed();
    /// @notice The device's attestation is older than the chain's validity.
    error AttestationExpired(bytes32 deviceId, uint256 expiredAt);
    /// @notice The proof is shorter than its fixed part.
    error ProofTooShort(uint256 length);
    /// @notice The proof's evidence exceeds 64 KiB.
    error ProofTooLong(uint256 length);
    /// @notice privacy_level is not in 1..4.
    error InvalidPrivacyLevel(uint16 level);
    /// @notice privacy_level is above what the evidence proves.
    error PrivacyLevelAboveTier(uint16 level, uint8 tier);
    /// @notice The signing key is not the device's registered key.
    error PublicKeyMismatch(bytes32 deviceId);
    /// @notice The proof's timestamp is more than an hour old.
    error ProofExpired(uint64 timestamp, uint256 blockTimestamp);
    /// @notice The proof's timestamp is more than 60 s ahead of the block.
    error ProofFromFuture(uint64 timestamp, uint256 blockTimestamp);
    /// @notice Less than 30 s since the device's previous proof.
    error ProofTooSoon(uint64 timestamp, uint64 earliest);
    /// @notice compute_minutes is zero.
    error ZeroComputeMinutes();
    /// @notice compute_minutes is above 60.
    error TooManyComputeMinutes(uint32 minutes_);
    /// @notice compute_minutes is above the whole minutes since the previous proof or registration.
    error ComputeMinutesExceedElapsed(uint32 minutes_, uint256 elapsedMinutes);
    /// @notice The miner already has 10 proofs in this block.
    error RateLimitExceeded(address miner, uint256 blockNumber);
    /// @notice The work id is already in this chain's spent set.
    error WorkAlreadySpent(bytes32 workId);
    /// @notice The ML-DSA signature does not verify.
    error InvalidSignature();
    /// @notice The evidence inside the proof does not verify for its work id.
    error ProofEvidenceRejected(bytes32 workId);
    /// @notice A precompile call failed (malformed input, out of gas, or not allowed).
    error PrecompileFailed(uint8 op);
    /// @notice The beneficiary is the zero address.
    error ZeroBeneficiary();

    constructor(AIToken token_, ChainConfig config_) {
        token = token_;
        config = config_;
    }

    // ---------------------------------------------------------------- views

    /// @notice A registered device (zero miner if none).
    function device(bytes32 deviceId) external view returns (Device memory) {
        return _devices[deviceId];
    }

    /// @notice The nonce the next registration or re-attestation by `miner` must bind its evidence to.
    function attestationNonce(address miner, bytes32 deviceId, uint8 paramSet, bytes32 publicKeyHash)
        public
        view
        returns (bytes32)
    {
        return keccak256(
            abi.encode(
                ATTEST_DOMAIN, block.chainid, address(this), miner, deviceId, paramSet, publicKeyHash, _attestations[miner]
            )
        );
    }

    /// @notice The device id of a device without an attested identity.
    function softDeviceId(address miner, bytes32 label) public pure returns (bytes32) {
        return keccak256(abi.encode(SOFT_DEVICE_DOMAIN, miner, label));
    }

    /// @notice The message a device signs for `proof` paid to `beneficiary` on this chain (SPEC section 2).
    function signedMessage(address beneficiary, bytes calldata proof) public view returns (bytes memory) {
        return abi.encodePacked(WORK_TAG, uint64(block.chainid), beneficiary, proof);
    }

    /// @notice The tier a VerifyTEE trust score proves (SPEC section 5 bands).
    function tierOfScore(uint256 score) public pure returns (uint8) {
        if (score >= 85) return 4;
        if (score >= 60) return 3;
        if (score >= 35) return 2;
        if (score >= 1) return 1;
        return 0;
    }

    /// @notice Public key and signature lengths of an ML-DSA parameter set.
    function mldsaLengths(uint8 paramSet) public pure returns (uint256 publicKey, uint256 signature) {
        if (paramSet == 0x02) return (1312, 2420);
        if (paramSet == 0x03) return (1952, 3309);
        if (paramSet == 0x05) return (2592, 4627);
        revert UnsupportedParamSet(paramSet);
    }

    // ---------------------------------------------------------------- registration

    /// @notice Registers a device with its ML-DSA key and TEE evidence (empty for soft attestation).
    /// @param deviceId the attested GPU id, or a label for a device without attested identity.
    /// @return id the device id proofs must carry.
    function registerMiner(bytes32 deviceId, uint8 paramSet, bytes calldata publicKey, bytes calldata evidence)
        external
        payable
        returns (bytes32 id)
    {
        (uint256 pkLen,) = mldsaLengths(paramSet);
        if (publicKey.length != pkLen) revert InvalidPublicKeyLength(pkLen, publicKey.length);
        bytes32 pkHash = keccak256(publicKey);
        (uint8 tier, bytes32 gpuId) = _attest(evidence, attestationNonce(msg.sender, deviceId, paramSet, pkHash));
        bool attested = gpuId != bytes32(0);
        if (attested) {
            if (gpuId != deviceId) revert DeviceIdMismatch(gpuId, deviceId);
            id = gpuId;
        } else {
            uint256 required = config.softStake(block.chainid);
            if (msg.value < required) revert InsufficientStake(required, msg.value);
            id = softDeviceId(msg.sender, deviceId);
        }
        Device storage d = _devices[id];
        if (d.miner != address(0)) revert DeviceAlreadyRegistered(id, d.miner);
        _devices[id] = Device({
            miner: msg.sender,
            tier: tier,
            paramSet: paramSet,
            identityAttested: attested,
            registeredAt: uint64(block.timestamp),
            attestedAt: uint64(block.timestamp),
            lastProofAt: 0,
            stake: uint128(msg.value),
            publicKeyHash: pkHash
        });
        emit MinerRegistered(msg.sender, id);
        emit TierUpdated(id, ChainConfig.GPUTier.None, ChainConfig.GPUTier(tier));
    }

    /// @notice Renews a device's attestation with fresh evidence; the tier follows the evidence.
    function reattest(bytes32 deviceId, bytes calldata evidence) external {
        Device storage d = _devices[deviceId];
        if (d.miner == address(0)) revert DeviceNotRegistered(deviceId);
        if (d.miner != msg.sender) revert NotDeviceOwner(deviceId, msg.sender);
        (uint8 tier, bytes32 gpuId) =
            _attest(evidence, attestationNonce(msg.sender, deviceId, d.paramSet, d.publicKeyHash));
        // An attested device must attest the same GPU again; a soft device may not switch to a
        // GPU identity here (it registers the GPU instead).
        if (d.identityAttested ? gpuId != deviceId : gpuId != bytes32(0)) revert DeviceIdMismatch(gpuId, deviceId);
        uint8 old = d.tier;
        d.tier = tier;
        d.attestedAt = uint64(block.timestamp);
        if (old != tier) emit TierUpdated(deviceId, ChainConfig.GPUTier(old), ChainConfig.GPUTier(tier));
    }

    /// @notice Removes a device and returns its stake to its miner.
    function unregister(bytes32 deviceId) external {
        Device storage d = _devices[deviceId];
        if (d.miner == address(0)) revert DeviceNotRegistered(deviceId);
        if (d.miner != msg.sender) revert NotDeviceOwner(deviceId, msg.sender);
        uint256 stake = d.stake;
        delete _devices[deviceId];
        emit MinerUnregistered(msg.sender, deviceId, stake);
        if (stake != 0) {
            (bool ok,) = payable(msg.sender).call{value: stake}("");
            if (!ok) revert StakeRefundFailed();
        }
    }

    /// @dev Verifies evidence for `nonce`: GPU evidence through NV_TRUST (tier and GPU id), anything
    /// else through VerifyTEE (tier from the trust score, no identity). Empty evidence is soft
    /// attestation: Public, no identity.
    function _attest(bytes calldata evidence, bytes32 nonce) private returns (uint8 tier, bytes32 gpuId) {
        unchecked {
            _attestations[msg.sender] += 1;
        }
        if (evidence.length == 0) return (uint8(ChainConfig.GPUTier.Public), bytes32(0));
        bytes memory quote = bytes.concat(evidence, nonce);
        (bool ok, bytes memory out) = address(NV_TRUST).staticcall(abi.encodeCall(INVTrust.parseQuote, (quote)));
        if (!ok || out.length != 96) revert EvidenceMalformed();
        uint8 level;
        (level, gpuId,) = abi.decode(out, (uint8, bytes32, uint256));
        if (level != 0) return (level, gpuId);
        (bool verified, uint256 score) = _verifyTee(quote);
        tier = tierOfScore(score);
        if (!verified || tier == 0) revert AttestationRejected();
        return (tier, bytes32(0));
    }

    // ---------------------------------------------------------------- mining

    /// @notice Submits a signed work proof; mints the reward to `beneficiary` (98%) and the treasury (2%).
    /// @param proof the LP-130 work proof (78 bytes, then optional evidence fresh for its work id).
    /// @param publicKey the device's ML-DSA public key.
    /// @param signature ML-DSA over `"poai/work/v1" || u64be(chain id) || beneficiary || proof`.
    /// @return reward what was minted (miner and treasury parts together).
    function submitProof(bytes calldata proof, bytes calldata publicKey, bytes calldata signature, address beneficiary)
        external
        returns (uint256 reward)
    {
        if (beneficiary == address(0)) revert ZeroBeneficiary();
        Proof memory p = _decode(proof);
        Device storage d = _devices[p.deviceId];
        if (d.miner == address(0)) revert DeviceNotRegistered(p.deviceId);
        // The spent set first: a replayed proof is reported as such, not as too early.
        p.workId = _workId(proof);
        if (_isSpent(p.workId)) revert WorkAlreadySpent(p.workId);
        _checkDevice(p, d, publicKey);
        _checkTiming(p, d);
        _countRate(d.miner);
        bytes memory message = signedMessage(beneficiary, proof);
        _checkSignature(d.paramSet, publicKey, signature, message);
        if (proof.length > PROOF_FIXED_LEN) _checkProofEvidence(proof[PROOF_FIXED_LEN:], p.workId, p.level);
        d.lastProofAt = p.timestamp;
        reward = _pay(p, beneficiary);
        emit ProofSubmitted(d.miner, p.workId, reward);
    }

    function _pay(Proof memory p, address beneficiary) private returns (uint256) {
        _callRaw(OP_MARK_SPENT, abi.encodePacked(p.workId));
        uint256 gross = uint256(p.minutes_) * 1e18 * config.multiplierBps(block.chainid, uint8(p.level)) / 10_000;
        return token.mintReward(beneficiary, gross);
    }

    function _decode(bytes calldata proof) private pure returns (Proof memory p) {
        if (proof.length < PROOF_FIXED_LEN) revert ProofTooShort(proof.length);
        if (proof.length > PROOF_FIXED_LEN + MAX_EVIDENCE_LEN) revert ProofTooLong(proof.length);
        p.deviceId = bytes32(proof[0:32]);
        p.timestamp = uint64(bytes8(proof[64:72]));
        p.level = uint16(bytes2(proof[72:74]));
        p.minutes_ = uint32(bytes4(proof[74:78]));
        if (p.level < 1 || p.level > 4) revert InvalidPrivacyLevel(p.level);
    }

    function _checkDevice(Proof memory p, Device storage d, bytes calldata publicKey) private view {
        if (keccak256(publicKey) != d.publicKeyHash) revert PublicKeyMismatch(p.deviceId);
        uint256 expiresAt = uint256(d.attestedAt) + config.attestationValidity(block.chainid);
        if (block.timestamp > expiresAt) revert AttestationExpired(p.deviceId, expiresAt);
        if (p.level > d.tier) revert PrivacyLevelAboveTier(p.level, d.tier);
    }

    function _checkTiming(Proof memory p, Device storage d) private view {
        if (uint256(p.timestamp) + PROOF_EXPIRY < block.timestamp) revert ProofExpired(p.timestamp, block.timestamp);
        if (p.timestamp > block.timestamp + MAX_CLOCK_DRIFT) revert ProofFromFuture(p.timestamp, block.timestamp);
        uint64 last = d.lastProofAt;
        if (last != 0 && p.timestamp < last + MIN_PROOF_INTERVAL) {
            revert ProofTooSoon(p.timestamp, last + uint64(MIN_PROOF_INTERVAL));
        }
        if (p.minutes_ == 0) revert ZeroComputeMinutes();
        if (p.minutes_ > MAX_COMPUTE_MINUTES) revert TooManyComputeMinutes(p.minutes_);
        uint64 since = last != 0 ? last : d.registeredAt;
        uint256 elapsed = p.timestamp > since ? (p.timestamp - since) / 60 : 0;
        if (p.minutes_ > elapsed) revert ComputeMinutesExceedElapsed(p.minutes_, elapsed);
    }

    function _countRate(address miner) private {
        RateWindow storage w = _rate[miner];
        if (w.blockNumber != block.number) {
            w.blockNumber = uint64(block.number);
            w.count = 1;
            return;
        }
        if (w.count >= MAX_PROOFS_PER_BLOCK) revert RateLimitExceeded(miner, block.number);
        w.count += 1;
    }

    function _checkSignature(uint8 paramSet, bytes calldata publicKey, bytes calldata signature, bytes memory message)
        private
        view
    {
        (, uint256 sigLen) = mldsaLengths(paramSet);
        if (signature.length != sigLen) revert InvalidSignatureLength(sigLen, signature.length);
        bytes memory out = _staticRaw(OP_VERIFY_MLDSA, abi.encodePacked(paramSet, publicKey, signature, message));
        if (out.length != 32 || uint256(bytes32(out)) != 1) revert InvalidSignature();
    }

    function _checkProofEvidence(bytes calldata evidence, bytes32 workId, uint16 level) private view {
        (bool verified, uint256 score) = _verifyTee(bytes.concat(evidence, workId));
        if (!verified) revert ProofEvidenceRejected(workId);
        uint8 tier = tierOfScore(score);
        if (level > tier) revert PrivacyLevelAboveTier(level, tier);
    }

    // ---------------------------------------------------------------- LP-130 raw ops

    function _workId(bytes calldata proof) private view returns (bytes32) {
        bytes memory out = _staticRaw(OP_COMPUTE_WORK_ID, proof);
        if (out.length != 32) revert PrecompileFailed(OP_COMPUTE_WORK_ID);
        return bytes32(out);
    }

    function _isSpent(bytes32 workId) private view returns (bool) {
        bytes memory out = _staticRaw(OP_IS_SPENT, abi.encodePacked(workId));
        if (out.length != 32) revert PrecompileFailed(OP_IS_SPENT);
        return uint256(bytes32(out)) != 0;
    }

    function _verifyTee(bytes memory quote) private view returns (bool verified, uint256 score) {
        bytes memory out = _staticRaw(OP_VERIFY_TEE, quote);
        if (out.length != 64) revert PrecompileFailed(OP_VERIFY_TEE);
        (verified, score) = abi.decode(out, (bool, uint256));
    }

    function _staticRaw(uint8 op, bytes memory payload) private view returns (bytes memory out) {
        bool ok;
        (ok, out) = AI_MINING.staticcall(abi.encodePacked(op, payload));
        if (!ok) revert PrecompileFailed(op);
    }

    function _callRaw(uint8 op, bytes memory payload) private returns (bytes memory out) {
        bool ok;
        (ok, out) = AI_MINING.call(abi.encodePacked(op, payload));
        if (!ok) revert PrecompileFailed(op);
    }
}
