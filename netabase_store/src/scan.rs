//! Walking the store in pages: each page is read in its own short read transaction, so a walk
//! over millions of records holds one page in memory and never pins an old snapshot of the file.
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
use redb::ReadTransaction;

use crate::clock::Now;
use crate::error::StoreResult;
use crate::providers::to_provider_record;
use crate::records::to_record;
use crate::store::Inner;
use crate::tables;

/// Rows one page may read, per record it returns, before it stops early (when most rows it meets
/// have expired and await the next sweep).
const MAX_ROWS_PER_RESULT: usize = 4;

/// Where the read paths get their read transactions: a store open for writing or a read-only
/// reader of a file. Walks hold the source, so the file stays open while one is under way.
pub(crate) trait ReadSource: Send + Sync {
    /// Begins a read transaction: a snapshot of the last commit.
    fn begin_read(&self) -> StoreResult<ReadTransaction>;

    /// How many results one page of a walk holds (at least 1).
    fn page_size(&self) -> usize;
}

/// What one kind of walk reads: it remembers where it stopped and reads the next page from there.
trait Cursor {
    /// What the walk returns.
    type Item;

    /// Reads the rows after the cursor into `page`, moving the cursor past each row read. Stops
    /// after `page_size` results or `page_size * MAX_ROWS_PER_RESULT` rows; returns whether the
    /// rows ran out.
    fn fetch(
        &mut self,
        txn: &ReadTransaction,
        page_size: usize,
        now: &Now,
        page: &mut VecDeque<StoreResult<Self::Item>>,
    ) -> StoreResult<bool>;
}

/// A walk in pages over the rows a [`Cursor`] reads, each page in its own read transaction.
struct Walk<C: Cursor> {
    source: Arc<dyn ReadSource>,
    cursor: C,
    page: VecDeque<StoreResult<C::Item>>,
    done: bool,
}

impl<C: Cursor> Walk<C> {
    fn new(source: Arc<dyn ReadSource>, cursor: C) -> Self {
        Walk {
            source,
            cursor,
            page: VecDeque::new(),
            done: false,
        }
    }

    /// Reads the next page (possibly nothing while not done).
    fn fetch(&mut self) -> StoreResult<()> {
        let page_size = self.source.page_size().max(1);
        let txn = self.source.begin_read()?;
        let now = Now::read();
        self.done = self.cursor.fetch(&txn, page_size, &now, &mut self.page)?;
        Ok(())
    }

    /// The next result or damaged entry, reading a page when none is buffered; `None` at the end.
    /// A failure to read a page is returned once and ends the walk.
    fn next_entry(&mut self) -> Option<StoreResult<C::Item>> {
        while self.page.is_empty() && !self.done {
            if let Err(error) = self.fetch() {
                self.done = true;
                return Some(Err(error));
            }
        }
        self.page.pop_front()
    }

    /// The next page: the buffered results up to the next damaged entry, or that entry's error.
    fn next_page(&mut self) -> Option<DatabaseResult<Vec<C::Item>>> {
        let mut items = match self.next_entry()? {
            Ok(item) => vec![item],
            Err(error) => return Some(Err(error.into())),
        };
        while let Some(Ok(_)) = self.page.front() {
            if let Some(Ok(item)) = self.page.pop_front() {
                items.push(item);
            }
        }
        Some(Ok(items))
    }
}

/// Pushes a decoded row onto a page: a result, nothing for an expired row, or a damaged entry.
fn push<T>(page: &mut VecDeque<StoreResult<T>>, decoded: StoreResult<Option<T>>) {
    match decoded {
        Ok(Some(item)) => page.push_back(Ok(item)),
        Ok(None) => {}
        Err(damaged) => page.push_back(Err(damaged)),
    }
}

/// Whether a page is full: `page_size` results, or enough rows read for them.
fn page_full<T>(page: &VecDeque<T>, rows: usize, page_size: usize) -> bool {
    page.len() >= page_size || rows >= page_size.saturating_mul(MAX_ROWS_PER_RESULT)
}

/// The records whose key starts with a prefix, from after the last key read.
struct RecordCursor {
    prefix: Vec<u8>,
    /// The last key read; the next page starts after it.
    resume_after: Option<Vec<u8>>,
}

impl Cursor for RecordCursor {
    type Item = Record;

    fn fetch(
        &mut self,
        txn: &ReadTransaction,
        page_size: usize,
        now: &Now,
        page: &mut VecDeque<StoreResult<Record>>,
    ) -> StoreResult<bool> {
        let table = txn.open_table(tables::RECORDS)?;
        let start = match &self.resume_after {
            Some(last) => Bound::Excluded(last.as_slice()),
            None => Bound::Included(self.prefix.as_slice()),
        };
        let mut rows = 0;
        for row in table.range::<&[u8]>((start, Bound::Unbounded))? {
            let (key, entry) = row?;
            let key = key.value();
            if !key.starts_with(&self.prefix) {
                return Ok(true);
            }
            rows += 1;
            push(page, to_record(key, entry.value(), now));
            if page_full(page, rows, page_size) {
                // Only where the page stops: a copy of every key read would cost an allocation
                // per record.
                self.resume_after = Some(key.to_vec());
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Every provider record, ordered by record key and then by provider peer id bytes.
struct ProviderCursor {
    /// The last (record key, provider) row read; the next page starts after it.
    resume_after: Option<(Vec<u8>, Vec<u8>)>,
}

impl Cursor for ProviderCursor {
    type Item = ProviderRecord;

    fn fetch(
        &mut self,
        txn: &ReadTransaction,
        page_size: usize,
        now: &Now,
        page: &mut VecDeque<StoreResult<ProviderRecord>>,
    ) -> StoreResult<bool> {
        let table = txn.open_table(tables::PROVIDERS)?;
        let start = match &self.resume_after {
            Some((key, provider)) => Bound::Excluded((key.as_slice(), provider.as_slice())),
            None => Bound::Unbounded,
        };
        let mut rows = 0;
        for row in table.range::<(&[u8], &[u8])>((start, Bound::Unbounded))? {
            let (row_key, entry) = row?;
            let (key, provider) = row_key.value();
            rows += 1;
            push(page, to_provider_record(key, provider, entry.value(), now));
            if page_full(page, rows, page_size) {
                self.resume_after = Some((key.to_vec(), provider.to_vec()));
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// An iterator over the unexpired records whose key starts with a prefix, in key order.
///
/// It reads the store a page at a time (see
/// [`RedbStoreBuilder::set_page_size`](crate::RedbStoreBuilder::set_page_size)), each page in its
/// own read transaction: memory stays flat however large the store is, and writes proceed while a
/// walk is under way. The walk is not a snapshot: a record written or removed during the walk may
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
            .field("buffered", &self.walk.page.len())
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

    /// The next record or damaged entry, reading a page when none is buffered; `None` at the end.
    /// A failure to read a page is returned once and ends the walk.
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
            .field("buffered", &self.walk.page.len())
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
            if page_full(&self.page, rows, page_size) {
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
