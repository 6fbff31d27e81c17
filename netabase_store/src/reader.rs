//! `StoreReader`: a store file opened read-only, for tools that look at a store without changing
//! it (`netabase inspect`). It reads with the same code as [`RedbStore`](crate::RedbStore).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use libp2p::kad::{ProviderRecord, Record, RecordKey};
use netabase::{DatabaseResult, NetabaseSchema};
use redb::{Database, ReadTransaction, ReadableDatabase};

use crate::clock::Now;
use crate::config::StoreConfig;
use crate::error::{OpenError, StoreError, StoreResult};
use crate::layout::{self, LayoutError, Tables};
use crate::path_check::regular_file_exists;
use crate::providers::get_providers;
use crate::records::{get_record, get_value, row_count};
use crate::scan::{ProviderScan, ReadSource, RecordScan};
use crate::tables;
use crate::verify_on_open::Verification;
use crate::view::{CopyOnWrite, MemoryUse};

/// A Netabase store file opened for reading only: what is stored, without changing a byte of the
/// file. Open one with [`RedbStore::open_read_only`](crate::RedbStore::open_read_only) or
/// [`RedbStoreBuilder::open_read_only`](crate::RedbStoreBuilder::open_read_only).
///
/// It offers the reads of a [`RedbStore`](crate::RedbStore), by the same code, and returns what a
/// store opened on the same file returns: a record or typed value by key, page-at-a-time walks of
/// the records under a prefix and of every provider record, the provider records of a key, and
/// counts. Expired records are never returned, as by the store. Unlike kad's `RecordStore`, which
/// cannot return errors, every method returns them: a damaged entry is a
/// [`StoreError::CorruptEntry`] inside `DatabaseError::Storage`.
///
/// Any number of readers, in any processes, may have a file open at once, but not while a
/// [`RedbStore`](crate::RedbStore) (a running node) has it: redb locks the file, so opening a
/// reader fails with [`OpenError::Locked`] while a node runs, and a node cannot open the file
/// while a reader has it. Cloning is cheap (an `Arc`); the file is closed when the last clone,
/// and the last walk, is dropped.
///
/// ```
/// use netabase_store::kad::{Record, RecordKey};
/// use netabase_store::{NodeStore, RedbStore};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("node.redb");
/// let mut store = RedbStore::create(&path)?;
/// store.put_local(Record::new(b"/app/Note/1".to_vec(), b"hi".to_vec()))?;
/// drop(store); // the node stops
///
/// let reader = RedbStore::open_read_only(&path)?;
/// let record = reader.get_record(&RecordKey::new(&b"/app/Note/1"))?.expect("stored");
/// assert_eq!(record.value, b"hi");
/// assert_eq!(reader.scan(b"/app/".to_vec()).count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct StoreReader {
    inner: Arc<ReaderInner>,
}

impl std::fmt::Debug for StoreReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreReader")
            .field("location", &self.inner.location)
            .field("in_memory_bytes", &self.inner.memory.bytes())
            .finish_non_exhaustive()
    }
}

/// What the clones of a reader and its walks share.
struct ReaderInner {
    /// redb's database over a copy-on-write view of the file; never written to (by this type)
    /// but for what redb's open and close write, which stays in the view's memory.
    db: Database,
    /// Whether the open verified every page of the file.
    verified_on_open: bool,
    /// What redb's open wrote to the view (a few pages: the integrity check's or repair's commit).
    memory: MemoryUse,
    page_size: usize,
    location: PathBuf,
}

impl ReadSource for ReaderInner {
    fn begin_read(&self) -> StoreResult<ReadTransaction> {
        Ok(self.db.begin_read()?)
    }

    fn page_size(&self) -> usize {
        self.page_size
    }
}

impl StoreReader {
    /// Opens `path` read-only with the page size, cache size and verification of `config`.
    pub(crate) fn open(path: &Path, config: &StoreConfig) -> Result<Self, OpenError> {
        let location = path.to_path_buf();
        let storage =
            |error: std::io::Error| OpenError::from_storage(location.clone(), error.into());
        if !regular_file_exists(path)? {
            return Err(OpenError::NotFound { path: location });
        }
        let file = std::fs::File::open(path).map_err(storage)?;
        if file.metadata().map_err(storage)?.len() == 0 {
            // redb would make a new database of an empty file; a writable open of one refuses it.
            return Err(OpenError::NotADatabase {
                path: location,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, "the file is empty"),
            });
        }
        let view = CopyOnWrite::new(file).map_err(storage)?;
        let memory = view.memory_use();
        // The stamp stays: nothing this reader does reaches the file.
        let verification = Verification::for_file(config, path);
        let db = verification
            .builder(config)
            .create_with_backend(view)
            .map_err(|error| OpenError::from_database(location.clone(), error))?;
        check_layout(&db).map_err(|error| error.into_open_error(location.clone()))?;
        tracing::debug!(
            location = %location.display(),
            in_memory_bytes = memory.bytes(),
            "opened store read-only"
        );
        Ok(StoreReader {
            inner: Arc::new(ReaderInner {
                db,
                verified_on_open: verification.happened(),
                memory,
                page_size: config.page_size.max(1),
                location,
            }),
        })
    }

    /// The file this reader reads.
    pub fn path(&self) -> &Path {
        &self.inner.location
    }

    /// Whether opening this reader verified every page of the file, as
    /// [`RedbStore::verified_on_open`](crate::RedbStore::verified_on_open) tells for a store.
    pub fn verified_on_open(&self) -> bool {
        self.inner.verified_on_open
    }

    /// The unexpired record under `key`, as `RecordStore::get` of a store on the same file
    /// returns it. A damaged entry is an error.
    pub fn get_record(&self, key: &RecordKey) -> DatabaseResult<Option<Record>> {
        Ok(get_record(&self.read()?, key.as_ref(), &Now::read())?)
    }

    /// The unexpired value of schema `V` under `key`, as
    /// [`RedbStore::get_value`](crate::RedbStore::get_value) returns it; a stored value that does
    /// not decode as `V` is a `DatabaseError::Decode` naming `V`.
    pub fn get_value<V: NetabaseSchema>(&self, key: &V::Key) -> DatabaseResult<Option<V>> {
        get_value::<V>(&self.read()?, key)
    }

    /// Walks the unexpired records whose key starts with `prefix` (empty: the whole store) a page
    /// at a time; see [`RecordScan`].
    pub fn scan(&self, prefix: impl Into<Vec<u8>>) -> RecordScan {
        RecordScan::new(self.inner.clone(), prefix.into(), None)
    }

    /// Walks the unexpired records of schema `V` a page at a time.
    pub fn scan_schema<V: NetabaseSchema>(&self) -> RecordScan {
        self.scan(V::record_prefix())
    }

    /// The unexpired provider records of `key`, ordered by provider peer id bytes, as
    /// `RecordStore::providers` of a store on the same file returns them. A damaged provider
    /// entry of the key is an error ([`scan_providers`](Self::scan_providers) walks past it).
    pub fn providers(&self, key: &RecordKey) -> DatabaseResult<Vec<ProviderRecord>> {
        let mut damaged: Option<StoreError> = None;
        let found = get_providers(&self.read()?, key.as_ref(), &Now::read(), |error| {
            damaged.get_or_insert(error);
        })?;
        match damaged {
            Some(error) => Err(error.into()),
            None => Ok(found),
        }
    }

    /// Walks every unexpired provider record, of every provider, a page at a time; see
    /// [`ProviderScan`].
    pub fn scan_providers(&self) -> ProviderScan {
        ProviderScan::new(self.inner.clone())
    }

    /// How many records the file holds, including expired ones not yet swept.
    pub fn record_count(&self) -> DatabaseResult<u64> {
        Ok(row_count(&self.read()?, tables::RECORDS)?)
    }

    /// How many provider records the file holds, including expired ones not yet swept.
    pub fn provider_record_count(&self) -> DatabaseResult<u64> {
        Ok(row_count(&self.read()?, tables::PROVIDERS)?)
    }

    fn read(&self) -> StoreResult<ReadTransaction> {
        self.inner.begin_read()
    }
}

/// The layout check of a read-only open: a writable open accepts the same files, except an empty
/// redb database, which it would make a store and a reader refuses as not one. Every table must
/// exist with its types (a writable open creates them all in the transaction that first records
/// the layout version).
fn check_layout(db: &Database) -> Result<(), LayoutError> {
    let txn = db.begin_read()?;
    let names = layout::table_names(txn.list_tables()?);
    if layout::check_tables(names)? == Tables::Empty {
        return Err(LayoutError::NotAStore(Vec::new()));
    }
    let version = txn
        .open_table(tables::META)?
        .get(tables::LAYOUT_VERSION_KEY)?
        .map(|guard| guard.value());
    layout::check_version(version)?;
    tables::open_every_table!(&txn);
    Ok(())
}

#[cfg(test)]
mod tests {
    use libp2p::kad::store::RecordStore;

    use super::*;
    use crate::RedbStore;

    /// Fills a store with `n` raw records of 200 bytes each.
    fn fill(store: &mut RedbStore, n: u32) {
        for i in 0..n {
            let key = format!("/bulk/Item/{i:08}").into_bytes();
            RecordStore::put(store, Record::new(key, vec![7; 200])).expect("put");
        }
        store.flush().expect("flush");
    }

    /// redb's open writes a few pages of metadata to the view (the integrity check's commit, or
    /// a repair's), however large the file: the reader's memory does not grow with the store.
    #[test]
    fn the_view_holds_only_what_the_open_wrote() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bulk.redb");
        let copy = dir.path().join("copy.redb");
        let mut store = RedbStore::create(&path).expect("create");
        fill(&mut store, 10_000);
        std::fs::copy(&path, &copy).expect("copy of the live file");
        drop(store);
        let file_len = std::fs::metadata(&path).expect("metadata").len();
        for (file, what) in [(&path, "closed cleanly"), (&copy, "needs a repair")] {
            let reader = RedbStore::open_read_only(file).expect("opens");
            assert_eq!(reader.scan(Vec::new()).count(), 10_000);
            let held = reader.inner.memory.bytes();
            eprintln!("{what}: file {file_len} B, view holds {held} B");
            assert!(held * 50 < file_len, "{what}: {held} of {file_len} bytes");
        }
    }
}
