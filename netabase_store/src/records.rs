//! Reading and writing value records, keeping the expiry index and the republish schedule in step
//! with the `records` table.

use libp2p::PeerId;
use libp2p::kad::{Record, RecordKey};
use netabase::Winner;
use redb::{
    ReadTransaction, ReadableTable, ReadableTableMetadata, Table, TableDefinition, WriteTransaction,
};

use crate::clock::Now;
use crate::entry::{RecordEntry, encode_record, encode_record_raw};
use crate::error::{StoreError, StoreResult, escape};
use crate::indexes::{Indexes, UniqueRule, UniqueTaken};
use crate::lazy::LazyTable;
use crate::marks::{MarkPolicy, Marks};
use crate::quota::{Exceeded, QuotaPolicy, Quotas};
use crate::tables;
use crate::watch::{Kind, Origin, Watchers};

/// How many expired records one sweep step collects before removing them.
const SWEEP_CHUNK: usize = 1024;

/// The record tables of one write transaction.
pub(crate) struct RecordTables<'txn, 'r> {
    pub(crate) records: Table<'txn, &'static [u8], &'static [u8]>,
    expiry: LazyTable<'txn, (u64, &'static [u8]), ()>,
    republish: LazyTable<'txn, &'static [u8], u64>,
    republish_queue: LazyTable<'txn, (u64, &'static [u8]), ()>,
    marks: Marks<'txn, 'r>,
    quotas: Quotas<'txn, 'r>,
    indexes: Indexes<'txn, 'r>,
    unique: UniqueRule,
    watchers: Option<&'r Watchers>,
}

/// What a write transaction needs from the store beyond its tables: which keys keep high-water
/// marks (`marks.rs`), which count against the quotas for unknown schemas (`quota.rs`), and the
/// schemas whose indexes it keeps (`indexes.rs`).
#[derive(Clone, Copy)]
pub(crate) struct WritePolicy<'r> {
    pub(crate) marks: MarkPolicy<'r>,
    pub(crate) quotas: QuotaPolicy<'r>,
    pub(crate) registry: &'r netabase::SchemaRegistry,
    /// Where the transaction notes its changes, while anyone watches (`watch.rs`).
    pub(crate) watchers: Option<&'r Watchers>,
}

/// Why a record was not written.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// Storing it would exceed `max_records`.
    MaxRecords,
    /// It is a new record of an unknown schema and a quota for those is full (`quota.rs`).
    Quota(Exceeded),
    /// It is a stale owned write (`marks.rs`): older than the newest this store accepted for its
    /// key, or a writer's write of a generation its owner has left.
    Stale {
        /// The owned schema.
        schema: &'static str,
        /// The record key.
        key: Vec<u8>,
        /// `Replayed` or `Revoked`.
        problem: netabase::owned::OwnershipProblem,
    },
    /// A unique index value it would take is held by another record (`indexes.rs`).
    Unique(UniqueTaken),
    /// The store failed.
    Store(StoreError),
}

impl<E: Into<StoreError>> From<E> for WriteError {
    fn from(error: E) -> Self {
        WriteError::Store(error.into())
    }
}

/// What happened to an incoming record that met a stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The incoming record was stored.
    Stored,
    /// The stored value won; the incoming record was not stored (when the two values are equal,
    /// its expiry and publisher may have been merged into the stored record).
    Kept,
}

/// A record to write, already split into the parts the `records` table stores.
pub(crate) struct NewRecord<'a> {
    pub(crate) key: &'a [u8],
    /// The complete entry (header and value).
    pub(crate) entry: &'a [u8],
    pub(crate) expires_ms: Option<u64>,
    /// The peer id bytes of the peer that delivered the record, when a node's gate says so: a new
    /// record of an unknown schema counts against that peer's quota (`quota.rs`).
    pub(crate) sender: Option<&'a [u8]>,
}

pub(crate) fn corrupt(table: &'static str, key: &[u8], detail: &'static str) -> StoreError {
    StoreError::CorruptEntry {
        table,
        key: escape(key),
        detail,
    }
}

impl<'txn, 'r> RecordTables<'txn, 'r> {
    /// The tables of `txn`, kept under `policy`.
    pub(crate) fn open(txn: &'txn WriteTransaction, policy: WritePolicy<'r>) -> StoreResult<Self> {
        Ok(RecordTables {
            records: txn.open_table(tables::RECORDS)?,
            expiry: LazyTable::new(txn, tables::EXPIRY),
            republish: LazyTable::new(txn, tables::REPUBLISH),
            republish_queue: LazyTable::new(txn, tables::REPUBLISH_QUEUE),
            marks: Marks::new(txn, policy.marks),
            quotas: Quotas::new(txn, policy.quotas),
            indexes: Indexes::new(txn, policy.registry),
            unique: UniqueRule::Refuse,
            watchers: policy.watchers,
        })
    }

    /// Who the transaction writes for, as watchers are told.
    fn origin(&self) -> Origin {
        match self.unique {
            UniqueRule::Refuse => Origin::Local,
            UniqueRule::LowestKeyWins => Origin::Peer,
        }
    }

    /// The tables of `txn` for records that came from peers: a unique index value goes to the
    /// lowest record key instead of refusing every newcomer (`indexes.rs`).
    pub(crate) fn open_for_peers(
        txn: &'txn WriteTransaction,
        policy: WritePolicy<'r>,
    ) -> StoreResult<Self> {
        let mut tables = Self::open(txn, policy)?;
        tables.unique = UniqueRule::LowestKeyWins;
        Ok(tables)
    }

    /// Writes `record`, replacing whatever was stored under its key. A new key is refused with
    /// [`WriteError::MaxRecords`] when the store is full even after sweeping expired records.
    pub(crate) fn overwrite(
        &mut self,
        record: &NewRecord<'_>,
        max_records: usize,
        now: &Now,
    ) -> Result<(), WriteError> {
        // Every refusal before anything is written: it must leave nothing behind, also for a
        // caller that goes on with the transaction (the group commit drops the record and
        // commits the others). A new key of an unknown schema must fit its quotas, then the store.
        let at_limit = self.records.len()? >= max_records as u64;
        // Whether the key is new matters only at the limit and for a key the quotas count: the
        // lookup is skipped otherwise, since every write of the group commit comes through here.
        let new_key = (at_limit || self.quotas.is_unknown(record.key))
            && self.records.get(record.key)?.is_none();
        if new_key {
            self.quotas.check_new(record.key, record.sender)?;
        }
        if new_key && at_limit {
            // One batch, soonest deadlines first: enough to make room, and a bounded cost for
            // the write (often `RecordStore::put` on the swarm's task) however many records
            // expired while the node was down; the node's sweep removes the rest.
            self.sweep_expired(now.unix_ms(), SWEEP_CHUNK)?;
            if self.records.len()? >= max_records as u64 {
                return Err(WriteError::MaxRecords);
            }
        }
        // The entry's index rows, computed once. A unique index value held by another record:
        // refused, or (between peers' records) the holder goes if this key is lower.
        let index_rows = self.indexes.rows_for(record.key, record.entry)?;
        let evict = match &index_rows {
            Some(rows) => match self.indexes.unique_holders(record.key, rows, self.unique)? {
                Ok(evict) => evict,
                Err(taken) => return Err(WriteError::Unique(taken)),
            },
            None => Vec::new(),
        };
        // An owned write older than the key's mark never lands, whichever path brought it.
        self.marks
            .admit(record.key, record.entry, record.expires_ms, now.unix_ms())?;
        for holder in &evict {
            self.remove(holder)?;
        }
        if new_key {
            self.quotas.count_new(record.key, record.sender)?;
        }
        let keep_replaced = index_rows.is_some() || self.watchers.is_some();
        // `None`: the key is new. `Some(expiry)`: the replaced entry's deadline; a damaged entry
        // is replaced, and its stale expiry row, if any, is dropped by the sweep that meets it.
        // The replaced entry itself is kept only when its index rows must go or a watcher is told.
        let (previous, replaced): (Option<Option<u64>>, Option<Vec<u8>>) =
            match self.records.insert(record.key, record.entry)? {
                Some(old) => (
                    Some(
                        RecordEntry::decode(old.value())
                            .map(|entry| entry.expires_ms)
                            .unwrap_or(None),
                    ),
                    keep_replaced.then(|| old.value().to_vec()),
                ),
                None => (None, None),
            };
        if let Some(rows) = &index_rows {
            self.indexes.update(record.key, replaced.as_deref(), rows)?;
        }
        if let Some(watchers) = self.watchers {
            watchers.note(
                record.key,
                replaced,
                Some(record.entry),
                Kind::Written,
                self.origin(),
            );
        }
        let old_expiry = previous.flatten();
        if now.is_expired(old_expiry) {
            // The replaced record had expired: it is gone, schedule and all, as if the sweep had
            // run first. The new record does not inherit a dead record's republish schedule.
            self.unschedule(record.key)?;
        }
        if old_expiry != record.expires_ms {
            if let Some(deadline) = old_expiry {
                self.expiry.open()?.remove((deadline, record.key))?;
            }
            if let Some(deadline) = record.expires_ms {
                self.expiry.open()?.insert((deadline, record.key), ())?;
            }
        }
        Ok(())
    }

    /// Writes `record` unless the stored value wins under `pick` (see [`resolve_against`]).
    pub(crate) fn resolve(
        &mut self,
        record: &NewRecord<'_>,
        value: &[u8],
        max_records: usize,
        now: &Now,
        pick: impl FnOnce(&[u8], &[u8]) -> Winner,
    ) -> Result<Outcome, WriteError> {
        let resolution = {
            let stored = self.records.get(record.key)?;
            resolve_against(
                stored.as_ref().map(|stored| stored.value()),
                record,
                value,
                now,
                pick,
            )?
        };
        match resolution {
            Resolution::Store => {
                self.overwrite(record, max_records, now)?;
                Ok(Outcome::Stored)
            }
            Resolution::Keep => Ok(Outcome::Kept),
            Resolution::Merge { entry, expires_ms } => {
                self.overwrite(
                    &NewRecord {
                        key: record.key,
                        entry: &entry,
                        expires_ms,
                        sender: record.sender,
                    },
                    max_records,
                    now,
                )?;
                Ok(Outcome::Kept)
            }
        }
    }

    /// Removes the record under `key` with its index row and republish schedule; returns whether
    /// there was one.
    pub(crate) fn remove(&mut self, key: &[u8]) -> StoreResult<bool> {
        let indexed = self.indexes.covers(key);
        let keep_removed = indexed || self.watchers.is_some();
        let (old_expiry, removed) = match self.records.remove(key)? {
            Some(old) => (
                RecordEntry::decode(old.value())
                    .map(|entry| entry.expires_ms)
                    .unwrap_or(None),
                keep_removed.then(|| old.value().to_vec()),
            ),
            None => return Ok(false),
        };
        if indexed && let Some(removed) = &removed {
            self.indexes.update(key, Some(removed), &[])?;
        }
        if let Some(watchers) = self.watchers {
            watchers.note(key, removed, None, Kind::Removed, self.origin());
        }
        if let Some(deadline) = old_expiry {
            self.expiry.open()?.remove((deadline, key))?;
        }
        self.unschedule(key)?;
        self.quotas.release(key)?;
        Ok(true)
    }

    /// Removes the republish schedule of `key`, if any.
    pub(crate) fn unschedule(&mut self, key: &[u8]) -> StoreResult<()> {
        if let Some(at) = self.republish.open()?.remove(key)? {
            let at = at.value();
            self.republish_queue.open()?.remove((at, key))?;
        }
        Ok(())
    }

    /// Schedules `key` for republishing at `at_ms`, replacing an earlier schedule.
    pub(crate) fn schedule(&mut self, key: &[u8], at_ms: u64) -> StoreResult<()> {
        if let Some(old) = self.republish.open()?.insert(key, at_ms)? {
            let old = old.value();
            self.republish_queue.open()?.remove((old, key))?;
        }
        self.republish_queue.open()?.insert((at_ms, key), ())?;
        Ok(())
    }

    /// Removes up to `limit` records whose deadline is at or before `now_ms`, reading only the
    /// index rows it removes. Returns how many records were removed.
    /// Marks whose time has passed go too, a chunk at a time.
    pub(crate) fn sweep_expired(&mut self, now_ms: u64, limit: usize) -> StoreResult<usize> {
        self.marks.sweep(now_ms, limit.min(SWEEP_CHUNK))?;
        let mut removed = 0;
        while removed < limit {
            let due: Vec<(u64, Vec<u8>)> = self
                .expiry
                .open()?
                .range(..(now_ms.saturating_add(1), &[][..]))?
                .take(SWEEP_CHUNK.min(limit - removed))
                .map(|row| row.map(|(key, _)| (key.value().0, key.value().1.to_vec())))
                .collect::<Result<_, _>>()?;
            if due.is_empty() {
                break;
            }
            for (deadline, key) in &due {
                self.expiry.open()?.remove((*deadline, key.as_slice()))?;
                let current = match self.records.get(key.as_slice())? {
                    Some(entry) => RecordEntry::decode(entry.value())
                        .map(|entry| entry.expires_ms)
                        .unwrap_or(None),
                    None => None,
                };
                // Index rows left by a damaged entry point at nothing current; only a record whose
                // deadline is this row's is removed.
                if current == Some(*deadline) {
                    let indexed = self.indexes.covers(key);
                    let swept = self
                        .records
                        .remove(key.as_slice())?
                        .filter(|_| indexed || self.watchers.is_some())
                        .map(|old| old.value().to_vec());
                    if indexed && let Some(swept) = &swept {
                        self.indexes.update(key, Some(swept), &[])?;
                    }
                    if let Some(watchers) = self.watchers {
                        watchers.note(key, swept, None, Kind::Expired, Origin::Local);
                    }
                    self.unschedule(key)?;
                    self.quotas.release(key)?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Sets the expiry of the record under `key`; returns whether there was one.
    pub(crate) fn set_expiry(
        &mut self,
        key: &[u8],
        expires_ms: Option<u64>,
        max_records: usize,
        now: &Now,
    ) -> Result<bool, WriteError> {
        let updated = {
            let Some(existing) = self.records.get(key)? else {
                return Ok(false);
            };
            let entry = RecordEntry::decode(existing.value())
                .map_err(|detail| corrupt("records", key, detail))?;
            if now.is_expired(entry.expires_ms) {
                return Ok(false);
            }
            let publisher = entry
                .publisher_id()
                .map_err(|detail| corrupt("records", key, detail))?;
            encode_record(expires_ms, publisher.as_ref(), entry.value)?
        };
        self.overwrite(
            &NewRecord {
                key,
                entry: &updated,
                expires_ms,
                sender: None,
            },
            max_records,
            now,
        )?;
        Ok(true)
    }
}

/// What to do with an incoming record given the stored entry under its key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// Write the incoming record.
    Store,
    /// Keep the stored entry as it is.
    Keep,
    /// Keep the stored value, with the incoming copy's expiry and publisher merged in.
    Merge {
        entry: Vec<u8>,
        expires_ms: Option<u64>,
    },
}

/// Decides `record` (whose value is `value`) against the `stored` entry under its key. An absent,
/// expired or damaged stored record always loses. Otherwise `pick` (given the stored and incoming
/// values) decides different values, and equal values are merged so that the outcome does not
/// depend on the order in which copies arrive: the later expiry (`None`, never expiring, is the
/// latest), so a republished record stays alive, and the greater publisher by peer id bytes (any
/// publisher beats none).
pub(crate) fn resolve_against(
    stored: Option<&[u8]>,
    record: &NewRecord<'_>,
    value: &[u8],
    now: &Now,
    pick: impl FnOnce(&[u8], &[u8]) -> Winner,
) -> StoreResult<Resolution> {
    let Some(stored) = stored else {
        return Ok(Resolution::Store);
    };
    let entry = match RecordEntry::decode(stored) {
        Ok(entry) => entry,
        Err(detail) => {
            tracing::warn!(
                key = %escape(record.key),
                detail,
                "replacing a damaged record entry with an incoming record"
            );
            return Ok(Resolution::Store);
        }
    };
    if now.is_expired(entry.expires_ms) {
        return Ok(Resolution::Store);
    }
    if entry.value != value {
        return Ok(match pick(entry.value, value) {
            Winner::Existing => Resolution::Keep,
            Winner::Incoming => Resolution::Store,
        });
    }
    let incoming = RecordEntry::decode(record.entry)
        .map_err(|detail| corrupt("incoming record", record.key, detail))?;
    let expires_ms = match (entry.expires_ms, incoming.expires_ms) {
        (None, _) | (_, None) => None,
        (Some(a), Some(b)) => Some(a.max(b)),
    };
    let publisher = entry.publisher.max(incoming.publisher);
    if expires_ms == entry.expires_ms && publisher == entry.publisher {
        return Ok(Resolution::Keep);
    }
    Ok(Resolution::Merge {
        entry: encode_record_raw(expires_ms, publisher, entry.value)?,
        expires_ms,
    })
}

/// Decodes an entry of the `records` table into a record, or `None` when it has expired at `now`.
pub(crate) fn to_record(key: &[u8], entry_bytes: &[u8], now: &Now) -> StoreResult<Option<Record>> {
    let entry =
        RecordEntry::decode(entry_bytes).map_err(|detail| corrupt("records", key, detail))?;
    let expires = match entry.expires_ms {
        None => None,
        Some(deadline) => match now.unix_ms_to_instant(deadline) {
            Some(instant) => Some(instant),
            None => return Ok(None),
        },
    };
    let publisher = entry
        .publisher_id()
        .map_err(|detail| corrupt("records", key, detail))?;
    Ok(Some(Record {
        key: RecordKey::from(key.to_vec()),
        value: entry.value.to_vec(),
        publisher,
        expires,
    }))
}

/// Reads the unexpired record under `key` from a readable `records` table.
pub(crate) fn read_record(
    records: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
    now: &Now,
) -> StoreResult<Option<Record>> {
    match records.get(key)? {
        Some(entry) => to_record(key, entry.value(), now),
        None => Ok(None),
    }
}

/// The unexpired record under `key` in the snapshot of `txn`.
pub(crate) fn get_record(
    txn: &ReadTransaction,
    key: &[u8],
    now: &Now,
) -> StoreResult<Option<Record>> {
    read_record(&txn.open_table(tables::RECORDS)?, key, now)
}

/// The unexpired value of schema `V` under `key` in the snapshot of `txn`; a stored value that
/// does not decode as `V` is a [`netabase::DatabaseError::Decode`] naming `V`.
pub(crate) fn get_value<V: netabase::NetabaseSchema>(
    txn: &ReadTransaction,
    key: &V::Key,
) -> netabase::DatabaseResult<Option<V>> {
    let record_key = V::record_key(key)?;
    let records = txn.open_table(tables::RECORDS).map_err(StoreError::from)?;
    let Some(stored) = records.get(record_key.as_ref()).map_err(StoreError::from)? else {
        return Ok(None);
    };
    value_of_entry(record_key.as_ref(), stored.value())
}

/// The value of schema `V` in the entry stored under `key`, or `None` when it has expired or is
/// a tombstone (the value was removed).
pub(crate) fn value_of_entry<V: netabase::NetabaseSchema>(
    key: &[u8],
    entry_bytes: &[u8],
) -> netabase::DatabaseResult<Option<V>> {
    let entry =
        RecordEntry::decode(entry_bytes).map_err(|detail| corrupt("records", key, detail))?;
    // The clock is read only for a record that can expire: most typed values cannot.
    if entry.expires_ms.is_some() && Now::read().is_expired(entry.expires_ms) {
        return Ok(None);
    }
    netabase::tombstone::decode_stored_under::<V>(key, entry.value)
        .map(netabase::tombstone::Stored::live)
}

/// How many rows `table` holds in the snapshot of `txn` (expired rows not yet swept included).
pub(crate) fn row_count<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    table: TableDefinition<'static, K, V>,
) -> StoreResult<u64> {
    Ok(txn.open_table(table)?.len()?)
}

/// The entry for `record`, with its deadline as unix ms.
pub(crate) fn entry_of(record: &Record, now: &Now) -> StoreResult<(Vec<u8>, Option<u64>)> {
    let expires_ms = record
        .expires
        .map(|deadline| now.instant_to_unix_ms(deadline));
    let entry = encode_record(expires_ms, record.publisher.as_ref(), &record.value)?;
    Ok((entry, expires_ms))
}

/// The entry header and value for a typed write, encoding the value straight after the header;
/// fails with `ValueTooLarge` when the value's encoding is over `max_value_bytes`.
pub(crate) fn typed_entry<V: netabase::NetabaseSchema>(
    value: &V,
    expires_ms: Option<u64>,
    publisher: Option<&PeerId>,
    max_value_bytes: usize,
) -> netabase::DatabaseResult<Vec<u8>> {
    let header = crate::entry::record_header(expires_ms, publisher, 64)?;
    let header_len = header.len();
    let entry = value.encode_onto(header)?;
    let size = entry.len() - header_len;
    if size > max_value_bytes {
        return Err(netabase::DatabaseError::ValueTooLarge {
            schema: V::NAME,
            size,
            max: max_value_bytes,
        });
    }
    Ok(entry)
}
