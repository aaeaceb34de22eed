// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

import {IERC20} from "./IERC20.sol";
import {Roles} from "./Roles.sol";

/// @title AIToken: the AI token of one chain, an ERC-20 (LRC20) with the emission of SPEC section 3.
/// @notice Supply per chain: 100,000,000 AI to the LP address, minted once by the constructor, plus at
/// most 900,000,000 AI from mining. Mining is bounded by the subsidy curve:
///
/// | quantity | rule |
/// |---|---|
/// | epoch of height h | (h - genesisBlock) / 63,072,000 |
/// | block subsidy R(h) | 7.14 AI >> epoch, 0 from epoch 64 on |
/// | ceiling at h | min(sum of R(b) for genesisBlock <= b <= h, 900,000,000 AI) |
///
/// A reward with gross amount `g` minted at height h in epoch e pays `min(g >> e, ceiling(h) - mined)`,
/// first come in block order, so total mined never exceeds the ceiling. Of what is paid, 2% (floor)
/// goes to the treasury and the rest to the miner. Only `MINTER_ROLE` (the AIMining contract) mints;
/// `PAUSER_ROLE` stops transfers and minting. The same closed form is `poai_economics::Emission`; the
/// Rust tests compare the two.
contract AIToken is IERC20, Roles {
    /// @notice Token name.
    string public constant name = "AI";
    /// @notice Token symbol.
    string public constant symbol = "AI";
    /// @notice Decimals: 1 AI = 10^18 units.
    uint8 public constant decimals = 18;

    /// @notice Tokens mining can ever create on this chain.
    uint256 public constant MINING_CAP = 900_000_000e18;
    /// @notice The LP allocation, minted once at deployment.
    uint256 public constant LP_ALLOCATION = 100_000_000e18;
    /// @notice The supply cap of this chain.
    uint256 public constant TOTAL_CAP = MINING_CAP + LP_ALLOCATION;
    /// @notice Block subsidy of epoch 0: 7.14 AI.
    uint256 public constant INITIAL_SUBSIDY = 7.14e18;
    /// @notice Blocks per halving epoch (4 years of 2 s blocks).
    uint256 public constant HALVING_INTERVAL = 63_072_000;
    /// @notice Epochs with a subsidy.
    uint256 public constant MAX_EPOCHS = 64;
    /// @notice The treasury's share of each reward, in basis points.
    uint256 public constant TREASURY_BPS = 200;
    /// @notice May call `mintReward`.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    /// @notice May pause and unpause.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice The first block that mines (epoch 0 starts here).
    uint256 public immutable genesisBlock;
    /// @notice Where the LP allocation went.
    address public immutable lpRecipient;
    /// @notice Receives 2% of every reward.
    address public treasury;
    /// @notice Total minted by mining so far (miner and treasury parts together).
    uint256 public totalMined;
    /// @notice Whether transfers and minting are stopped.
    bool public paused;

    /// @inheritdoc IERC20
    uint256 public totalSupply;
    mapping(address => uint256) private _balances;
    mapping(address => mapping(address => uint256)) private _allowances;

    /// @notice A reward was minted: `paid` split into `minerAmount` and `treasuryAmount`.
    event RewardMinted(
        address indexed miner, uint256 gross, uint256 paid, uint256 minerAmount, uint256 treasuryAmount, uint256 epoch
    );
    /// @notice The treasury changed.
    event TreasuryChanged(address indexed previous, address indexed current);
    /// @notice Transfers and minting stopped.
    event Paused(address account);
    /// @notice Transfers and minting resumed.
    event Unpaused(address account);

    /// @notice `height` is before the genesis block: no emission exists there.
    error BeforeGenesis(uint256 height, uint256 genesisBlock);
    /// @notice The reward is zero after halving (zero gross, or epoch 64 and later).
    error ZeroReward();
    /// @notice Everything the emission ceiling allows at this height has been mined.
    error EmissionCeilingReached(uint256 ceiling);
    /// @notice The token is paused.
    error TokenPaused();
    /// @notice A transfer exceeds the sender's balance.
    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    /// @notice A transferFrom exceeds the allowance.
    error InsufficientAllowance(address spender, uint256 allowance, uint256 needed);

    modifier whenNotPaused() {
        if (paused) revert TokenPaused();
        _;
    }

    /// @param admin holds ADMIN_ROLE (grants MINTER_ROLE to AIMining and PAUSER_ROLE).
    /// @param treasury_ receives 2% of rewards.
    /// @param lpRecipient_ receives the 100M LP allocation, now.
    /// @param genesisBlock_ the first mining block of this chain.
    constructor(address admin, address treasury_, address lpRecipient_, uint256 genesisBlock_) Roles(admin) {
        if (treasury_ == address(0) || lpRecipient_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        lpRecipient = lpRecipient_;
        genesisBlock = genesisBlock_;
        _mint(lpRecipient_, LP_ALLOCATION);
    }

    // ---------------------------------------------------------------- emission

    /// @notice The halving epoch of `height`.
    function epochAt(uint256 height) public view returns (uint256) {
        if (height < genesisBlock) revert BeforeGenesis(height, genesisBlock);
        return (height - genesisBlock) / HALVING_INTERVAL;
    }

    /// @notice The block subsidy R(height).
    function blockSubsidy(uint256 height) external view returns (uint256) {
        uint256 epoch = epochAt(height);
        return epoch >= MAX_EPOCHS ? 0 : INITIAL_SUBSIDY >> epoch;
    }

    /// @notice The most that may have been mined once block `height` is done.
    function ceilingAt(uint256 height) public view returns (uint256) {
        if (height < genesisBlock) revert BeforeGenesis(height, genesisBlock);
        // Genesis counts as a block. Whole epochs first, then the partial one; the cap binds in
        // epoch 10, so the loop stops long before 64 iterations.
        uint256 blocks = height - genesisBlock + 1;
        uint256 whole = blocks / HALVING_INTERVAL;
        uint256 sum;
        for (uint256 e; e < whole && e < MAX_EPOCHS; ++e) {
            sum += HALVING_INTERVAL * (INITIAL_SUBSIDY >> e);
            if (sum >= MINING_CAP) return MINING_CAP;
        }
        if (whole < MAX_EPOCHS) sum += (blocks - whole * HALVING_INTERVAL) * (INITIAL_SUBSIDY >> whole);
        return sum < MINING_CAP ? sum : MINING_CAP;
    }

    /// @notice Mints the reward of a proof with gross amount `gross` at the current block: halved for
    /// the epoch, cut to what the ceiling allows, 2% to the treasury and the rest to `miner`.
    /// @return paid the whole amount minted (miner and treasury parts).
    function mintReward(address miner, uint256 gross) external onlyRole(MINTER_ROLE) whenNotPaused returns (uint256 paid) {
        if (miner == address(0)) revert ZeroAddress();
        uint256 epoch = epochAt(block.number);
        uint256 halved = epoch >= MAX_EPOCHS ? 0 : gross >> epoch;
        if (halved == 0) revert ZeroReward();
        uint256 ceiling = ceilingAt(block.number);
        // totalMined <= ceiling: it only grows here, by at most the room left, and the ceiling
        // never falls as the height grows.
        uint256 room = ceiling - totalMined;
        if (room == 0) revert EmissionCeilingReached(ceiling);
        paid = halved < room ? halved : room;
        uint256 treasuryAmount = paid * TREASURY_BPS / 10_000;
        uint256 minerAmount = paid - treasuryAmount;
        totalMined += paid;
        _mint(miner, minerAmount);
        _mint(treasury, treasuryAmount);
        emit RewardMinted(miner, gross, paid, minerAmount, treasuryAmount, epoch);
    }

    // ---------------------------------------------------------------- administration

    /// @notice Changes the treasury (admins only).
    function setTreasury(address treasury_) external onlyRole(ADMIN_ROLE) {
        if (treasury_ == address(0)) revert ZeroAddress();
        emit TreasuryChanged(treasury, treasury_);
        treasury = treasury_;
    }

    /// @notice Stops transfers and minting.
    function pause() external onlyRole(PAUSER_ROLE) {
        paused = true;
        emit Paused(msg.sender);
    }

    /// @notice Resumes transfers and minting.
    function unpause() external onlyRole(PAUSER_ROLE) {
        paused = false;
        emit Unpaused(msg.sender);
    }

    // ---------------------------------------------------------------- ERC-20

    /// @inheritdoc IERC20
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @inheritdoc IERC20
    function allowance(address owner, address spender) external view returns (uint256) {
        return _allowances[owner][spender];
    }

    /// @inheritdoc IERC20
    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    /// @inheritdoc IERC20
    function approve(address spender, uint256 value) external returns (bool) {
        if (spender == address(0)) revert ZeroAddress();
        _allowances[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    /// @inheritdoc IERC20
    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = _allowances[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) revert InsufficientAllowance(msg.sender, allowed, value);
            unchecked {
                _allowances[from][msg.sender] = allowed - value;
            }
        }
        _transfer(from, to, value);
        return true;
    }

    function _transfer(address from, address to, uint256 value) private whenNotPaused {
        if (to == address(0)) revert ZeroAddress();
        uint256 balance = _balances[from];
        if (balance < value) revert InsufficientBalance(from, balance, value);
        unchecked {
            _balances[from] = balance - value;
            // Cannot overflow: the sum of all balances is totalSupply <= TOTAL_CAP.
            _balances[to] += value;
        }
        emit Transfer(from, to, value);
    }

    function _mint(address to, uint256 value) private {
        // totalSupply <= TOTAL_CAP: LP_ALLOCATION once, mining bounded by MINING_CAP above.
        totalSupply += value;
        unchecked {
            _balances[to] += value;
        }
        emit Transfer(address(0), to, value);
    }
}
