// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "./IERC20.sol";
import {IModelRegistry} from "./IModelRegistry.sol";
import {Roles} from "./Roles.sol";

/// @title ComputeMarket: an inference marketplace with escrow, stake and evidence-settled disputes
/// (seed 004; LP-035 disputes; SPEC section 6).
/// @notice Lifecycle of a request:
///
/// | step | who | effect |
/// |---|---|---|
/// | registerProvider | provider | locks `stake` (>= minStake) and names its ML-DSA key |
/// | createRequest | requester | escrows `payment` for a named provider, model, input and deadline |
/// | submitResult | provider | output hash and its signed inference attestation, verified by MODEL_REGISTRY (0x0302) |
/// | finalize | anyone, after the dispute window | pays the provider, `feeBps` to the treasury |
/// | cancel | requester, after an unmet deadline | refunds the escrow |
/// | dispute | anyone, inside the window | a verified attestation of a different output, signed by another staked provider |
/// | resolveDispute | anyone, with the drawn resolver's attestation | a third provider's re-execution decides; the minority's signer is slashed |
///
/// No owner settles a dispute: the result is whatever a third staked provider, drawn from
/// `block.prevrandao` and unable to be either party, attests by re-execution, verified on chain.
/// If the drawn resolver does not answer within `RESOLVE_WINDOW`, anyone may draw another. Half
/// of the loser's slashed stake goes to the winning side (the provider, or the disputer), half to
/// the treasury. Attestations are MODEL_REGISTRY's signed inference attestations:
/// `0x01 || param_set || public key || signature || u64be(timestamp)`; the signer is identified by
/// `keccak256(public key)`.
contract ComputeMarket is Roles {
    /// @notice The MODEL_REGISTRY precompile.
    IModelRegistry public constant REGISTRY = IModelRegistry(address(0x0302));
    /// @notice Highest fee an admin may set (10%).
    uint16 public constant MAX_FEE_BPS = 1_000;
    /// @notice Share of a loser's stake slashed in a dispute.
    uint256 public constant SLASH_BPS = 5_000;
    /// @notice How long after a result anyone may dispute it.
    uint64 public constant DISPUTE_WINDOW = 1 hours;
    /// @notice How long a drawn resolver has to answer.
    uint64 public constant RESOLVE_WINDOW = 1 hours;
    /// @notice Reputation points for a settled job or a resolution, and lost for a lost dispute.
    int64 public constant REPUTATION_GAIN = 1;
    /// @notice Reputation lost for losing a dispute.
    int64 public constant REPUTATION_SLASH = 10;

    /// @notice The token escrowed and staked.
    IERC20 public immutable token;
    /// @notice Receives fees and half of slashes.
    address public treasury;
    /// @notice Fee on every settled payment, in basis points.
    uint16 public feeBps;
    /// @notice Least stake a provider must keep.
    uint256 public minStake;

    /// @notice A provider.
    struct Provider {
        bool registered;
        uint32 activeJobs;
        uint32 completed;
        uint32 disputesLost;
        int64 reputation;
        uint256 stake;
        bytes32 keyHash;
    }

    /// @notice Where a request stands.
    enum Status {
        None,
        Open,
        Completed,
        Disputed,
        Settled,
        Refunded
    }

    /// @notice A compute request.
    struct Request {
        address requester;
        uint64 deadline;
        Status status;
        address provider;
        uint64 challengeEnds;
        address challenger;
        uint64 resolveBy;
        address challengeProvider;
        address resolver;
        uint32 draws;
        bytes32 modelId;
        bytes32 inputHash;
        bytes32 outputHash;
        bytes32 challengeOutput;
        uint256 payment;
    }

    mapping(address => Provider) private _providers;
    /// @notice The provider that registered a key (keccak256 of the ML-DSA public key).
    mapping(bytes32 keyHash => address) public providerOfKey;
    address[] private _providerList;
    mapping(uint256 => Request) private _requests;
    /// @notice Requests created so far (ids start at 1).
    uint256 public requestCount;

    /// @notice A provider registered its key and stake.
    event ProviderRegistered(address indexed provider, bytes32 keyHash, uint256 stake);
    /// @notice A provider's stake changed (added, withdrawn or slashed).
    event StakeChanged(address indexed provider, uint256 stake);
    /// @notice A request was created and its payment escrowed.
    event RequestCreated(
        uint256 indexed id, address indexed requester, address indexed provider, bytes32 modelId, uint256 payment
    );
    /// @notice The provider's verified result; disputes are open until `challengeEnds`.
    event ResultSubmitted(uint256 indexed id, bytes32 outputHash, uint64 challengeEnds);
    /// @notice The provider was paid `paid`; `fee` went to the treasury.
    event RequestSettled(uint256 indexed id, address indexed provider, uint256 paid, uint256 fee);
    /// @notice The escrow went back to the requester.
    event RequestRefunded(uint256 indexed id, address indexed requester, uint256 amount);
    /// @notice A result was disputed with `challengeProvider`'s attestation; `resolver` re-executes.
    event Disputed(uint256 indexed id, address indexed challenger, address challengeProvider, address resolver);
    /// @notice A resolver was drawn for a dispute.
    event ResolverDrawn(uint256 indexed id, address resolver, uint64 resolveBy);
    /// @notice A dispute was settled; `slashed` lost `slashAmount` of stake.
    event DisputeResolved(uint256 indexed id, bool providerWon, address slashed, uint256 slashAmount);
    /// @notice The market fee changed.
    event FeeChanged(uint16 feeBps);

    /// @notice The caller is already a provider.
    error ProviderAlreadyRegistered(address provider);
    /// @notice The account is not a provider.
    error ProviderNotRegistered(address provider);
    /// @notice Another provider registered this key.
    error KeyAlreadyRegistered(bytes32 keyHash);
    /// @notice param_set is not 0x02, 0x03 or 0x05.
    error UnsupportedParamSet(uint8 paramSet);
    /// @notice The public key's length does not match its parameter set.
    error InvalidPublicKeyLength(uint256 expected, uint256 actual);
    /// @notice A stake below what is required (or a withdrawal above the stake).
    error StakeTooLow(uint256 stake, uint256 minStake);
    /// @notice Stake is held by open jobs or disputes.
    error ProviderBusy(address provider, uint32 activeJobs);
    /// @notice A request must pay something.
    error ZeroPayment();
    /// @notice The deadline is not in the future.
    error DeadlineInPast(uint64 deadline);
    /// @notice No request has this id.
    error UnknownRequest(uint256 id);
    /// @notice The request is not in the status this step needs.
    error InvalidStatus(uint256 id, Status status);
    /// @notice Only the requester may do this.
    error NotRequester(uint256 id, address caller);
    /// @notice Only the request's provider may do this.
    error NotProvider(uint256 id, address caller);
    /// @notice The result came after the deadline.
    error DeadlinePassed(uint256 id, uint64 deadline);
    /// @notice The provider still has time.
    error DeadlineNotPassed(uint256 id, uint64 deadline);
    /// @notice The attestation is not `0x01 || param_set || public key || ...`.
    error MalformedAttestation();
    /// @notice The attestation is signed by another key than the one required.
    error AttestationSignerMismatch(bytes32 expected, bytes32 actual);
    /// @notice MODEL_REGISTRY did not verify the attestation for this output.
    error ExecutionNotVerified(uint256 id, bytes32 outputHash);
    /// @notice The MODEL_REGISTRY call failed (malformed proof or out of gas).
    error RegistryCallFailed();
    /// @notice Disputes are still possible; settle later.
    error ChallengeWindowOpen(uint256 id, uint64 challengeEnds);
    /// @notice Too late to dispute.
    error ChallengeWindowClosed(uint256 id, uint64 challengeEnds);
    /// @notice A dispute must claim a different output.
    error SameOutput(uint256 id);
    /// @notice The attestation's key is not a staked provider's.
    error SignerNotProvider(bytes32 keyHash);
    /// @notice The provider cannot dispute its own result.
    error SelfChallenge(uint256 id);
    /// @notice No staked provider other than the parties can re-execute.
    error NoEligibleResolver(uint256 id);
    /// @notice The drawn resolver still has time to answer.
    error ResolverStillActive(uint256 id, uint64 resolveBy);
    /// @notice The re-execution matches neither side.
    error NoMajority(uint256 id, bytes32 outputHash);
    /// @notice A fee above MAX_FEE_BPS.
    error FeeTooHigh(uint16 feeBps);
    /// @notice The token refused a transfer.
    error TransferFailed();

    constructor(address admin, IERC20 token_, address treasury_, uint16 feeBps_, uint256 minStake_) Roles(admin) {
        if (address(token_) == address(0) || treasury_ == address(0)) revert ZeroAddress();
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_);
        token = token_;
        treasury = treasury_;
        feeBps = feeBps_;
        minStake = minStake_;
    }

    // ---------------------------------------------------------------- views

    /// @notice A provider's record.
    function provider(address account) external view returns (Provider memory) {
        return _providers[account];
    }

    /// @notice A request's record.
    function request(uint256 id) external view returns (Request memory) {
        return _requests[id];
    }

    /// @notice keccak256 of the public key inside an inference attestation.
    function signerKeyHash(bytes calldata attestation) public pure returns (bytes32) {
        if (attestation.length < 2 || uint8(attestation[0]) != 0x01) revert MalformedAttestation();
        uint256 pkLen = _publicKeyLength(uint8(attestation[1]));
        if (pkLen == 0 || attestation.length < 2 + pkLen) revert MalformedAttestation();
        return keccak256(attestation[2:2 + pkLen]);
    }

    // ---------------------------------------------------------------- providers

    /// @notice Registers the caller as a provider with an ML-DSA key, locking `stake`.
    function registerProvider(uint8 paramSet, bytes calldata publicKey, uint256 stake) external {
        Provider storage p = _providers[msg.sender];
        if (p.registered) revert ProviderAlreadyRegistered(msg.sender);
        uint256 pkLen = _publicKeyLength(paramSet);
        if (pkLen == 0) revert UnsupportedParamSet(paramSet);
        if (publicKey.length != pkLen) revert InvalidPublicKeyLength(pkLen, publicKey.length);
        if (stake < minStake) revert StakeTooLow(stake, minStake);
        bytes32 keyHash = keccak256(publicKey);
        if (providerOfKey[keyHash] != address(0)) revert KeyAlreadyRegistered(keyHash);
        _pull(msg.sender, stake);
        p.registered = true;
        p.stake = stake;
        p.keyHash = keyHash;
        providerOfKey[keyHash] = msg.sender;
        _providerList.push(msg.sender);
        emit ProviderRegistered(msg.sender, keyHash, stake);
    }

    /// @notice Adds to the caller's stake.
    function addStake(uint256 amount) external {
        Provider storage p = _active(msg.sender);
        _pull(msg.sender, amount);
        p.stake += amount;
        emit StakeChanged(msg.sender, p.stake);
    }

    /// @notice Withdraws stake while no job or dispute holds it; what stays must be 0 or >= minStake.
    function withdrawStake(uint256 amount) external {
        Provider storage p = _active(msg.sender);
        if (p.activeJobs != 0) revert ProviderBusy(msg.sender, p.activeJobs);
        if (amount > p.stake) revert StakeTooLow(p.stake, amount);
        uint256 left = p.stake - amount;
        if (left != 0 && left < minStake) revert StakeTooLow(left, minStake);
        p.stake = left;
        emit StakeChanged(msg.sender, left);
        _push(msg.sender, amount);
    }

    // ---------------------------------------------------------------- requests

    /// @notice Escrows `payment` for `provider_` to run `modelId` on `inputHash` by `deadline`.
    function createRequest(address provider_, bytes32 modelId, bytes32 inputHash, uint256 payment, uint64 deadline)
        external
        returns (uint256 id)
    {
        Provider storage p = _active(provider_);
        if (p.stake < minStake) revert StakeTooLow(p.stake, minStake);
        if (payment == 0) revert ZeroPayment();
        if (deadline <= block.timestamp) revert DeadlineInPast(deadline);
        _pull(msg.sender, payment);
        id = ++requestCount;
        Request storage r = _requests[id];
        r.requester = msg.sender;
        r.provider = provider_;
        r.modelId = modelId;
        r.inputHash = inputHash;
        r.payment = payment;
        r.deadline = deadline;
        r.status = Status.Open;
        p.activeJobs += 1;
        emit RequestCreated(id, msg.sender, provider_, modelId, payment);
    }

    /// @notice The provider's result with its attestation; opens the dispute window.
    function submitResult(uint256 id, bytes32 outputHash, bytes calldata attestation) external {
        Request storage r = _inStatus(id, Status.Open);
        if (msg.sender != r.provider) revert NotProvider(id, msg.sender);
        if (block.timestamp > r.deadline) revert DeadlinePassed(id, r.deadline);
        bytes32 expected = _providers[r.provider].keyHash;
        bytes32 signer = signerKeyHash(attestation);
        if (signer != expected) revert AttestationSignerMismatch(expected, signer);
        _verify(id, r, outputHash, attestation);
        r.outputHash = outputHash;
        r.status = Status.Completed;
        r.challengeEnds = uint64(block.timestamp) + DISPUTE_WINDOW;
        emit ResultSubmitted(id, outputHash, r.challengeEnds);
    }

    /// @notice Pays the provider once the dispute window has passed without a dispute.
    function finalize(uint256 id) external {
        Request storage r = _inStatus(id, Status.Completed);
        if (block.timestamp <= r.challengeEnds) revert ChallengeWindowOpen(id, r.challengeEnds);
        Provider storage p = _providers[r.provider];
        p.activeJobs -= 1;
        p.completed += 1;
        p.reputation += REPUTATION_GAIN;
        _settle(id, r);
    }

    /// @notice Refunds the requester when the provider missed the deadline.
    function cancel(uint256 id) external {
        Request storage r = _inStatus(id, Status.Open);
        if (msg.sender != r.requester) revert NotRequester(id, msg.sender);
        if (block.timestamp <= r.deadline) revert DeadlineNotPassed(id, r.deadline);
        Provider storage p = _providers[r.provider];
        p.activeJobs -= 1;
        p.reputation -= REPUTATION_GAIN;
        _refund(id, r);
    }

    // ---------------------------------------------------------------- disputes

    /// @notice Disputes a result with another staked provider's verified attestation of a different output.
    function dispute(uint256 id, bytes32 outputHash, bytes calldata attestation) external {
        Request storage r = _inStatus(id, Status.Completed);
        if (block.timestamp > r.challengeEnds) revert ChallengeWindowClosed(id, r.challengeEnds);
        if (outputHash == r.outputHash) revert SameOutput(id);
        address signer = _stakedSigner(attestation);
        if (signer == r.provider) revert SelfChallenge(id);
        _verify(id, r, outputHash, attestation);
        r.status = Status.Disputed;
        r.challenger = msg.sender;
        r.challengeProvider = signer;
        r.challengeOutput = outputHash;
        _providers[signer].activeJobs += 1;
        _draw(id, r);
        emit Disputed(id, msg.sender, signer, r.resolver);
    }

    /// @notice Draws another resolver when the drawn one has not answered in time.
    function redrawResolver(uint256 id) external {
        Request storage r = _inStatus(id, Status.Disputed);
        if (block.timestamp <= r.resolveBy) revert ResolverStillActive(id, r.resolveBy);
        _draw(id, r);
    }

    /// @notice Settles a dispute with the drawn resolver's re-execution attestation: the side whose
    /// output it matches wins, the other side's signer is slashed.
    function resolveDispute(uint256 id, bytes32 outputHash, bytes calldata attestation) external {
        Request storage r = _inStatus(id, Status.Disputed);
        bytes32 expected = _providers[r.resolver].keyHash;
        bytes32 signer = signerKeyHash(attestation);
        if (signer != expected) revert AttestationSignerMismatch(expected, signer);
        bool providerWon = outputHash == r.outputHash;
        if (!providerWon && outputHash != r.challengeOutput) revert NoMajority(id, outputHash);
        _verify(id, r, outputHash, attestation);

        Provider storage resolver = _providers[r.resolver];
        resolver.reputation += REPUTATION_GAIN;
        Provider storage original = _providers[r.provider];
        Provider storage challenger = _providers[r.challengeProvider];
        original.activeJobs -= 1;
        challenger.activeJobs -= 1;
        address loser = providerWon ? r.challengeProvider : r.provider;
        address winner = providerWon ? r.provider : r.challenger;
        uint256 slashed = _slash(loser);
        emit DisputeResolved(id, providerWon, loser, slashed);
        uint256 toWinner = slashed / 2;
        _push(winner, toWinner);
        _push(treasury, slashed - toWinner);
        if (providerWon) {
            original.completed += 1;
            original.reputation += REPUTATION_GAIN;
            _settle(id, r);
        } else {
            _refund(id, r);
        }
    }

    // ---------------------------------------------------------------- administration

    /// @notice Sets the fee (admins only).
    function setFee(uint16 feeBps_) external onlyRole(ADMIN_ROLE) {
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_);
        feeBps = feeBps_;
        emit FeeChanged(feeBps_);
    }

    /// @notice Sets the treasury (admins only).
    function setTreasury(address treasury_) external onlyRole(ADMIN_ROLE) {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
    }

    /// @notice Sets the minimum stake (admins only).
    function setMinStake(uint256 minStake_) external onlyRole(ADMIN_ROLE) {
        minStake = minStake_;
    }

    // ---------------------------------------------------------------- internals

    function _active(address account) private view returns (Provider storage p) {
        p = _providers[account];
        if (!p.registered) revert ProviderNotRegistered(account);
    }

    function _inStatus(uint256 id, Status status) private view returns (Request storage r) {
        r = _requests[id];
        if (r.status == Status.None) revert UnknownRequest(id);
        if (r.status != status) revert InvalidStatus(id, r.status);
    }

    function _stakedSigner(bytes calldata attestation) private view returns (address signer) {
        bytes32 keyHash = signerKeyHash(attestation);
        signer = providerOfKey[keyHash];
        if (signer == address(0) || _providers[signer].stake < minStake) revert SignerNotProvider(keyHash);
    }

    function _verify(uint256 id, Request storage r, bytes32 outputHash, bytes calldata attestation) private view {
        (bool ok, bytes memory out) = address(REGISTRY).staticcall(
            abi.encodeCall(IModelRegistry.verifyExecution, (r.modelId, r.inputHash, outputHash, attestation))
        );
        if (!ok || out.length != 32) revert RegistryCallFailed();
        if (!abi.decode(out, (bool))) revert ExecutionNotVerified(id, outputHash);
    }

    /// @dev Draws a resolver: a staked provider that is neither party, from block.prevrandao.
    function _draw(uint256 id, Request storage r) private {
        uint256 n = _providerList.length;
        uint256 start = uint256(keccak256(abi.encode(block.prevrandao, id, r.draws)));
        r.draws += 1;
        for (uint256 i; i < n; ++i) {
            address candidate = _providerList[(start + i) % n];
            if (candidate == r.provider || candidate == r.challengeProvider || candidate == r.resolver) continue;
            Provider storage c = _providers[candidate];
            if (!c.registered || c.stake < minStake) continue;
            r.resolver = candidate;
            r.resolveBy = uint64(block.timestamp) + RESOLVE_WINDOW;
            emit ResolverDrawn(id, candidate, r.resolveBy);
            return;
        }
        revert NoEligibleResolver(id);
    }

    function _slash(address account) private returns (uint256 amount) {
        Provider storage p = _providers[account];
        amount = p.stake * SLASH_BPS / 10_000;
        p.stake -= amount;
        p.disputesLost += 1;
        p.reputation -= REPUTATION_SLASH;
        emit StakeChanged(account, p.stake);
    }

    function _settle(uint256 id, Request storage r) private {
        r.status = Status.Settled;
        uint256 fee = r.payment * feeBps / 10_000;
        uint256 paid = r.payment - fee;
        emit RequestSettled(id, r.provider, paid, fee);
        _push(r.provider, paid);
        if (fee != 0) _push(treasury, fee);
    }

    function _refund(uint256 id, Request storage r) private {
        r.status = Status.Refunded;
        emit RequestRefunded(id, r.requester, r.payment);
        _push(r.requester, r.payment);
    }

    function _publicKeyLength(uint8 paramSet) private pure returns (uint256) {
        if (paramSet == 0x02) return 1312;
        if (paramSet == 0x03) return 1952;
        if (paramSet == 0x05) return 2592;
        return 0;
    }

    function _pull(address from, uint256 amount) private {
        if (!token.transferFrom(from, address(this), amount)) revert TransferFailed();
    }

    function _push(address to, uint256 amount) private {
        if (amount != 0 && !token.transfer(to, amount)) revert TransferFailed();
    }
}
