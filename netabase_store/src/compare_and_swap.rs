//! Compare-and-swap of one typed value: the store's atomic read-modify-write.

use std::fmt;

use netabase::{DatabaseError, DatabaseResult, NetabaseSchema};
use redb::ReadableTable;

use crate::clock::Now;
use crate::database::check_value_key;
use crate::error::StoreError;
use crate::node_store::write_error;
use crate::records::{NewRecord, RecordTables, typed_entry, value_of_entry};
use crate::store::RedbStore;
use crate::tables;

/// A [`RedbStore::compare_and_swap`] that did not swap: the stored value was not the expected
/// one. Holds what is stored, so the caller can retry from it.
#[derive(Debug, Clone, PartialEq)]
pub struct SwapConflict<V> {
    /// The value stored under the key when the swap was tried (`None`: none, or expired).
    pub current: Option<V>,
}

impl<V: fmt::Debug> fmt::Display for SwapConflict<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.current {
            Some(current) => write!(
                f,
                "the stored value is not the expected one (it is {current:?}); retry from it"
            ),
            None => f.write_str("no value is stored under the key; retry expecting none"),
        }
    }
}

impl<V: fmt::Debug> std::error::Error for SwapConflict<V> {}

impl RedbStore {
    /// Replaces the value of schema `V` under `key` with `new` (`None`: removes it) only if the
    /// stored value is `expected` (`None`: only if nothing is stored, or what is stored has
    /// expired), in one write transaction, so no other write lands between the read and the
    /// write. Values are compared by their encoded bytes. The outer error is a failure of the
    /// store or of the values (as for [`put_value`](Self::put_value)); the inner one says the
    /// stored value was another, and carries it. `new` must be stored under `key`
    /// ([`DatabaseError::KeyMismatch`] otherwise); an owned schema's values must be signed, so
    /// this fails with [`DatabaseError::OwnedNeedsSignature`] for one. Like every local write it
    /// stays on this store until the node publishes it.
    pub fn compare_and_swap<V: NetabaseSchema>(
        &self,
        key: &V::Key,
        expected: Option<&V>,
        new: Option<&V>,
    ) -> DatabaseResult<Result<(), SwapConflict<V>>> {
        if V::OWNED {
            return Err(DatabaseError::OwnedNeedsSignature { schema: V::NAME });
        }
        let record_key = V::record_key(key)?;
        if let Some(new) = new {
            check_value_key(key, new)?;
        }
        let expected = expected.map(V::to_bytes).transpose()?;
        let limits = self.inner.config.limits;
        let publisher = self.inner.local_peer_id();
        let now = Now::read();
        let entry = new
            .map(|new| typed_entry(new, None, publisher.as_ref(), limits.max_value_bytes))
            .transpose()?;
        self.inner.write(self.inner.config.user_durability, |txn| {
            let current: Option<V> = {
                let records = txn.open_table(tables::RECORDS).map_err(StoreError::from)?;
                let stored = records.get(record_key.as_ref()).map_err(StoreError::from)?;
                match stored {
                    Some(stored) => value_of_entry(record_key.as_ref(), stored.value())?,
                    None => None,
                }
            };
            let current_bytes = current.as_ref().map(V::to_bytes).transpose()?;
            if current_bytes != expected {
                return Ok(Err(SwapConflict { current }));
            }
            let mut tables = RecordTables::open(txn, self.inner.write_policy())?;
            match &entry {
                Some(entry) => tables
                    .overwrite(
                        &NewRecord {
                            key: record_key.as_ref(),
                            entry,
                            expires_ms: None,
                            sender: None,
                        },
                        limits.max_records,
                        &now,
                    )
                    .map_err(|error| write_error(error, &limits))?,
                None => {
                    tables.remove(record_key.as_ref())?;
                }
            }
            Ok(Ok(()))
        })
    }
}
