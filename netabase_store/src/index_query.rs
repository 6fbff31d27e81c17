//! Queries by secondary index: exact value, range and prefix, read a page at a time.

use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use netabase::index::Index;
use netabase::{DatabaseError, DatabaseResult, NetabaseSchema};
use redb::{Range, ReadOnlyTable, TableError};
use serde::Serialize;

use crate::error::StoreError;
use crate::indexes::index_id;
use crate::records::value_of_entry;
use crate::scan::ReadSource;
use crate::store::RedbStore;
use crate::tables;

/// Where an index walk stops.
enum Stop {
    /// After the rows of this exact value.
    Exact(Vec<u8>),
    /// After the rows whose value starts with these bytes.
    Prefix(Vec<u8>),
    /// At this bound on the value.
    Upper(Bound<Vec<u8>>),
}

impl Stop {
    fn admits(&self, value: &[u8]) -> bool {
        match self {
            Stop::Exact(exact) => value == exact.as_slice(),
            Stop::Prefix(prefix) => value.starts_with(prefix),
            Stop::Upper(Bound::Unbounded) => true,
            Stop::Upper(Bound::Included(upper)) => value <= upper.as_slice(),
            Stop::Upper(Bound::Excluded(upper)) => value < upper.as_slice(),
        }
    }
}

/// Where an index walk starts: the first row at or after a value, then after the last row a page
/// read.
enum Start {
    From(Option<Vec<u8>>),
    After(Vec<u8>, Vec<u8>),
}

/// What one row of an index walk gave.
enum Row<V> {
    /// The walk is over.
    End,
    /// Nothing to return: an expired or deleted value, or the excluded bound.
    Nothing,
    /// A value, or why it does not decode.
    Found(DatabaseResult<V>),
}

/// One page of an index walk: a range over the index rows and the records table of one read
/// transaction, which both keep alive.
struct Page {
    rows: Range<'static, tables::IndexRowKey, ()>,
    records: ReadOnlyTable<&'static [u8], &'static [u8]>,
    /// Rows this page may still read.
    left: usize,
}

/// An iterator over the values of schema `V` an index query selects, in the index's order (values
/// that share an index value in record-key order), read a page of rows at a time, each page in
/// its own read transaction (kept until its rows are consumed): flat memory, not a snapshot.
///
/// Expired and deleted values are skipped; a value that does not decode as `V` is an error in
/// its place, and the walk goes on.
pub struct IndexScan<V> {
    source: Arc<dyn ReadSource>,
    id: Vec<u8>,
    start: Start,
    /// The value of an excluded lower bound: its rows are passed over.
    skip: Option<Vec<u8>>,
    stop: Stop,
    page: Option<Page>,
    done: bool,
    _schema: PhantomData<fn() -> V>,
}

impl<V> std::fmt::Debug for IndexScan<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexScan")
            .field("index", &String::from_utf8_lossy(&self.id))
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<V: NetabaseSchema> IndexScan<V> {
    /// Opens the next page, or `None` when no indexed record was ever written.
    fn open_page(&self) -> DatabaseResult<Option<Page>> {
        let txn = self.source.begin_read()?;
        let rows = match txn.open_table(tables::INDEX_ROWS) {
            Ok(rows) => rows,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(error) => return Err(StoreError::from(error).into()),
        };
        let records = txn.open_table(tables::RECORDS).map_err(StoreError::from)?;
        let id = self.id.as_slice();
        let lower = match &self.start {
            Start::After(value, key) => Bound::Excluded((id, value.as_slice(), key.as_slice())),
            Start::From(Some(value)) => Bound::Included((id, value.as_slice(), &[][..])),
            Start::From(None) => Bound::Included((id, &[][..], &[][..])),
        };
        let rows = rows
            .range::<(&[u8], &[u8], &[u8])>((lower, Bound::Unbounded))
            .map_err(StoreError::from)?;
        Ok(Some(Page {
            rows,
            records,
            left: self.source.page_size().max(1),
        }))
    }

    /// The next result, reading rows until one gives a value or an error; `None` at the end. A
    /// value that does not decode is an error in its place and the walk goes on; a failure of the
    /// storage is returned once and ends it.
    fn next_entry(&mut self) -> Option<DatabaseResult<V>> {
        loop {
            if self.done {
                return None;
            }
            match self.next_row() {
                Ok(Row::Found(found)) => return Some(found),
                Ok(Row::Nothing) => {}
                Ok(Row::End) => {
                    self.done = true;
                    return None;
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
    }

    /// Reads one row; `Err` is a failure of the storage.
    fn next_row(&mut self) -> DatabaseResult<Row<V>> {
        if self.page.is_none() {
            self.page = self.open_page()?;
        }
        let Some(page) = self.page.as_mut() else {
            return Ok(Row::End);
        };
        let Some(row) = page.rows.next() else {
            return Ok(Row::End);
        };
        let (row, _) = row.map_err(StoreError::from)?;
        let (row_id, value, key) = row.value();
        if row_id != self.id.as_slice() || !self.stop.admits(value) {
            return Ok(Row::End);
        }
        let found = if self.skip.as_deref() == Some(value) {
            None
        } else {
            match page.records.get(key).map_err(StoreError::from)? {
                Some(entry) => value_of_entry::<V>(key, entry.value()).transpose(),
                None => None,
            }
        };
        page.left -= 1;
        if page.left == 0 {
            // The page ends here and its snapshot with it; only now is a row copied.
            self.start = Start::After(value.to_vec(), key.to_vec());
            self.page = None;
        }
        Ok(found.map_or(Row::Nothing, Row::Found))
    }
}

impl<V: NetabaseSchema> Iterator for IndexScan<V> {
    type Item = DatabaseResult<V>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry()
    }
}

impl RedbStore {
    /// The values of schema `V` whose `index` value is `value`: `store.find(User::by_age(),
    /// &42)`. In record-key order.
    pub fn find<V: NetabaseSchema, T: Serialize>(
        &self,
        index: Index<V, T>,
        value: &T,
    ) -> DatabaseResult<IndexScan<V>> {
        let value = index.encode(value)?;
        self.index_scan(index, Bound::Included(value.clone()), Stop::Exact(value))
    }

    /// The one value of schema `V` whose unique `index` value is `value`, if any:
    /// `store.find_unique(User::by_email(), &email)`. Works on any index; on one that is not
    /// unique it returns the first value in record-key order.
    pub fn find_unique<V: NetabaseSchema, T: Serialize>(
        &self,
        index: Index<V, T>,
        value: &T,
    ) -> DatabaseResult<Option<V>> {
        self.find(index, value)?.next().transpose()
    }

    /// The values of schema `V` whose `index` value lies in `range`, in the index's order (see
    /// [`netabase::index`]: integers numerically, strings lexicographically, ...):
    /// `store.find_range(User::by_age(), 18..30)`.
    pub fn find_range<V: NetabaseSchema, T: Serialize>(
        &self,
        index: Index<V, T>,
        range: impl RangeBounds<T>,
    ) -> DatabaseResult<IndexScan<V>> {
        let encode = |bound: Bound<&T>| -> DatabaseResult<Bound<Vec<u8>>> {
            Ok(match bound {
                Bound::Included(value) => Bound::Included(index.encode(value)?),
                Bound::Excluded(value) => Bound::Excluded(index.encode(value)?),
                Bound::Unbounded => Bound::Unbounded,
            })
        };
        let start = encode(range.start_bound())?;
        let stop = encode(range.end_bound())?;
        self.index_scan(index, start, Stop::Upper(stop))
    }

    /// The values of schema `V` whose `index` value starts with `leading`: for an index on a
    /// tuple or struct field, its leading elements (`store.find_prefix(Event::by_when(),
    /// &(2026u16,))` for a `(u16, u8)` field). In the index's order.
    pub fn find_prefix<V: NetabaseSchema, T: Serialize>(
        &self,
        index: Index<V, T>,
        leading: &impl Serialize,
    ) -> DatabaseResult<IndexScan<V>> {
        let prefix = index.encode(leading)?;
        self.index_scan(index, Bound::Included(prefix.clone()), Stop::Prefix(prefix))
    }

    fn index_scan<V: NetabaseSchema, T: Serialize>(
        &self,
        index: Index<V, T>,
        lower: Bound<Vec<u8>>,
        stop: Stop,
    ) -> DatabaseResult<IndexScan<V>> {
        let def = index.def()?;
        // Only the indexes of the schemas this store registered are kept up to date.
        let prefix = V::record_prefix();
        let schema = self
            .inner
            .registry
            .schema_of(&prefix)
            .filter(|schema| schema.indexes().contains(def))
            .ok_or(DatabaseError::IndexNotKept {
                schema: V::NAME,
                index: def.name,
            })?;
        Ok(IndexScan {
            source: self.inner.clone(),
            id: index_id(schema, def.name),
            skip: match &lower {
                Bound::Excluded(value) => Some(value.clone()),
                _ => None,
            },
            start: Start::From(match lower {
                Bound::Included(value) | Bound::Excluded(value) => Some(value),
                Bound::Unbounded => None,
            }),
            stop,
            page: None,
            done: false,
            _schema: PhantomData,
        })
    }
}
