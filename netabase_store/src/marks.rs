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
//!
//! Beside the marks of record keys, the table holds one row per owner and owned schema: the
//! highest generation the owner signed itself. An owner revokes its writers by writing with a
//! higher generation; from then on this store refuses their delegated writes of a lower
//! generation anywhere in the collection (`Revoked`), not only on the keys the owner rewrote.

use std::time::Duration;

use netabase::SchemaRegistry;
use netabase::owned::{OwnershipProblem, header};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use crate::entry::RecordEntry;
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
    /// The owned schema `key` belongs to, if it belongs to one: its name and the length of its
    /// record key prefix.
    pub(crate) fn owned_schema(&self, key: &[u8]) -> Option<(&'static str, usize)> {
        self.registry
            .schema_of(key)
            .filter(|schema| schema.is_owned())
            .map(|schema| (schema.name(), schema.prefix().len()))
    }
}

/// The row of an owner's collection in a schema: `\0` (no record key starts with it) then the
/// schema prefix and the owner's 32 bytes. It holds the highest generation the owner signed
/// itself; a writer's delegated write of a lower one is refused as revoked.
fn collection_row(key: &[u8], prefix_len: usize) -> Option<Vec<u8>> {
    let collection = key.get(..prefix_len + 32)?;
    let mut row = Vec::with_capacity(collection.len() + 1);
    row.push(0);
    row.extend_from_slice(collection);
    Some(row)
}

/// Why an owned write is stale against the marks: its generation is below the owner's for the
/// collection and a writer signed it, or it is older than the key's newest write.
fn stale(
    incoming: &netabase::owned::Header,
    key_mark: Option<(u64, u64, u64)>,
    collection_mark: Option<(u64, u64, u64)>,
) -> Option<OwnershipProblem> {
    if incoming.delegated
        && collection_mark.is_some_and(|(generation, _, _)| incoming.generation < generation)
    {
        return Some(OwnershipProblem::Revoked);
    }
    let write = (incoming.generation, incoming.sequence);
    key_mark
        .filter(|&(generation, sequence, _)| write < (generation, sequence))
        .map(|_| OwnershipProblem::Replayed)
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

    /// Before the record entry `entry` is written under `key`: for an owned key, refuses a stale
    /// write ([`WriteError::Stale`]: older than the key's mark, or a writer's write of a
    /// generation the owner has left) and raises the marks to it. Other keys pass, undecoded.
    pub(crate) fn admit(
        &mut self,
        key: &[u8],
        entry: &[u8],
        expires_ms: Option<u64>,
        now_ms: u64,
    ) -> Result<(), WriteError> {
        let Some((schema, prefix_len)) = self.policy.owned_schema(key) else {
            return Ok(());
        };
        // The store's checks verified the value before any write; bytes that are not an owned
        // value here (a damaged entry being rewritten) get no mark.
        let value = RecordEntry::decode(entry).map(|entry| entry.value).ok();
        let (Some(incoming), Some(collection)) =
            (value.and_then(header), collection_row(key, prefix_len))
        else {
            return Ok(());
        };
        let key_mark = self.marks.open()?.get(key)?.map(|row| row.value());
        let collection_mark = self
            .marks
            .open()?
            .get(collection.as_slice())?
            .map(|row| row.value());
        if let Some(problem) = stale(&incoming, key_mark, collection_mark) {
            return Err(WriteError::Stale {
                schema,
                key: key.to_vec(),
                problem,
            });
        }
        let keep_until = now_ms.saturating_add(self.policy.keep_ms);
        let write = (incoming.generation, incoming.sequence);
        let newest = key_mark.map_or(write, |(generation, sequence, _)| {
            write.max((generation, sequence))
        });
        self.raise(
            key,
            newest,
            keep_until.max(expires_ms.unwrap_or(0)),
            key_mark,
        )?;
        if !incoming.delegated {
            let generation = collection_mark.map_or(incoming.generation, |(generation, _, _)| {
                generation.max(incoming.generation)
            });
            self.raise(&collection, (generation, 0), keep_until, collection_mark)?;
        }
        Ok(())
    }

    /// Writes the mark `row` = `mark` kept until at least `keep_until` (and the old mark's time),
    /// moving its time index row.
    fn raise(
        &mut self,
        row: &[u8],
        mark: (u64, u64),
        keep_until: u64,
        old: Option<(u64, u64, u64)>,
    ) -> StoreResult<()> {
        let keep_until = keep_until.max(old.map_or(0, |(_, _, keep)| keep));
        if old == Some((mark.0, mark.1, keep_until)) {
            return Ok(());
        }
        self.marks
            .open()?
            .insert(row, (mark.0, mark.1, keep_until))?;
        if let Some((_, _, previous)) = old
            && previous != keep_until
        {
            self.by_time.open()?.remove((previous, row))?;
        }
        self.by_time.open()?.insert((keep_until, row), ())?;
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

/// Why `value`, an owned write under `key`, is stale against the marks in `txn` (see
/// [`Marks::admit`]), or `None`: also for keys of no owned schema and bytes that are no owned
/// value.
pub(crate) fn stale_write(
    policy: MarkPolicy<'_>,
    txn: &ReadTransaction,
    key: &[u8],
    value: &[u8],
) -> StoreResult<Option<OwnershipProblem>> {
    let Some((_, prefix_len)) = policy.owned_schema(key) else {
        return Ok(None);
    };
    let (Some(incoming), Some(collection)) = (header(value), collection_row(key, prefix_len))
    else {
        return Ok(None);
    };
    Ok(stale(
        &incoming,
        read_mark(txn, key)?,
        read_mark(txn, &collection)?,
    ))
}

/// The mark row `row` in a read transaction, or `None` (also for a store that never held an owned
/// record, which has no mark table).
fn read_mark(txn: &ReadTransaction, row: &[u8]) -> StoreResult<Option<(u64, u64, u64)>> {
    let marks = match txn.open_table(tables::OWNED_MARKS) {
        Ok(marks) => marks,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(error) => return Err(StoreError::from(error)),
    };
    Ok(marks.get(row)?.map(|row| row.value()))
}
