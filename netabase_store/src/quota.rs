//! Quotas for records of schemas the store does not know: at most `max_unknown_records` of them in
//! all, and at most `max_unknown_per_namespace` under one namespace, so strangers cannot take the
//! room that records of registered schemas need (the reserve is `max_records -
//! max_unknown_records`) and one application's flood cannot push out another's records.
//!
//! The store keeps the set of record keys it counted (`unknown_keys`) and their number per
//! namespace (`unknown_counts`, with the total under the empty key), updated in the same
//! transaction as the records. A key is counted when it is first stored while no registered schema
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

/// The limits and the registry that says which keys are unknown.
#[derive(Clone, Copy)]
pub(crate) struct QuotaPolicy<'r> {
    pub(crate) registry: &'r SchemaRegistry,
    pub(crate) max_unknown: usize,
    pub(crate) max_per_namespace: usize,
}

impl QuotaPolicy<'_> {
    /// Whether `key` belongs to no registered schema.
    pub(crate) fn is_unknown(&self, key: &[u8]) -> bool {
        self.registry.schema_of(key).is_none()
    }
}

/// Which quota a record would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    /// `max_unknown_records`.
    Total,
    /// `max_unknown_per_namespace`.
    Namespace,
}

/// The namespace row a key counts under.
fn bucket(key: &[u8]) -> &[u8] {
    split_record_key(key).map_or(NO_NAMESPACE, |(namespace, _, _)| namespace)
}

/// The quota tables of one write transaction.
pub(crate) struct Quotas<'txn, 'r> {
    policy: QuotaPolicy<'r>,
    keys: LazyTable<'txn, &'static [u8], ()>,
    counts: LazyTable<'txn, &'static [u8], u64>,
}

impl<'txn, 'r> Quotas<'txn, 'r> {
    /// Whether `key` belongs to no registered schema.
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

    /// Before a new key is stored: counts it if it is unknown, or refuses it when a quota is full.
    pub(crate) fn admit_new(&mut self, key: &[u8]) -> Result<(), WriteError> {
        if !self.policy.is_unknown(key) {
            return Ok(());
        }
        let namespace = bucket(key);
        let total = self.count(TOTAL)?;
        if total >= self.policy.max_unknown as u64 {
            return Err(WriteError::Quota(Exceeded::Total));
        }
        let in_namespace = self.count(namespace)?;
        if in_namespace >= self.policy.max_per_namespace as u64 {
            return Err(WriteError::Quota(Exceeded::Namespace));
        }
        self.count_key(key)?;
        Ok(())
    }

    /// Adds `key` to the counted keys and its counts, unless it is counted already.
    fn count_key(&mut self, key: &[u8]) -> StoreResult<()> {
        if self.keys.open()?.insert(key, ())?.is_none() {
            let total = self.count(TOTAL)?;
            self.set(TOTAL, total + 1)?;
            let namespace = bucket(key);
            let in_namespace = self.count(namespace)?;
            self.set(namespace, in_namespace + 1)?;
        }
        Ok(())
    }

    /// After `key` was removed: uncounts it if it was counted.
    pub(crate) fn release(&mut self, key: &[u8]) -> StoreResult<()> {
        if !self.policy.is_unknown(key) && !self.any_counted()? {
            return Ok(());
        }
        if self.keys.open()?.remove(key)?.is_some() {
            let namespace = bucket(key);
            let total = self.count(TOTAL)?;
            self.set(TOTAL, total.saturating_sub(1))?;
            let in_namespace = self.count(namespace)?;
            self.set(namespace, in_namespace.saturating_sub(1))?;
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

    fn set(&mut self, row: &[u8], count: u64) -> StoreResult<()> {
        let counts = self.counts.open()?;
        if count == 0 {
            counts.remove(row)?;
        } else {
            counts.insert(row, count)?;
        }
        Ok(())
    }
}

/// How many counted records of unknown schemas the store holds in all and under `key`'s
/// namespace, in a read transaction (zero for a store that never counted one).
pub(crate) fn counts_for(txn: &ReadTransaction, key: &[u8]) -> StoreResult<(u64, u64)> {
    let counts = match txn.open_table(tables::UNKNOWN_COUNTS) {
        Ok(counts) => counts,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok((0, 0)),
        Err(error) => return Err(StoreError::from(error)),
    };
    let read =
        |row: &[u8]| -> StoreResult<u64> { Ok(counts.get(row)?.map_or(0, |count| count.value())) };
    Ok((read(TOTAL)?, read(bucket(key))?))
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
            quotas.count_key(key)?;
        }
    }
    Ok(())
}
