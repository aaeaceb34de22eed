//! Validators of a multi-validator A-chain: bonded stake behind ed25519 consensus keys, the
//! staking calls, and epochs (docs/DESIGN-consensus.md, section 2).
//!
//! **Table.** One row per consensus key (the 32-byte ed25519 public key that signs votes and
//! identifies the validator's p2p peer): the owner account that bonded it (also the proposer
//! address paid the fees of its blocks), the bonded stake, where peers reach it, and, once
//! unbonded, the height at which the stake returns to the owner. A genesis `consensus` section
//! creates the first rows with stake minted into the bond (see [`crate::genesis`]).
//!
//! **Set.** [`crate::State::validator_set`] is a pure function of the table: bonded (not
//! unbonding) validators with `stake ≥ min_validator_stake`, highest stake first, ties by key
//! ascending, at most `max_validators`. The consensus layer reads it from the state after the
//! boundary block of epoch `e` as the set of epoch `e+1`; transactions therefore change the set
//! only through that read, and the state machine has no epoch logic except releasing unbonded
//! stake ([`begin_block`]).
//!
//! **Epochs.** Epoch `e` spans heights `[e·L, (e+1)·L)` with `L = epoch_length`; its boundary
//! block is its last height, `(e+1)·L − 1` ([`epoch_of`], [`is_epoch_boundary`]).
//!
//! **Calls** (account transactions, call tags 0x20..=0x22):
//!
//! | tag | call | fields |
//! |---|---|---|
//! | 0x20 | bond | consensus_key 32 ‖ stake u128 ‖ net_addr (0x00, or 0x01 ‖ u32 len ≤ 128 ‖ UTF-8) ‖ pop 64 |
//! | 0x21 | add_stake | consensus_key 32 ‖ amount u128 |
//! | 0x22 | unbond | consensus_key 32 |
//!
//! `bond` moves `stake` from the sender's native balance into a new row owned by the sender.
//! `pop` (proof of possession) is an ed25519 signature by the consensus key over
//! `"poai/validator/pop/v1" ‖ u64be(chain_id) ‖ sender address 20 ‖ consensus_key 32`, checked
//! with `verify_strict` (which also refuses small-order keys and non-canonical signatures), so
//! nobody can bond a key they do not hold, nor replay another chain's or account's bond.
//! `unbond` takes the validator out of the set at once; its stake returns to the owner at the
//! first block of epoch `current + 1 + unbonding_epochs`, so it stays at stake for
//! `unbonding_epochs` whole epochs after it last could have voted.

use crate::block::Outcome;
use crate::codec::{CodecError, Reader, Writer};
use crate::error::TxError;
use crate::machine::BlockContext;
use crate::state::State;
use poai_primitives::{Address, ChainId};
use serde::{Deserialize, Serialize};

/// Domain of the proof-of-possession message.
pub const POP_TAG: &[u8] = b"poai/validator/pop/v1";
/// Longest `net_addr` (`host:port`).
pub const MAX_NET_ADDR_LEN: usize = 128;
/// Call tags of the validator calls.
pub const VALIDATOR_TAGS: std::ops::RangeInclusive<u8> = 0x20..=0x22;

/// A validator's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    /// The account that bonded it: the proposer paid its blocks' fees, the only account that
    /// may add stake or unbond, and the one its stake returns to.
    pub owner: Address,
    /// Bonded stake, native coin.
    #[serde(with = "crate::serde_u128")]
    pub stake: u128,
    /// Where peers reach it (`host:port`).
    pub net_addr: Option<String>,
    /// Set by `unbond`: the height at which the stake returns to the owner.
    pub unbonding: Option<u64>,
}

impl Validator {
    /// Canonical encoding: owner 20 ‖ stake u128 ‖ net_addr opt str ‖ unbonding opt u64.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(64);
        w.raw(&self.owner.0);
        w.u128(self.stake);
        write_opt_str(&mut w, self.net_addr.as_deref());
        w.opt_u64(self.unbonding);
        w.finish()
    }

    /// Decodes [`Validator::encode`]; the whole input must be used.
    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let v = Self {
            owner: Address(r.array("owner")?),
            stake: r.u128("stake")?,
            net_addr: read_opt_str(&mut r, MAX_NET_ADDR_LEN, "net_addr")?,
            unbonding: r.opt_u64("unbonding")?,
        };
        r.finish()?;
        Ok(v)
    }

    /// Whether it still counts towards the set (not unbonding).
    pub fn is_bonded(&self) -> bool {
        self.unbonding.is_none()
    }
}

/// A member of the validator set, as [`State::validator_set`] returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorInfo {
    /// Its ed25519 consensus key.
    #[serde(with = "crate::serde_hex32")]
    pub consensus_key: [u8; 32],
    /// Its owner (proposer address).
    pub owner: Address,
    /// Bonded stake.
    #[serde(with = "crate::serde_u128")]
    pub stake: u128,
    /// Where peers reach it.
    pub net_addr: Option<String>,
}

fn write_opt_str(w: &mut Writer, s: Option<&str>) {
    match s {
        None => w.u8(0),
        Some(s) => {
            w.u8(1);
            w.bytes(s.as_bytes());
        }
    }
}

fn read_opt_str(
    r: &mut Reader<'_>,
    max: usize,
    field: &'static str,
) -> Result<Option<String>, CodecError> {
    match r.u8(field)? {
        0 => Ok(None),
        1 => {
            let b = r.bytes(max, field)?;
            String::from_utf8(b.to_vec())
                .map(Some)
                .map_err(|_| CodecError::Invalid {
                    field,
                    reason: "not UTF-8".into(),
                })
        }
        tag => Err(CodecError::UnknownTag { field, tag }),
    }
}

/// The epoch of `height` when epochs are `epoch_length` blocks (0 is read as 1).
pub fn epoch_of(height: u64, epoch_length: u64) -> u64 {
    height / epoch_length.max(1)
}

/// Whether `height` is the last block of its epoch (the boundary whose state fixes the next
/// epoch's set).
pub fn is_epoch_boundary(height: u64, epoch_length: u64) -> bool {
    height % epoch_length.max(1) == epoch_length.max(1).saturating_sub(1)
}

/// The first height of `epoch`, if it fits in a u64.
pub fn epoch_start(epoch: u64, epoch_length: u64) -> Option<u64> {
    epoch.checked_mul(epoch_length.max(1))
}

/// Checks that 32 bytes are an ed25519 public key that [`verify_pop`] could accept: a point
/// on the curve, not of small order.
pub fn check_consensus_key(key: &[u8; 32]) -> Result<ed25519_dalek::VerifyingKey, String> {
    let vk = ed25519_dalek::VerifyingKey::from_bytes(key)
        .map_err(|_| "not an ed25519 public key (does not decompress to a curve point)")?;
    if vk.is_weak() {
        return Err("a small-order ed25519 point, which no signature can bind".into());
    }
    Ok(vk)
}

/// Checks a `host:port` network address: 1 to 128 printable ASCII characters without spaces,
/// a port after the last colon.
pub fn check_net_addr(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_NET_ADDR_LEN {
        return Err(format!(
            "must be 1 to {MAX_NET_ADDR_LEN} characters, not {}",
            s.len()
        ));
    }
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces".into());
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(format!("`{s}` is not host:port")),
    }
}

/// The message a proof of possession signs (see the module docs).
pub fn pop_message(chain_id: ChainId, owner: &Address, consensus_key: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(POP_TAG.len() + 8 + 20 + 32);
    m.extend_from_slice(POP_TAG);
    m.extend_from_slice(&chain_id.0.to_be_bytes());
    m.extend_from_slice(&owner.0);
    m.extend_from_slice(consensus_key);
    m
}

/// Whether `pop` is the consensus key's proof of possession for `owner` on `chain_id`
/// (`verify_strict`).
pub fn verify_pop(
    chain_id: ChainId,
    owner: &Address,
    consensus_key: &[u8; 32],
    pop: &[u8; 64],
) -> bool {
    let Ok(vk) = check_consensus_key(consensus_key) else {
        return false;
    };
    let sig = ed25519_dalek::Signature::from_bytes(pop);
    vk.verify_strict(&pop_message(chain_id, owner, consensus_key), &sig)
        .is_ok()
}

/// The public consensus key of a 32-byte ed25519 seed (the consensus key file's content).
pub fn consensus_public_key(seed: &[u8; 32]) -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(seed)
        .verifying_key()
        .to_bytes()
}

/// Signs the proof of possession with the consensus key whose seed is `seed`.
pub fn sign_pop(seed: &[u8; 32], chain_id: ChainId, owner: &Address) -> [u8; 64] {
    use ed25519_dalek::Signer;
    let sk = ed25519_dalek::SigningKey::from_bytes(seed);
    let key = sk.verifying_key().to_bytes();
    sk.sign(&pop_message(chain_id, owner, &key)).to_bytes()
}

/// A validator call (account transaction; module table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "validator")]
pub enum ValidatorCall {
    /// Bonds `stake` of the sender's native coin behind a new consensus key.
    Bond {
        /// The ed25519 consensus key.
        #[serde(with = "crate::serde_hex32")]
        consensus_key: [u8; 32],
        /// Stake moved from the sender's balance into the bond.
        #[serde(with = "crate::serde_u128")]
        stake: u128,
        /// Where peers reach it (`host:port`).
        net_addr: Option<String>,
        /// Proof of possession ([`pop_message`], signed by the consensus key).
        #[serde(with = "crate::serde_hex64")]
        pop: [u8; 64],
    },
    /// Adds to the stake of a validator the sender owns.
    AddStake {
        /// The validator.
        #[serde(with = "crate::serde_hex32")]
        consensus_key: [u8; 32],
        /// Native coin moved from the sender's balance.
        #[serde(with = "crate::serde_u128")]
        amount: u128,
    },
    /// Takes a validator the sender owns out of the set; its stake returns later.
    Unbond {
        /// The validator.
        #[serde(with = "crate::serde_hex32")]
        consensus_key: [u8; 32],
    },
}

impl ValidatorCall {
    /// The call's name (snake case).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Bond { .. } => "bond",
            Self::AddStake { .. } => "add_stake",
            Self::Unbond { .. } => "unbond",
        }
    }

    /// Appends tag and fields.
    pub fn encode_into(&self, w: &mut Writer) {
        match self {
            Self::Bond {
                consensus_key,
                stake,
                net_addr,
                pop,
            } => {
                w.u8(0x20);
                w.raw(consensus_key);
                w.u128(*stake);
                write_opt_str(w, net_addr.as_deref());
                w.raw(pop);
            }
            Self::AddStake {
                consensus_key,
                amount,
            } => {
                w.u8(0x21);
                w.raw(consensus_key);
                w.u128(*amount);
            }
            Self::Unbond { consensus_key } => {
                w.u8(0x22);
                w.raw(consensus_key);
            }
        }
    }

    /// Reads the fields of the call with `tag` (one of [`VALIDATOR_TAGS`]).
    pub fn decode_fields(tag: u8, r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(match tag {
            0x20 => Self::Bond {
                consensus_key: r.array("consensus_key")?,
                stake: r.u128("stake")?,
                net_addr: read_opt_str(r, MAX_NET_ADDR_LEN, "net_addr")?,
                pop: r.array("pop")?,
            },
            0x21 => Self::AddStake {
                consensus_key: r.array("consensus_key")?,
                amount: r.u128("amount")?,
            },
            0x22 => Self::Unbond {
                consensus_key: r.array("consensus_key")?,
            },
            tag => return Err(CodecError::UnknownTag { field: "call", tag }),
        })
    }
}

/// What a validator call did (receipt outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ValidatorAction {
    /// A new bond.
    Bonded = 1,
    /// Stake added.
    StakeAdded = 2,
    /// Unbonding started.
    Unbonding = 3,
}

impl ValidatorAction {
    /// From the receipt byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Bonded),
            2 => Some(Self::StakeAdded),
            3 => Some(Self::Unbonding),
            _ => None,
        }
    }
}

/// The receipt of a validator call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorOutcome {
    /// What happened.
    pub action: ValidatorAction,
    /// The validator.
    #[serde(with = "crate::serde_hex32")]
    pub consensus_key: [u8; 32],
    /// Stake bonded or added; for `unbonding`, the stake that will return.
    #[serde(with = "crate::serde_u128")]
    pub amount: u128,
    /// For `unbonding`: the height at which the stake returns to the owner.
    pub release_height: Option<u64>,
}

/// The checked effect of a validator call; applying it cannot fail.
#[derive(Debug)]
pub(crate) struct ValidatorPlan {
    key: [u8; 32],
    row: Validator,
    outcome: ValidatorOutcome,
}

/// Checks a validator call by `sender`, whose account after nonce and fee leaves `available`
/// native coin. Returns the plan and the sender's balance after the call.
pub(crate) fn plan(
    state: &State,
    ctx: &BlockContext,
    sender: Address,
    available: u128,
    fee: u128,
    call: &ValidatorCall,
) -> Result<(ValidatorPlan, u128), TxError> {
    let Some(c) = state.genesis().consensus.as_ref() else {
        return Err(TxError::ValidatorsDisabled);
    };
    let key_hex = |k: &[u8; 32]| hex::encode(k);
    let insufficient = |asset: &'static str, needed: u128| TxError::InsufficientBalance {
        sender,
        asset,
        available: available.saturating_add(fee).to_string(),
        needed: fee.saturating_add(needed).to_string(),
    };
    let owned = |k: &[u8; 32]| -> Result<&Validator, TxError> {
        let v = state
            .validator(k)
            .ok_or_else(|| TxError::UnknownValidator {
                consensus_key: key_hex(k),
            })?;
        if v.owner != sender {
            return Err(TxError::NotValidatorOwner {
                consensus_key: key_hex(k),
                owner: v.owner,
            });
        }
        if let Some(release_height) = v.unbonding {
            return Err(TxError::ValidatorUnbonding {
                consensus_key: key_hex(k),
                release_height,
            });
        }
        Ok(v)
    };
    match call {
        ValidatorCall::Bond {
            consensus_key,
            stake,
            net_addr,
            pop,
        } => {
            check_consensus_key(consensus_key).map_err(|reason| TxError::ConsensusKeyInvalid {
                consensus_key: key_hex(consensus_key),
                reason,
            })?;
            if state.validator(consensus_key).is_some() {
                return Err(TxError::ValidatorExists {
                    consensus_key: key_hex(consensus_key),
                });
            }
            if *stake < c.min_validator_stake || *stake == 0 {
                return Err(TxError::ValidatorStakeTooLow {
                    min: c.min_validator_stake.max(1).to_string(),
                    got: stake.to_string(),
                });
            }
            if let Some(a) = net_addr {
                check_net_addr(a).map_err(|reason| TxError::NetAddrInvalid { reason })?;
            }
            if !verify_pop(state.genesis().chain_id, &sender, consensus_key, pop) {
                return Err(TxError::PopInvalid {
                    consensus_key: key_hex(consensus_key),
                    chain_id: state.genesis().chain_id,
                    sender,
                });
            }
            let after = available
                .checked_sub(*stake)
                .ok_or_else(|| insufficient("native (`fee` + `stake`)", *stake))?;
            Ok((
                ValidatorPlan {
                    key: *consensus_key,
                    row: Validator {
                        owner: sender,
                        stake: *stake,
                        net_addr: net_addr.clone(),
                        unbonding: None,
                    },
                    outcome: ValidatorOutcome {
                        action: ValidatorAction::Bonded,
                        consensus_key: *consensus_key,
                        amount: *stake,
                        release_height: None,
                    },
                },
                after,
            ))
        }
        ValidatorCall::AddStake {
            consensus_key,
            amount,
        } => {
            if *amount == 0 {
                return Err(TxError::ZeroAmount { field: "amount" });
            }
            let v = owned(consensus_key)?;
            let stake = v
                .stake
                .checked_add(*amount)
                .ok_or(TxError::Overflow { field: "stake" })?;
            let after = available
                .checked_sub(*amount)
                .ok_or_else(|| insufficient("native (`fee` + `amount`)", *amount))?;
            Ok((
                ValidatorPlan {
                    key: *consensus_key,
                    row: Validator { stake, ..v.clone() },
                    outcome: ValidatorOutcome {
                        action: ValidatorAction::StakeAdded,
                        consensus_key: *consensus_key,
                        amount: *amount,
                        release_height: None,
                    },
                },
                after,
            ))
        }
        ValidatorCall::Unbond { consensus_key } => {
            let v = owned(consensus_key)?;
            let release = epoch_of(ctx.height, c.epoch_length)
                .checked_add(1)
                .and_then(|e| e.checked_add(c.unbonding_epochs))
                .and_then(|e| epoch_start(e, c.epoch_length))
                .ok_or(TxError::Overflow {
                    field: "release_height",
                })?;
            Ok((
                ValidatorPlan {
                    key: *consensus_key,
                    row: Validator {
                        unbonding: Some(release),
                        ..v.clone()
                    },
                    outcome: ValidatorOutcome {
                        action: ValidatorAction::Unbonding,
                        consensus_key: *consensus_key,
                        amount: v.stake,
                        release_height: Some(release),
                    },
                },
                available,
            ))
        }
    }
}

/// Applies a checked plan (the sender's account is written by the caller).
pub(crate) fn apply(state: &mut State, plan: ValidatorPlan) -> Outcome {
    state.set_validator(plan.key, Some(plan.row));
    Outcome::Validator(plan.outcome)
}

/// The validators' begin-block step: at the first block of an epoch, every unbonding validator
/// whose release height has come is removed and its stake credited to its owner, in key order.
/// Release heights are always first heights of epochs, so other blocks have nothing to do and
/// the scan runs once per epoch.
pub fn begin_block(state: &mut State, ctx: &BlockContext) {
    let Some(c) = state.genesis().consensus.as_ref() else {
        return;
    };
    if !ctx.height.is_multiple_of(c.epoch_length.max(1)) {
        return;
    }
    let due: Vec<([u8; 32], Validator)> = state
        .validators()
        .filter(|(_, v)| v.unbonding.is_some_and(|h| h <= ctx.height))
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    for (key, v) in due {
        let mut owner = state.account(&v.owner);
        owner.balance = owner.balance.saturating_add(v.stake);
        state.set_account(v.owner, owner);
        state.set_validator(key, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn samples() -> Vec<ValidatorCall> {
        vec![
            ValidatorCall::Bond {
                consensus_key: [3; 32],
                stake: 1 << 100,
                net_addr: Some("10.0.0.1:30300".into()),
                pop: [4; 64],
            },
            ValidatorCall::AddStake {
                consensus_key: [5; 32],
                amount: 7,
            },
            ValidatorCall::Unbond {
                consensus_key: [6; 32],
            },
        ]
    }

    fn round(c: &ValidatorCall) -> Result<ValidatorCall, CodecError> {
        let mut w = Writer::new();
        c.encode_into(&mut w);
        let bytes = w.finish();
        let mut r = Reader::new(&bytes);
        let tag = r.u8("call")?;
        let d = ValidatorCall::decode_fields(tag, &mut r)?;
        r.finish()?;
        Ok(d)
    }

    #[test]
    fn every_call_round_trips_with_its_tag() {
        let mut tags = Vec::new();
        for c in samples() {
            assert_eq!(round(&c).unwrap(), c, "{}", c.name());
            let mut w = Writer::new();
            c.encode_into(&mut w);
            tags.push(w.finish()[0]);
            let j = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<ValidatorCall>(&j).unwrap(), c, "{j}");
        }
        assert_eq!(tags, VALIDATOR_TAGS.collect::<Vec<_>>());
        let no_addr = ValidatorCall::Bond {
            consensus_key: [3; 32],
            stake: 1,
            net_addr: None,
            pop: [4; 64],
        };
        assert_eq!(round(&no_addr).unwrap(), no_addr);
    }

    #[test]
    fn net_addr_is_bounded_in_the_decoder() {
        let mut w = Writer::new();
        w.u8(0x20);
        w.raw(&[1; 32]);
        w.u128(5);
        w.u8(1);
        w.bytes(&[b'a'; MAX_NET_ADDR_LEN + 1]);
        w.raw(&[0; 64]);
        let bytes = w.finish();
        let mut r = Reader::new(&bytes[1..]);
        let e = ValidatorCall::decode_fields(0x20, &mut r).unwrap_err();
        assert!(
            matches!(
                e,
                CodecError::TooLong {
                    field: "net_addr",
                    ..
                }
            ),
            "{e}"
        );
        let mut w = Writer::new();
        w.raw(&[1; 32]);
        w.u128(5);
        w.u8(2);
        let bytes = w.finish();
        let e = ValidatorCall::decode_fields(0x20, &mut Reader::new(&bytes)).unwrap_err();
        assert_eq!(
            e,
            CodecError::UnknownTag {
                field: "net_addr",
                tag: 2
            }
        );
    }

    #[test]
    fn row_round_trips_and_refuses_trailing_bytes() {
        let v = Validator {
            owner: Address([9; 20]),
            stake: 12345,
            net_addr: Some("h:1".into()),
            unbonding: Some(40),
        };
        assert_eq!(Validator::decode(&v.encode()).unwrap(), v);
        let mut long = v.encode();
        long.push(0);
        assert_eq!(Validator::decode(&long), Err(CodecError::TrailingBytes(1)));
        assert!(Validator::decode(&v.encode()[..30]).is_err());
    }

    #[test]
    fn epochs() {
        // L = 10: epoch 0 is heights 0..=9, its boundary 9; epoch 1 starts at 10.
        assert_eq!(epoch_of(0, 10), 0);
        assert_eq!(epoch_of(9, 10), 0);
        assert_eq!(epoch_of(10, 10), 1);
        assert!(is_epoch_boundary(9, 10));
        assert!(!is_epoch_boundary(10, 10));
        assert!(is_epoch_boundary(19, 10));
        assert_eq!(epoch_start(2, 10), Some(20));
        assert_eq!(epoch_start(u64::MAX, 10), None);
        // L = 1: every block is its own epoch and its own boundary.
        assert!(is_epoch_boundary(0, 1) && is_epoch_boundary(7, 1));
        assert_eq!(epoch_of(7, 1), 7);
    }

    #[test]
    fn pop_binds_key_chain_and_sender() {
        let seed = [0x42; 32];
        let key = consensus_public_key(&seed);
        let me = Address([1; 20]);
        let pop = sign_pop(&seed, ChainId(5), &me);
        assert!(verify_pop(ChainId(5), &me, &key, &pop));
        assert!(!verify_pop(ChainId(6), &me, &key, &pop), "other chain");
        assert!(
            !verify_pop(ChainId(5), &Address([2; 20]), &key, &pop),
            "other sender"
        );
        let other = consensus_public_key(&[0x43; 32]);
        assert!(!verify_pop(ChainId(5), &me, &other, &pop), "other key");
        let mut bad = pop;
        bad[0] ^= 1;
        assert!(!verify_pop(ChainId(5), &me, &key, &bad));
        // The identity point is small-order: refused as a key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(check_consensus_key(&identity).is_err());
        assert!(check_consensus_key(&key).is_ok());
    }

    #[test]
    fn net_addr_rules() {
        assert!(check_net_addr("127.0.0.1:30300").is_ok());
        assert!(check_net_addr("[::1]:1").is_ok());
        assert!(check_net_addr("node.example:443").is_ok());
        for bad in ["", "host", ":80", "h:99999", "a b:1", "h:x"] {
            assert!(check_net_addr(bad).is_err(), "{bad:?}");
        }
        assert!(check_net_addr(&format!("{}:1", "a".repeat(MAX_NET_ADDR_LEN))).is_err());
    }

    proptest! {
        #[test]
        fn call_decode_never_panics(tag in 0x20u8..=0x23, bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut r = Reader::new(&bytes);
            if let Ok(c) = ValidatorCall::decode_fields(tag, &mut r)
                && r.finish().is_ok()
            {
                let mut w = Writer::new();
                c.encode_into(&mut w);
                let enc = w.finish();
                prop_assert_eq!(enc.first().copied(), Some(tag));
                prop_assert_eq!(enc.get(1..).unwrap_or_default(), &bytes[..]);
            }
        }

        #[test]
        fn row_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(v) = Validator::decode(&bytes) {
                prop_assert_eq!(v.encode(), bytes);
            }
        }
    }
}
