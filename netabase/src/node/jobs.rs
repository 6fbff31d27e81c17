//! The node's periodic jobs: republishing its own records from the store's schedule, handing
//! records to peers that joined among their closest, sweeping expired records, and committing the
//! records received from peers.

use std::time::{Instant, SystemTime};

use libp2p::PeerId;
use libp2p::kad::{KBucketKey, Quorum};

use super::event_loop::{EventLoop, PublishReply, durability_task};
use super::events::NodeEvent;
use super::handoff::{HANDOFF_PAGE, Left, hands_off};
use super::ops::PutOptions;
use super::queries::MIN_PUBLISH_TTL;
use crate::node_store::NodeStore;

impl<S: NodeStore> EventLoop<S> {
    /// Republishes the records whose time has come, as many as the background query budget and
    /// the republish rate allow. When either was the limit, the job runs again as soon as it can
    /// take more (a publication finishes, or the rate allows the next one), so a backlog (a large
    /// store, or a node back from downtime) is worked off at the configured rate, not one budget
    /// per check interval. Each record is rescheduled before it is sent, so it is never
    /// republished twice for one due time, also across a restart.
    pub(crate) fn run_republish_job(&mut self) {
        let Some(interval) = self.settings.republish_interval else {
            return;
        };
        let in_flight_budget = self
            .settings
            .max_background_queries
            .saturating_sub(self.background_queries);
        let instant = Instant::now();
        if self.republish_rate.is_some() {
            // Never so slow that the schedule outgrows the interval: the whole of it fits in half.
            let scheduled = match self.store().scheduled_for_republish() {
                Ok(scheduled) => scheduled as f64,
                Err(error) => {
                    return self.storage_error("cannot read the republish schedule", error);
                }
            };
            let needed = 2.0 * scheduled / interval.as_secs_f64().max(f64::MIN_POSITIVE);
            if let Some(rate) = &mut self.republish_rate {
                rate.keep_up_with(instant, needed);
            }
        }
        let budget = match &mut self.republish_rate {
            Some(rate) => rate.take(instant, in_flight_budget),
            None => in_flight_budget,
        };
        if budget == 0 {
            if in_flight_budget > 0 {
                self.resume_republishing_when_the_rate_allows();
            }
            return;
        }
        let now = SystemTime::now();
        let due = match self.store().due_for_republish(now, budget) {
            Ok(due) => due,
            Err(error) => return self.storage_error("cannot read the republish schedule", error),
        };
        self.republish_backlog = due.len() >= budget;
        // One write for the whole run: each record is rescheduled before it is sent.
        let keys: Vec<_> = due.iter().map(|record| record.key.clone()).collect();
        if let Err(error) = self.store().schedule_republish_all(&keys, now + interval) {
            return self.storage_error("cannot reschedule the republications", error);
        }
        let mut started = 0;
        for record in due {
            // A record about to expire is left to expire rather than republished.
            if record
                .expires
                .is_some_and(|expires| expires < instant + MIN_PUBLISH_TTL)
            {
                continue;
            }
            started += 1;
            self.background_queries += 1;
            self.publish(
                record,
                PutOptions::new(Quorum::One),
                PublishReply::Republish,
            );
        }
        if let Some(rate) = &mut self.republish_rate {
            rate.give_back(budget - started);
        }
        if self.republish_backlog {
            self.resume_republishing_when_the_rate_allows();
        }
    }

    /// With a backlog, runs the republish job again when the rate allows the next publication
    /// (a publication finishing also runs it, for the in-flight budget).
    fn resume_republishing_when_the_rate_allows(&mut self) {
        if let Some(rate) = &self.republish_rate {
            let at = tokio::time::Instant::from_std(rate.next_start());
            self.timers.republish.reset_at(at);
        }
    }

    /// One step of handing records to the peers that entered the routing table (see
    /// `handoff.rs`): reads a page of the store and sends each record to the newcomers
    /// [`hands_off`] picks, as one background publication per record, no more than the
    /// background budget has room for. A full page means more to read: the next step runs as
    /// soon as the loop has served what is waiting. With the budget spent (before or within the
    /// page), the walk waits for a background query to finish, then goes on from the first record
    /// it did not send.
    pub(crate) fn run_handoff_job(&mut self) {
        if self.background_queries >= self.settings.max_background_queries {
            return;
        }
        let Some(mut walk) = self.handoff.next_walk() else {
            return;
        };
        let page = match self
            .store()
            .records_page(walk.after.as_ref(), &[], HANDOFF_PAGE)
        {
            Ok(page) => page,
            Err(error) => return self.storage_error("cannot read records to hand over", error),
        };
        let local = KBucketKey::from(self.local_peer());
        let known: Vec<KBucketKey<PeerId>> = self
            .swarm
            .behaviour_mut()
            .kad
            .kbuckets()
            .flat_map(|bucket| {
                bucket
                    .iter()
                    .map(|entry| *entry.node.key)
                    .collect::<Vec<_>>()
            })
            .collect();
        let replication = self.settings.replication_factor.get();
        let budget = self
            .settings
            .max_background_queries
            .saturating_sub(self.background_queries);
        let instant = Instant::now();
        let registry = &self.registry;
        let (sends, left) = walk.step(page, budget, |newcomers, record| {
            // A record of a schema this node does not know is not handed over, as it is not
            // repaired (`queries.rs`): a newcomer that already holds a newer value and accepts
            // replacements for unknown schemas would take this one over it.
            if record
                .expires
                .is_some_and(|expires| expires < instant + MIN_PUBLISH_TTL)
                || registry.schema_of(record.key.as_ref()).is_none()
            {
                return Vec::new();
            }
            let key = KBucketKey::from(record.key.clone());
            newcomers
                .iter()
                .filter(|newcomer| hands_off(&key, &local, newcomer, &known, replication))
                .map(|newcomer| *newcomer.preimage())
                .collect()
        });
        for (record, peers) in sends {
            self.background_queries += 1;
            self.send_publication(
                record,
                peers,
                PutOptions::new(Quorum::One),
                PublishReply::Handoff,
                false,
            );
        }
        match left {
            Left::Nothing => {}
            Left::NextPage => {
                self.handoff.resume(walk);
                if let Some(timer) = &mut self.timers.handoff {
                    timer.reset_immediately();
                }
            }
            Left::Budget => self.handoff.resume(walk),
        }
    }

    /// Removes a batch of expired records from the store. Expired records are never served in
    /// between: the store checks deadlines on every read. A full batch means more may be waiting:
    /// the next batch runs as soon as the loop has served the swarm and the commands that are
    /// ready, so a large backlog never holds the swarm up for longer than one batch.
    pub(crate) fn run_expiry_job(&mut self) {
        let batch = self.settings.expiry_sweep_batch;
        match self.store().remove_expired_batch(Instant::now(), batch) {
            Ok(0) => {}
            Ok(count) => {
                self.stats.records_expired += count as u64;
                tracing::debug!(count, "removed expired records");
                self.emit(NodeEvent::RecordsExpired { count });
                if count >= batch {
                    self.timers.expiry.reset_immediately();
                }
            }
            Err(error) => self.storage_error("expiry sweep failed", error),
        }
    }

    /// Commits the records received since the last flush on a blocking thread (one flush at a
    /// time: a flush still running covers this tick), and reports storage errors the store's
    /// `RecordStore` methods met since the last check.
    pub(crate) fn run_flush_job(&mut self) {
        if self.flushing.is_none() {
            match self.store().flush_deferred() {
                Ok(job) if job.is_done() => {}
                Ok(job) => self.flushing = Some(durability_task(None, job)),
                Err(error) => self.storage_error("cannot commit received records", error),
            }
        }
        let store_errors = self.store().storage_errors();
        if store_errors > self.store_errors_seen {
            let new = store_errors - self.store_errors_seen;
            self.store_errors_seen = store_errors;
            let message =
                format!("the store met {new} storage errors in kad operations; see its log");
            tracing::error!("{message}");
            self.emit(NodeEvent::StorageError { message });
        }
    }
}
