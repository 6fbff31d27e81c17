//! Walking the store in pages: each page of rows is read in its own read transaction, straight
//! from redb's range as the walk is consumed, so a walk over millions of records holds no buffer
//! and pins a snapshot of the file only for the rows of one page.
//!
//! The walks read through a [`ReadSource`], so a [`RedbStore`](crate::RedbStore) and a read-only
//! [`StoreReader`](crate::StoreReader) share them.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::ops::Bound;
use std::sync::Arc;

use libp2p::kad::{ProviderRecord, Record};
use netabase::DatabaseResult;
use redb::{AccessGuard, Key, Range, ReadTransaction, Value};

use crate::clock::Now;
use crate::error::StoreResult;
use crate::providers::to_provider_record;
use crate::records::to_record;
use crate::store::Inner;
use crate::tables;

/// Where the read paths get their read transactions: a store open for writing or a read-only
/// reader of a file. Walks hold the source, so the file stays open while one is under way.
pub(crate) trait ReadSource: Send + Sync {
    /// Begins a read transaction: a snapshot of the last commit.
    fn begin_read(&self) -> StoreResult<ReadTransaction>;

    /// How many rows one page of a walk reads in one read transaction (at least 1).
    fn page_size(&self) -> usize;
}

/// What one row of a walk turned out to be.
enum Row<T> {
    /// A result (`Err`: a damaged entry, returned in its place).
    Item(StoreResult<T>),
    /// Nothing to return (an expired record awaiting the sweep).
    Skip,
    /// The row is past what the walk covers: the walk is over.
    End,
}

/// What one kind of walk reads: the table and where to start, and what each row gives.
trait Cursor {
    /// What the walk returns.
    type Item;
    /// The table's key type.
    type Key: Key + 'static;
    /// The table's value type.
    type Value: Value + 'static;

    /// The rows after the cursor, in `txn`'s snapshot (the range keeps the snapshot alive).
    fn rows(&self, txn: &ReadTransaction) -> StoreResult<Range<'static, Self::Key, Self::Value>>;

    /// What the row `key`, `value` gives.
    fn read(
        &self,
        key: &AccessGuard<'_, Self::Key>,
        value: &AccessGuard<'_, Self::Value>,
        now: &Now,
    ) -> Row<Self::Item>;

    /// Makes the next [`rows`](Self::rows) start after `key`.
    fn resume_after(&mut self, key: &AccessGuard<'_, Self::Key>);
}

/// The rows of one page: a range over one read transaction's snapshot.
struct Page<C: Cursor> {
    rows: Range<'static, C::Key, C::Value>,
    /// Rows this page may still read before it ends.
    left: usize,
    now: Now,
}

/// A walk over the rows a [`Cursor`] reads, a page at a time. Rows are read as the walk is
/// consumed, straight from redb's range (no copy into a buffer, which cost as much as the read
/// itself): each page is a range over its own read transaction, which lives until the page's
/// rows have been consumed or the walk is dropped.
struct Walk<C: Cursor> {
    source: Arc<dyn ReadSource>,
    cursor: C,
    page: Option<Page<C>>,
    /// A damaged entry [`Walk::next_page`] met after results: the next call returns it.
    held: Option<StoreResult<C::Item>>,
    done: bool,
}

impl<C: Cursor> Walk<C> {
    fn new(source: Arc<dyn ReadSource>, cursor: C) -> Self {
        Walk {
            source,
            cursor,
            page: None,
            held: None,
            done: false,
        }
    }

    /// Opens the next page's range.
    fn open_page(&mut self) -> StoreResult<Page<C>> {
        let txn = self.source.begin_read()?;
        Ok(Page {
            rows: self.cursor.rows(&txn)?,
            left: self.source.page_size().max(1),
            now: Now::read(),
        })
    }

    /// The next result or damaged entry; `None` at the end. A failure to read is returned once
    /// and ends the walk.
    fn next_entry(&mut self) -> Option<StoreResult<C::Item>> {
        if let Some(held) = self.held.take() {
            return Some(held);
        }
        loop {
            if self.done {
                return None;
            }
            if self.page.is_none() {
                match self.open_page() {
                    Ok(page) => self.page = Some(page),
                    Err(error) => {
                        self.done = true;
                        return Some(Err(error));
                    }
                }
            }
            let page = self.page.as_mut()?;
            let (key, value) = match page.rows.next() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(error)) => {
                    self.done = true;
                    return Some(Err(error.into()));
                }
                Some(Ok(row)) => row,
            };
            let row = self.cursor.read(&key, &value, &page.now);
            page.left -= 1;
            if page.left == 0 {
                // The page ends here and its snapshot with it; only now is a key copied.
                self.cursor.resume_after(&key);
                self.page = None;
            }
            match row {
                Row::Item(item) => return Some(item),
                Row::Skip => {}
                Row::End => {
                    self.page = None;
                    self.done = true;
                    return None;
                }
            }
        }
    }

    /// The next page: up to `page_size` results before the next damaged entry, or that entry's
    /// error.
    fn next_page(&mut self) -> Option<DatabaseResult<Vec<C::Item>>> {
        let mut items = match self.next_entry()? {
            Ok(item) => vec![item],
            Err(error) => return Some(Err(error.into())),
        };
        let page_size = self.source.page_size().max(1);
        while items.len() < page_size {
            match self.next_entry() {
                Some(Ok(item)) => items.push(item),
                Some(Err(error)) => {
                    self.held = Some(Err(error));
                    break;
                }
                None => break,
            }
        }
        Some(Ok(items))
    }
}

/// A decoded row as a [`Row`].
fn row<T>(decoded: StoreResult<Option<T>>) -> Row<T> {
    match decoded {
        Ok(Some(item)) => Row::Item(Ok(item)),
        Ok(None) => Row::Skip,
        Err(damaged) => Row::Item(Err(damaged)),
    }
}

/// The records whose key starts with a prefix, from after the last key read.
struct RecordCursor {
    prefix: Vec<u8>,
    /// Where the last page stopped; the next page starts after it.
    resume_after: Option<Vec<u8>>,
}

impl Cursor for RecordCursor {
    type Item = Record;
    type Key = &'static [u8];
    type Value = &'static [u8];

    fn rows(&self, txn: &ReadTransaction) -> StoreResult<Range<'static, Self::Key, Self::Value>> {
        let table = txn.open_table(tables::RECORDS)?;
        let start = match &self.resume_after {
            Some(last) => Bound::Excluded(last.as_slice()),
            None => Bound::Included(self.prefix.as_slice()),
        };
        Ok(table.range::<&[u8]>((start, Bound::Unbounded))?)
    }

    fn read(
        &self,
        key: &AccessGuard<'_, Self::Key>,
        value: &AccessGuard<'_, Self::Value>,
        now: &Now,
    ) -> Row<Record> {
        let key = key.value();
        if !key.starts_with(&self.prefix) {
            return Row::End;
        }
        row(to_record(key, value.value(), now))
    }

    fn resume_after(&mut self, key: &AccessGuard<'_, Self::Key>) {
        self.resume_after = Some(key.value().to_vec());
    }
}

/// Every provider record, ordered by record key and then by provider peer id bytes.
struct ProviderCursor {
    /// Where the last page stopped: (record key, provider); the next page starts after it.
    resume_after: Option<(Vec<u8>, Vec<u8>)>,
}

impl Cursor for ProviderCursor {
    type Item = ProviderRecord;
    type Key = (&'static [u8], &'static [u8]);
    type Value = &'static [u8];

    fn rows(&self, txn: &ReadTransaction) -> StoreResult<Range<'static, Self::Key, Self::Value>> {
        let table = txn.open_table(tables::PROVIDERS)?;
        let start = match &self.resume_after {
            Some((key, provider)) => Bound::Excluded((key.as_slice(), provider.as_slice())),
            None => Bound::Unbounded,
        };
        Ok(table.range::<(&[u8], &[u8])>((start, Bound::Unbounded))?)
    }

    fn read(
        &self,
        key: &AccessGuard<'_, Self::Key>,
        value: &AccessGuard<'_, Self::Value>,
        now: &Now,
    ) -> Row<ProviderRecord> {
        let (key, provider) = key.value();
        row(to_provider_record(key, provider, value.value(), now))
    }

    fn resume_after(&mut self, key: &AccessGuard<'_, Self::Key>) {
        let (key, provider) = key.value();
        self.resume_after = Some((key.to_vec(), provider.to_vec()));
    }
}

/// An iterator over the unexpired records whose key starts with a prefix, in key order.
///
/// It reads the store a page of rows at a time (see
/// [`RedbStoreBuilder::set_page_size`](crate::RedbStoreBuilder::set_page_size)), each page in its
/// own read transaction, which lives until the page's rows have been consumed (or the scan is
/// dropped): memory stays flat however large the store is, and writes proceed while a walk is
/// under way. The walk is not a snapshot: a record written or removed during the walk may
/// or may not be seen, and each key is returned at most once. A damaged entry is returned as an
/// error in its place (a [`StoreError::CorruptEntry`](crate::StoreError::CorruptEntry) inside
/// `DatabaseError::Storage`) and the walk goes on; a failure of the storage itself is returned
/// once and ends the walk.
pub struct RecordScan {
    walk: Walk<RecordCursor>,
}

impl std::fmt::Debug for RecordScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordScan")
            .field(
                "prefix",
                &self.walk.cursor.prefix.escape_ascii().to_string(),
            )
            .field("done", &self.walk.done)
            .finish_non_exhaustive()
    }
}

impl RecordScan {
    /// A walk over the records whose key starts with `prefix` and sorts after `after` (from the
    /// first such key when `None`).
    pub(crate) fn new(
        source: Arc<dyn ReadSource>,
        prefix: Vec<u8>,
        after: Option<Vec<u8>>,
    ) -> Self {
        // Resuming from a key below the prefix would meet keys outside it and end the walk early.
        let resume_after = after.filter(|after| *after >= prefix);
        RecordScan {
            walk: Walk::new(
                source,
                RecordCursor {
                    prefix,
                    resume_after,
                },
            ),
        }
    }

    /// The next record or damaged entry; `None` at the end. A failure to read is returned once
    /// and ends the walk.
    pub(crate) fn next_entry(&mut self) -> Option<StoreResult<Record>> {
        self.walk.next_entry()
    }

    /// The next page of at most `page_size` records, or `None` at the end. A damaged entry is
    /// returned as an error of its own, between the records before and after it, and the walk
    /// goes on; no undamaged record is left out.
    pub fn next_page(&mut self) -> Option<DatabaseResult<Vec<Record>>> {
        self.walk.next_page()
    }
}

impl Iterator for RecordScan {
    type Item = DatabaseResult<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().map(|item| item.map_err(Into::into))
    }
}

/// An iterator over every unexpired provider record of the store (of every provider, not only the
/// local node), ordered by record key and then by provider peer id bytes.
///
/// Like [`RecordScan`] it reads a page at a time, each page in its own read transaction, so
/// memory stays flat however many provider records the store holds; it is not a snapshot, and
/// each (key, provider) pair is returned at most once. A damaged provider entry is returned as an
/// error in its place (a [`StoreError::CorruptEntry`](crate::StoreError::CorruptEntry) inside
/// `DatabaseError::Storage`) and the walk goes on; a failure of the storage itself is returned
/// once and ends the walk.
pub struct ProviderScan {
    walk: Walk<ProviderCursor>,
}

impl std::fmt::Debug for ProviderScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderScan")
            .field("done", &self.walk.done)
            .finish_non_exhaustive()
    }
}

impl ProviderScan {
    /// A walk over every provider record, from the first.
    pub(crate) fn new(source: Arc<dyn ReadSource>) -> Self {
        ProviderScan {
            walk: Walk::new(source, ProviderCursor { resume_after: None }),
        }
    }

    /// The next page of at most `page_size` provider records, or `None` at the end. A damaged
    /// entry is returned as an error of its own, between the records before and after it, and the
    /// walk goes on.
    pub fn next_page(&mut self) -> Option<DatabaseResult<Vec<ProviderRecord>>> {
        self.walk.next_page()
    }
}

impl Iterator for ProviderScan {
    type Item = DatabaseResult<ProviderRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        self.walk.next_entry().map(|item| item.map_err(Into::into))
    }
}

/// `RecordStore::records()`: a [`RecordScan`] of the whole store whose errors are logged and
/// counted (damaged entries are skipped) (see [`RedbStore::storage_error_count`](crate::RedbStore::storage_error_count)),
/// since kad's iterator cannot return them.
pub struct RecordsIter<'a> {
    inner: Arc<Inner>,
    scan: RecordScan,
    _store: PhantomData<&'a ()>,
}

impl<'a> RecordsIter<'a> {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        RecordsIter {
            scan: RecordScan::new(inner.clone(), Vec::new(), None),
            inner,
            _store: PhantomData,
        }
    }
}

impl<'a> Iterator for RecordsIter<'a> {
    type Item = Cow<'a, Record>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.scan.next_entry()? {
                Ok(record) => return Some(Cow::Owned(record)),
                // A damaged entry is skipped; a storage failure ended the scan.
                Err(error) => self.inner.report("RecordStore::records", &error),
            }
        }
    }
}

/// `RecordStore::provided()`: the local node's provider records, read a page at a time; storage
/// errors are logged and counted.
pub struct ProvidedIter<'a> {
    inner: Arc<Inner>,
    local: Option<Vec<u8>>,
    resume_after: Option<Vec<u8>>,
    page: VecDeque<ProviderRecord>,
    done: bool,
    _store: PhantomData<&'a ()>,
}

impl<'a> ProvidedIter<'a> {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        let local = inner.local_peer_id().map(|peer| peer.to_bytes());
        ProvidedIter {
            done: local.is_none(),
            inner,
            local,
            resume_after: None,
            page: VecDeque::new(),
            _store: PhantomData,
        }
    }

    fn fetch(&mut self) -> StoreResult<()> {
        let Some(local) = self.local.as_deref() else {
            self.done = true;
            return Ok(());
        };
        let page_size = self.inner.config.page_size;
        let txn = self.inner.read()?;
        let provided = txn.open_table(tables::PROVIDED)?;
        let providers = txn.open_table(tables::PROVIDERS)?;
        let start = match &self.resume_after {
            Some(last) => Bound::Excluded((local, last.as_slice())),
            None => Bound::Included((local, &[][..])),
        };
        let now = Now::read();
        let mut rows = 0;
        let mut range = provided.range::<(&[u8], &[u8])>((start, Bound::Unbounded))?;
        loop {
            let Some(row) = range.next() else {
                self.done = true;
                break;
            };
            let (row_key, _) = row?;
            let (peer, key) = row_key.value();
            if peer != local {
                self.done = true;
                break;
            }
            rows += 1;
            self.resume_after = Some(key.to_vec());
            if let Some(entry) = providers.get((key, local))? {
                match to_provider_record(key, local, entry.value(), &now) {
                    Ok(Some(record)) => self.page.push_back(record),
                    Ok(None) => {}
                    // A damaged entry is skipped, not the end of the walk: kad republishes
                    // the local provider records this lists.
                    Err(damaged) => self.inner.report("RecordStore::provided", &damaged),
                }
            }
            if rows >= page_size {
                break;
            }
        }
        Ok(())
    }
}

impl<'a> Iterator for ProvidedIter<'a> {
    type Item = Cow<'a, ProviderRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.page.is_empty() && !self.done {
            if let Err(error) = self.fetch() {
                self.done = true;
                self.inner.report("RecordStore::provided", &error);
            }
        }
        self.page.pop_front().map(Cow::Owned)
    }
}
