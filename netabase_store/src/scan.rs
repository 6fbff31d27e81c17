//! Walking the store in pages: each page is read in its own short read transaction, so a walk
//! over millions of records holds one page in memory and never pins an old snapshot of the file.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::ops::Bound;
use std::sync::Arc;

use libp2p::kad::{ProviderRecord, Record};
use netabase::DatabaseResult;

use crate::clock::Now;
use crate::error::StoreResult;
use crate::providers::to_provider_record;
use crate::records::to_record;
use crate::store::Inner;
use crate::tables;

/// Rows one page may read, per record it returns, before it stops early (when most rows it meets
/// have expired and await the next sweep).
const MAX_ROWS_PER_RESULT: usize = 4;

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
    inner: Arc<Inner>,
    prefix: Vec<u8>,
    /// The last key read; the next page starts after it.
    resume_after: Option<Vec<u8>>,
    page: VecDeque<StoreResult<Record>>,
    done: bool,
}

impl std::fmt::Debug for RecordScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordScan")
            .field("prefix", &self.prefix.escape_ascii().to_string())
            .field("buffered", &self.page.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl RecordScan {
    /// A walk over the records whose key starts with `prefix` and sorts after `after` (from the
    /// first such key when `None`).
    pub(crate) fn new(inner: Arc<Inner>, prefix: Vec<u8>, after: Option<Vec<u8>>) -> Self {
        // Resuming from a key below the prefix would meet keys outside it and end the walk early.
        let resume_after = after.filter(|after| *after >= prefix);
        RecordScan {
            inner,
            prefix,
            resume_after,
            page: VecDeque::new(),
            done: false,
        }
    }

    /// Reads the next page into `page` (possibly nothing while not done).
    fn fetch(&mut self) -> StoreResult<()> {
        let page_size = self.inner.config.page_size;
        let txn = self.inner.read()?;
        let table = txn.open_table(tables::RECORDS)?;
        let start = match &self.resume_after {
            Some(last) => Bound::Excluded(last.as_slice()),
            None => Bound::Included(self.prefix.as_slice()),
        };
        let now = Now::read();
        let mut rows = 0;
        let mut range = table.range::<&[u8]>((start, Bound::Unbounded))?;
        loop {
            let Some(row) = range.next() else {
                self.done = true;
                break;
            };
            let (key, entry) = row?;
            let key = key.value();
            if !key.starts_with(&self.prefix) {
                self.done = true;
                break;
            }
            rows += 1;
            self.resume_after = Some(key.to_vec());
            match to_record(key, entry.value(), &now) {
                Ok(Some(record)) => self.page.push_back(Ok(record)),
                Ok(None) => {}
                Err(damaged) => self.page.push_back(Err(damaged)),
            }
            if self.page.len() >= page_size || rows >= page_size.saturating_mul(MAX_ROWS_PER_RESULT)
            {
                break;
            }
        }
        Ok(())
    }

    /// The next record or damaged entry, reading a page when none is buffered; `None` at the end.
    /// A failure to read a page is returned once and ends the walk.
    pub(crate) fn next_entry(&mut self) -> Option<StoreResult<Record>> {
        while self.page.is_empty() && !self.done {
            if let Err(error) = self.fetch() {
                self.done = true;
                return Some(Err(error));
            }
        }
        self.page.pop_front()
    }

    /// The next page of at most `page_size` records, or `None` at the end. A damaged entry is
    /// returned as an error of its own, between the records before and after it, and the walk
    /// goes on; no undamaged record is left out.
    pub fn next_page(&mut self) -> Option<DatabaseResult<Vec<Record>>> {
        let mut records = match self.next_entry()? {
            Ok(record) => vec![record],
            Err(error) => return Some(Err(error.into())),
        };
        // The rest of the buffered page, up to the next damaged entry.
        while let Some(Ok(_)) = self.page.front() {
            if let Some(Ok(record)) = self.page.pop_front() {
                records.push(record);
            }
        }
        Some(Ok(records))
    }
}

impl Iterator for RecordScan {
    type Item = DatabaseResult<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().map(|item| item.map_err(Into::into))
    }
}

/// `RecordStore::records()`: a [`RecordScan`] of the whole store whose errors are logged and
/// counted (damaged entries are skipped) (see [`RedbStore::storage_error_count`](crate::RedbStore::storage_error_count)),
/// since kad's iterator cannot return them.
pub struct RecordsIter<'a> {
    scan: RecordScan,
    _store: PhantomData<&'a ()>,
}

impl<'a> RecordsIter<'a> {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        RecordsIter {
            scan: RecordScan::new(inner, Vec::new(), None),
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
                Err(error) => self.scan.inner.report("RecordStore::records", &error),
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
            if self.page.len() >= page_size || rows >= page_size.saturating_mul(MAX_ROWS_PER_RESULT)
            {
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
