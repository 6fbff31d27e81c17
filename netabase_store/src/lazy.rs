//! Tables opened on first use: opening a redb table costs several microseconds, a large share of
//! a one-record write transaction, so a write opens only the tables it touches.

use redb::{Key, Table, TableDefinition, Value, WriteTransaction};

use crate::error::StoreResult;

/// A table of a write transaction, opened the first time [`LazyTable::open`] is called.
pub(crate) struct LazyTable<'txn, K: Key + 'static, V: Value + 'static> {
    txn: &'txn WriteTransaction,
    definition: TableDefinition<'static, K, V>,
    table: Option<Table<'txn, K, V>>,
}

impl<'txn, K: Key + 'static, V: Value + 'static> LazyTable<'txn, K, V> {
    pub(crate) fn new(
        txn: &'txn WriteTransaction,
        definition: TableDefinition<'static, K, V>,
    ) -> Self {
        LazyTable {
            txn,
            definition,
            table: None,
        }
    }

    /// The table, opened now if it is not yet.
    pub(crate) fn open(&mut self) -> StoreResult<&mut Table<'txn, K, V>> {
        if let Some(table) = self.table.take() {
            return Ok(self.table.insert(table));
        }
        let table = self.txn.open_table(self.definition)?;
        Ok(self.table.insert(table))
    }
}
