//! `netabase::NodeStore`: the durable writes, sweeps and republish schedule the node drives.

use std::time::{Instant, SystemTime};

use libp2p::PeerId;
use libp2p::kad::{Record, RecordKey};
use netabase::{DatabaseError, DatabaseResult, NodeStore, SchemaRegistry};
use redb::{ReadableTable, ReadableTableMetadata};

use crate::clock::{Now, system_time_to_unix_ms, unix_ms_to_system_time};
use crate::error::{StoreError, StoreResult};
use crate::providers::ProviderTables;
use crate::quota::Exceeded;
use crate::records::{NewRecord, RecordTables, WriteError, entry_of, read_record, to_record};
use crate::scan::RecordScan;
use crate::store::RedbStore;
use crate::tables;
use netabase::owned::OwnershipProblem;

/// Name used in errors about records of no registered schema.
pub(crate) const RAW_RECORD: &str = "<raw record>";

impl RedbStore {
    /// Writes `record` over whatever is stored under its key, with `durability`, after checking
    /// the size limit and, for a registered schema, that the record decodes.
    pub(crate) fn overwrite_record(
        &self,
        record: &Record,
        durability: crate::Durability,
    ) -> DatabaseResult<()> {
        self.overwrite_and_schedule(record, None, durability)
    }

    /// [`overwrite_record`](Self::overwrite_record), and with `republish_at_ms` the record's
    /// republish schedule in the same transaction, so the two are durable together.
    fn overwrite_and_schedule(
        &self,
        record: &Record,
        republish_at_ms: Option<u64>,
        durability: crate::Durability,
    ) -> DatabaseResult<()> {
        let limits = self.inner.config.limits;
        let schema = self.inner.registry.schema_of(record.key.as_ref());
        let size = netabase::tombstone::payload_len(&record.value);
        if size > limits.max_value_bytes {
            return Err(DatabaseError::ValueTooLarge {
                schema: schema.map_or(RAW_RECORD, |schema| schema.name()),
                size,
                max: limits.max_value_bytes,
            });
        }
        if let Some(schema) = schema {
            schema.check(record)?;
        }
        let now = Now::read();
        let (entry, expires_ms) = entry_of(record, &now)?;
        self.inner
            .write(durability, |txn| {
                let mut tables = RecordTables::open(txn, self.inner.write_policy())?;
                tables.overwrite(
                    &NewRecord {
                        key: record.key.as_ref(),
                        entry: &entry,
                        expires_ms,
                        sender: None,
                    },
                    limits.max_records,
                    &now,
                )?;
                if let Some(at_ms) = republish_at_ms {
                    tables.schedule(record.key.as_ref(), at_ms)?;
                }
                Ok::<_, WriteError>(())
            })
            .map_err(|error| write_error(error, &limits))
    }

    /// When the record under `key` is scheduled to be republished, if it is. An expired record,
    /// never served again, has no schedule, also before a sweep removes it.
    pub fn republish_time(&self, key: &RecordKey) -> DatabaseResult<Option<SystemTime>> {
        let read = || -> StoreResult<Option<SystemTime>> {
            let txn = self.inner.read()?;
            let republish = txn.open_table(tables::REPUBLISH)?;
            let Some(at) = republish.get(key.as_ref())?.map(|at| at.value()) else {
                return Ok(None);
            };
            let records = txn.open_table(tables::RECORDS)?;
            let alive = read_record(&records, key.as_ref(), &Now::read())?.is_some();
            Ok(alive.then(|| unix_ms_to_system_time(at)))
        };
        Ok(read()?)
    }

    /// Whether a user's write has an fsync worth leaving to a job: on a file, with immediate user
    /// durability. In memory there is no fsync; with grouped user durability the group commit
    /// makes the write durable, as it would a `put_local`.
    fn defers_user_fsync(&self) -> bool {
        !self.inner.in_memory && self.inner.config.user_durability == crate::Durability::Immediate
    }

    /// The job that makes every pending write durable: a flush through a clone of the handle.
    fn flush_job(&self) -> netabase::PendingDurability {
        let store = self.clone();
        netabase::PendingDurability::new(move || store.flush())
    }

    /// Removes the record under `key` with its index row and schedule, committed with `durability`.
    fn remove_with(&self, key: &RecordKey, durability: crate::Durability) -> DatabaseResult<()> {
        self.inner
            .write(durability, |txn| {
                RecordTables::open(txn, self.inner.write_policy())?.remove(key.as_ref())
            })
            .map(drop)
            .map_err(DatabaseError::from)
    }

    /// The unexpired record under `key`: the one buffered from a peer, else the committed one
    /// (without committing the inbox, which a full read would).
    pub(crate) fn read_record(&self, key: &[u8]) -> StoreResult<Option<Record>> {
        if let Some(entry) = self.inner.buffered_entry(key) {
            return to_record(key, &entry, &Now::read());
        }
        let txn = self.inner.read_committed()?;
        let records = txn.open_table(tables::RECORDS)?;
        read_record(&records, key, &Now::read())
    }
}

/// A record write error as the database traits return it.
pub(crate) fn write_error(error: WriteError, limits: &crate::StoreLimits) -> DatabaseError {
    match error {
        WriteError::MaxRecords => DatabaseError::MaxRecords {
            max: limits.max_records,
        },
        WriteError::Quota(Exceeded::Total) => DatabaseError::UnknownSchemaQuota {
            quota: "max_unknown_records",
            max: limits.max_unknown_records,
        },
        WriteError::Quota(Exceeded::Namespace) => DatabaseError::UnknownSchemaQuota {
            quota: "max_unknown_per_namespace",
            max: limits.max_unknown_per_namespace,
        },
        WriteError::Quota(Exceeded::Peer) => DatabaseError::UnknownSchemaQuota {
            quota: "max_unknown_per_peer",
            max: limits.max_unknown_per_peer,
        },
        WriteError::Stale {
            schema,
            key,
            problem,
        } => DatabaseError::Ownership {
            schema,
            record_key: crate::error::escape(&key),
            problem,
        },
        WriteError::Unique(taken) => DatabaseError::UniqueViolation {
            schema: taken.schema,
            index: taken.index,
            holder: crate::error::escape(&taken.holder),
        },
        WriteError::Store(error) => error.into(),
    }
}

impl NodeStore for RedbStore {
    fn registry(&self) -> &SchemaRegistry {
        &self.inner.registry
    }

    fn put_validated(&mut self, record: Record, from: PeerId) -> netabase::kad::store::Result<()> {
        self.put_from_peer(record, crate::kad_store::Checked::Yes, Some(from))
    }

    fn stale_owned_write(&self, record: &Record) -> DatabaseResult<Option<OwnershipProblem>> {
        Ok(self.inner.stale_write(record.key.as_ref(), &record.value)?)
    }

    /// Reads the committed indexes only: a holder still in the inbox is found by the group
    /// commit, which drops the record then (the gate would otherwise commit the inbox per record).
    fn unique_holder(&self, record: &Record) -> DatabaseResult<Option<Vec<u8>>> {
        let txn = self.inner.read_committed()?;
        Ok(crate::indexes::lower_unique_holder(
            &txn,
            &self.inner.registry,
            record.key.as_ref(),
            &record.value,
        )?)
    }

    fn put_local(&mut self, record: Record) -> DatabaseResult<()> {
        self.overwrite_record(&record, self.inner.config.user_durability)
    }

    /// Commits the record and its republish schedule as one grouped write (visible at once,
    /// normally without an fsync) and returns the fsync as the job: a flush, one durable commit of
    /// every pending write, ours included (nothing to do if a flush already made it durable).
    /// Where there is no fsync to overlap, the write is made as `put_local` makes it and the job
    /// is empty: with a grouped user durability (left to the group commit), and on redb's
    /// in-memory backend (one commit; a job would only add a second one and a thread hand-off).
    fn put_local_deferred(
        &mut self,
        record: Record,
        republish_at: Option<SystemTime>,
    ) -> DatabaseResult<netabase::PendingDurability> {
        let republish_at_ms = republish_at.map(system_time_to_unix_ms);
        if !self.defers_user_fsync() {
            let durability = self.inner.config.user_durability;
            self.overwrite_and_schedule(&record, republish_at_ms, durability)?;
            return Ok(netabase::PendingDurability::done());
        }
        self.overwrite_and_schedule(&record, republish_at_ms, crate::Durability::Grouped)?;
        Ok(self.flush_job())
    }

    /// A sweep of at most `limit` records, then of provider records up to the same total, in one
    /// write transaction.
    fn remove_expired_batch(&mut self, now: Instant, limit: usize) -> DatabaseResult<usize> {
        let now_ms = Now::at(now).unix_ms();
        let removed = self
            .inner
            .write(self.inner.config.network_durability, |txn| {
                let records = RecordTables::open(txn, self.inner.write_policy())?
                    .sweep_expired(now_ms, limit)?;
                let providers = ProviderTables::open(txn)?
                    .sweep_expired(now_ms, limit.saturating_sub(records))?;
                Ok::<_, crate::error::StoreError>(records + providers)
            })?;
        if removed > 0 {
            tracing::debug!(removed, limit, "swept a batch of expired records");
        }
        Ok(removed)
    }

    fn get_local(&self, key: &RecordKey) -> DatabaseResult<Option<Record>> {
        Ok(self.read_record(key.as_ref())?)
    }

    fn remove_local(&mut self, key: &RecordKey) -> DatabaseResult<()> {
        self.remove_with(key, self.inner.config.user_durability)
    }

    /// Removes as a grouped write (gone from reads at once) and returns the fsync as the job, as
    /// [`put_local_deferred`](NodeStore::put_local_deferred) does, and with the same exceptions.
    fn remove_local_deferred(
        &mut self,
        key: &RecordKey,
    ) -> DatabaseResult<netabase::PendingDurability> {
        if !self.defers_user_fsync() {
            self.remove_local(key)?;
            return Ok(netabase::PendingDurability::done());
        }
        self.remove_with(key, crate::Durability::Grouped)?;
        Ok(self.flush_job())
    }

    fn flush(&mut self) -> DatabaseResult<()> {
        RedbStore::flush(self)
    }

    /// Nothing to do when no write is pending; otherwise a job that flushes through a clone of the
    /// handle (the store serialises it with every other write).
    fn flush_deferred(&mut self) -> DatabaseResult<netabase::PendingDurability> {
        if self.pending_writes() == 0 {
            return Ok(netabase::PendingDurability::done());
        }
        Ok(self.flush_job())
    }

    /// Removes the records and provider records whose deadline is at or before `now`; returns how
    /// many of both were removed.
    fn remove_expired(&mut self, now: Instant) -> DatabaseResult<usize> {
        let now_ms = Now::at(now).unix_ms();
        let removed = self
            .inner
            .write(self.inner.config.network_durability, |txn| {
                let records = RecordTables::open(txn, self.inner.write_policy())?
                    .sweep_expired(now_ms, usize::MAX)?;
                let providers = ProviderTables::open(txn)?.sweep_expired(now_ms, usize::MAX)?;
                Ok::<_, StoreError>(records + providers)
            })?;
        if removed > 0 {
            tracing::debug!(removed, "swept expired records");
        }
        Ok(removed)
    }

    /// Schedules the record under `key` for republishing at `at`. A key with no stored record is
    /// not scheduled.
    fn schedule_republish(&mut self, key: &RecordKey, at: SystemTime) -> DatabaseResult<()> {
        self.schedule_republish_all(std::slice::from_ref(key), at)
    }

    /// Schedules every key in one write transaction (one commit for the republish job's whole
    /// run, not one per record). Keys with no stored record are not scheduled.
    fn schedule_republish_all(&mut self, keys: &[RecordKey], at: SystemTime) -> DatabaseResult<()> {
        let at_ms = system_time_to_unix_ms(at);
        self.inner
            .write(self.inner.config.network_durability, |txn| {
                let mut tables = RecordTables::open(txn, self.inner.write_policy())?;
                for key in keys {
                    if tables.records.get(key.as_ref())?.is_some() {
                        tables.schedule(key.as_ref(), at_ms)?;
                    } else {
                        tracing::debug!(
                            ?key,
                            "not scheduling the republish of a record not stored"
                        );
                    }
                }
                Ok::<_, StoreError>(())
            })
            .map_err(DatabaseError::from)
    }

    fn scheduled_for_republish(&self) -> DatabaseResult<u64> {
        let read = || -> StoreResult<u64> {
            let txn = self.inner.read()?;
            // redb keeps each table's length in its header: no scan.
            Ok(txn.open_table(tables::REPUBLISH_QUEUE)?.len()?)
        };
        Ok(read()?)
    }

    fn due_for_republish(&self, now: SystemTime, limit: usize) -> DatabaseResult<Vec<Record>> {
        let now_ms = system_time_to_unix_ms(now);
        let read = || -> StoreResult<Vec<Record>> {
            let txn = self.inner.read()?;
            let queue = txn.open_table(tables::REPUBLISH_QUEUE)?;
            let records = txn.open_table(tables::RECORDS)?;
            let clock = Now::read();
            let mut due = Vec::new();
            for row in queue.range(..(now_ms.saturating_add(1), &[][..]))? {
                if due.len() >= limit {
                    break;
                }
                let (row, _) = row?;
                let (_, key) = row.value();
                match read_record(&records, key, &clock) {
                    Ok(Some(record)) => due.push(record),
                    Ok(None) => {}
                    // A damaged record stays due until it is removed: returning its error would
                    // stop every republication behind it, on every call. Skip and count it.
                    Err(damaged @ StoreError::CorruptEntry { .. }) => {
                        self.inner.report("NodeStore::due_for_republish", &damaged)
                    }
                    Err(error) => return Err(error),
                }
            }
            Ok(due)
        };
        Ok(read()?)
    }

    fn storage_errors(&self) -> u64 {
        self.storage_error_count()
    }

    fn set_local_peer(&mut self, peer: PeerId) {
        self.set_local_peer_id(peer);
    }

    /// A range scan from `after` over the records table: a page costs what it returns, not a walk
    /// of the whole store as the trait's provided method does.
    fn records_page(
        &self,
        after: Option<&RecordKey>,
        prefix: &[u8],
        limit: usize,
    ) -> DatabaseResult<Vec<Record>> {
        let mut scan = RecordScan::new(
            self.inner.clone(),
            prefix.to_vec(),
            after.map(|key| key.to_vec()),
        );
        let mut page = Vec::new();
        while page.len() < limit {
            match scan.next_entry() {
                None => break,
                Some(Ok(record)) => page.push(record),
                // The node resumes after the last key of a page, so an error here would stop
                // every later page at the same place: skip the damaged entry, as `records()`
                // does, and count it.
                Some(Err(damaged @ StoreError::CorruptEntry { .. })) => {
                    self.inner.report("NodeStore::records_page", &damaged)
                }
                Some(Err(error)) => return Err(error.into()),
            }
        }
        Ok(page)
    }
}
