//! `poai-node`: the node crate's commands as a binary of their own, for integration tests and
//! for running a node before the `poai` binary wires these commands in.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    poai_node::cli::Cli::parse().run()
}
