//! The accounting of one publication at the closest peers of its key: what each peer answered,
//! when the quorum is met, and what the caller is told. Pure bookkeeping, no I/O: the event loop
//! (`queries.rs`) sends the record and feeds the answers in.

use libp2p::PeerId;
use libp2p::kad::{Quorum, Record};

use super::error::NodeError;
use super::ops::{PeerFailure, PeerRefusal, PutReport};
use super::store_protocol::{RefusalReason, truncate};

/// How many peers `quorum` needs when the lookup found `found` closest peers. [`Quorum::N`] is
/// taken as it is, never lowered to the peers found.
pub(crate) fn quorum_size(quorum: Quorum, found: usize) -> usize {
    match quorum {
        Quorum::One => 1,
        Quorum::Majority => found / 2 + 1,
        Quorum::All => found.max(1),
        Quorum::N(n) => n.get(),
    }
}

/// One answer of a peer the record was sent to.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A Netabase peer validated and stored it.
    Stored,
    /// A plain kad peer acknowledged it.
    Acknowledged,
    /// A Netabase peer refused it.
    Refused {
        reason: RefusalReason,
        message: String,
    },
    /// The peer could not be reached or did not answer.
    Unreachable(String),
}

/// A publication in flight: the record, the peers it went to, their answers so far, and whether
/// the caller has been answered.
pub(crate) struct Publication<R> {
    pub(crate) record: Record,
    needed: usize,
    wait_for_all: bool,
    waiting: Vec<PeerId>,
    report: PutReport,
    /// Who waits for the outcome; `None` once answered.
    reply: Option<R>,
}

impl<R> Publication<R> {
    /// A publication of `record` sent to `peers`, answered to `reply` once `quorum` is met (or,
    /// with `wait_for_all`, once every peer answered).
    pub(crate) fn new(
        record: Record,
        peers: Vec<PeerId>,
        quorum: Quorum,
        wait_for_all: bool,
        reply: R,
    ) -> Self {
        let report = PutReport::new(record.key.clone(), record.value.len(), peers.len());
        Publication {
            needed: quorum_size(quorum, peers.len()),
            record,
            wait_for_all,
            waiting: peers,
            report,
            reply: Some(reply),
        }
    }

    /// Records `peer`'s answer. An answer from a peer that was not asked, or that already
    /// answered, is ignored.
    pub(crate) fn on_answer(&mut self, peer: PeerId, answer: Answer) {
        let Some(position) = self.waiting.iter().position(|waiting| *waiting == peer) else {
            return;
        };
        self.waiting.swap_remove(position);
        self.report.unanswered = self.waiting.len();
        let report = &mut self.report;
        match answer {
            Answer::Stored => report.stored.push(peer),
            Answer::Acknowledged => report.acknowledged.push(peer),
            Answer::Refused { reason, message } => report.refused.push(PeerRefusal {
                peer,
                reason,
                message: truncate(message),
            }),
            Answer::Unreachable(reason) => report.unreachable.push(PeerFailure { peer, reason }),
        }
    }

    /// Whether some peer refused the record for `reason`.
    pub(crate) fn refused_for(&self, reason: RefusalReason) -> bool {
        self.report
            .refused
            .iter()
            .any(|refusal| refusal.reason == reason)
    }

    /// Whether every peer has answered, so nothing more will change.
    pub(crate) fn is_finished(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The caller's answer, once it is due and only once: the report when the quorum is met (at
    /// once, or when every peer answered with `wait_for_all`), an error when every peer answered
    /// and the quorum was not met.
    pub(crate) fn take_outcome(&mut self) -> Option<(R, Result<PutReport, NodeError>)> {
        let met = self.report.reached() >= self.needed;
        let due = if self.wait_for_all || !met {
            self.is_finished()
        } else {
            true
        };
        if !due {
            return None;
        }
        let reply = self.reply.take()?;
        Some((reply, self.outcome(met)))
    }

    fn outcome(&self, met: bool) -> Result<PutReport, NodeError> {
        let report = self.report.clone();
        if met {
            Ok(report)
        } else if report.peers_found < self.needed {
            Err(NodeError::QuorumUnreachable {
                needed: self.needed,
                report: Box::new(report),
            })
        } else {
            Err(NodeError::QuorumFailed {
                needed: self.needed,
                report: Box::new(report),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use super::*;
    use libp2p::kad::RecordKey;

    fn publication(peers: &[PeerId], quorum: Quorum, wait_for_all: bool) -> Publication<()> {
        let record = Record::new(RecordKey::new(&b"/netabase/Note/\x01"), b"v".to_vec());
        Publication::new(record, peers.to_vec(), quorum, wait_for_all, ())
    }

    fn peers(n: usize) -> Vec<PeerId> {
        (0..n).map(|_| PeerId::random()).collect()
    }

    #[test]
    fn a_quorum_is_never_lowered_to_the_peers_found() {
        let n = |n| Quorum::N(NonZeroUsize::new(n).expect("non-zero"));
        assert_eq!(quorum_size(n(20), 2), 20);
        assert_eq!(quorum_size(Quorum::One, 0), 1);
        assert_eq!(quorum_size(Quorum::Majority, 5), 3);
        assert_eq!(quorum_size(Quorum::Majority, 4), 3);
        assert_eq!(quorum_size(Quorum::All, 7), 7);
        assert_eq!(quorum_size(Quorum::All, 0), 1);

        let found = peers(2);
        let mut put = publication(&found, n(20), false);
        put.on_answer(found[0], Answer::Stored);
        assert!(put.take_outcome().is_none(), "one peer still to answer");
        put.on_answer(found[1], Answer::Acknowledged);
        let (_, outcome) = put.take_outcome().expect("everyone answered");
        match outcome {
            Err(NodeError::QuorumUnreachable { needed, report }) => {
                assert_eq!((needed, report.peers_found, report.reached()), (20, 2, 2));
            }
            other => panic!("expected QuorumUnreachable, got {other:?}"),
        }
    }

    #[test]
    fn the_caller_hears_at_the_quorum_and_the_rest_keeps_being_counted() {
        let found = peers(3);
        let mut put = publication(&found, Quorum::One, false);
        put.on_answer(found[0], Answer::Stored);
        let (_, outcome) = put.take_outcome().expect("quorum met");
        let report = outcome.expect("met");
        assert_eq!((report.stored.len(), report.unanswered), (1, 2));
        assert!(!report.is_complete());
        assert!(put.take_outcome().is_none(), "answered once");
        assert!(!put.is_finished());
        put.on_answer(found[1], Answer::Unreachable("timeout".into()));
        put.on_answer(found[2], Answer::Stored);
        assert!(put.is_finished());
        assert!(put.take_outcome().is_none());
    }

    #[test]
    fn refusals_do_not_count_and_fail_the_quorum_with_their_reasons() {
        let found = peers(2);
        let mut put = publication(&found, Quorum::One, false);
        for peer in &found {
            put.on_answer(
                *peer,
                Answer::Refused {
                    reason: RefusalReason::LostConflict,
                    message: "x".repeat(10_000),
                },
            );
        }
        match put.take_outcome().expect("everyone answered").1 {
            Err(NodeError::QuorumFailed { needed, report }) => {
                assert_eq!((needed, report.reached(), report.refused.len()), (1, 0, 2));
                assert!(report.refused.iter().all(|r| r.message.len() <= 256));
            }
            other => panic!("expected QuorumFailed, got {other:?}"),
        }
    }

    #[test]
    fn waiting_for_all_answers_once_everyone_did_and_ignores_strangers() {
        let found = peers(2);
        let mut put = publication(&found, Quorum::One, true);
        put.on_answer(found[0], Answer::Stored);
        put.on_answer(found[0], Answer::Stored);
        put.on_answer(PeerId::random(), Answer::Stored);
        assert!(put.take_outcome().is_none(), "waits for the second peer");
        put.on_answer(found[1], Answer::Acknowledged);
        let report = put.take_outcome().expect("complete").1.expect("met");
        assert_eq!((report.stored.len(), report.acknowledged.len()), (1, 1));
        assert!(report.is_complete());
    }

    #[test]
    fn no_peers_found_fails_a_quorum_of_one_at_once() {
        let mut put = publication(&[], Quorum::One, false);
        assert!(matches!(
            put.take_outcome().expect("nothing to wait for").1,
            Err(NodeError::QuorumUnreachable { needed: 1, .. })
        ));
    }
}
