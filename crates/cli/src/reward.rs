//! `poai reward`: what a work proof earns at a height (SPEC section 3).

use crate::to_json;
use anyhow::bail;
use clap::Args;
use poai_economics::{Emission, MiningLedger, format_ai, gross_reward};
use poai_primitives::{PrivacyLevel, WorkProof, hexfmt};

/// `poai reward`.
#[derive(Debug, Args)]
pub struct RewardArgs {
    /// An encoded work proof (hex); or give --privacy and --minutes.
    #[arg(long, conflicts_with_all = ["privacy", "minutes"])]
    pub proof: Option<String>,
    /// Privacy level 1..=4 (Public, Private, Confidential, Sovereign).
    #[arg(long, requires = "minutes")]
    pub privacy: Option<u16>,
    /// Compute minutes claimed.
    #[arg(long, requires = "privacy")]
    pub minutes: Option<u32>,
    /// Block height at which the proof is accepted.
    #[arg(long, default_value_t = 0)]
    pub height: u64,
    /// Height of the chain's genesis block.
    #[arg(long, default_value_t = 0)]
    pub genesis_height: u64,
    /// AI already mined on the chain before this proof, in AI (e.g. 450000000 or 1.5).
    #[arg(long, default_value = "0")]
    pub mined: String,
    /// Print JSON (amounts as decimal strings of wei).
    #[arg(long)]
    pub json: bool,
}

/// Runs `poai reward`.
pub fn run(a: &RewardArgs) -> anyhow::Result<String> {
    let gross = match (&a.proof, a.privacy, a.minutes) {
        (Some(hex), _, _) => {
            let proof = WorkProof::decode(&hexfmt::decode(hex)?)?;
            gross_reward(proof.privacy_level, proof.compute_minutes)
        }
        (None, Some(level), Some(minutes)) => gross_reward(PrivacyLevel::try_from(level)?, minutes),
        _ => bail!("give --proof HEX, or --privacy LEVEL and --minutes N"),
    };
    let emission = Emission::new(a.genesis_height);
    let mined = poai_economics::parse_ai(&a.mined)?;
    let payout = MiningLedger::new(mined).apply(&emission, a.height, gross)?;
    if a.json {
        return to_json(&payout);
    }
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<14}{v}\n"));
    line(
        "height",
        format!("{} (epoch {})", payout.height, payout.epoch),
    );
    line("gross", format!("{} AI", format_ai(payout.gross)));
    line(
        "halved",
        format!(
            "{} AI (gross >> {})",
            format_ai(payout.halved),
            payout.epoch
        ),
    );
    line("ceiling", format!("{} AI", format_ai(payout.ceiling)));
    line("paid", format!("{} AI", format_ai(payout.paid)));
    line("  miner", format!("{} AI (98%)", format_ai(payout.miner)));
    line(
        "  treasury",
        format!("{} AI (2%)", format_ai(payout.treasury)),
    );
    if payout.is_reduced() {
        line(
            "note",
            "reduced to what the emission ceiling still allows".into(),
        );
    }
    Ok(out)
}
