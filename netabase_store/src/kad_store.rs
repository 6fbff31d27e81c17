//! kad's `RecordStore` on the redb file: what the swarm reads and writes.

use std::time::{Duration, Instant};

use libp2p::PeerId;
use libp2p::kad::store::{Error, RecordStore, Result};
use libp2p::kad::{ProviderRecord, Record, RecordKey};
use netabase::Winner;

use crate::clock::Now;
use crate::config::Durability;
use crate::providers::{AddError, ProviderTables, get_providers};
use crate::records::{NewRecord, RecordTables, WriteError, entry_of};
use crate::scan::{ProvidedIter, RecordsIter};
use crate::store::RedbStore;

/// The least lifetime a record must have left for `RecordStore::get` to return it (2 s): at
/// least one whole second when kad encodes it for a peer, with a second's margin for the time
/// between the read and the encoding.
pub const MIN_SERVED_TTL: Duration = Duration::from_secs(netabase::MIN_INBOUND_TTL.as_secs() + 1);

/// Whether the caller already checked a record against the store's schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checked {
    /// It did: a node's gate validated the record with a registry that holds the store's.
    Yes,
    /// It did not: check it here.
    No,
}

impl RedbStore {
    /// `RecordStore::put`, skipping the schema check (decoding and, for owned schemas, signature
    /// verification) when the caller made it already.
    /// `sender`, when known, is the peer that delivered the record (its quota is charged).
    pub(crate) fn put_from_peer(
        &mut self,
        record: Record,
        checked: Checked,
        sender: Option<PeerId>,
    ) -> Result<()> {
        let sender = sender.map(|peer| peer.to_bytes());
        let limits = self.inner.config.limits;
        if netabase::tombstone::payload_len(&record.value) > limits.max_value_bytes {
            return Err(Error::ValueTooLarge);
        }
        let now = Now::read();
        if record.is_expired(now.instant()) {
            tracing::debug!(key = ?record.key, "not storing an already expired record");
            return Ok(());
        }
        let registry = &self.inner.registry;
        if checked == Checked::No
            && let Some(schema) = registry.schema_of(record.key.as_ref())
            && let Err(error) = schema.check(&record)
        {
            self.inner.reject();
            tracing::warn!(
                key = ?record.key,
                schema = schema.name(),
                %error,
                "not storing a record that does not decode as its schema"
            );
            return Ok(());
        }
        match self.inner.stale_write(record.key.as_ref(), &record.value) {
            Ok(None) => {}
            Ok(Some(problem)) => {
                self.inner.reject();
                tracing::debug!(key = ?record.key, %problem, "not storing a stale owned write");
                return Ok(());
            }
            Err(error) => {
                self.inner.report("RecordStore::put", &error);
                return Ok(());
            }
        }
        let (entry, expires_ms) = match entry_of(&record, &now) {
            Ok(entry) => entry,
            Err(error) => {
                self.inner.report("RecordStore::put", &error);
                return Ok(());
            }
        };
        let key = record.key.as_ref();
        let new = NewRecord {
            key,
            entry: &entry,
            expires_ms,
            sender: sender.as_deref(),
        };
        let pick = |existing: &[u8], incoming: &[u8]| {
            // The incoming value decodes (checked above), so an error means the stored one does
            // not: the incoming record replaces it, and we say so.
            registry
                .pick_winner(key, existing, incoming)
                .unwrap_or_else(|error| {
                    tracing::warn!(
                        key = ?record.key,
                        %error,
                        "replacing a stored value that does not decode"
                    );
                    Winner::Incoming
                })
        };
        let durability = self.inner.config.network_durability;
        // Grouped: buffered until the group commit (see `inbox.rs`), unless the store may be full.
        let buffered = match durability {
            Durability::Grouped => self.inner.put_buffered(&new, &record.value, &now, pick),
            Durability::Immediate => Ok(false),
        };
        let written = match buffered {
            Ok(true) => Ok(()),
            Ok(false) => self.inner.write(durability, |txn| {
                RecordTables::open_for_peers(txn, self.inner.write_policy())?
                    .resolve(&new, &record.value, limits.max_records, &now, pick)
                    .map(drop)
            }),
            Err(error) => Err(error),
        };
        match written {
            Ok(()) => Ok(()),
            // kad has no error for a quota; a full quota is a full store to the sender.
            Err(WriteError::MaxRecords | WriteError::Quota(_)) => Err(Error::MaxRecords),
            Err(WriteError::Stale { .. }) => {
                self.inner.reject();
                Ok(())
            }
            // A unique index value a lower record key holds: refused, as every replica does.
            Err(WriteError::Unique(taken)) => {
                self.inner.reject();
                tracing::debug!(key = ?record.key, index = taken.index, "not storing a record whose unique index value a lower key holds");
                Ok(())
            }
            Err(WriteError::Store(error)) => {
                self.inner.report("RecordStore::put", &error);
                Ok(())
            }
        }
    }
}

/// The store as kad's record store. Writes use the network durability (grouped by default, see
/// `docs/durability.md`); storage errors, which kad's error type cannot carry, are logged and
/// counted in [`RedbStore::storage_error_count`].
///
/// Differences from `MemoryStore` (all deliberate, see `docs/store-layout.md`):
/// - expired records and provider records are never returned, and an already expired record or
///   provider record given to `put` / `add_provider` is not stored;
/// - `get` does not return a record with less than [`MIN_SERVED_TTL`] left: kad sends what `get`
///   returns to peers with its lifetime in whole seconds, and rounds under a second to 0, which
///   on the wire means "never expires";
/// - `put` resolves a conflict with the stored value by the registered schema's rule, else the
///   registry's `UnknownSchemas` policy (byte order, or a different value replaces under
///   `AcceptReplacing`): a losing record is not stored; equal values merge into the later
///   expiry and the greater publisher, whatever their order;
/// - a record whose key has a registered schema's prefix but does not decode as that schema is
///   not stored (counted in [`RedbStore::rejected_record_count`]);
/// - `max_value_bytes` is inclusive (`MemoryStore` refuses a value of exactly that size);
/// - expired provider records make room for live ones under `max_providers_per_key` and
///   `max_provided_keys` (`MemoryStore` counts them until they are removed);
/// - `providers` are ordered by provider peer id, `records` by key.
impl RecordStore for RedbStore {
    type RecordsIter<'a> = RecordsIter<'a>;
    type ProvidedIter<'a> = ProvidedIter<'a>;

    fn get(&self, key: &RecordKey) -> Option<std::borrow::Cow<'_, Record>> {
        match self.read_record(key.as_ref()) {
            Ok(record) => {
                let served_until = Instant::now() + MIN_SERVED_TTL;
                record
                    .filter(|record| record.expires.is_none_or(|at| at >= served_until))
                    .map(std::borrow::Cow::Owned)
            }
            Err(error) => {
                self.inner.report("RecordStore::get", &error);
                None
            }
        }
    }

    fn put(&mut self, record: Record) -> Result<()> {
        self.put_from_peer(record, Checked::No, None)
    }

    fn remove(&mut self, key: &RecordKey) {
        let removed = self
            .inner
            .write(self.inner.config.network_durability, |txn| {
                RecordTables::open(txn, self.inner.write_policy())?.remove(key.as_ref())
            });
        if let Err(error) = removed {
            self.inner.report("RecordStore::remove", &error);
        }
    }

    fn records(&self) -> Self::RecordsIter<'_> {
        RecordsIter::new(self.inner.clone())
    }

    fn add_provider(&mut self, record: ProviderRecord) -> Result<()> {
        let now = Now::read();
        if record.is_expired(now.instant()) {
            tracing::debug!(key = ?record.key, "not storing an already expired provider record");
            return Ok(());
        }
        let limits = self.inner.config.limits;
        let local = self.inner.local_peer_id();
        let added = self
            .inner
            .write(self.inner.config.network_durability, |txn| {
                ProviderTables::open(txn)?.add(
                    &record,
                    local.as_ref(),
                    limits.max_provided_keys,
                    limits.max_providers_per_key,
                    &now,
                )
            });
        match added {
            Ok(()) => Ok(()),
            Err(AddError::MaxProvidedKeys) => Err(Error::MaxProvidedKeys),
            Err(AddError::Store(error)) => {
                self.inner.report("RecordStore::add_provider", &error);
                Ok(())
            }
        }
    }

    fn providers(&self, key: &RecordKey) -> Vec<ProviderRecord> {
        let read = || {
            get_providers(&self.inner.read()?, key.as_ref(), &Now::read(), |damaged| {
                self.inner.report("RecordStore::providers", &damaged)
            })
        };
        read().unwrap_or_else(|error| {
            self.inner.report("RecordStore::providers", &error);
            Vec::new()
        })
    }

    fn provided(&self) -> Self::ProvidedIter<'_> {
        ProvidedIter::new(self.inner.clone())
    }

    fn remove_provider(&mut self, key: &RecordKey, provider: &PeerId) {
        let provider = provider.to_bytes();
        let removed = self
            .inner
            .write(self.inner.config.network_durability, |txn| {
                ProviderTables::open(txn)?.remove(key.as_ref(), &provider)
            });
        if let Err(error) = removed {
            self.inner.report("RecordStore::remove_provider", &error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::ReadableDatabase;

    use crate::tables;

    fn record(key: &str, value: &str) -> Record {
        Record::new(RecordKey::new(&key), value.as_bytes().to_vec())
    }

    /// Whether redb itself (not the inbox) holds a row under `key`.
    fn committed(store: &RedbStore, key: &str) -> bool {
        let txn = store.inner.db.begin_read().expect("read");
        let records = txn.open_table(tables::RECORDS).expect("records table");
        records.get(key.as_bytes()).expect("get").is_some()
    }

    fn value_of(store: &RedbStore, key: &str) -> Option<Vec<u8>> {
        RecordStore::get(store, &RecordKey::new(&key)).map(|record| record.value.clone())
    }

    #[test]
    fn records_from_peers_wait_in_the_inbox_yet_every_read_sees_them() {
        let mut store = RedbStore::in_memory().expect("store");
        RecordStore::put(&mut store, record("/app/a", "1")).expect("put");
        assert!(
            !committed(&store, "/app/a"),
            "no write transaction per record"
        );
        assert_eq!(value_of(&store, "/app/a"), Some(b"1".to_vec()));
        assert_eq!(store.pending_writes(), 1);
        // Any other read commits the inbox first.
        assert_eq!(store.record_count().expect("count"), 1);
        assert!(committed(&store, "/app/a"));
        assert_eq!(store.pending_writes(), 1, "committed, not yet durable");
        store.flush().expect("flush");
        assert_eq!(store.pending_writes(), 0);
    }

    #[test]
    fn inbox_readers_do_not_wait_for_a_write_in_progress() {
        let mut store = RedbStore::in_memory().expect("store");
        RecordStore::put(&mut store, record("/app/a", "1")).expect("put");
        // A writer holds the write lock (as during a commit's fsync); a reader on another thread
        // still answers from the inbox. The bound only keeps a regression from hanging the test.
        let writing = store.inner.lock_writer();
        let reader = store.clone();
        let (sender, answer) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let value = value_of(&reader, "/app/a");
            let local = netabase::NodeStore::get_local(&reader, &RecordKey::new(&"/app/a"))
                .expect("get_local")
                .map(|record| record.value);
            let _ = sender.send((value, local));
        });
        let (value, local) = answer
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the readers answer while the write lock is held");
        drop(writing);
        assert_eq!(value, Some(b"1".to_vec()));
        assert_eq!(local, Some(b"1".to_vec()));
    }

    #[test]
    fn a_buffered_record_meets_later_copies_under_the_conflict_rule() {
        let mut store = RedbStore::in_memory().expect("store");
        RecordStore::put(&mut store, record("/app/a", "m")).expect("put");
        // Byte order for a key of no registered schema: a smaller value loses, a greater wins.
        RecordStore::put(&mut store, record("/app/a", "c")).expect("put");
        assert_eq!(value_of(&store, "/app/a"), Some(b"m".to_vec()));
        RecordStore::put(&mut store, record("/app/a", "x")).expect("put");
        assert_eq!(value_of(&store, "/app/a"), Some(b"x".to_vec()));
        // The same against a committed record, and through a write that commits the inbox.
        store.flush().expect("flush");
        RecordStore::put(&mut store, record("/app/a", "b")).expect("put");
        assert_eq!(value_of(&store, "/app/a"), Some(b"x".to_vec()));
        RecordStore::remove(&mut store, &RecordKey::new(&"/app/a"));
        assert_eq!(value_of(&store, "/app/a"), None);
    }

    #[test]
    fn buffered_new_keys_count_toward_max_records() {
        let mut store = RedbStore::builder()
            .set_max_records(2)
            .in_memory()
            .expect("store");
        RecordStore::put(&mut store, record("/app/a", "1")).expect("put");
        RecordStore::put(&mut store, record("/app/b", "1")).expect("put");
        assert!(matches!(
            RecordStore::put(&mut store, record("/app/c", "1")),
            Err(Error::MaxRecords)
        ));
        // Replacing a buffered key needs no room.
        RecordStore::put(&mut store, record("/app/b", "2")).expect("replace");
        assert_eq!(store.record_count().expect("count"), 2);
        assert_eq!(value_of(&store, "/app/b"), Some(b"2".to_vec()));
        assert_eq!(value_of(&store, "/app/c"), None);
    }

    #[test]
    fn the_last_handle_writes_the_inbox_before_the_file_closes() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("store.redb");
        let mut store = RedbStore::create(&path).expect("create");
        RecordStore::put(&mut store, record("/app/a", "1")).expect("put");
        drop(store);
        let store = RedbStore::open(&path).expect("reopen");
        assert_eq!(value_of(&store, "/app/a"), Some(b"1".to_vec()));
    }
}
