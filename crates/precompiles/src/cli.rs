//! `poai precompile call`: runs one call to a poai precompile and prints its output, the gas it
//! used and its error, if any. The binary (crates/cli) wires [`PrecompileCommand`] in and
//! prints what [`run`] returns.
//!
//! ```text
//! poai precompile call --address 0x0300 --input HEX [--chain-id N] [--gas N] [--caller ADDR]
//!                      [--state FILE] [--json] [--timestamp SECS] [--mining-contract ADDR]…
//!                      [--bridge-contract ADDR]… [--static]
//! ```
//!
//! The call runs the same code the revm provider runs ([`crate::dispatch`]) over the
//! precompile account's storage, loaded from `--state` (JSON, created if missing) and saved
//! back after a successful call, so the spent set, sessions and model registry persist between
//! calls. A halted call changes nothing, as in the EVM. This is a local tool: unless
//! `--mining-contract` is given, the caller is treated as the chain's mining contract, so that
//! MarkSpent and sessions can be tried, and unless `--bridge-contract` is given, as its bridge
//! contract, so that `importAChainBlock` can be tried; `--timestamp` defaults to the clock.

use crate::config::PoaiConfig;
use crate::error::{Failure, Halt};
use crate::gas::GasMeter;
use crate::state::{CallEnv, MemoryStorage};
use alloy_primitives::{Address, U256};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `poai precompile …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum PrecompileCommand {
    /// Call a poai precompile (0x0300 AI_MINING, 0x0301 NV_TRUST, 0x0302 MODEL_REGISTRY).
    Call(CallArgs),
}

/// Arguments of `poai precompile call`.
#[derive(Debug, Clone, clap::Args)]
pub struct CallArgs {
    /// Precompile address; short forms such as 0x0300 are left-padded to 20 bytes.
    #[arg(long)]
    pub address: String,
    /// Call data, hex (0x optional).
    #[arg(long)]
    pub input: String,
    /// Chain id of the executing chain (work ids and session ids depend on it).
    #[arg(long, default_value_t = 96_369)]
    pub chain_id: u64,
    /// Gas given to the call.
    #[arg(long, default_value_t = 30_000_000)]
    pub gas: u64,
    /// msg.sender of the call.
    #[arg(long, default_value = "0x00000000000000000000000000000000000000c0")]
    pub caller: String,
    /// JSON file holding the precompiles' storage between calls.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Block timestamp, Unix seconds (default: now).
    #[arg(long)]
    pub timestamp: Option<u64>,
    /// A mining contract of the chain (repeatable); default: the caller.
    #[arg(long = "mining-contract")]
    pub mining_contracts: Vec<String>,
    /// A bridge contract of the chain, allowed to import A-chain block hashes (repeatable);
    /// default: the caller.
    #[arg(long = "bridge-contract")]
    pub bridge_contracts: Vec<String>,
    /// Run as a static call (STATICCALL).
    #[arg(long = "static")]
    pub is_static: bool,
}

/// The state file: non-zero storage slots per precompile account, hex.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFile {
    /// Format version (1).
    pub version: u32,
    /// account → slot → value.
    pub storage: BTreeMap<Address, BTreeMap<U256, U256>>,
}

/// What a call did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallReport {
    /// The precompile.
    pub address: Address,
    /// Output bytes, 0x-hex (empty on error).
    pub output: String,
    /// Gas used (all of `gas_limit` on error).
    pub gas_used: u64,
    /// Gas given.
    pub gas_limit: u64,
    /// The halt message, if the call halted.
    pub error: Option<String>,
}

/// Parses an address, left-padding short forms (0x0300).
pub fn parse_address(s: &str) -> anyhow::Result<Address> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    if digits.is_empty() || digits.len() > 40 {
        bail!("address `{s}` must be 1 to 40 hex digits");
    }
    let padded = format!("{digits:0>40}");
    let bytes = hex::decode(&padded).with_context(|| format!("address `{s}` is not hex"))?;
    Ok(Address::from_slice(&bytes))
}

fn parse_hex(s: &str) -> anyhow::Result<Vec<u8>> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(digits).context("--input is not hex")
}

fn load_state(path: &Path) -> anyhow::Result<StateFile> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("state file {} is not valid", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StateFile {
            version: 1,
            ..StateFile::default()
        }),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn save_state(path: &Path, state: &StateFile) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(state)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Runs one call and reports it.
pub fn call(args: &CallArgs) -> anyhow::Result<CallReport> {
    let address = parse_address(&args.address)?;
    if !crate::ADDRESSES.contains(&address) {
        bail!("{address} is not a poai precompile (0x0300, 0x0301, 0x0302)");
    }
    let input = parse_hex(&args.input)?;
    let caller = parse_address(&args.caller)?;
    let contracts_or_caller = |list: &[String]| -> anyhow::Result<Vec<Address>> {
        if list.is_empty() {
            Ok(vec![caller])
        } else {
            list.iter().map(|s| parse_address(s)).collect()
        }
    };
    let mining_contracts = contracts_or_caller(&args.mining_contracts)?;
    let bridge_contracts = contracts_or_caller(&args.bridge_contracts)?;
    let timestamp = match args.timestamp {
        Some(t) => t,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
    };
    let mut state = match &args.state {
        Some(p) => load_state(p)?,
        None => StateFile::default(),
    };
    let mut storage = MemoryStorage {
        slots: state.storage.get(&address).cloned().unwrap_or_default(),
    };
    let env = CallEnv {
        caller,
        is_static: args.is_static,
        delegated: false,
        chain_id: poai_primitives::ChainId(args.chain_id),
        timestamp,
    };
    let config =
        PoaiConfig::with_mining_contracts(mining_contracts).with_bridge_contracts(bridge_contracts);
    let mut gas = GasMeter::new(args.gas);
    let result = crate::dispatch(address, &input, &env, &mut gas, &mut storage, &config)
        .context("not a poai precompile")?;
    let report = match result {
        Ok(out) => {
            if let Some(path) = &args.state {
                state.version = 1;
                state.storage.insert(address, storage.slots);
                state.storage.retain(|_, slots| !slots.is_empty());
                save_state(path, &state)?;
            }
            CallReport {
                address,
                output: format!("0x{}", hex::encode(out)),
                gas_used: gas.used(),
                gas_limit: args.gas,
                error: None,
            }
        }
        Err(Failure::Halt(h)) => CallReport {
            address,
            output: "0x".into(),
            gas_used: args.gas,
            gas_limit: args.gas,
            error: Some(match h {
                Halt::OutOfGas { .. } => format!("out of gas ({h})"),
                other => other.to_string(),
            }),
        },
        Err(Failure::Fatal(e)) => bail!("fatal: {e}"),
    };
    Ok(report)
}

/// Runs a `poai precompile` command and returns what to print.
pub fn run(cmd: &PrecompileCommand) -> anyhow::Result<String> {
    match cmd {
        PrecompileCommand::Call(args) => {
            let r = call(args)?;
            if args.json {
                return Ok(serde_json::to_string_pretty(&r)?);
            }
            let mut s = format!("output: {}\ngas used: {}\n", r.output, r.gas_used);
            if let Some(e) = &r.error {
                s.push_str(&format!("error: {e}\n"));
            }
            Ok(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: PrecompileCommand,
    }

    fn cmd(args: &[&str]) -> PrecompileCommand {
        let mut v = vec!["poai", "call"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).unwrap().cmd
    }

    #[test]
    fn addresses_pad() {
        assert_eq!(parse_address("0x0300").unwrap(), crate::ai_mining::ADDRESS);
        assert_eq!(
            parse_address("302").unwrap(),
            crate::model_registry::ADDRESS
        );
        assert!(parse_address("0x").is_err());
        assert!(parse_address("zz").is_err());
        assert!(parse_address(&"1".repeat(41)).is_err());
    }

    #[test]
    fn spent_set_persists_in_the_state_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let state = state.to_str().unwrap();
        let id = "11".repeat(32);
        let is_spent = cmd(&[
            "--address",
            "0x0300",
            "--input",
            &format!("04{id}"),
            "--state",
            state,
            "--json",
        ]);
        let r: CallReport = serde_json::from_str(&run(&is_spent).unwrap()).unwrap();
        assert_eq!(r.output, format!("0x{}", "00".repeat(32)));
        assert_eq!(r.error, None);

        let mark = cmd(&[
            "--address",
            "0x0300",
            "--input",
            &format!("06{id}"),
            "--state",
            state,
        ]);
        let text = run(&mark).unwrap();
        assert!(text.contains("gas used: 29200"), "{text}");
        let r: CallReport = serde_json::from_str(&run(&is_spent).unwrap()).unwrap();
        assert_eq!(r.output, format!("0x{}1", "0".repeat(63)));

        // Again: already spent, a halt that uses all the gas and changes nothing.
        let again = cmd(&[
            "--address",
            "0x0300",
            "--input",
            &format!("06{id}"),
            "--state",
            state,
            "--gas",
            "50000",
            "--json",
        ]);
        let r: CallReport = serde_json::from_str(&run(&again).unwrap()).unwrap();
        assert_eq!(r.gas_used, 50_000);
        assert!(r.error.unwrap().contains("already spent"));
    }

    #[test]
    fn work_id_depends_on_chain_id_flag() {
        let mut proof = String::from("05");
        proof.push_str(&"aa".repeat(32));
        proof.push_str(&"bb".repeat(32));
        proof.push_str(&format!("{:016x}{:04x}{:08x}", 1u64, 3u16, 10u32));
        let out = run(&cmd(&[
            "--address",
            "0x0300",
            "--input",
            &proof,
            "--chain-id",
            "200200",
        ]))
        .unwrap();
        assert!(
            out.contains("0x4e0f8c071a1c92eefbe1d23e9e4425ccebe29a4ac40361c009fbfae0c5c2360c"),
            "{out}"
        );
    }

    #[test]
    fn errors_are_reported() {
        let out = run(&cmd(&[
            "--address",
            "0x0300",
            "--input",
            "07",
            "--gas",
            "1000",
        ]))
        .unwrap();
        assert!(out.contains("error: op byte 0x07"), "{out}");
        assert!(out.contains("gas used: 1000"), "{out}");
        let oog = run(&cmd(&[
            "--address",
            "0x0300",
            "--input",
            &format!("04{}", "00".repeat(32)),
            "--gas",
            "10",
        ]))
        .unwrap();
        assert!(oog.contains("out of gas"), "{oog}");
        assert!(run(&cmd(&["--address", "0x0001", "--input", "00"])).is_err());
        assert!(run(&cmd(&["--address", "0x0300", "--input", "0g"])).is_err());
    }
}
