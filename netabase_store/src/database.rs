//! The typed database: `NetabaseDatabase` and `NetabaseDatabaseExt` for every schema, and the
//! synchronous typed methods they are built on.

use std::ops::Bound;
use std::time::{Duration, Instant};

use libp2p::kad::{Record, RecordKey};
use netabase::{
    DatabaseError, DatabaseResult, NetabaseDatabase, NetabaseDatabaseExt, NetabaseSchema,
    NetabaseSchemaKey, Winner, pick_winner,
};
use redb::ReadableTable;

use crate::clock::Now;
use crate::entry::RecordEntry;
use crate::error::StoreResult;
use crate::node_store::write_error;
use crate::records::{
    NewRecord, RecordTables, entry_of, get_value, read_record, typed_entry, value_of_entry,
};
use crate::scan::RecordScan;
use crate::store::RedbStore;
use crate::tables;

/// A record of schema `V` checked and encoded for the `records` table.
struct Checked {
    record: Record,
    entry: Vec<u8>,
    expires_ms: Option<u64>,
}

/// The typed `put` and `get` are inherent methods, so `store.put(key, value)` and `store.get(&key)`
/// mean the typed calls wherever they are written: also where kad's `RecordStore` trait, whose
/// `put` and `get` take a `kad::Record` and a `RecordKey`, is in scope (with two traits alone the
/// call would be ambiguous, E0034). Call kad's on a `RedbStore` as
/// `RecordStore::put(&mut store, record)` and `RecordStore::get(&store, &key)`.
impl RedbStore {
    /// Stores `value` under `key`, replacing what was there: the seed's
    /// [`NetabaseDatabase::put`], durable on return by default. Fails with
    /// [`DatabaseError::KeyMismatch`] if `key` is not `value.key()`. [`put_value`](Self::put_value)
    /// is the same write without the key or the `await`.
    pub async fn put<V: NetabaseSchema>(&self, key: V::Key, value: V) -> DatabaseResult<()> {
        check_value_key(&key, &value)?;
        self.put_value(&value)
    }

    /// The unexpired value of schema `V` under `key`: the seed's [`NetabaseDatabase::get`].
    /// [`get_value`](Self::get_value) is the same read without the `await`.
    pub async fn get<V: NetabaseSchema>(&self, key: &V::Key) -> DatabaseResult<Option<V>> {
        self.get_value::<V>(key)
    }

    /// Stores `value` under its key, replacing what was there, with the user durability
    /// (durable on return by default). The publisher is the local peer id, if set; the record has
    /// no expiry. The synchronous form of [`NetabaseDatabase::put`].
    pub fn put_value<V: NetabaseSchema>(&self, value: &V) -> DatabaseResult<()> {
        self.put_values(std::iter::once(value))
    }

    /// Signs `value` as `author` (its owner) and stores it: the local form of the node's
    /// `put_owned` for an owned schema ([`netabase::owned`]). The write follows the stored one
    /// ([`OwnedWrite::after`](netabase::owned::OwnedWrite::after)). Fails with
    /// [`DatabaseError::NotOwner`] when `value`'s key names another owner.
    pub fn put_owned<V: NetabaseSchema>(
        &self,
        author: &netabase::owned::Author,
        value: &V,
    ) -> DatabaseResult<()> {
        let key = V::record_key(&value.key())?;
        let stored = self.get_local_record_bytes(key.as_ref())?;
        let write = netabase::owned::OwnedWrite::after(stored.as_deref());
        self.overwrite_record(
            &author.sign(value, &write)?,
            self.inner.config.user_durability,
        )
    }

    /// The value bytes stored under `key`, expired or not, if any.
    fn get_local_record_bytes(&self, key: &[u8]) -> DatabaseResult<Option<Vec<u8>>> {
        let record = crate::NodeStore::get_local(self, &netabase::kad::RecordKey::new(&key))?;
        Ok(record.map(|record| record.value))
    }

    /// Stores many values of schema `V` in one transaction (one fsync), replacing what was stored
    /// under their keys. Nothing is stored if any value fails. An owned schema's values must be
    /// signed: use [`put_owned`](Self::put_owned) (this fails with
    /// [`DatabaseError::OwnedNeedsSignature`]).
    pub fn put_values<'v, V: NetabaseSchema>(
        &self,
        values: impl IntoIterator<Item = &'v V>,
    ) -> DatabaseResult<()> {
        self.write_values(values, None)
    }

    /// Stores `value` under its key, replacing what was there, for `ttl` from now: after that
    /// no read returns it and the expiry sweep removes it (a node's sweep, or
    /// [`NodeStore::remove_expired`](crate::NodeStore::remove_expired)). `ttl` is capped at
    /// [`MAX_DURATION`](netabase::MAX_DURATION). Fails with [`DatabaseError::ZeroTtl`] for a zero
    /// `ttl`, which would store a value that has already expired. The local form of the node's
    /// `put_expiring`: peers learn of it only when it is published.
    pub fn put_value_expiring<V: NetabaseSchema>(
        &self,
        value: &V,
        ttl: Duration,
    ) -> DatabaseResult<()> {
        if ttl.is_zero() {
            return Err(DatabaseError::ZeroTtl { schema: V::NAME });
        }
        let ttl_ms = u64::try_from(ttl.min(netabase::MAX_DURATION).as_millis()).unwrap_or(u64::MAX);
        let deadline = Now::read().unix_ms().saturating_add(ttl_ms.max(1));
        self.write_values(std::iter::once(value), Some(deadline))
    }

    /// Removes the value of schema `V` under `key` from this store, with its expiry and republish
    /// schedule; returns whether one was stored (an expired value not swept yet counts as
    /// stored). Local only: peers that hold the record keep it until it expires. To delete a
    /// value on the network, remove it through the node (`NodeHandle::remove`), which publishes a
    /// tombstone.
    pub fn remove_value<V: NetabaseSchema>(&self, key: &V::Key) -> DatabaseResult<bool> {
        let record_key = V::record_key(key)?;
        self.inner.write(self.inner.config.user_durability, |txn| {
            let mut tables = RecordTables::open(txn, self.inner.write_policy())?;
            Ok::<_, DatabaseError>(tables.remove(record_key.as_ref())?)
        })
    }

    /// [`put_values`](Self::put_values) with every value expiring at `expires_ms` (unix ms).
    fn write_values<'v, V: NetabaseSchema>(
        &self,
        values: impl IntoIterator<Item = &'v V>,
        expires_ms: Option<u64>,
    ) -> DatabaseResult<()> {
        if V::OWNED {
            return Err(DatabaseError::OwnedNeedsSignature { schema: V::NAME });
        }
        let limits = self.inner.config.limits;
        let publisher = self.inner.local_peer_id();
        let now = Now::read();
        let mut key = V::record_prefix();
        let prefix_len = key.len();
        self.inner.write(self.inner.config.user_durability, |txn| {
            let mut tables = RecordTables::open(txn, self.inner.write_policy())?;
            for value in values {
                key.truncate(prefix_len);
                key = postcard::to_extend(&value.key(), key).map_err(|source| {
                    DatabaseError::Encode {
                        schema: V::NAME,
                        what: "key",
                        source,
                    }
                })?;
                let entry = typed_entry(
                    value,
                    expires_ms,
                    publisher.as_ref(),
                    limits.max_value_bytes,
                )?;
                tables
                    .overwrite(
                        &NewRecord {
                            key: &key,
                            entry: &entry,
                            expires_ms,
                            sender: None,
                        },
                        limits.max_records,
                        &now,
                    )
                    .map_err(|error| write_error(error, &limits))?;
            }
            Ok(())
        })
    }

    /// The unexpired value of schema `V` under `key`. The synchronous form of
    /// [`NetabaseDatabase::get`]; a stored value that does not decode as `V` is a
    /// [`DatabaseError::Decode`] naming `V`.
    pub fn get_value<V: NetabaseSchema>(&self, key: &V::Key) -> DatabaseResult<Option<V>> {
        // A record from a peer still in the inbox is the newest; looking there first also spares
        // the read from committing the inbox, and so from waiting for a commit in progress.
        let record_key = V::record_key(key)?;
        if let Some(entry) = self.inner.buffered_entry(record_key.as_ref()) {
            return value_of_entry::<V>(record_key.as_ref(), &entry);
        }
        get_value::<V>(&self.inner.read_committed()?, key)
    }

    /// Walks the unexpired records whose key starts with `prefix` (empty: the whole store) a page
    /// at a time, without holding the store in memory; see [`RecordScan`].
    pub fn scan(&self, prefix: impl Into<Vec<u8>>) -> RecordScan {
        RecordScan::new(self.inner.clone(), prefix.into(), None)
    }

    /// Walks the unexpired records of schema `V` a page at a time: the streaming form of
    /// [`NetabaseDatabaseExt::sync_to_network`] for large stores.
    pub fn scan_schema<V: NetabaseSchema>(&self) -> RecordScan {
        self.scan(V::record_prefix())
    }

    /// Checks records of schema `V` for a batch write: each must be a valid record of `V` within
    /// the size limit. Records already expired are dropped.
    fn check_batch<V: NetabaseSchema>(
        &self,
        records: Vec<Record>,
        now: &Now,
    ) -> DatabaseResult<Vec<Checked>> {
        let max = self.inner.config.limits.max_value_bytes;
        let mut checked = Vec::with_capacity(records.len());
        for record in records {
            // Tombstones travel with syncs like values.
            netabase::tombstone::decode_record::<V>(&record)?;
            let size = netabase::tombstone::payload_len(&record.value);
            if size > max {
                return Err(DatabaseError::ValueTooLarge {
                    schema: V::NAME,
                    size,
                    max,
                });
            }
            if record.is_expired(now.instant()) {
                continue;
            }
            let (entry, expires_ms) = entry_of(&record, now)?;
            checked.push(Checked {
                record,
                entry,
                expires_ms,
            });
        }
        Ok(checked)
    }

    /// Stores checked records of `V` in one transaction, resolving conflicts by `V`'s rule.
    fn resolve_batch<V: NetabaseSchema>(&self, records: Vec<Record>) -> DatabaseResult<()> {
        let now = Now::read();
        let checked = self.check_batch::<V>(records, &now)?;
        if checked.is_empty() {
            return Ok(());
        }
        let max_records = self.inner.config.limits.max_records;
        self.inner.write(self.inner.config.user_durability, |txn| {
            // Records from the network: a unique index value goes to the lowest key.
            let mut tables = RecordTables::open_for_peers(txn, self.inner.write_policy())?;
            for item in &checked {
                tables
                    .resolve(
                        &NewRecord {
                            key: item.record.key.as_ref(),
                            entry: &item.entry,
                            expires_ms: item.expires_ms,
                            sender: None,
                        },
                        &item.record.value,
                        max_records,
                        &now,
                        // The incoming value decodes (checked), so an error means the
                        // stored one does not and is replaced; say so rather than drop it quietly.
                        |existing, incoming| {
                            pick_winner::<V>(existing, incoming).unwrap_or_else(|error| {
                                tracing::warn!(
                                    key = %crate::error::escape(item.record.key.as_ref()),
                                    %error,
                                    "replacing a stored value that does not decode"
                                );
                                Winner::Incoming
                            })
                        },
                    )
                    .map_err(|error| write_error(error, &self.inner.config.limits))?;
            }
            Ok(())
        })
    }

    /// The unexpired records under `keys`, in that order.
    fn records_at(&self, keys: impl IntoIterator<Item = Vec<u8>>) -> StoreResult<Vec<Record>> {
        let txn = self.inner.read()?;
        let records = txn.open_table(tables::RECORDS)?;
        let now = Now::read();
        let mut out = Vec::new();
        for key in keys {
            if let Some(record) = read_record(&records, &key, &now)? {
                out.push(record);
            }
        }
        Ok(out)
    }
}

/// The intersection of schema `V`'s key space and the keys starting with `prefix`, as one prefix,
/// or `None` when they do not meet.
fn schema_prefix<V: NetabaseSchema>(prefix: &[u8]) -> Option<Vec<u8>> {
    let schema = V::record_prefix();
    if prefix.starts_with(&schema) {
        Some(prefix.to_vec())
    } else if schema.starts_with(prefix) {
        Some(schema)
    } else {
        None
    }
}

/// Every schema in one file: typed values of `V` live under `V`'s record key prefix. Each async
/// method runs its redb transaction on the calling task (a user write waits for its fsync).
#[netabase::async_trait]
impl<K, V> NetabaseDatabase<K, V> for RedbStore
where
    K: NetabaseSchemaKey,
    V: NetabaseSchema<Key = K>,
{
    async fn put(&mut self, key: K, value: V) -> DatabaseResult<()> {
        RedbStore::put(self, key, value).await
    }

    async fn get(&self, key: &K) -> DatabaseResult<Option<V>> {
        RedbStore::get(self, key).await
    }

    /// Stores a record of `V`, keeping its publisher and expiry. A stored value that wins under
    /// `V`'s conflict rule is kept and the record is not stored (equal values take the later
    /// expiry); an already expired record is not stored.
    async fn put_record(&mut self, record: Record) -> DatabaseResult<()> {
        self.resolve_batch::<V>(vec![record])
    }

    async fn get_record(&self, key: &RecordKey) -> DatabaseResult<Option<Record>> {
        V::key_from_record_key(key)?;
        Ok(self.read_record(key.as_ref())?)
    }
}

#[netabase::async_trait]
impl<K, V> NetabaseDatabaseExt<K, V> for RedbStore
where
    K: NetabaseSchemaKey,
    V: NetabaseSchema<Key = K>,
{
    /// Collects the records of `V` page by page (never the whole store, and no long read
    /// transaction); [`RedbStore::scan_schema`] streams them instead.
    async fn sync_to_network(&mut self) -> DatabaseResult<Vec<Record>> {
        self.scan_schema::<V>().collect()
    }

    async fn sync_from_network(&mut self, records: Vec<Record>) -> DatabaseResult<()> {
        self.resolve_batch::<V>(records)
    }

    async fn get_republish_records(&self) -> DatabaseResult<Vec<Record>> {
        let prefix = V::record_prefix();
        let keys = {
            let txn = self.inner.read()?;
            let republish = txn
                .open_table(tables::REPUBLISH)
                .map_err(crate::error::StoreError::from)?;
            let mut keys = Vec::new();
            for row in republish
                .range(prefix.as_slice()..)
                .map_err(crate::error::StoreError::from)?
            {
                let (key, _) = row.map_err(crate::error::StoreError::from)?;
                if !key.value().starts_with(&prefix) {
                    break;
                }
                keys.push(key.value().to_vec());
            }
            keys
        };
        Ok(self.records_at(keys)?)
    }

    /// Schedules the records under `keys` for republishing now (`NodeStore::due_for_republish`
    /// returns them on its next call). Keys with no stored record are skipped.
    async fn mark_for_republish(&mut self, keys: &[K]) -> DatabaseResult<()> {
        let record_keys = keys
            .iter()
            .map(V::record_key)
            .collect::<DatabaseResult<Vec<_>>>()?;
        let now = Now::read();
        self.inner.write(self.inner.config.user_durability, |txn| {
            let mut tables = RecordTables::open(txn, self.inner.write_policy())?;
            for key in &record_keys {
                let alive = match tables
                    .records
                    .get(key.as_ref())
                    .map_err(crate::error::StoreError::from)?
                {
                    Some(entry) => RecordEntry::decode(entry.value())
                        .map(|entry| !now.is_expired(entry.expires_ms))
                        .unwrap_or(false),
                    None => false,
                };
                if alive {
                    tables.schedule(key.as_ref(), now.unix_ms())?;
                }
            }
            Ok::<_, DatabaseError>(())
        })
    }

    async fn put_records_batch(&mut self, records: Vec<Record>) -> DatabaseResult<()> {
        self.resolve_batch::<V>(records)
    }

    async fn get_records_by_prefix(&self, prefix: &[u8]) -> DatabaseResult<Vec<Record>> {
        match schema_prefix::<V>(prefix) {
            Some(prefix) => self.scan(prefix).collect(),
            None => Ok(Vec::new()),
        }
    }

    /// Reads only the expiry index rows due within `within` (of every schema), so its cost is
    /// what expires in the window, not the size of the store.
    async fn get_expiring_records(&self, within: Duration) -> DatabaseResult<Vec<Record>> {
        let now = Now::read();
        // `Instant + within` panics past the platform's range; a window reaching beyond it (say
        // `Duration::MAX`) simply includes every deadline.
        let until = match now.instant().checked_add(within) {
            Some(end) => now.instant_to_unix_ms(end),
            None => u64::MAX,
        };
        let prefix = V::record_prefix();
        let keys = {
            let txn = self.inner.read()?;
            let expiry = txn
                .open_table(tables::EXPIRY)
                .map_err(crate::error::StoreError::from)?;
            let mut keys = Vec::new();
            let start = (now.unix_ms().saturating_add(1), &[][..]);
            // Rows up to and including the deadline `until`, whatever their key.
            let end = match until.checked_add(1) {
                Some(after) => Bound::Excluded((after, &[][..])),
                None => Bound::Unbounded,
            };
            for row in expiry
                .range::<(u64, &[u8])>((Bound::Included(start), end))
                .map_err(crate::error::StoreError::from)?
            {
                let (row, _) = row.map_err(crate::error::StoreError::from)?;
                let (_, key) = row.value();
                if key.starts_with(&prefix) {
                    keys.push(key.to_vec());
                }
            }
            keys
        };
        Ok(self.records_at(keys)?)
    }

    /// Sets the expiry of the record under `key`; a key with no unexpired record is left alone.
    async fn update_record_expiry(
        &mut self,
        key: &K,
        expires: Option<Instant>,
    ) -> DatabaseResult<()> {
        let record_key = V::record_key(key)?;
        let now = Now::read();
        let expires_ms = expires.map(|at| now.instant_to_unix_ms(at));
        let max_records = self.inner.config.limits.max_records;
        self.inner
            .write(self.inner.config.user_durability, |txn| {
                RecordTables::open(txn, self.inner.write_policy())?.set_expiry(
                    record_key.as_ref(),
                    expires_ms,
                    max_records,
                    &now,
                )
            })
            .map(drop)
            .map_err(|error| write_error(error, &self.inner.config.limits))
    }
}

/// Fails with [`DatabaseError::KeyMismatch`] unless `value` belongs under `key`.
pub(crate) fn check_value_key<V: NetabaseSchema>(key: &V::Key, value: &V) -> DatabaseResult<()> {
    let value_key = value.key();
    if value_key != *key {
        return Err(DatabaseError::KeyMismatch {
            schema: V::NAME,
            record_key: escape_key(&V::record_key(key)?),
            value_key: escape_key(&V::record_key(&value_key)?),
        });
    }
    Ok(())
}

fn escape_key(key: &RecordKey) -> String {
    crate::error::escape(key.as_ref())
}
