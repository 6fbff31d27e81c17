//! High-water marks of owned records: the newest (generation, sequence) this store accepted for
//! each owned record key, kept for a while after the record itself is gone.
//!
//! Conflict resolution already refuses an older signed write while the newer one is stored; the
//! mark refuses it after the newer one expired, was swept or was removed locally too, and after
//! restarts (it is a table, written in the same transaction as the record). A mark lives until
//! the later of the record's expiry and `owned_mark_ttl` after its last write (default 7 days,
//! more than Kademlia's record TTL, so every copy of an older write has expired by then). Marks
//! are kept for the owned schemas the store registered; others it cannot verify and stores by
//! byte order, which orders owned writes by (generation, sequence) too.

use std::time::Duration;

use netabase::SchemaRegistry;
use netabase::owned::header;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use crate::error::{StoreError, StoreResult};
use crate::lazy::LazyTable;
use crate::records::WriteError;
use crate::tables;

/// How long a mark outlives the last write of its key by default.
pub const DEFAULT_OWNED_MARK_TTL: Duration = Duration::from_secs(7 * 86_400);

/// Which keys get marks, and for how long: the store's registry and setting.
#[derive(Clone, Copy)]
pub(crate) struct MarkPolicy<'r> {
    pub(crate) registry: &'r SchemaRegistry,
    pub(crate) keep_ms: u64,
}

impl MarkPolicy<'_> {
    /// The name of the owned schema `key` belongs to, if it belongs to one.
    pub(crate) fn owned_schema(&self, key: &[u8]) -> Option<&'static str> {
        self.registry
            .schema_of(key)
            .filter(|schema| schema.is_owned())
            .map(|schema| schema.name())
    }
}

/// The mark tables of one write transaction.
pub(crate) struct Marks<'txn, 'r> {
    policy: MarkPolicy<'r>,
    marks: LazyTable<'txn, &'static [u8], (u64, u64, u64)>,
    by_time: LazyTable<'txn, (u64, &'static [u8]), ()>,
}

impl<'txn, 'r> Marks<'txn, 'r> {
    pub(crate) fn new(txn: &'txn WriteTransaction, policy: MarkPolicy<'r>) -> Self {
        Marks {
            policy,
            marks: LazyTable::new(txn, tables::OWNED_MARKS),
            by_time: LazyTable::new(txn, tables::OWNED_MARKS_BY_TIME),
        }
    }

    /// Before `value` is written under `key`: for an owned key, refuses a write older than the
    /// key's mark ([`WriteError::Replayed`]) and raises the mark to it. Other keys pass.
    pub(crate) fn admit(
        &mut self,
        key: &[u8],
        value: &[u8],
        expires_ms: Option<u64>,
        now_ms: u64,
    ) -> Result<(), WriteError> {
        let Some(schema) = self.policy.owned_schema(key) else {
            return Ok(());
        };
        // The store's checks verified the value before any write; bytes that are not an owned
        // value here (a damaged entry being rewritten) get no mark.
        let Some(incoming) = header(value) else {
            return Ok(());
        };
        let write = (incoming.generation, incoming.sequence);
        let marks = self.marks.open()?;
        let old = marks.get(key)?.map(|row| row.value());
        if let Some((generation, sequence, _)) = old
            && write < (generation, sequence)
        {
            return Err(WriteError::Replayed {
                schema,
                key: key.to_vec(),
            });
        }
        let keep_until = now_ms
            .saturating_add(self.policy.keep_ms)
            .max(expires_ms.unwrap_or(0))
            .max(old.map_or(0, |(_, _, keep)| keep));
        let newest = old.map_or(write, |(generation, sequence, _)| {
            write.max((generation, sequence))
        });
        marks.insert(key, (newest.0, newest.1, keep_until))?;
        if let Some((_, _, previous)) = old
            && previous != keep_until
        {
            self.by_time.open()?.remove((previous, key))?;
        }
        self.by_time.open()?.insert((keep_until, key), ())?;
        Ok(())
    }

    /// Removes up to `limit` marks whose time is at or before `now_ms`; returns how many.
    pub(crate) fn sweep(&mut self, now_ms: u64, limit: usize) -> StoreResult<usize> {
        // A store without owned schemas never made the tables; sweeping would create them.
        if !self
            .policy
            .registry
            .schemas()
            .any(|schema| schema.is_owned())
        {
            return Ok(0);
        }
        let due: Vec<(u64, Vec<u8>)> = self
            .by_time
            .open()?
            .range(..(now_ms.saturating_add(1), &[][..]))?
            .take(limit)
            .map(|row| row.map(|(key, _)| (key.value().0, key.value().1.to_vec())))
            .collect::<Result<_, _>>()?;
        for (time, key) in &due {
            self.by_time.open()?.remove((*time, key.as_slice()))?;
            let marks = self.marks.open()?;
            let current = marks.get(key.as_slice())?.map(|row| row.value().2);
            if current == Some(*time) {
                marks.remove(key.as_slice())?;
            }
        }
        Ok(due.len())
    }
}

/// Whether `value`, an owned write under `key`, is older than the key's mark in `txn`: a write
/// this store must refuse. False for keys of no owned schema and for bytes that are no owned value.
pub(crate) fn is_older_than_mark(
    policy: MarkPolicy<'_>,
    txn: &ReadTransaction,
    key: &[u8],
    value: &[u8],
) -> StoreResult<bool> {
    if policy.owned_schema(key).is_none() {
        return Ok(false);
    }
    let Some(incoming) = header(value) else {
        return Ok(false);
    };
    Ok(read_mark(txn, key)?.is_some_and(|mark| (incoming.generation, incoming.sequence) < mark))
}

/// The mark of `key` in a read transaction: (generation, sequence) of the newest write accepted,
/// or `None` (also for a store that never held an owned record, which has no mark table).
pub(crate) fn read_mark(txn: &ReadTransaction, key: &[u8]) -> StoreResult<Option<(u64, u64)>> {
    let marks = match txn.open_table(tables::OWNED_MARKS) {
        Ok(marks) => marks,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(error) => return Err(StoreError::from(error)),
    };
    Ok(marks
        .get(key)?
        .map(|row| row.value())
        .map(|(generation, sequence, _)| (generation, sequence)))
}
