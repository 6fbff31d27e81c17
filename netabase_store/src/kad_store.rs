//! kad's `RecordStore` on the redb file: what the swarm reads and writes.

use libp2p::PeerId;
use libp2p::kad::store::{Error, RecordStore, Result};
use libp2p::kad::{ProviderRecord, Record, RecordKey};
use netabase::Winner;

use crate::clock::Now;
use crate::providers::{AddError, ProviderTables, get_providers};
use crate::records::{NewRecord, RecordTables, WriteError, entry_of, get_record};
use crate::scan::{ProvidedIter, RecordsIter};
use crate::store::RedbStore;

/// The store as kad's record store. Writes use the network durability (grouped by default, see
/// `docs/durability.md`); storage errors, which kad's error type cannot carry, are logged and
/// counted in [`RedbStore::storage_error_count`].
///
/// Differences from `MemoryStore` (all deliberate, see `docs/store-layout.md`):
/// - expired records and provider records are never returned, and an already expired record or
///   provider record given to `put` / `add_provider` is not stored;
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
        let read = || get_record(&self.inner.read()?, key.as_ref(), &Now::read());
        match read() {
            Ok(record) => record.map(std::borrow::Cow::Owned),
            Err(error) => {
                self.inner.report("RecordStore::get", &error);
                None
            }
        }
    }

    fn put(&mut self, record: Record) -> Result<()> {
        let limits = self.inner.config.limits;
        if record.value.len() > limits.max_value_bytes {
            return Err(Error::ValueTooLarge);
        }
        let now = Now::read();
        if record.is_expired(now.instant()) {
            tracing::debug!(key = ?record.key, "not storing an already expired record");
            return Ok(());
        }
        let registry = &self.inner.registry;
        if let Some(schema) = registry.schema_of(record.key.as_ref())
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
        let (entry, expires_ms) = match entry_of(&record, &now) {
            Ok(entry) => entry,
            Err(error) => {
                self.inner.report("RecordStore::put", &error);
                return Ok(());
            }
        };
        let key = record.key.as_ref();
        let written = self
            .inner
            .write(self.inner.config.network_durability, |txn| {
                let mut tables = RecordTables::open(txn)?;
                tables.resolve(
                    &NewRecord {
                        key,
                        entry: &entry,
                        expires_ms,
                    },
                    &record.value,
                    limits.max_records,
                    &now,
                    |existing, incoming| {
                        // The incoming value decodes (checked above), so an error means the
                        // stored one does not: the incoming record replaces it, and we say so.
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
                    },
                )
            });
        match written {
            Ok(_) => Ok(()),
            Err(WriteError::MaxRecords) => Err(Error::MaxRecords),
            Err(WriteError::Store(error)) => {
                self.inner.report("RecordStore::put", &error);
                Ok(())
            }
        }
    }

    fn remove(&mut self, key: &RecordKey) {
        let removed = self
            .inner
            .write(self.inner.config.network_durability, |txn| {
                RecordTables::open(txn)?.remove(key.as_ref())
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
