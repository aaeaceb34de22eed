// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @title Roles: minimal role-based access control shared by the poai contracts.
/// @notice `ADMIN_ROLE` (0x00) grants and revokes every role; the deployer names the first admin.
/// Kept in-house (no external package) so that the whole build is one pinned solc and these files.
abstract contract Roles {
    /// @notice The role that administers every role.
    bytes32 public constant ADMIN_ROLE = 0x00;

    mapping(bytes32 role => mapping(address account => bool)) private _members;

    /// @notice `account` was given `role` by `sender`.
    event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender);
    /// @notice `account` lost `role`, removed by `sender`.
    event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender);

    /// @notice The caller lacks the role the function needs.
    error MissingRole(bytes32 role, address account);
    /// @notice An address argument that must be set was zero.
    error ZeroAddress();

    modifier onlyRole(bytes32 role) {
        if (!_members[role][msg.sender]) revert MissingRole(role, msg.sender);
        _;
    }

    constructor(address admin) {
        if (admin == address(0)) revert ZeroAddress();
        _grant(ADMIN_ROLE, admin);
    }

    /// @notice Whether `account` holds `role`.
    function hasRole(bytes32 role, address account) public view returns (bool) {
        return _members[role][account];
    }

    /// @notice Gives `role` to `account` (admins only).
    function grantRole(bytes32 role, address account) external onlyRole(ADMIN_ROLE) {
        if (account == address(0)) revert ZeroAddress();
        _grant(role, account);
    }

    /// @notice Takes `role` from `account` (admins only).
    function revokeRole(bytes32 role, address account) external onlyRole(ADMIN_ROLE) {
        if (_members[role][account]) {
            _members[role][account] = false;
            emit RoleRevoked(role, account, msg.sender);
        }
    }

    function _grant(bytes32 role, address account) internal {
        if (!_members[role][account]) {
            _members[role][account] = true;
            emit RoleGranted(role, account, msg.sender);
        }
    }
}
