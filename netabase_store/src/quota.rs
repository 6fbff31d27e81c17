//! Quotas for records of schemas the store does not know: at most `max_unknown_records` of them in
//! all, at most `max_unknown_per_namespace` under one namespace, and at most `max_unknown_per_peer`
//! delivered by one peer, so strangers cannot take the room that records of registered schemas
//! need (the reserve is `max_records - max_unknown_records`), one application's flood cannot push
//! out another's records, and one peer cannot take a namespace's share.
//!
//! The store keeps the set of record keys it counted (`unknown_keys`, each with the peer id of the
//! peer that delivered it when a node's gate said so) and their number per namespace and per peer
//! (`unknown_counts`, with the total under the empty key), updated in the same transaction as the
//! records. The delivering peer is the connection's authenticated peer id, not the record's
//! `publisher`, which its sender may set to anything. A key is counted when it is first stored while no registered schema
//! claims it, and uncounted when it is removed, whatever the registry says by then, so the counts
//! stay exact when an application later registers a schema.

use netabase::{SchemaRegistry, split_record_key};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use crate::error::{StoreError, StoreResult};
use crate::lazy::LazyTable;
use crate::records::WriteError;
use crate::tables;

/// The `unknown_counts` row of every counted key: the total.
const TOTAL: &[u8] = b"";
/// The `unknown_counts` row of keys without a `/<namespace>/<name>/` shape (no namespace contains
/// `/`, so it never meets a real namespace).
const NO_NAMESPACE: &[u8] = b"/";
/// What the `unknown_counts` row of a delivering peer starts with, before its peer id bytes.
const PEER_ROW: &[u8] = b"/peer/";

/// The `unknown_counts` row of the peer with id bytes `peer`.
fn peer_row(peer: &[u8]) -> Vec<u8> {
    [PEER_ROW, peer].concat()
}

/// The limits and the registry that says which keys are unknown.
#[derive(Clone, Copy)]
pub(crate) struct QuotaPolicy<'r> {
    pub(crate) registry: &'r SchemaRegistry,
    pub(crate) max_unknown: usize,
    pub(crate) max_per_namespace: usize,
    pub(crate) max_per_peer: usize,
}

impl QuotaPolicy<'_> {
    /// Whether `key` belongs to no registered schema.
    pub(crate) fn is_unknown(&self, key: &[u8]) -> bool {
        self.registry.schema_of(key).is_none()
    }

    /// The `unknown_counts` rows a new record under `key` from `sender` counts in, each with its
    /// limit and the quota it stands for.
    fn limits(&self, key: &[u8], sender: Option<&[u8]>) -> Vec<(Vec<u8>, usize, Exceeded)> {
        let mut limits = vec![
            (TOTAL.to_vec(), self.max_unknown, Exceeded::Total),
            (
                bucket(key).to_vec(),
                self.max_per_namespace,
                Exceeded::Namespace,
            ),
        ];
        if let Some(peer) = sender {
            limits.push((peer_row(peer), self.max_per_peer, Exceeded::Peer));
        }
        limits
    }
}

/// Which quota a record would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    /// `max_unknown_records`.
    Total,
    /// `max_unknown_per_namespace`.
    Namespace,
    /// `max_unknown_per_peer`.
    Peer,
}

/// The namespace row a key counts under.
fn bucket(key: &[u8]) -> &[u8] {
    split_record_key(key).map_or(NO_NAMESPACE, |(namespace, _, _)| namespace)
}

/// The quota tables of one write transaction.
pub(crate) struct Quotas<'txn, 'r> {
    policy: QuotaPolicy<'r>,
    keys: LazyTable<'txn, &'static [u8], &'static [u8]>,
    counts: LazyTable<'txn, &'static [u8], u64>,
}

impl<'txn, 'r> Quotas<'txn, 'r> {
    /// Whether `key` belongs to no registered schema: a key these quotas count.
    pub(crate) fn is_unknown(&self, key: &[u8]) -> bool {
        self.policy.is_unknown(key)
    }

    pub(crate) fn new(txn: &'txn WriteTransaction, policy: QuotaPolicy<'r>) -> Self {
        Quotas {
            policy,
            keys: LazyTable::new(txn, tables::UNKNOWN_KEYS),
            counts: LazyTable::new(txn, tables::UNKNOWN_COUNTS),
        }
    }

    /// Before a new key is stored: refuses it when it is unknown and a quota it would count in
    /// (`sender` is the delivering peer's id bytes, when known) is full. Changes nothing.
    pub(crate) fn check_new(
        &mut self,
        key: &[u8],
        sender: Option<&[u8]>,
    ) -> Result<(), WriteError> {
        if !self.policy.is_unknown(key) {
            return Ok(());
        }
        for (row, max, exceeded) in self.policy.limits(key, sender) {
            if self.count(&row)? >= max as u64 {
                return Err(WriteError::Quota(exceeded));
            }
        }
        Ok(())
    }

    /// Once a new key [`check_new`](Self::check_new) admitted is being stored: counts it if it is
    /// unknown, charging `sender`.
    pub(crate) fn count_new(&mut self, key: &[u8], sender: Option<&[u8]>) -> StoreResult<()> {
        if !self.policy.is_unknown(key) {
            return Ok(());
        }
        self.count_key(key, sender)
    }

    /// Adds `key` to the counted keys and its counts, unless it is counted already.
    fn count_key(&mut self, key: &[u8], sender: Option<&[u8]>) -> StoreResult<()> {
        if self
            .keys
            .open()?
            .insert(key, sender.unwrap_or_default())?
            .is_some()
        {
            return Ok(());
        }
        self.add(TOTAL, 1)?;
        self.add(bucket(key), 1)?;
        if let Some(peer) = sender {
            self.add(&peer_row(peer), 1)?;
        }
        Ok(())
    }

    /// After `key` was removed: uncounts it if it was counted.
    pub(crate) fn release(&mut self, key: &[u8]) -> StoreResult<()> {
        if !self.policy.is_unknown(key) && !self.any_counted()? {
            return Ok(());
        }
        let sender = match self.keys.open()?.remove(key)? {
            Some(sender) => sender.value().to_vec(),
            None => return Ok(()),
        };
        self.add(TOTAL, -1)?;
        self.add(bucket(key), -1)?;
        if !sender.is_empty() {
            self.add(&peer_row(&sender), -1)?;
        }
        Ok(())
    }

    /// Whether any key is counted (a registered key may have been counted before its schema was
    /// registered); false without opening anything for a store that never counted one.
    fn any_counted(&mut self) -> StoreResult<bool> {
        Ok(self.count(TOTAL)? > 0)
    }

    fn count(&mut self, row: &[u8]) -> StoreResult<u64> {
        Ok(self
            .counts
            .open()?
            .get(row)?
            .map_or(0, |count| count.value()))
    }

    /// Adds `delta` to the count of `row` (never below zero), dropping rows that reach zero.
    fn add(&mut self, row: &[u8], delta: i64) -> StoreResult<()> {
        let count = self.count(row)?.saturating_add_signed(delta);
        let counts = self.counts.open()?;
        if count == 0 {
            counts.remove(row)?;
        } else {
            counts.insert(row, count)?;
        }
        Ok(())
    }
}

/// Which quota, if any, is already full for a new record of an unknown schema under `key`
/// delivered by `sender`, in a read transaction, counting `pending` buffered new keys as if
/// stored: `Ok(Err(exceeded))` when it is full without them (refuse), `Ok(Ok(true))` when it would
/// be with them (write through), `Ok(Ok(false))` when there is room.
pub(crate) fn room_for(
    policy: QuotaPolicy<'_>,
    txn: &ReadTransaction,
    key: &[u8],
    sender: Option<&[u8]>,
    pending: u64,
) -> StoreResult<Result<bool, Exceeded>> {
    let counts = match txn.open_table(tables::UNKNOWN_COUNTS) {
        Ok(counts) => counts,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Ok(false)),
        Err(error) => return Err(StoreError::from(error)),
    };
    let read =
        |row: &[u8]| -> StoreResult<u64> { Ok(counts.get(row)?.map_or(0, |count| count.value())) };
    let mut near = false;
    for (row, max, exceeded) in policy.limits(key, sender) {
        let count = read(&row)?;
        if count >= max as u64 {
            return Ok(Err(exceeded));
        }
        near |= count.saturating_add(pending) >= max as u64;
    }
    Ok(Ok(near))
}

/// Counts the records of unknown schemas of a store written before quotas existed (no
/// `unknown_counts` table yet), once, when it is first opened for writing.
pub(crate) fn count_existing(txn: &WriteTransaction, policy: QuotaPolicy<'_>) -> StoreResult<()> {
    let exists = txn.list_tables()?.any(|table| {
        redb::TableHandle::name(&table) == redb::TableHandle::name(&tables::UNKNOWN_COUNTS)
    });
    if exists {
        return Ok(());
    }
    let mut quotas = Quotas::new(txn, policy);
    // The counts table exists from here on, also when nothing is counted.
    quotas.counts.open()?;
    let records = txn.open_table(tables::RECORDS)?;
    for row in records.iter()? {
        let (key, _) = row?;
        let key = key.value();
        if policy.is_unknown(key) {
            quotas.count_key(key, None)?;
        }
    }
    Ok(())
}
