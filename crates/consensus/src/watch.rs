//! What simplex tells an operator (docs/DESIGN-consensus.md, section 1.7): a view that ended
//! without a block.
//!
//! Simplex reports its activity to one [`Reporter`]; marshal's (through `Inline`) needs it to
//! order blocks. [`Watch`] sits in front of it and passes every activity on unchanged. When a
//! view is nullified (its leader's block did not arrive or was not notarized within the leader
//! timeout, or was not certified within the certification timeout, so the validators agreed to
//! skip it), it names the validator that was to lead the view, in the node's log (with this
//! node's finalized height at the time) and in `poai_consensus_views_skipped_total{leader}`.
//! That is the first thing an operator asks after a pause in finality: which validator is down
//! or too slow.
//!
//! Only nullification certificates are counted: they are verified by consensus (a quorum
//! signed them), unlike single votes or equivocation evidence, which simplex reports
//! unverified. A certificate replayed from simplex's journal after a restart is counted again;
//! that happens once per restart and the count is a per-process one anyway.

use crate::epochs::EpochSets;
use commonware_consensus::Reporter;
use commonware_consensus::simplex::elector::{Config as ElectorConfig, Elector as _, RoundRobin};
use commonware_consensus::simplex::scheme::ed25519::Scheme;
use commonware_consensus::simplex::types::Activity;
use commonware_consensus::types::Round;
use commonware_cryptography::blake3::Digest;
use commonware_cryptography::certificate::Scheme as _;
use commonware_cryptography::ed25519::PublicKey;
use commonware_cryptography::sha256::Sha256;
use poai_node::node::Shared;
use poai_primitives::Address;
use std::sync::Arc;

/// The leader elector every validator runs. Consensus-critical: all validators of an epoch must
/// use the same one, and [`leader`] must agree with the engine's.
pub fn elector() -> RoundRobin<Sha256> {
    RoundRobin::default()
}

/// The validator that leads `round`, with its account when the epoch's set is known.
pub fn leader(sets: &EpochSets, round: Round) -> Option<(PublicKey, Option<Address>)> {
    let epoch = round.epoch().get();
    let scheme = sets.scheme(epoch)?;
    let participants = scheme.participants();
    let elector = <RoundRobin<Sha256> as ElectorConfig<Scheme>>::build(elector(), participants);
    let index = elector.elect(round, ());
    let key = participants
        .get(usize::try_from(index.get()).ok()?)?
        .clone();
    let account = sets.validators(epoch).and_then(|v| v.account(&key));
    Some((key, account))
}

/// The log line of a skipped view; `height` is this node's finalized height when it learnt of it.
pub fn skipped_line(epoch: u64, view: u64, height: u64, leader: &str) -> String {
    format!(
        "poai consensus: epoch {epoch} view {view} skipped at height {height}: no block of its \
         leader ({leader}) was agreed on in time"
    )
}

/// The finalized height in a [`skipped_line`], or `None` for any other line.
pub fn skipped_at(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("poai consensus: epoch ")?;
    let (_, rest) = rest.split_once(" skipped at height ")?;
    let (height, _) = rest.split_once(':')?;
    height.parse().ok()
}

/// Simplex's reporter: forwards everything to `inner` and reports skipped views.
#[derive(Clone)]
pub struct Watch<R> {
    inner: R,
    sets: EpochSets,
    shared: Arc<Shared>,
}

impl<R> Watch<R> {
    /// Watches the activity on its way to `inner`.
    pub fn new(inner: R, sets: EpochSets, shared: Arc<Shared>) -> Self {
        Self {
            inner,
            sets,
            shared,
        }
    }

    fn skipped(&self, round: Round) {
        let (label, who) = match leader(&self.sets, round) {
            Some((_, Some(account))) => (account.to_string(), format!("account {account}")),
            Some((key, None)) => ("unknown".to_owned(), format!("consensus key {key}")),
            None => ("unknown".to_owned(), "an unknown validator".to_owned()),
        };
        self.shared
            .metrics
            .views_skipped
            .with_label_values(&[label.as_str()])
            .inc();
        eprintln!(
            "{}",
            skipped_line(
                round.epoch().get(),
                round.view().get(),
                self.shared.state().head().height,
                &who
            )
        );
    }
}

impl<R> Reporter for Watch<R>
where
    R: Reporter<Activity = Activity<Scheme, Digest>>,
{
    type Activity = Activity<Scheme, Digest>;

    fn report(&mut self, activity: Self::Activity) -> commonware_actor::Feedback {
        if let Activity::Nullification(n) = &activity {
            self.skipped(n.round);
        }
        self.inner.report(activity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skipped_line_gives_its_height_back() {
        let line = skipped_line(2, 41, 37, "account 00aa");
        assert_eq!(skipped_at(&line), Some(37));
        assert_eq!(
            skipped_at("poai node: stopped at height 40 (1 signatures checked)"),
            None
        );
        assert_eq!(
            skipped_at("relay: block 00 at height 9 misses 5 of 9"),
            None
        );
    }
}
