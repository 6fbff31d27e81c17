//! Records peers sent, held in memory until the group commit writes them in one transaction.
//!
//! A record arriving through `RecordStore::put` under grouped network durability is resolved
//! against what is stored (buffered or committed) at once, and only the winner is kept here. The
//! next write transaction, read transaction or flush writes the whole inbox first, so every read
//! of the store sees it; `RecordStore::get`, `NodeStore::get_local` and typed point reads look
//! here first instead, without waiting for a commit in progress. This spares the swarm task a
//! write transaction per inbound record.

use std::collections::BTreeMap;

use redb::WriteTransaction;

use crate::clock::Now;
use crate::error::StoreResult;
use crate::records::{NewRecord, RecordTables, WriteError, WritePolicy};

/// The buffered winners, by record key.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    entries: BTreeMap<Vec<u8>, Buffered>,
    /// How many buffered keys have no row in the `records` table yet.
    new_keys: usize,
}

#[derive(Debug)]
struct Buffered {
    /// The complete entry (header and value), as the `records` table stores it.
    entry: Vec<u8>,
    expires_ms: Option<u64>,
    /// The peer that delivered it, if known (its quota is charged when the key is new).
    sender: Option<Vec<u8>>,
}

impl Inbox {
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The buffered entry under `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries
            .get(key)
            .map(|buffered| buffered.entry.as_slice())
    }

    /// How many buffered keys the `records` table does not hold yet.
    pub(crate) fn new_keys(&self) -> usize {
        self.new_keys
    }

    /// Buffers `record` under its key, replacing what was buffered there. `new_key` says whether
    /// the `records` table holds no row for it (ignored when the key is already buffered).
    pub(crate) fn insert(&mut self, record: NewRecord<'_>, new_key: bool) {
        let entry = record.entry.to_vec();
        if let Some(buffered) = self.entries.get_mut(record.key) {
            buffered.entry = entry;
            buffered.expires_ms = record.expires_ms;
            return;
        }
        let sender = record.sender.map(<[u8]>::to_vec);
        self.new_keys += usize::from(new_key);
        self.entries.insert(
            record.key.to_vec(),
            Buffered {
                entry,
                expires_ms: record.expires_ms,
                sender,
            },
        );
    }

    /// Writes every buffered record into `txn`, leaving the inbox as it is (the caller clears it
    /// once the transaction has committed). A record refused now is passed to `dropped` with the
    /// reason: one that no longer fits under `max_records` (buffering checked the room, so only a
    /// lowered limit gets there), an owned write a newer one overtook, or one whose unique index
    /// value a lower record key holds.
    pub(crate) fn write_into(
        &self,
        txn: &WriteTransaction,
        max_records: usize,
        policy: WritePolicy<'_>,
        mut dropped: impl FnMut(&[u8], &WriteError),
    ) -> StoreResult<()> {
        let now = Now::read();
        let mut tables = RecordTables::open_for_peers(txn, policy)?;
        for (key, buffered) in &self.entries {
            let record = NewRecord {
                key,
                entry: &buffered.entry,
                expires_ms: buffered.expires_ms,
                sender: buffered.sender.as_deref(),
            };
            match tables.overwrite(&record, max_records, &now) {
                Ok(()) => {}
                Err(WriteError::Store(error)) => return Err(error),
                Err(refused) => dropped(key, &refused),
            }
        }
        Ok(())
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.new_keys = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(key: &'a [u8], entry: &'a [u8]) -> NewRecord<'a> {
        NewRecord {
            key,
            entry,
            expires_ms: None,
            sender: None,
        }
    }

    #[test]
    fn a_key_counts_as_new_once_and_the_last_entry_wins() {
        let mut inbox = Inbox::default();
        inbox.insert(record(b"a", b"1"), true);
        inbox.insert(record(b"a", b"2"), true);
        inbox.insert(record(b"b", b"3"), false);
        assert_eq!(inbox.new_keys(), 1);
        assert_eq!(inbox.get(b"a"), Some(&b"2"[..]));
        assert_eq!(inbox.get(b"b"), Some(&b"3"[..]));
        assert_eq!(inbox.get(b"c"), None);
        inbox.clear();
        assert!(inbox.is_empty());
        assert_eq!(inbox.new_keys(), 0);
    }

    /// A record that no longer fits at the group commit is dropped, and nothing of it is
    /// committed with the others.
    #[test]
    fn a_record_without_room_leaves_nothing_behind() {
        use redb::{ReadableDatabase, ReadableTableMetadata};

        let store = crate::RedbStore::in_memory().unwrap();
        let entry = crate::entry::record_header(None, None, 1).unwrap();
        let mut inbox = Inbox::default();
        inbox.insert(record(b"/other/Blob/a", &entry), true);
        inbox.insert(record(b"/other/Blob/b", &entry), true);
        let core = &store.inner;
        let txn = core.db.begin_write().unwrap();
        let mut dropped = Vec::new();
        inbox
            .write_into(&txn, 1, core.write_policy(), |key, reason| {
                assert!(matches!(reason, WriteError::MaxRecords), "{reason:?}");
                dropped.push(key.to_vec())
            })
            .unwrap();
        txn.commit().unwrap();
        assert_eq!(dropped, [b"/other/Blob/b".to_vec()]);
        let read = core.db.begin_read().unwrap();
        let records = read.open_table(crate::tables::RECORDS).unwrap();
        assert_eq!(records.len().unwrap(), 1);
        assert!(records.get(&b"/other/Blob/b"[..]).unwrap().is_none());
        let counted = read.open_table(crate::tables::UNKNOWN_KEYS).unwrap();
        assert_eq!(
            counted.len().unwrap(),
            1,
            "the dropped record is not charged to a quota"
        );
    }
}
