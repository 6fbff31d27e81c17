//! Puts, publications and gets: the queries behind the handle's operations.
//!
//! A publication is two steps: find the closest peers of the key (kad `get_n_closest_peers`),
//! then send the record to each of them: over the store protocol, which a Netabase peer answers
//! after its gate decided, or with a kad `put_record_to` for a plain kad peer (or every peer,
//! under [`Acknowledgements::Kad`]). Doing it in two steps keeps kad from writing the record into
//! the local store a second time (the node already stored it durably, or it is a replica being
//! pushed out by a sync). A [`Publication`] counts the answers.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime};

use libp2p::PeerId;
use libp2p::kad::{self, QueryId, Quorum, Record, RecordKey};
use libp2p::request_response::{OutboundFailure, OutboundRequestId};

use super::command::{GetMode, Reply};
use super::config::{Acknowledgements, MAX_DURATION};
use super::error::NodeError;
use super::event_loop::{
    EventLoop, InFlight, PendingGet, PendingPublish, PublishReply, durability_task,
};
use super::events::{NodeEvent, RejectionCounts};
use super::inbound::{MIN_INBOUND_TTL, capped_expiry};
use super::ops::{Fetched, PutOptions, PutReport, RecordSource};
use super::publication::{Answer, Publication};
use super::store_protocol::{RefusalReason, StoreRequest, StoreResponse};
use crate::conflict::{Winner, winner_from};
use crate::error::{DatabaseError, DatabaseResult};
use crate::node_store::{NodeStore, PendingDurability};
use crate::registry::SchemaInfo;
use crate::tombstone::{deleted_value, payload_len, tombstone_of};

/// The least lifetime a record must have left to be published: one more second than peers demand,
/// since kad rounds the lifetime it sends down to whole seconds.
pub(crate) const MIN_PUBLISH_TTL: Duration = Duration::from_secs(MIN_INBOUND_TTL.as_secs() + 1);

impl<S: NodeStore> EventLoop<S> {
    /// The user's own write: stored locally and scheduled for republication, then published once
    /// it is durable. The local write is visible at once (so inbound records for the key are
    /// resolved against it) and becomes durable on a blocking thread while the closest-peers
    /// lookup runs; the record goes out once both are done (see [`Self::advance_publication`]).
    ///
    /// A write that loses under the schema's conflict rule against the stored value is refused
    /// ([`NodeError::StaleWrite`]): the peers holding the stored value would refuse it too.
    pub(crate) fn put(&mut self, mut record: Record, options: PutOptions, reply: Reply<PutReport>) {
        let size = payload_len(&record.value);
        if size > self.settings.max_value_size {
            let _ = reply.send(Err(NodeError::ValueTooLarge {
                size,
                max: self.settings.max_value_size,
            }));
            return;
        }
        if let Some(error) = expires_too_soon(&record, Instant::now()) {
            let _ = reply.send(Err(error));
            return;
        }
        // An owned write older than one this node accepted (maybe since expired) is stale, as
        // peers would find it. (The store verifies an owned record's signature as it stores it.)
        if self.check_replay(&record).is_err() {
            let _ = reply.send(Err(NodeError::StaleWrite { key: record.key }));
            return;
        }
        match self.store().get_local(&record.key) {
            Ok(Some(stored))
                if stored.value != record.value
                    && self.inbound_winner(&record.key, &stored.value, &record.value)
                        == Winner::Existing =>
            {
                let _ = reply.send(Err(NodeError::StaleWrite { key: record.key }));
                return;
            }
            Ok(_) => {}
            Err(error) => {
                let _ = reply.send(Err(error.into()));
                return;
            }
        }
        record.publisher = Some(self.local_peer());
        let republish_at = self
            .settings
            .republish_interval
            .map(|interval| SystemTime::now() + interval);
        let durability = match self
            .store()
            .put_local_deferred(record.clone(), republish_at)
        {
            Ok(durability) => durability,
            Err(error) => {
                let _ = reply.send(Err(error.into()));
                return;
            }
        };
        self.start_publish(
            record,
            options,
            PublishReply::User(reply),
            durability,
            false,
        );
    }

    /// A delete: the tombstone of `current` (the value a network get resolved to) becomes this
    /// node's own record, stored and published like a put. It expires just after `current` would
    /// have, or after the tombstone TTL for a value without an expiry.
    ///
    /// An owned record is deleted by a signed write of its owner ([`NodeHandle::remove_owned`]),
    /// never by an unsigned tombstone, so for one this fails with
    /// [`DatabaseError::OwnedNeedsSignature`].
    ///
    /// [`NodeHandle::remove_owned`]: crate::NodeHandle::remove_owned
    pub(crate) fn remove(&mut self, current: Record, options: PutOptions, reply: Reply<PutReport>) {
        if let Some(schema) = self.registry.schema_of(current.key.as_ref())
            && schema.is_owned()
        {
            let error = DatabaseError::OwnedNeedsSignature {
                schema: schema.name(),
            };
            let _ = reply.send(Err(error.into()));
            return;
        }
        let now = Instant::now();
        let expires = match current.expires {
            Some(expires) => Some(expires.max(now) + MIN_PUBLISH_TTL),
            None => self
                .settings
                .tombstone_ttl
                .and_then(|ttl| now.checked_add(ttl)),
        };
        self.put(tombstone_of(&current, expires), options, reply);
    }

    /// Starts publishing `record` to the closest peers of its key (a record with no local write to
    /// wait for: a sync or a republication). A record without an expiry is sent with the node's
    /// record TTL, as kad does. A peer refusing it as a lost conflict makes the node fetch the
    /// winner, since its own copy is then stale.
    pub(crate) fn publish(&mut self, record: Record, options: PutOptions, reply: PublishReply) {
        self.start_publish(record, options, reply, PendingDurability::done(), true);
    }

    /// Starts the closest-peers lookup of a publication and, if the local write is not durable
    /// yet, its durability job; the record is sent when both are done.
    fn start_publish(
        &mut self,
        mut record: Record,
        options: PutOptions,
        reply: PublishReply,
        durability: PendingDurability,
        learn: bool,
    ) {
        let now = Instant::now();
        if let Some(error) = expires_too_soon(&record, now) {
            if !durability.is_done() {
                self.durability.push(durability_task(None, durability));
            }
            return self.fail_publish(&record.key, reply, error);
        }
        if record.expires.is_none() {
            record.expires = self.settings.record_ttl.map(|ttl| now + ttl);
        }
        // `get_closest_peers` would look for `K_VALUE` peers; a publication wants the replication
        // factor's worth, as kad's own `put_record` does.
        let replication = self.settings.replication_factor;
        let id = self
            .swarm
            .behaviour_mut()
            .kad
            .get_n_closest_peers(record.key.to_vec(), replication);
        let durable = durability.is_done();
        if !durable {
            self.durability.push(durability_task(Some(id), durability));
        }
        self.pending.closest.insert(
            id,
            PendingPublish {
                record,
                options,
                reply,
                learn,
                durable,
                peers: None,
            },
        );
    }

    pub(crate) fn on_closest_peers(&mut self, id: QueryId, peers: Vec<PeerId>) {
        if let Some(pending) = self.pending.closest.get_mut(&id) {
            pending.peers = Some(peers);
            self.advance_publication(id);
        }
    }

    /// The durability job of a put finished. On success the publication may go out; on failure
    /// the put fails with the store's error and nothing is published.
    pub(crate) fn on_durable(&mut self, query: Option<QueryId>, result: DatabaseResult<()>) {
        let Some(id) = query.filter(|id| self.pending.closest.contains_key(id)) else {
            if let Err(error) = result {
                self.storage_error("a local write could not be made durable", error);
            }
            return;
        };
        match result {
            Ok(()) => {
                if let Some(pending) = self.pending.closest.get_mut(&id) {
                    pending.durable = true;
                }
                self.advance_publication(id);
            }
            Err(error) => {
                let Some(pending) = self.pending.closest.remove(&id) else {
                    return;
                };
                if let Some(mut query) = self.swarm.behaviour_mut().kad.query_mut(&id) {
                    query.finish();
                }
                tracing::error!(%error, key = %pending.record.key.as_ref().escape_ascii(), "a put could not be made durable; not publishing it");
                self.fail_publish(&pending.record.key, pending.reply, error.into());
            }
        }
    }

    /// Sends a publication once its local write is durable **and** its lookup has found the
    /// closest peers; until both hold it waits. This is the only place a put's record goes out,
    /// which is what makes "durable locally, then published" hold while the lookup and the fsync
    /// overlap.
    fn advance_publication(&mut self, id: QueryId) {
        let ready = self
            .pending
            .closest
            .get(&id)
            .is_some_and(|pending| pending.durable && pending.peers.is_some());
        if !ready {
            return;
        }
        let Some(PendingPublish {
            record,
            options,
            reply,
            learn,
            peers,
            ..
        }) = self.pending.closest.remove(&id)
        else {
            return;
        };
        self.send_publication(record, peers.unwrap_or_default(), options, reply, learn);
    }

    /// Sends `record` to each of `peers`: with the store protocol, which a Netabase peer answers
    /// after its gate decided, falling back to a kad put for a peer that does not speak it
    /// ([`Self::on_store_failure`]). The answers are counted by a [`Publication`], which tells the
    /// caller once its quorum is met (or, with [`PutOptions::wait_for_all`], once every peer
    /// answered); the rest are still sent and counted.
    pub(crate) fn send_publication(
        &mut self,
        record: Record,
        peers: Vec<PeerId>,
        options: PutOptions,
        reply: PublishReply,
        learn: bool,
    ) {
        // The lookup can take up to the query timeout. kad sends the time left in whole seconds
        // and reads 0 as "never expires", so a record with under a second left would live on
        // every peer for their whole record TTL: check again now.
        let now = Instant::now();
        if let Some(error) = expires_too_soon(&record, now) {
            return self.fail_publish(&record.key, reply, error);
        }
        // A longer time left would wrap around in kad's `u32` seconds on the wire.
        let mut record = record;
        if let (Some(expires), Some(limit)) = (record.expires, now.checked_add(MAX_DURATION)) {
            record.expires = Some(expires.min(limit));
        }
        let Some(request) = StoreRequest::from_record(&record, now) else {
            return self.fail_publish(&record.key, reply, expires_error(&record.key));
        };
        let id = self.pending.next_publication;
        self.pending.next_publication += 1;
        let validated = self.settings.acknowledgements == Acknowledgements::Validated;
        for peer in &peers {
            if validated {
                let request_id = self
                    .swarm
                    .behaviour_mut()
                    .store
                    .send_request(peer, request.clone());
                self.pending.store_requests.insert(request_id, (id, *peer));
            } else {
                self.send_with_kad(id, *peer, record.clone());
            }
        }
        let background = reply.is_background();
        let publication =
            Publication::new(record, peers, options.quorum, options.wait_for_all, reply);
        self.pending.publications.insert(
            id,
            InFlight {
                publication,
                background,
                learn,
            },
        );
        self.settle_publication(id);
    }

    /// A Netabase peer's answer to a record sent with the store protocol.
    pub(crate) fn on_store_response(
        &mut self,
        request: OutboundRequestId,
        response: StoreResponse,
    ) {
        let Some((id, peer)) = self.pending.store_requests.remove(&request) else {
            return;
        };
        let answer = match response {
            StoreResponse::Stored => Answer::Stored,
            StoreResponse::Refused { reason, message } => Answer::Refused { reason, message },
        };
        self.on_publication_answer(id, peer, answer);
    }

    /// A record sent with the store protocol did not get an answer. A peer that does not speak
    /// the protocol is a plain kad peer: it is sent the record with a kad put instead.
    pub(crate) fn on_store_failure(&mut self, request: OutboundRequestId, error: OutboundFailure) {
        let Some((id, peer)) = self.pending.store_requests.remove(&request) else {
            return;
        };
        if !matches!(error, OutboundFailure::UnsupportedProtocols) {
            return self.on_publication_answer(id, peer, Answer::Unreachable(error.to_string()));
        }
        let Some(in_flight) = self.pending.publications.get(&id) else {
            return;
        };
        let record = in_flight.publication.record.clone();
        if let Some(error) = expires_too_soon(&record, Instant::now()) {
            return self.on_publication_answer(id, peer, Answer::Unreachable(error.to_string()));
        }
        self.send_with_kad(id, peer, record);
    }

    /// Sends a publication's record to one peer with a kad put; its acknowledgement means only
    /// "received".
    fn send_with_kad(&mut self, id: u64, peer: PeerId, record: Record) {
        let query = self.swarm.behaviour_mut().kad.put_record_to(
            record,
            std::iter::once(peer),
            Quorum::One,
        );
        self.pending.kad_puts.insert(query, (id, peer));
    }

    /// The outcome of a kad put to one plain kad peer.
    pub(crate) fn on_put_result(&mut self, query: QueryId, result: kad::PutRecordResult) {
        let Some((id, peer)) = self.pending.kad_puts.remove(&query) else {
            return;
        };
        let answer = match result {
            Ok(_) => Answer::Acknowledged,
            Err(kad::PutRecordError::Timeout { .. }) => {
                Answer::Unreachable("no kad acknowledgement within the query timeout".into())
            }
            Err(error) => Answer::Unreachable(format!("kad put failed: {error}")),
        };
        self.on_publication_answer(id, peer, answer);
    }

    fn on_publication_answer(&mut self, id: u64, peer: PeerId, answer: Answer) {
        if let Some(in_flight) = self.pending.publications.get_mut(&id) {
            in_flight.publication.on_answer(peer, answer);
            self.settle_publication(id);
        }
    }

    /// Answers a publication's caller once its outcome is due, and forgets the publication (and
    /// releases its background budget) once every peer answered.
    fn settle_publication(&mut self, id: u64) {
        let Some(in_flight) = self.pending.publications.get_mut(&id) else {
            return;
        };
        let outcome = in_flight.publication.take_outcome();
        let key = in_flight.publication.record.key.clone();
        let finished = in_flight.publication.is_finished();
        let background = in_flight.background;
        let stale = in_flight.learn
            && in_flight
                .publication
                .refused_for(RefusalReason::LostConflict);
        if let Some((reply, result)) = outcome {
            self.finish_publish(&key, reply, result);
        }
        if finished {
            self.pending.publications.remove(&id);
            if background {
                self.release_background_query();
            }
            if stale {
                self.learn_winner(key);
            }
        }
    }

    /// Fetches the network's winner under `key` after peers refused this node's republication (or
    /// sync) of it as a lost conflict: the lookup stores the winner (a newer value, or the tombstone of a
    /// delete) in place of the stale local value, so this node stops republishing what was
    /// replaced or deleted. No one waits for the answer.
    fn learn_winner(&mut self, key: RecordKey) {
        tracing::debug!(key = %key.as_ref().escape_ascii(), "peers hold a winner over this node's value; fetching it");
        let (reply, _) = tokio::sync::oneshot::channel();
        self.get(key, None, GetMode::Network, reply);
    }

    /// A publication failed before it was sent to any peer.
    fn fail_publish(&mut self, key: &RecordKey, reply: PublishReply, error: NodeError) {
        let background = reply.is_background();
        self.finish_publish(key, reply, Err(error));
        if background {
            self.release_background_query();
        }
    }

    /// A republication, repair or handoff is done: its place in the background budget is free,
    /// and a republish backlog or a handoff walk that waits for the budget takes it at once.
    fn release_background_query(&mut self) {
        self.background_queries = self.background_queries.saturating_sub(1);
        if self.republish_backlog {
            self.timers.republish.reset_immediately();
        }
        if self.handoff.pending()
            && let Some(timer) = &mut self.timers.handoff
        {
            timer.reset_immediately();
        }
    }

    /// Tells whoever waits for a publication how it went.
    fn finish_publish(
        &mut self,
        key: &RecordKey,
        reply: PublishReply,
        result: Result<PutReport, NodeError>,
    ) {
        match reply {
            PublishReply::User(reply) => {
                let _ = reply.send(result);
            }
            PublishReply::Repair => {}
            PublishReply::Handoff => match result {
                Ok(_) => self.stats.handed_off += 1,
                Err(error) => {
                    self.stats.handoff_failed += 1;
                    tracing::debug!(key = %key.as_ref().escape_ascii(), %error, "no newcomer stored a handed-over record");
                }
            },
            PublishReply::Republish => {
                let ok = result.is_ok();
                if ok {
                    self.stats.republished += 1;
                } else {
                    self.stats.republish_failed += 1;
                    tracing::debug!(key = %key.as_ref().escape_ascii(), "republish did not reach its quorum");
                }
                self.emit(NodeEvent::Republished {
                    key: key.clone(),
                    ok,
                });
            }
        }
    }

    /// A get: the local record answers at once unless the caller wants the network's view; else a
    /// lookup collects answers, which are validated and resolved together with the local record.
    pub(crate) fn get(
        &mut self,
        key: RecordKey,
        schema: Option<SchemaInfo>,
        mode: GetMode,
        reply: Reply<Fetched>,
    ) {
        let local = match self.store().get_local(&key) {
            Ok(local) => local,
            Err(error) => {
                let _ = reply.send(Err(error.into()));
                return;
            }
        };
        // A local record that does not decode as the caller's schema never reaches it.
        let local = local.filter(|record| match &schema {
            Some(schema) => schema.check(record).is_ok(),
            None => true,
        });
        if let (GetMode::LocalFirst, Some(record)) = (mode, &local) {
            if self.is_deleted(record, schema.as_ref()) {
                let _ = reply.send(Err(NodeError::NotFound {
                    key,
                    deleted: true,
                    refused: Box::default(),
                }));
                return;
            }
            let _ = reply.send(Ok(Fetched {
                record: record.clone(),
                source: RecordSource::Local,
                stored_locally: false,
                queried_peers: 0,
            }));
            return;
        }
        let wanted = match mode {
            GetMode::LocalFirst => self.settings.get_quorum.get(),
            GetMode::Network => usize::MAX,
        };
        let id = self.swarm.behaviour_mut().kad.get_record(key.clone());
        self.pending.gets.insert(
            id,
            PendingGet {
                key,
                schema,
                best: local.map(|record| (None, record)),
                holders: Vec::new(),
                stale: Vec::new(),
                answered: 0,
                refused: RejectionCounts::default(),
                wanted,
                queried: 0,
                reply,
            },
        );
    }

    pub(crate) fn on_get_progress(
        &mut self,
        id: QueryId,
        result: kad::GetRecordResult,
        stats: kad::QueryStats,
    ) {
        if let Some(pending) = self.pending.gets.get_mut(&id) {
            pending.queried = stats.num_requests();
        }
        match result {
            Ok(kad::GetRecordOk::FoundRecord(kad::PeerRecord {
                peer: Some(peer),
                record,
            })) => self.on_get_answer(id, peer, record),
            // The local store's answer: the pending get already holds it.
            Ok(kad::GetRecordOk::FoundRecord(kad::PeerRecord { peer: None, .. })) => {}
            Ok(kad::GetRecordOk::FinishedWithNoAdditionalRecord { cache_candidates }) => {
                self.resolve_get(id, cache_candidates.into_values().collect(), false);
            }
            Err(kad::GetRecordError::NotFound { .. }) => self.resolve_get(id, Vec::new(), false),
            Err(kad::GetRecordError::Timeout { .. }) => self.resolve_get(id, Vec::new(), true),
        }
    }

    fn on_get_answer(&mut self, id: QueryId, peer: PeerId, record: Record) {
        let Some(pending) = self.pending.gets.get(&id) else {
            return;
        };
        let now = Instant::now();
        let checked = self
            .validate_record(&record, Some(&pending.key), pending.schema.as_ref(), now)
            .and_then(|()| self.check_replay(&record));
        if let Err(reason) = checked {
            if let Some(pending) = self.pending.gets.get_mut(&id) {
                pending.refused.count(&reason);
            }
            self.reject_record(record.key, peer, reason);
            return;
        }
        let Some(pending) = self.pending.gets.get(&id) else {
            return;
        };
        let wins = match &pending.best {
            None => Some(true),
            Some((_, best)) if best.value == record.value => Some(false),
            Some((_, best)) => {
                let order = self.compare_values(
                    &pending.key,
                    pending.schema.as_ref(),
                    &best.value,
                    &record.value,
                );
                (winner_from(order) == Winner::Incoming).then_some(true)
            }
        };
        let Some(pending) = self.pending.gets.get_mut(&id) else {
            return;
        };
        match wins {
            // A new best: whoever held the previous one is now stale.
            Some(true) => {
                pending.stale.append(&mut pending.holders);
                pending.holders.push(peer);
                pending.best = Some((Some(peer), record));
            }
            // The best value again.
            Some(false) => pending.holders.push(peer),
            None => pending.stale.push(peer),
        }
        pending.answered += 1;
        if pending.answered >= pending.wanted
            && let Some(mut query) = self.swarm.behaviour_mut().kad.query_mut(&id)
        {
            query.finish();
        }
    }

    /// Picks the winner among the local record and the answers, stores it if it came from a peer,
    /// pushes it to peers that answered with a losing value (and to kad's cache candidates), and
    /// answers the caller.
    fn resolve_get(&mut self, id: QueryId, cache_candidates: Vec<PeerId>, timed_out: bool) {
        let Some(pending) = self.pending.gets.remove(&id) else {
            return;
        };
        let PendingGet {
            key,
            schema,
            best,
            stale,
            refused,
            queried,
            reply,
            ..
        } = pending;
        let Some((source, mut winner)) = best else {
            let error = if timed_out {
                NodeError::Timeout {
                    operation: "get",
                    after: self.settings.query_timeout,
                }
            } else {
                NodeError::NotFound {
                    key,
                    deleted: false,
                    refused: Box::new(refused),
                }
            };
            let _ = reply.send(Err(error));
            return;
        };
        let mut stored_locally = false;
        if let Some(peer) = source {
            // A copy received from a peer lives no longer than this node's TTL, as with puts.
            let cap = self.settings.record_ttl.map(|ttl| Instant::now() + ttl);
            winner.expires = capped_expiry(winner.expires, cap);
            stored_locally = self.store_received(peer, winner.clone()).is_ok();
        }
        // Peers holding a different value are repaired only when this node knows the key's schema:
        // for an unknown schema its pick is byte order, which may be wrong for the schema, and a
        // peer that accepts replacements would take it over a newer value. Peers that hold
        // nothing (kad's cache candidates) lose nothing by receiving it.
        let knows_schema = self.registry.schema_of(key.as_ref()).is_some();
        let stale: BTreeSet<PeerId> = stale
            .into_iter()
            .filter(|_| knows_schema)
            .chain(cache_candidates)
            .filter(|peer| Some(*peer) != source)
            .collect();
        if !stale.is_empty() && expires_too_soon(&winner, Instant::now()).is_none() {
            if self.background_queries < self.settings.max_background_queries {
                tracing::debug!(key = %key.as_ref().escape_ascii(), peers = stale.len(), "pushing the winning record to peers without it");
                self.background_queries += 1;
                self.send_publication(
                    winner.clone(),
                    stale.into_iter().collect(),
                    PutOptions::new(Quorum::One),
                    PublishReply::Repair,
                    false,
                );
            } else {
                // The next sync or get of the key repairs them.
                tracing::debug!(key = %key.as_ref().escape_ascii(), "background query budget spent; not repairing stale replicas now");
            }
        }
        // A tombstone won: the value was removed. It is stored and repaired like any winner,
        // so the delete spreads to every peer that answered, and the caller hears NotFound.
        if self.is_deleted(&winner, schema.as_ref()) {
            let _ = reply.send(Err(NodeError::NotFound {
                key,
                deleted: true,
                refused: Box::new(refused),
            }));
            return;
        }
        let _ = reply.send(Ok(Fetched {
            record: winner,
            source: source.map_or(RecordSource::Local, RecordSource::Peer),
            stored_locally,
            queried_peers: queried,
        }));
    }

    /// Whether `record` is a tombstone: by its schema (the caller's, else the registered one),
    /// else by its bytes alone (a schema this node does not know).
    fn is_deleted(&self, record: &Record, schema: Option<&SchemaInfo>) -> bool {
        match schema.or_else(|| self.registry.schema_of(record.key.as_ref())) {
            Some(schema) => schema.is_tombstone(&record.value),
            None => deleted_value(&record.value).is_some(),
        }
    }
}

/// The error for a record that expires before it could usefully be published.
fn expires_too_soon(record: &Record, now: Instant) -> Option<NodeError> {
    let expires = record.expires?;
    (expires < now + MIN_PUBLISH_TTL).then(|| expires_error(&record.key))
}

fn expires_error(key: &RecordKey) -> NodeError {
    NodeError::ExpiresTooSoon {
        key: key.clone(),
        min: MIN_PUBLISH_TTL,
    }
}
