//! `RedbStore`: the shared handle, its builder, opening a file, and the write path with group
//! commit.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use libp2p::PeerId;
use netabase::{NetabaseSchema, SchemaRegistry};
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTableMetadata, WriteTransaction};

use crate::clean_close::{self, StampOnDrop};
use crate::config::{Durability, GroupCommit, StoreConfig, StoreLimits};
use crate::error::{OpenError, StoreError, StoreResult};
use crate::inbox::Inbox;
use crate::layout::{self, LayoutError};
use crate::marks::MarkPolicy;
use crate::path_check::regular_file_exists;
use crate::quota::QuotaPolicy;
use crate::reader::StoreReader;
use crate::records::{NewRecord, Resolution, WriteError, WritePolicy, resolve_against, row_count};
use crate::scan::{ProviderScan, ReadSource};
use crate::tables;
use crate::verify_on_open::Verification;
use crate::watch::Watchers;

/// A Netabase store in one redb file: the typed database of every schema and libp2p's Kademlia
/// `RecordStore`, sharing the same records.
///
/// Cloning is cheap (an `Arc`): the node's kad behaviour and the application hold clones of one
/// store. Open one with [`RedbStore::open`], [`RedbStore::create`], [`RedbStore::in_memory`] or,
/// for limits, durability, the local peer id and the schema registry, [`RedbStore::builder`].
///
/// ```
/// use netabase_store::RedbStore;
///
/// let dir = tempfile::tempdir()?;
/// let store = RedbStore::create(dir.path().join("node.redb"))?;
/// assert_eq!(store.record_count()?, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RedbStore {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("location", &self.inner.location)
            .field("limits", &self.inner.config.limits)
            .finish_non_exhaustive()
    }
}

/// What the handles share: the store and the group commit thread, which holds only the [`Core`].
/// Dropping the last handle stops and joins the thread before the core (and with it the file) is
/// closed, so the file is closed when the drop returns.
pub(crate) struct Inner {
    core: Arc<Core>,
    flusher: Option<Flusher>,
}

impl Deref for Inner {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

pub(crate) struct Core {
    pub(crate) db: Database,
    pub(crate) config: StoreConfig,
    pub(crate) registry: SchemaRegistry,
    local_peer_id: RwLock<Option<PeerId>>,
    /// Held for the whole of every write transaction, so the group commit bookkeeping always
    /// matches what redb committed.
    writer: Mutex<GroupState>,
    /// Records from peers not written to redb yet. Only written by holders of `writer` (lock
    /// order: `writer`, then `inbox`), and never held across an fsync, so readers that look in it
    /// never wait for a commit.
    inbox: Mutex<Inbox>,
    storage_errors: AtomicU64,
    rejected_records: AtomicU64,
    /// Write transactions committed, and of those the durable ones (an fsync each).
    commits: AtomicU64,
    durable_commits: AtomicU64,
    /// The file path, or `<memory>`, for logs and errors.
    pub(crate) location: PathBuf,
    /// Whether redb's in-memory backend holds the store (nothing is ever durable, so nothing is
    /// worth deferring).
    pub(crate) in_memory: bool,
    /// Whether the open verified every page of the file.
    verified_on_open: bool,
    /// The subscriptions to changes, and the changes of the write under way (`watch.rs`).
    pub(crate) watchers: Watchers,
    /// Declared after `db`, so it stamps the file once redb has closed it.
    _stamp: StampOnDrop,
}

/// The writes not durable yet, and the records from peers buffered until they are written.
#[derive(Default)]
pub(crate) struct GroupState {
    /// Writes not durable yet: buffered in the inbox or committed without an fsync.
    pending: usize,
    oldest: Option<Instant>,
    /// A read transaction of the last commit, for records from peers to be resolved against
    /// without beginning one each; dropped at every commit (so it never pins old pages for long).
    snapshot: Option<ReadTransaction>,
}

struct Flusher {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

/// Configures and opens a [`RedbStore`]: `RedbStore::builder().set_max_records(10_000).create(path)`.
#[derive(Debug, Clone, Default)]
pub struct RedbStoreBuilder {
    config: StoreConfig,
    registry: SchemaRegistry,
    local_peer_id: Option<PeerId>,
}

impl RedbStoreBuilder {
    /// A builder with the default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets all limits at once. Default: [`StoreLimits::default`].
    pub fn set_limits(&mut self, limits: StoreLimits) -> &mut Self {
        self.config.limits = limits;
        self
    }

    /// The most records the store holds. Default: 1 000 000.
    pub fn set_max_records(&mut self, max: usize) -> &mut Self {
        self.config.limits.max_records = max;
        self
    }

    /// The most records of schemas this store does not register. Default: 500 000; see
    /// [`StoreLimits::max_unknown_records`].
    pub fn set_max_unknown_records(&mut self, max: usize) -> &mut Self {
        self.config.limits.max_unknown_records = max;
        self
    }

    /// The most records of unregistered schemas under one namespace. Default: 100 000; see
    /// [`StoreLimits::max_unknown_per_namespace`].
    pub fn set_max_unknown_per_namespace(&mut self, max: usize) -> &mut Self {
        self.config.limits.max_unknown_per_namespace = max;
        self
    }

    /// The most records of unregistered schemas one peer may have delivered to this store (counted
    /// when a node's gate names the peer). Default: 50 000; see
    /// [`StoreLimits::max_unknown_per_peer`].
    pub fn set_max_unknown_per_peer(&mut self, max: usize) -> &mut Self {
        self.config.limits.max_unknown_per_peer = max;
        self
    }

    /// The largest value in bytes (inclusive). Default: 65 536.
    pub fn set_max_value_bytes(&mut self, max: usize) -> &mut Self {
        self.config.limits.max_value_bytes = max;
        self
    }

    /// The most provider records kept per key. Default: 20.
    pub fn set_max_providers_per_key(&mut self, max: usize) -> &mut Self {
        self.config.limits.max_providers_per_key = max;
        self
    }

    /// The most distinct keys with provider records. Default: 100 000.
    pub fn set_max_provided_keys(&mut self, max: usize) -> &mut Self {
        self.config.limits.max_provided_keys = max;
        self
    }

    /// The durability of the application's own writes: the typed `put`, `put_record`,
    /// `put_records_batch`, `sync_from_network`, `update_record_expiry`, `mark_for_republish`,
    /// and `NodeStore::put_local` / `remove_local`. Default: [`Durability::Immediate`].
    pub fn set_user_durability(&mut self, durability: Durability) -> &mut Self {
        self.config.user_durability = durability;
        self
    }

    /// The durability of writes the swarm makes through kad's `RecordStore` (inbound records and
    /// provider records), expiry sweeps and republish schedules. Default: [`Durability::Grouped`];
    /// `Immediate` means one fsync per inbound record.
    pub fn set_network_durability(&mut self, durability: Durability) -> &mut Self {
        self.config.network_durability = durability;
        self
    }

    /// How grouped writes are committed. Default: [`GroupCommit::default`] (100 ms, 512 writes).
    pub fn set_group_commit(&mut self, group_commit: GroupCommit) -> &mut Self {
        self.config.group_commit = group_commit;
        self
    }

    /// Whether a background thread owned by the store makes grouped writes durable once the group
    /// commit window has passed, even when no further write or `flush` comes. Without it, the
    /// window is checked only by the next write and by [`RedbStore::flush`]. The thread stops
    /// when the last handle of the store is dropped. In-memory stores never start it.
    /// Default: `true`.
    pub fn set_background_flush(&mut self, enabled: bool) -> &mut Self {
        self.config.background_flush = enabled;
        self
    }

    /// How many rows one read transaction reads when walking the store (`RecordStore::records`,
    /// [`RedbStore::scan`], `sync_to_network`), so a walk pins a snapshot of the file (keeping
    /// the pages its later writes free from reuse) only for one page; also the most records
    /// [`RecordScan::next_page`](crate::RecordScan::next_page) returns. Default: 256.
    pub fn set_page_size(&mut self, records: usize) -> &mut Self {
        self.config.page_size = records.max(1);
        self
    }

    /// redb's page cache in bytes: the most memory the store uses to cache the file's pages,
    /// allocated as pages are read, whatever the size of the file. Reads of pages outside it go
    /// to the operating system's page cache. Default: [`DEFAULT_CACHE_BYTES`] (64 MiB; redb's
    /// own default is 1 GiB).
    ///
    /// [`DEFAULT_CACHE_BYTES`]: crate::DEFAULT_CACHE_BYTES
    pub fn set_cache_size(&mut self, bytes: usize) -> &mut Self {
        self.config.cache_size = bytes;
        self
    }

    /// Verifies every page's checksum on every open, so a file damaged outside redb fails to open
    /// with [`OpenError::Corrupted`] instead of failing, or panicking inside redb, later. Reads
    /// the whole file once per open (about 0.3 s per million records).
    ///
    /// Without it (the default) a file is still verified on open when it was not closed cleanly
    /// (redb's crash recovery) and when it does not match the stamp its last clean close wrote
    /// beside it (`<file>.closed`: its length, modification time and identity), so a file copied,
    /// restored or changed by another program since is verified; a file this store closed and
    /// nothing touched since opens without reading it. [`RedbStore::verified_on_open`] tells
    /// which happened. `docs/durability.md` has what each case catches. Default: `false`.
    pub fn set_verify_on_open(&mut self, enabled: bool) -> &mut Self {
        self.config.verify_on_open = enabled;
        self
    }

    /// The local node's peer id: `RecordStore::provided` returns the provider records whose
    /// provider it is, and typed writes record it as their publisher. Default: none (nothing is
    /// provided, typed writes have no publisher); [`RedbStore::set_local_peer_id`] sets it later.
    pub fn set_local_peer_id(&mut self, peer_id: PeerId) -> &mut Self {
        self.local_peer_id = Some(peer_id);
        self
    }

    /// Registers schema `V`: records under its prefix arriving through `RecordStore::put` are
    /// checked to decode as `V` and resolved by `V`'s conflict rule. Opening fails with
    /// [`OpenError::SchemaClash`] if another type was registered under `V`'s prefix.
    pub fn register<V: NetabaseSchema>(&mut self) -> &mut Self {
        self.registry.register::<V>();
        self
    }

    /// How long the store remembers the newest write of an owned record key after its last write
    /// (and at least until the record expires), refusing older signed writes of it meanwhile,
    /// also once the record itself is gone. Default: [`DEFAULT_OWNED_MARK_TTL`] (7 days), longer
    /// than a Kademlia record lives without republishing.
    ///
    /// [`DEFAULT_OWNED_MARK_TTL`]: crate::DEFAULT_OWNED_MARK_TTL
    pub fn set_owned_mark_ttl(&mut self, ttl: std::time::Duration) -> &mut Self {
        self.config.owned_mark_ttl = ttl;
        self
    }

    /// Replaces the schema registry. Default: empty, accepting unknown schemas as raw records.
    pub fn set_registry(&mut self, registry: SchemaRegistry) -> &mut Self {
        self.registry = registry;
        self
    }

    /// Opens the store in an existing file. Fails with [`OpenError::NotFound`] if there is none,
    /// and with [`OpenError::NotAFile`] for a directory, named pipe, socket or device.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<RedbStore, OpenError> {
        self.registry.check()?;
        let path = path.as_ref().to_path_buf();
        if !regular_file_exists(&path)? {
            return Err(OpenError::NotFound { path });
        }
        let verification = Verification::for_file(&self.config, &path);
        clean_close::remove_stamp(&path);
        let db = verification
            .builder(&self.config)
            .open(&path)
            .map_err(|e| OpenError::from_database(path.clone(), e))?;
        self.finish(db, path, Some(verification))
    }

    /// Opens the store in `path`, creating the file if it does not exist or is empty. Fails with
    /// [`OpenError::NoDirectory`] when the directory it would be in does not exist, and with
    /// [`OpenError::NotAFile`] when the path is a directory, named pipe, socket or device.
    pub fn create(&self, path: impl AsRef<Path>) -> Result<RedbStore, OpenError> {
        self.registry.check()?;
        let path = path.as_ref().to_path_buf();
        if let Some(directory) = path.parent().filter(|dir| !dir.as_os_str().is_empty())
            && !directory.is_dir()
        {
            return Err(OpenError::NoDirectory {
                directory: directory.to_path_buf(),
                path,
            });
        }
        regular_file_exists(&path)?;
        let verification = Verification::for_file(&self.config, &path);
        clean_close::remove_stamp(&path);
        let db = verification
            .builder(&self.config)
            .create(&path)
            .map_err(|e| OpenError::from_database(path.clone(), e))?;
        self.finish(db, path, Some(verification))
    }

    /// Opens the store in an existing file for reading only: nothing is ever written to the file,
    /// not even on open. Any number of readers may have a file open at once, but not while a
    /// [`RedbStore`] (a running node) has it: a file a store holds fails with
    /// [`OpenError::Locked`], and while a reader is open, opening a store on the file fails the
    /// same way. A file whose last writer did not close it (a crashed node, or a copy of a live
    /// node's file) is recovered as [`open`](Self::open) would recover it, but in memory: what
    /// redb's open writes (its integrity check and recovery commit) never reaches the file.
    ///
    /// Of the builder's settings the page size, the cache size and verify on open apply; the
    /// others concern writes. Fails as [`open`](Self::open) does for a missing file, a path that
    /// is not a regular file, a file that is not a redb database or not a Netabase store, a store
    /// of another layout version, or a damaged file (with verify on open); unlike `open`, it
    /// refuses an empty redb database (one with no table) as [`OpenError::NotAStore`] instead of
    /// making it a store.
    pub fn open_read_only(&self, path: impl AsRef<Path>) -> Result<StoreReader, OpenError> {
        StoreReader::open(path.as_ref(), &self.config)
    }

    /// A store held in memory with redb's in-memory backend: the same code as a file store,
    /// gone when the last handle is dropped.
    pub fn in_memory(&self) -> Result<RedbStore, OpenError> {
        self.registry.check()?;
        let path = PathBuf::from("<memory>");
        let db = Verification::in_memory()
            .builder(&self.config)
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| OpenError::from_database(path.clone(), e))?;
        self.finish(db, path, None)
    }

    /// Makes an opened database a store; `verification` is `None` for a store in memory.
    fn finish(
        &self,
        db: Database,
        location: PathBuf,
        verification: Option<Verification>,
    ) -> Result<RedbStore, OpenError> {
        let in_memory = verification.is_none();
        let verified_on_open = verification.as_ref().is_some_and(Verification::happened);
        if verified_on_open {
            tracing::info!(location = %location.display(), "verified every page of the store on open");
        }
        initialise(&db, write_policy(&self.registry, &self.config, None))
            .map_err(|error| error.into_open_error(location.clone()))?;
        let core = Arc::new(Core {
            db,
            config: self.config,
            registry: self.registry.clone(),
            local_peer_id: RwLock::new(self.local_peer_id),
            writer: Mutex::new(GroupState::default()),
            inbox: Mutex::default(),
            storage_errors: AtomicU64::new(0),
            rejected_records: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            durable_commits: AtomicU64::new(0),
            watchers: Watchers::default(),
            _stamp: if in_memory {
                StampOnDrop::none()
            } else {
                StampOnDrop::file(&location)
            },
            location,
            in_memory,
            verified_on_open,
        });
        let grouped = self.config.network_durability == Durability::Grouped
            || self.config.user_durability == Durability::Grouped;
        let flusher = (grouped && self.config.background_flush && !in_memory)
            .then(|| start_flusher(&core))
            .flatten();
        let inner = Arc::new(Inner { core, flusher });
        tracing::debug!(location = %inner.location.display(), "opened store");
        Ok(RedbStore { inner })
    }
}

fn mark_policy<'r>(registry: &'r SchemaRegistry, config: &StoreConfig) -> MarkPolicy<'r> {
    MarkPolicy {
        registry,
        keep_ms: u64::try_from(config.owned_mark_ttl.as_millis()).unwrap_or(u64::MAX),
    }
}

fn write_policy<'r>(
    registry: &'r SchemaRegistry,
    config: &StoreConfig,
    watchers: Option<&'r Watchers>,
) -> WritePolicy<'r> {
    WritePolicy {
        marks: mark_policy(registry, config),
        quotas: QuotaPolicy {
            registry,
            max_unknown: config.limits.max_unknown_records,
            max_per_namespace: config.limits.max_unknown_per_namespace,
            max_per_peer: config.limits.max_unknown_per_peer,
        },
        registry,
        watchers: watchers.filter(|watchers| watchers.active()),
    }
}

/// Checks that the file is a Netabase store of this build's layout and creates any missing
/// table, so readers can open every table. A new, empty redb database becomes a store.
fn initialise(db: &Database, policy: WritePolicy<'_>) -> Result<(), LayoutError> {
    use redb::ReadableTable;
    let txn = db.begin_write()?;
    {
        layout::check_tables(layout::table_names(txn.list_tables()?))?;
        let mut meta = txn.open_table(tables::META)?;
        let version = meta
            .get(tables::LAYOUT_VERSION_KEY)?
            .map(|guard| guard.value());
        layout::check_version(version)?;
        if version.is_none() {
            meta.insert(tables::LAYOUT_VERSION_KEY, tables::LAYOUT_VERSION)?;
        }
        drop(meta);
        tables::open_every_table!(&txn);
        crate::quota::count_existing(&txn, policy.quotas)?;
        crate::indexes::reconcile(&txn, policy.registry).map_err(|error| match error {
            crate::indexes::ReconcileError::Store(error) => LayoutError::Store(error),
            crate::indexes::ReconcileError::Unique(conflict) => LayoutError::Unique(conflict),
        })?;
    }
    txn.commit()?;
    Ok(())
}

impl RedbStore {
    /// A builder for a store with limits, durability, a local peer id or registered schemas.
    pub fn builder() -> RedbStoreBuilder {
        RedbStoreBuilder::new()
    }

    /// Opens the store in an existing file with the default settings.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        RedbStoreBuilder::new().open(path)
    }

    /// Opens the store in `path` with the default settings, creating the file if needed.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        RedbStoreBuilder::new().create(path)
    }

    /// An in-memory store with the default settings (redb's in-memory backend).
    pub fn in_memory() -> Result<Self, OpenError> {
        RedbStoreBuilder::new().in_memory()
    }

    /// Opens the store in an existing file for reading only, with the default settings: see
    /// [`RedbStoreBuilder::open_read_only`]. Inspecting a file this way leaves its bytes unchanged.
    ///
    /// ```
    /// use netabase_store::RedbStore;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("node.redb");
    /// drop(RedbStore::create(&path)?);
    /// let reader = RedbStore::open_read_only(&path)?;
    /// assert_eq!(reader.record_count()?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<StoreReader, OpenError> {
        RedbStoreBuilder::new().open_read_only(path)
    }

    /// Whether opening this store read every page of its file to verify it: always with
    /// [`RedbStoreBuilder::set_verify_on_open`], else when the file was not closed cleanly or was
    /// changed since its last clean close. `false` for a store in memory and for a new file.
    pub fn verified_on_open(&self) -> bool {
        self.inner.verified_on_open
    }

    /// The limits this store enforces.
    pub fn limits(&self) -> StoreLimits {
        self.inner.config.limits
    }

    /// The local node's peer id, if set.
    pub fn local_peer_id(&self) -> Option<PeerId> {
        *self
            .inner
            .local_peer_id
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the local node's peer id for every handle of this store (see
    /// [`RedbStoreBuilder::set_local_peer_id`]).
    pub fn set_local_peer_id(&self, peer_id: PeerId) {
        *self
            .inner
            .local_peer_id
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(peer_id);
    }

    /// The schemas this store validates and resolves inbound records with.
    pub fn schema_registry(&self) -> &SchemaRegistry {
        &self.inner.registry
    }

    /// How many records the store holds, including expired ones not yet swept.
    pub fn record_count(&self) -> netabase::DatabaseResult<u64> {
        Ok(row_count(&self.inner.read()?, tables::RECORDS)?)
    }

    /// How many provider records the store holds (of every provider), including expired ones not
    /// yet swept.
    pub fn provider_record_count(&self) -> netabase::DatabaseResult<u64> {
        Ok(row_count(&self.inner.read()?, tables::PROVIDERS)?)
    }

    /// Walks every unexpired provider record of the store, of every provider, a page at a time;
    /// see [`ProviderScan`]. kad's `RecordStore` offers only the providers of one key and the
    /// records the local node provides.
    pub fn scan_providers(&self) -> ProviderScan {
        ProviderScan::new(self.inner.clone())
    }

    /// Storage errors met by methods that cannot return them (kad's `RecordStore` and the
    /// background flush); each was logged with `tracing` at error level.
    pub fn storage_error_count(&self) -> u64 {
        self.inner.storage_errors.load(Ordering::Relaxed)
    }

    /// Records `RecordStore::put` refused because their key has a registered schema's prefix but
    /// they do not decode as that schema; each was logged at warn level.
    pub fn rejected_record_count(&self) -> u64 {
        self.inner.rejected_records.load(Ordering::Relaxed)
    }

    /// Write transactions this handle's store committed since it was opened, and of those the
    /// durable ones (one fsync each).
    pub fn commit_counts(&self) -> (u64, u64) {
        (
            self.inner.commits.load(Ordering::Relaxed),
            self.inner.durable_commits.load(Ordering::Relaxed),
        )
    }

    /// The store file's size in bytes; 0 for a store in memory.
    pub fn file_bytes(&self) -> u64 {
        if self.inner.in_memory {
            return 0;
        }
        std::fs::metadata(&self.inner.location).map_or(0, |metadata| metadata.len())
    }

    /// Makes every grouped write durable now (one fsync if any is pending).
    pub fn flush(&self) -> netabase::DatabaseResult<()> {
        Ok(self.inner.flush()?)
    }

    /// How many grouped writes are not durable yet: committed without an fsync, or records from
    /// peers still waiting in memory for the group commit (see `docs/durability.md`).
    pub fn pending_writes(&self) -> usize {
        self.inner.lock_writer().pending
    }
}

impl ReadSource for Inner {
    fn begin_read(&self) -> StoreResult<ReadTransaction> {
        self.core.read()
    }

    fn page_size(&self) -> usize {
        self.core.config.page_size
    }
}

impl Core {
    /// Why `value` under `key` is a stale owned write, if it is: older than one this store
    /// accepted for the key (kept or since removed), or a revoked writer's (`marks.rs`).
    pub(crate) fn stale_write(
        &self,
        key: &[u8],
        value: &[u8],
    ) -> StoreResult<Option<netabase::owned::OwnershipProblem>> {
        let txn = self.read_committed()?;
        crate::marks::stale_write(self.mark_policy(), &txn, key, value)
    }

    /// Which keys keep high-water marks, and for how long (`marks.rs`).
    pub(crate) fn mark_policy(&self) -> MarkPolicy<'_> {
        mark_policy(&self.registry, &self.config)
    }

    /// What every write transaction keeps besides the records: marks and quotas.
    pub(crate) fn write_policy(&self) -> WritePolicy<'_> {
        write_policy(&self.registry, &self.config, Some(&self.watchers))
    }

    /// A read transaction that sees every write, the buffered records from peers included (they
    /// are committed first, without an fsync unless the group commit is due).
    pub(crate) fn read(&self) -> StoreResult<ReadTransaction> {
        if !self.lock_inbox().is_empty() {
            let mut group = self.lock_writer();
            let durable = group.is_overdue(&self.config.group_commit, Instant::now());
            self.commit_inbox(&mut group, durable)?;
        }
        self.read_committed()
    }

    /// A read transaction of what redb holds, without the inbox: for readers that look in the
    /// inbox themselves ([`Core::buffered_entry`]).
    pub(crate) fn read_committed(&self) -> StoreResult<ReadTransaction> {
        Ok(self.db.begin_read()?)
    }

    /// The entry buffered under `key` (a record from a peer not written to redb yet), if any.
    pub(crate) fn buffered_entry(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.lock_inbox().get(key).map(<[u8]>::to_vec)
    }

    /// Resolves `record` (a record from a peer, with `value`) against what is stored under its key,
    /// buffered or committed, and buffers the winner until the group commit; no write transaction
    /// unless the group commit is due. Returns `Ok(false)`, buffering nothing, when the key is new
    /// and the store may be full: the caller then writes through [`Core::write`], which sweeps
    /// expired records to make room or refuses.
    pub(crate) fn put_buffered(
        &self,
        record: &NewRecord<'_>,
        value: &[u8],
        now: &crate::clock::Now,
        pick: impl FnOnce(&[u8], &[u8]) -> netabase::Winner,
    ) -> Result<bool, WriteError> {
        let mut group = self.lock_writer();
        let mut inbox = self.lock_inbox();
        let (resolution, new_key) = match inbox.get(record.key) {
            Some(buffered) => (
                resolve_against(Some(buffered), record, value, now, pick)?,
                false,
            ),
            None => {
                let txn = match &mut group.snapshot {
                    Some(txn) => txn,
                    empty => empty.insert(self.read_committed()?),
                };
                let records = txn.open_table(tables::RECORDS).map_err(StoreError::from)?;
                let stored = records.get(record.key).map_err(StoreError::from)?;
                let new_key = stored.is_none();
                if new_key {
                    let rows = records.len().map_err(StoreError::from)?;
                    let limits = &self.config.limits;
                    let pending = inbox.new_keys() as u64;
                    if rows.saturating_add(pending) >= limits.max_records as u64 {
                        return Ok(false);
                    }
                    // A new key of an unknown schema near its quotas is written through, so a
                    // refusal reaches the caller instead of being dropped at the group commit.
                    let quotas = self.write_policy().quotas;
                    if quotas.is_unknown(record.key) {
                        // Full without the inbox: refused here, without a write transaction;
                        // full with it: written through, so the refusal reaches the caller
                        // instead of being dropped at the group commit.
                        match crate::quota::room_for(
                            quotas,
                            txn,
                            record.key,
                            record.sender,
                            pending,
                        )? {
                            Err(exceeded) => return Err(WriteError::Quota(exceeded)),
                            Ok(true) => return Ok(false),
                            Ok(false) => {}
                        }
                    }
                }
                let stored = stored.as_ref().map(|stored| stored.value());
                (resolve_against(stored, record, value, now, pick)?, new_key)
            }
        };
        let merged;
        let (entry, expires_ms) = match resolution {
            Resolution::Keep => return Ok(true),
            Resolution::Store => (record.entry, record.expires_ms),
            Resolution::Merge { entry, expires_ms } => {
                merged = entry;
                (merged.as_slice(), expires_ms)
            }
        };
        let winner = NewRecord {
            key: record.key,
            entry,
            expires_ms,
            sender: record.sender,
        };
        inbox.insert(winner, new_key);
        drop(inbox);
        let now = Instant::now();
        let due = group.is_due(&self.config.group_commit, now);
        group.add(now);
        if due {
            self.commit_inbox(&mut group, true)?;
        }
        Ok(true)
    }

    /// Writes the inbox to redb in one transaction, durable or not, and empties it. The caller
    /// holds the writer lock (`group`), so nothing joins the inbox meanwhile.
    fn commit_inbox(&self, group: &mut GroupState, durable: bool) -> StoreResult<()> {
        let mut txn = self.db.begin_write()?;
        if !durable {
            txn.set_durability(redb::Durability::None)?;
        }
        let written = self.write_inbox(&txn).and_then(|()| Ok(txn.commit()?));
        self.after_write(written.is_ok());
        written?;
        self.count_commit(group, durable);
        self.lock_inbox().clear();
        if durable {
            group.clear();
        }
        Ok(())
    }

    /// Hands the changes a write noted to the watchers once it committed, or forgets them.
    fn after_write(&self, committed: bool) {
        if committed {
            self.watchers.publish(&self.registry);
        } else {
            self.watchers.discard();
        }
    }

    /// Writes the inbox into `txn`, the caller holding the writer lock; the caller clears the
    /// inbox once `txn` has committed (until then, readers find the records there).
    fn write_inbox(&self, txn: &WriteTransaction) -> StoreResult<()> {
        let inbox = self.lock_inbox();
        if inbox.is_empty() {
            return Ok(());
        }
        let max_records = self.config.limits.max_records;
        inbox.write_into(txn, max_records, self.write_policy(), |key, reason| {
            let key = crate::error::escape(key);
            match reason {
                // Refusals of the record itself, as the gate would have made them.
                WriteError::Stale { .. } | WriteError::Unique(_) => {
                    self.reject();
                    tracing::debug!(%key, ?reason, "dropped a record from a peer at the group commit");
                }
                _ => {
                    self.storage_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        location = %self.location.display(),
                        %key,
                        max_records,
                        "dropped a record from a peer at the group commit: the store is full"
                    );
                }
            }
        })
    }

    /// Counts a commit and drops the snapshot it made stale; the caller holds `group`.
    fn count_commit(&self, group: &mut GroupState, durable: bool) {
        group.snapshot = None;
        self.commits.fetch_add(1, Ordering::Relaxed);
        if durable {
            self.durable_commits.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn local_peer_id(&self) -> Option<PeerId> {
        *self
            .local_peer_id
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_inbox(&self) -> MutexGuard<'_, Inbox> {
        // Every update of the inbox is one map operation and a counter; a panic cannot tear it.
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn lock_writer(&self) -> MutexGuard<'_, GroupState> {
        // The state is two counters updated after a commit; a panic cannot leave it torn.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `body` in a write transaction and commits it with `durability`. An error from `body`
    /// aborts the transaction: nothing it wrote is stored.
    pub(crate) fn write<T, E: From<StoreError>>(
        &self,
        durability: Durability,
        body: impl FnOnce(&WriteTransaction) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut group = self.lock_writer();
        let mut txn = self.db.begin_write().map_err(StoreError::from)?;
        let durable = match durability {
            Durability::Immediate => true,
            Durability::Grouped => group.is_due(&self.config.group_commit, Instant::now()),
        };
        if !durable {
            txn.set_durability(redb::Durability::None)
                .map_err(StoreError::from)?;
        }
        // Buffered records first, so that `body` sees them; they stay buffered if `body` fails.
        let written = self.write_inbox(&txn).map_err(E::from).and_then(|()| {
            let value = body(&txn)?;
            txn.commit().map_err(StoreError::from)?;
            Ok(value)
        });
        self.after_write(written.is_ok());
        let value = written?;
        self.count_commit(&mut group, durable);
        self.lock_inbox().clear();
        if durable {
            group.clear();
        } else {
            group.add(Instant::now());
        }
        Ok(value)
    }

    /// Makes grouped writes durable with one durable commit, which also writes the records waiting
    /// in the inbox, if any write is pending.
    pub(crate) fn flush(&self) -> StoreResult<()> {
        let mut group = self.lock_writer();
        if group.pending == 0 && self.lock_inbox().is_empty() {
            return Ok(());
        }
        tracing::trace!(writes = group.pending, "group commit");
        self.commit_inbox(&mut group, true)
    }

    /// Flushes if the oldest pending write has waited a whole window; returns how long until the
    /// next check is needed.
    fn flush_if_due(&self) -> StoreResult<Duration> {
        let window = self.config.group_commit.window;
        let oldest = self.lock_writer().oldest;
        match oldest {
            Some(oldest) if oldest.elapsed() >= window => {
                self.flush()?;
                Ok(window)
            }
            Some(oldest) => Ok(window.saturating_sub(oldest.elapsed())),
            None => Ok(window),
        }
    }

    /// Logs and counts an error a caller cannot return.
    pub(crate) fn report(&self, operation: &'static str, error: &dyn std::error::Error) {
        self.storage_errors.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            location = %self.location.display(),
            operation,
            error = %error,
            "store operation failed; the error could not be returned to the caller"
        );
    }

    /// Counts a record refused by `RecordStore::put`.
    pub(crate) fn reject(&self) {
        self.rejected_records.fetch_add(1, Ordering::Relaxed);
    }
}

impl GroupState {
    fn is_due(&self, config: &GroupCommit, now: Instant) -> bool {
        self.pending + 1 >= config.max_writes
            || self
                .oldest
                .is_some_and(|oldest| now.duration_since(oldest) >= config.window)
    }

    /// Whether the pending writes have waited a whole window or reached the count.
    fn is_overdue(&self, config: &GroupCommit, now: Instant) -> bool {
        self.pending >= config.max_writes
            || self
                .oldest
                .is_some_and(|oldest| now.duration_since(oldest) >= config.window)
    }

    fn add(&mut self, now: Instant) {
        self.pending += 1;
        self.oldest.get_or_insert(now);
    }

    fn clear(&mut self) {
        self.pending = 0;
        self.oldest = None;
    }
}

fn start_flusher(core: &Arc<Core>) -> Option<Flusher> {
    let (stop, stopped) = mpsc::channel::<()>();
    let core = Arc::clone(core);
    let spawned = std::thread::Builder::new()
        .name("netabase-store-flush".into())
        .spawn(move || {
            let mut wait = core.config.group_commit.window;
            loop {
                match stopped.recv_timeout(wait) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
                wait = match core.flush_if_due() {
                    Ok(next) => next.max(Duration::from_millis(1)),
                    Err(error) => {
                        core.report("background group commit", &error);
                        core.config.group_commit.window
                    }
                };
            }
        });
    match spawned {
        Ok(thread) => Some(Flusher { stop, thread }),
        Err(error) => {
            // Without the thread the window is still enforced by the next write and by flush().
            tracing::warn!(%error, "cannot start the group commit thread");
            None
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(flusher) = self.flusher.take() {
            drop(flusher.stop);
            if flusher.thread.join().is_err() {
                tracing::error!("the group commit thread panicked");
            }
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        if let Err(error) = self.flush() {
            self.report("final group commit on close", &error);
        }
        // No read transaction may outlive the database it reads.
        self.lock_writer().snapshot = None;
    }
}
