//! The `poai` command line: clap argument structs and the code behind each command.
//!
//! The binary (`bin/poai`) only parses arguments and calls [`run`]. Each command returns the
//! text it prints, so tests drive commands as functions as well as through the real binary.
//!
//! Commands:
//! - `poai keys new|show`: ML-DSA key files (mode 0600; the secret is never printed).
//! - `poai proof build|decode|sign|verify`: LP-130 work proofs and their signatures
//!   (SPEC section 2), as hex or JSON.
//! - `poai reward`: the gross and paid reward of a proof at a height (SPEC section 3).
//! - `poai tee verify|envelope`: offline TEE evidence verification (SPEC section 5), from
//!   `poai_tee::cli`.
//! - `poai precompile call`: one call of 0x0300-0x0302 through revm (SPEC sections 4-5), from
//!   `poai_precompiles::cli`.
//! - `poai node|genesis|devnet|bench|replay`: the A-chain node (SPEC sections 2, 3, 6), from
//!   `poai_node`; `poai miner init|register|run|status` from `poai_miner`.
//! - `poai model|provider|task|attest|dispute|credits`: the AI VM over JSON-RPC (SPEC section
//!   6), from `poai_node::ai_cli`.
//! - `poai validator key|bond|add-stake|unbond|list`: validator consensus keys and staking,
//!   from `poai_node::validator_cli`.

pub mod keys;
pub mod proof;
pub mod reward;

use clap::{Parser, Subcommand};

/// poai: verified AI-compute mining.
#[derive(Debug, Parser)]
#[command(name = "poai", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and inspect ML-DSA key files.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Build, decode, sign and verify LP-130 work proofs.
    #[command(subcommand)]
    Proof(proof::ProofCommand),
    /// Compute the reward a work proof earns at a block height.
    Reward(reward::RewardArgs),
    /// Verify TEE evidence offline and wrap vendor files into evidence envelopes.
    #[command(subcommand)]
    Tee(poai_tee::cli::TeeCommand),
    /// Call the AI precompiles (0x0300 AI_MINING, 0x0301 NV_TRUST, 0x0302 MODEL_REGISTRY).
    #[command(subcommand)]
    Precompile(poai_precompiles::cli::PrecompileCommand),
    /// Run an A-chain node.
    Node(poai_node::cli::NodeArgs),
    /// Create A-chain genesis files.
    #[command(subcommand)]
    Genesis(poai_node::cli::GenesisCommand),
    /// A local A-chain: a node and N miners of different tiers, with live progress and a summary.
    Devnet(poai_node::devnet::DevnetArgs),
    /// Signed proofs per second through verification, execution and commit.
    Bench(poai_node::bench::BenchArgs),
    /// Finalized proofs per second and time to finality with N validator processes on loopback.
    BenchCluster(poai_consensus::bench::BenchClusterArgs),
    /// Re-execute a node's stored chain from genesis and check every state root.
    Replay(poai_node::cli::ReplayArgs),
    /// Mine: keys, device evidence, registration and the proof loop.
    #[command(subcommand)]
    Miner(poai_miner::cli::MinerCommand),
    /// The AI VM: model, provider, task, attest, dispute, credits (SPEC section 6).
    #[command(flatten)]
    Ai(poai_node::ai_cli::AiCommand),
    /// Validators of a multi-validator chain: consensus keys, bond, add stake, unbond, list.
    #[command(subcommand)]
    Validator(poai_node::validator_cli::ValidatorCommand),
}

/// A command's outcome: the text to print, and whether it counts as success (a signature that
/// does not verify prints its verdict and exits 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Text for standard output.
    pub text: String,
    /// Exit successfully?
    pub success: bool,
}

impl Output {
    /// A successful output.
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            success: true,
        }
    }
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> anyhow::Result<Output> {
    match cli.command {
        Command::Keys(cmd) => keys::run(cmd),
        Command::Proof(cmd) => proof::run(cmd),
        Command::Reward(args) => reward::run(&args).map(Output::ok),
        Command::Ai(cmd) => poai_node::ai_cli::run(cmd).map(Output::ok),
        Command::Validator(cmd) => poai_node::validator_cli::run(cmd).map(Output::ok),
        Command::Tee(cmd) => match poai_tee::cli::run(cmd) {
            Ok(text) => Ok(Output::ok(text)),
            // A rejection is a verdict, not a failure of the tool: print the report, exit 1.
            Err(poai_tee::cli::CliError::Rejected { output, .. }) => Ok(Output {
                text: output,
                success: false,
            }),
            Err(e) => Err(e.into()),
        },
        Command::Precompile(cmd) => poai_precompiles::cli::run(&cmd).map(Output::ok),
        // These commands print progress as they go and return nothing to print at the end.
        Command::Node(args) if args.consensus_key.is_some() => {
            poai_consensus::validator::run(args).map(|()| Output::ok(""))
        }
        Command::Node(args) => args.run().map(|()| Output::ok("")),
        Command::Genesis(cmd) => cmd.run().map(|()| Output::ok("")),
        Command::Devnet(args) if args.validators > 1 => {
            poai_consensus::devnet::run(args).map(|()| Output::ok(""))
        }
        Command::Devnet(args) => poai_node::devnet::run(args).map(|()| Output::ok("")),
        Command::Bench(args) => poai_node::bench::run(args).map(|()| Output::ok("")),
        Command::BenchCluster(args) => poai_consensus::bench::run(args).map(|()| Output::ok("")),
        Command::Replay(args) => args.run().map(|()| Output::ok("")),
        Command::Miner(cmd) => poai_miner::cli::run(cmd).map(|()| Output::ok("")),
    }
}

/// Pretty JSON for `--json` output.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(value)?;
    s.push('\n');
    Ok(s)
}
