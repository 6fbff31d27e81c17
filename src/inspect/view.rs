//! What the summary reads a store through: a read-only [`StoreReader`] of a file no node holds,
//! or, inside a running node, its own [`RedbStore`] (a live `inspect` through the node's control
//! socket). Both read in pages of their own read transactions.

use std::path::{Path, PathBuf};

use netabase_store::kad::{Record, RecordKey};
use netabase_store::{DatabaseResult, NodeStore, ProviderScan, RecordScan, RedbStore, StoreReader};

/// A store the summary can walk.
pub trait StoreView {
    /// The store file.
    fn path(&self) -> &Path;
    /// Whether opening it verified every page.
    fn verified_on_open(&self) -> bool;
    /// The unexpired records under `prefix`, a page at a time.
    fn scan(&self, prefix: Vec<u8>) -> RecordScan;
    /// Every unexpired provider record, a page at a time.
    fn scan_providers(&self) -> ProviderScan;
    /// Rows of records, expired ones not yet swept included.
    fn record_count(&self) -> DatabaseResult<u64>;
    /// Rows of provider records, expired ones not yet swept included.
    fn provider_record_count(&self) -> DatabaseResult<u64>;
    /// The unexpired record under `key`.
    fn get_record(&self, key: &RecordKey) -> DatabaseResult<Option<Record>>;
}

impl StoreView for StoreReader {
    fn path(&self) -> &Path {
        StoreReader::path(self)
    }

    fn verified_on_open(&self) -> bool {
        StoreReader::verified_on_open(self)
    }

    fn scan(&self, prefix: Vec<u8>) -> RecordScan {
        StoreReader::scan(self, prefix)
    }

    fn scan_providers(&self) -> ProviderScan {
        StoreReader::scan_providers(self)
    }

    fn record_count(&self) -> DatabaseResult<u64> {
        StoreReader::record_count(self)
    }

    fn provider_record_count(&self) -> DatabaseResult<u64> {
        StoreReader::provider_record_count(self)
    }

    fn get_record(&self, key: &RecordKey) -> DatabaseResult<Option<Record>> {
        StoreReader::get_record(self, key)
    }
}

/// A running node's store, with the path it was opened from.
pub struct LiveStore {
    /// The store.
    pub store: RedbStore,
    /// Its file.
    pub path: PathBuf,
}

impl StoreView for LiveStore {
    fn path(&self) -> &Path {
        &self.path
    }

    fn verified_on_open(&self) -> bool {
        self.store.verified_on_open()
    }

    fn scan(&self, prefix: Vec<u8>) -> RecordScan {
        self.store.scan(prefix)
    }

    fn scan_providers(&self) -> ProviderScan {
        self.store.scan_providers()
    }

    fn record_count(&self) -> DatabaseResult<u64> {
        self.store.record_count()
    }

    fn provider_record_count(&self) -> DatabaseResult<u64> {
        self.store.provider_record_count()
    }

    fn get_record(&self, key: &RecordKey) -> DatabaseResult<Option<Record>> {
        NodeStore::get_local(&self.store, key)
    }
}
