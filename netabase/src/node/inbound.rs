//! The gate in front of the store: every record and provider record a peer sends is validated
//! here before it is stored (kad runs with `StoreInserts::FilterBoth`, so nothing else stores them).

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libp2p::PeerId;
use libp2p::kad::{ProviderRecord, Record, RecordKey};

use libp2p::request_response::ResponseChannel;

use super::config::MAX_DURATION;
use super::event_loop::EventLoop;
use super::events::NodeEvent;
use super::store_protocol::{StoreRequest, StoreResponse};
use crate::conflict::{Winner, compare_raw_values, winner_from};
use crate::error::{DatabaseError, escape_bytes};
use crate::node_store::NodeStore;
use crate::owned::OwnershipProblem;
use crate::registry::{Rejection, SchemaInfo};

/// Records with less lifetime than this left are refused as expired. kad carries expiry on the
/// wire as whole seconds left and sends a deadline that has already passed as "1 s left", so this
/// is what catches expired records; a genuine record this close to its deadline is not worth
/// storing either.
pub const MIN_INBOUND_TTL: Duration = Duration::from_secs(1);

impl<S: NodeStore> EventLoop<S> {
    /// Checks a record received from a peer: the registry's rules (schema prefix, decoding, size,
    /// expiry with [`MIN_INBOUND_TTL`]) and, for a typed get, the caller's schema.
    pub(crate) fn validate_record(
        &self,
        record: &Record,
        expected_key: Option<&RecordKey>,
        schema: Option<&SchemaInfo>,
        now: Instant,
    ) -> Result<(), Rejection> {
        if let Some(expected) = expected_key.filter(|expected| **expected != record.key) {
            return Err(Rejection::Invalid(DatabaseError::DifferentKeys {
                schema: schema.map_or("<raw record>", SchemaInfo::name),
                local: expected.as_ref().escape_ascii().to_string(),
                network: record.key.as_ref().escape_ascii().to_string(),
            }));
        }
        self.registry
            .validate(record, self.settings.max_value_size, now + MIN_INBOUND_TTL)?;
        // The registry checked the record as its registered schema: a caller asking for the same
        // type is not checked twice (an owned record's signatures cost the most).
        let registered = self.registry.schema_of(record.key.as_ref());
        if let Some(schema) = schema
            && !registered.is_some_and(|registered| registered.same_type(schema))
        {
            schema.check(record).map_err(Rejection::Invalid)?;
        }
        Ok(())
    }

    /// Orders two valid values under `key`: the caller's schema, else the registered schema, else
    /// byte order. A value that does not decode orders first, so a valid one always wins over it.
    /// A get ranks its answers with it; for an unknown schema it stays byte order also under
    /// [`UnknownSchemas::AcceptReplacing`](crate::UnknownSchemas::AcceptReplacing), which decides only a stored value against an incoming
    /// one (a node that does not know the schema cannot tell which answer is right).
    pub(crate) fn compare_values(
        &self,
        key: &RecordKey,
        schema: Option<&SchemaInfo>,
        a: &[u8],
        b: &[u8],
    ) -> Ordering {
        let schema = schema.or_else(|| self.registry.schema_of(key.as_ref()));
        match schema {
            Some(schema) => schema.compare(a, b).unwrap_or_else(|error| {
                tracing::warn!(%error, "a value under {} does not decode", key.as_ref().escape_ascii());
                match (schema.compare(a, a).is_ok(), schema.compare(b, b).is_ok()) {
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    _ => compare_raw_values(a, b),
                }
            }),
            None => compare_raw_values(a, b),
        }
    }

    /// Decides a peer's record against the stored value: the registered schema's rule (see
    /// [`compare_values`](Self::compare_values)), else the registry's [`UnknownSchemas`](crate::UnknownSchemas) policy, as
    /// the store's own `RecordStore::put` decides through `SchemaRegistry::pick_winner`.
    pub(crate) fn inbound_winner(
        &self,
        key: &RecordKey,
        existing: &[u8],
        incoming: &[u8],
    ) -> Winner {
        if self.registry.schema_of(key.as_ref()).is_some() {
            winner_from(self.compare_values(key, None, existing, incoming))
        } else {
            self.registry
                .unknown_schemas()
                .pick_winner(existing, incoming)
        }
    }

    /// The gate for a record a peer sent to be stored (a kad put or the store protocol):
    /// validate, resolve against the stored value, store. Returns the decision, already counted
    /// and reported as a [`NodeEvent`].
    pub(crate) fn admit_record(
        &mut self,
        from: PeerId,
        record: Record,
    ) -> Result<(), Arc<Rejection>> {
        let now = Instant::now();
        let checked = self
            .validate_record(&record, None, None, now)
            .and_then(|()| self.check_replay(&record))
            .and_then(|()| self.check_unique(&record));
        if let Err(reason) = checked {
            return Err(self.reject_record(record.key, from, reason));
        }
        let existing = self
            .store()
            .get(&record.key)
            .map(|existing| existing.into_owned());
        if let Some(existing) = existing.filter(|existing| existing.value != record.value)
            && self.inbound_winner(&record.key, &existing.value, &record.value) == Winner::Existing
        {
            let reason = self.older_write(&record.key);
            return Err(self.reject_record(record.key, from, reason));
        }
        self.store_received(from, record)
    }

    /// Refuses a stale owned write: older than one the store accepted for its key, also one it no
    /// longer holds (expired, swept, removed), or a revoked writer's (the store's high-water
    /// marks). A store that cannot answer lets the record on to the store, whose own write
    /// refuses it the same way.
    pub(crate) fn check_replay(&mut self, record: &Record) -> Result<(), Rejection> {
        match self.store().stale_owned_write(record) {
            Ok(None) => Ok(()),
            Ok(Some(problem)) => Err(self.owned_rejection(&record.key, problem)),
            Err(error) => {
                tracing::warn!(%error, "cannot read the high-water mark of {}", record.key.as_ref().escape_ascii());
                Ok(())
            }
        }
    }

    /// Refuses a record whose unique index value a record with a lower key holds: between
    /// peers' records the lowest key holds it (`netabase_store`'s `indexes.rs`), so the record
    /// lost, whatever the order records arrive in. A store that cannot answer lets the record on
    /// to the store, whose write makes the same decision.
    pub(crate) fn check_unique(&mut self, record: &Record) -> Result<(), Rejection> {
        match self.store().unique_holder(record) {
            Ok(None) => Ok(()),
            Ok(Some(holder)) => {
                tracing::debug!(
                    key = %record.key.as_ref().escape_ascii(),
                    holder = %holder.escape_ascii(),
                    "refusing a record whose unique index value a lower key holds"
                );
                Err(Rejection::LostConflict)
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read the unique indexes for {}", record.key.as_ref().escape_ascii());
                Ok(())
            }
        }
    }

    /// The rejection of an owned record under `key` for `problem`.
    fn owned_rejection(&self, key: &RecordKey, problem: OwnershipProblem) -> Rejection {
        let schema = self
            .registry
            .schema_of(key.as_ref())
            .map_or("<owned record>", SchemaInfo::name);
        Rejection::Invalid(DatabaseError::Ownership {
            schema,
            record_key: escape_bytes(key.as_ref()),
            problem,
        })
    }

    /// Why a record that lost against the stored value is refused: an older write of an owned
    /// record is a replay (or rollback) of what its owner replaced, anything else lost a conflict.
    pub(crate) fn older_write(&self, key: &RecordKey) -> Rejection {
        match self.registry.schema_of(key.as_ref()) {
            Some(schema) if schema.is_owned() => {
                self.owned_rejection(key, OwnershipProblem::Replayed)
            }
            _ => Rejection::LostConflict,
        }
    }

    /// A record sent with the store protocol: the gate decides, then the sender hears what it
    /// decided. Its lifetime is capped at the node's record TTL, as kad caps what it receives.
    pub(crate) fn on_store_request(
        &mut self,
        from: PeerId,
        request: StoreRequest,
        channel: ResponseChannel<StoreResponse>,
    ) {
        let now = Instant::now();
        let key = request.key();
        let decided = match request.into_record(now) {
            Ok(mut record) => {
                let cap = now.checked_add(self.settings.record_ttl.unwrap_or(MAX_DURATION));
                record.expires = capped_expiry(record.expires, cap);
                self.admit_record(from, record)
            }
            // A malformed request is refused like any record: counted and reported.
            Err(rejection) => Err(self.reject_record(key, from, rejection)),
        };
        let response = match decided {
            Ok(()) => StoreResponse::Stored,
            Err(rejection) => StoreResponse::refused(&rejection),
        };
        // The sender may have gone; it then learns nothing, as with any lost answer.
        let _ = self
            .swarm
            .behaviour_mut()
            .store
            .send_response(channel, response);
    }

    /// Stores a validated record that won against the stored value.
    pub(crate) fn store_received(
        &mut self,
        from: PeerId,
        record: Record,
    ) -> Result<(), Arc<Rejection>> {
        let key = record.key.clone();
        // The gate validated it: the store need not decode and verify it again.
        match self.store().put_validated(record, from) {
            Ok(()) => {
                self.stats.records_stored += 1;
                self.emit(NodeEvent::RecordStored { key, from });
                Ok(())
            }
            Err(error) => Err(self.reject_record(key, from, Rejection::Refused(error))),
        }
    }

    /// A provider record a peer announced (kad already checked that the sender is the provider).
    pub(crate) fn on_inbound_provider(&mut self, provider: ProviderRecord) {
        let now = Instant::now();
        let rejection = if provider.is_expired(now) {
            Some(Rejection::Expired)
        } else if !self.registry.unknown_schemas().accepts()
            && self.registry.schema_of(provider.key.as_ref()).is_none()
        {
            Some(Rejection::UnknownSchema)
        } else {
            None
        };
        let (key, peer) = (provider.key.clone(), provider.provider);
        let result = match rejection {
            Some(reason) => Err(reason),
            None => self
                .store()
                .add_provider(provider)
                .map_err(Rejection::Refused),
        };
        match result {
            Ok(()) => {
                self.stats.providers_stored += 1;
                self.emit(NodeEvent::ProviderStored {
                    key,
                    provider: peer,
                });
            }
            Err(reason) => {
                tracing::debug!(key = %key.as_ref().escape_ascii(), %peer, %reason, "rejected a provider record");
                self.stats.providers_rejected.count(&reason);
                self.emit(NodeEvent::ProviderRejected {
                    key,
                    provider: peer,
                    reason: Arc::new(reason),
                });
            }
        }
    }
}

/// `expires` capped at `cap`: the earlier of the two, or whichever is set.
pub(crate) fn capped_expiry(expires: Option<Instant>, cap: Option<Instant>) -> Option<Instant> {
    match (expires, cap) {
        (Some(expires), Some(cap)) => Some(expires.min(cap)),
        (expires, cap) => expires.or(cap),
    }
}
