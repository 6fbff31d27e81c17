//! What a Netabase node needs from its record store, beyond kad's `RecordStore`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Instant, SystemTime};

use libp2p::PeerId;
use libp2p::kad::store::RecordStore;
use libp2p::kad::{Record, RecordKey};

use crate::error::DatabaseResult;
use crate::owned::OwnershipProblem;
use crate::registry::SchemaRegistry;

/// A Kademlia record store a Netabase node can run on: kad's [`RecordStore`] for the swarm, plus the
/// durable writes, expiry sweeps and republish schedule the node drives.
///
/// `netabase_store::RedbStore` implements it on one redb file. The node owns the store inside its
/// kad behaviour and calls these methods from its event loop.
pub trait NodeStore: RecordStore + Send + 'static {
    /// The schemas this store knows; inbound records are validated and resolved with it.
    fn registry(&self) -> &SchemaRegistry;

    /// Stores a record written by this node's user, replacing any stored value (the user's own
    /// write is authoritative), and returns once it is durable.
    fn put_local(&mut self, record: Record) -> DatabaseResult<()>;

    /// The unexpired record under `key`, including writes not yet committed.
    fn get_local(&self, key: &RecordKey) -> DatabaseResult<Option<Record>>;

    /// Stores a record that the peer `from` delivered and the node's gate already validated with
    /// a registry that holds this store's schemas (it decoded, and an owned record's signature
    /// verified): like `RecordStore::put`, which the default calls, but a store may skip checking
    /// it again and charge `from`'s quota for records of schemas it does not know.
    fn put_validated(&mut self, record: Record, from: PeerId) -> libp2p::kad::store::Result<()> {
        let _ = from;
        self.put(record)
    }

    /// Why `record` is a stale owned write ([`crate::owned`]), if it is: older than one this
    /// store accepted for its key, whether or not it still holds that one (a replay or rollback,
    /// [`OwnershipProblem::Replayed`]), or a writer's write of a generation its owner has since
    /// left ([`OwnershipProblem::Revoked`]). The default, for stores that keep no high-water
    /// marks, is `None` (such a store refuses older writes only while it holds a newer one).
    fn stale_owned_write(&self, record: &Record) -> DatabaseResult<Option<OwnershipProblem>> {
        let _ = record;
        Ok(None)
    }

    /// The record key of a record with a lower key that holds a unique index value `record`
    /// would take, if one does: between peers' records the lowest key holds a unique value, so a
    /// node's gate refuses such a record as a lost conflict instead of acknowledging it. The
    /// default, for stores without indexes, is `None`.
    fn unique_holder(&self, record: &Record) -> DatabaseResult<Option<Vec<u8>>> {
        let _ = record;
        Ok(None)
    }

    /// Stores a record like [`put_local`](Self::put_local) and, with `republish_at`, schedules its
    /// republication like [`schedule_republish`](Self::schedule_republish), but may return before
    /// the write is durable. When it returns `Ok`, the write is visible to this store's reads
    /// (`get_local`, `RecordStore::get`) and to the validation of inbound records; it is durable,
    /// schedule included, once the returned [`PendingDurability`] has run successfully.
    ///
    /// The node calls this for a user's put: it starts the closest-peers lookup while the job runs
    /// on a blocking thread, and publishes the record (`put_record_to`) only after the job
    /// succeeded, so the contract "durable locally, then published" holds while the lookup and the
    /// fsync overlap.
    ///
    /// The provided implementation calls `put_local` (durable when it returns), then
    /// `schedule_republish`, and returns [`PendingDurability::done`]. A store that can commit in two
    /// steps, visible first and durable later, should override it, writing the record and its
    /// schedule in one transaction; its job must be safe to run on another thread while the node
    /// keeps calling the store.
    fn put_local_deferred(
        &mut self,
        record: Record,
        republish_at: Option<SystemTime>,
    ) -> DatabaseResult<PendingDurability> {
        let key = record.key.clone();
        self.put_local(record)?;
        if let Some(at) = republish_at {
            self.schedule_republish(&key, at)?;
        }
        Ok(PendingDurability::done())
    }

    /// Removes the record under `key` and its republish schedule, durably.
    fn remove_local(&mut self, key: &RecordKey) -> DatabaseResult<()>;

    /// Removes like [`remove_local`](Self::remove_local), but may leave making the removal durable
    /// to the returned job. When it returns `Ok`, this store's reads no longer see the record; the
    /// node runs the job on a blocking thread and answers the caller once it has succeeded, so the
    /// swarm does not wait for the fsync. The job must be safe to run while the node keeps calling
    /// the store.
    ///
    /// The provided implementation calls `remove_local` and returns [`PendingDurability::done`].
    fn remove_local_deferred(&mut self, key: &RecordKey) -> DatabaseResult<PendingDurability> {
        self.remove_local(key)?;
        Ok(PendingDurability::done())
    }

    /// Commits the writes `RecordStore::put` buffered for group commit, durably.
    fn flush(&mut self) -> DatabaseResult<()>;

    /// Does what [`flush`](Self::flush) does, but may leave the durable commit (typically an fsync)
    /// to the returned job. The node's flush timer calls it and runs the job on a blocking thread,
    /// one at a time, so a slow disk never holds up the swarm; the job must be safe to run while
    /// the node keeps calling the store.
    ///
    /// The provided implementation calls `flush` and returns [`PendingDurability::done`].
    fn flush_deferred(&mut self) -> DatabaseResult<PendingDurability> {
        self.flush()?;
        Ok(PendingDurability::done())
    }

    /// Removes every record whose expiry is at or before `now`; returns how many were removed.
    fn remove_expired(&mut self, now: Instant) -> DatabaseResult<usize>;

    /// Removes at most about `limit` records and provider records whose expiry is at or before
    /// `now`; returns how many were removed. The node's expiry sweep calls it on its own task, so
    /// a batch bounds how long one sweep holds the swarm up (after a long downtime, a store can
    /// hold millions of expired records); when a batch comes back full, the node sweeps again
    /// soon after, serving the network in between.
    ///
    /// The provided implementation ignores `limit` and calls
    /// [`remove_expired`](Self::remove_expired); a store that can stop early should override it.
    fn remove_expired_batch(&mut self, now: Instant, limit: usize) -> DatabaseResult<usize> {
        let _ = limit;
        self.remove_expired(now)
    }

    /// Schedules the record under `key` to be republished at `at` (wall-clock, so the schedule
    /// survives restarts).
    fn schedule_republish(&mut self, key: &RecordKey, at: SystemTime) -> DatabaseResult<()>;

    /// Schedules the records under `keys` to be republished at `at`, all or none. The provided
    /// implementation calls [`schedule_republish`](Self::schedule_republish) for each; a store
    /// that can write them in one transaction should override it (the republish job reschedules
    /// every due record at once).
    fn schedule_republish_all(&mut self, keys: &[RecordKey], at: SystemTime) -> DatabaseResult<()> {
        keys.iter()
            .try_for_each(|key| self.schedule_republish(key, at))
    }

    /// Up to `limit` records whose republish time is at or before `now`, soonest first.
    fn due_for_republish(&self, now: SystemTime, limit: usize) -> DatabaseResult<Vec<Record>>;

    /// How many records are on the republish schedule, due or not (the node keeps its republish
    /// rate high enough to get through all of them in half the republish interval). Called on
    /// each run of the republish job, so it should be cheap.
    fn scheduled_for_republish(&self) -> DatabaseResult<u64>;

    /// How many storage errors `RecordStore` methods met and could not return (kad's error type
    /// has no I/O variant); each was also logged.
    fn storage_errors(&self) -> u64;

    /// Tells the store the peer id of the node it serves, once the node has loaded its identity
    /// (so a store can recognise the node's own provider records and publications). The provided
    /// implementation ignores it.
    fn set_local_peer(&mut self, peer: PeerId) {
        let _ = peer;
    }

    /// Up to `limit` unexpired records whose key starts with `prefix` and sorts after `after` (from
    /// the first key when `None`), in key order: one page of a walk over the store, so a sync of a
    /// large store holds one page in memory at a time.
    ///
    /// The provided implementation walks [`RecordStore::records`] once per page and keeps the
    /// `limit` smallest matching keys; a store with an ordered index should override it with a
    /// range scan.
    fn records_page(
        &self,
        after: Option<&RecordKey>,
        prefix: &[u8],
        limit: usize,
    ) -> DatabaseResult<Vec<Record>> {
        let now = Instant::now();
        let mut page: BTreeMap<Vec<u8>, Record> = BTreeMap::new();
        if limit == 0 {
            return Ok(Vec::new());
        }
        for record in self.records() {
            let key = record.key.as_ref();
            if !key.starts_with(prefix)
                || after.is_some_and(|after| key <= after.as_ref())
                || record.is_expired(now)
            {
                continue;
            }
            if page.len() == limit {
                match page.last_key_value() {
                    Some((last, _)) if key < last.as_slice() => {
                        page.pop_last();
                    }
                    _ => continue,
                }
            }
            page.insert(key.to_vec(), record.into_owned());
        }
        Ok(page.into_values().collect())
    }
}

/// The job that makes a write of [`NodeStore::put_local_deferred`] durable: nothing when the write
/// already is, or a closure to run (typically an fsync), off the node's task.
#[must_use = "a deferred write is not durable until its job has run"]
pub struct PendingDurability {
    job: Option<Box<dyn FnOnce() -> DatabaseResult<()> + Send>>,
}

impl PendingDurability {
    /// The write is already as durable as the store makes a user's writes.
    pub fn done() -> Self {
        PendingDurability { job: None }
    }

    /// The write becomes durable when `job` returns `Ok`. The node runs it on a blocking thread
    /// while it keeps using the store, so it must be safe to run concurrently with the store's
    /// other methods.
    pub fn new(job: impl FnOnce() -> DatabaseResult<()> + Send + 'static) -> Self {
        PendingDurability {
            job: Some(Box::new(job)),
        }
    }

    /// Whether the write is durable already, with no job left to run.
    pub fn is_done(&self) -> bool {
        self.job.is_none()
    }

    /// Runs the job on the calling thread (it may block on disk I/O) and returns its result.
    pub fn wait(self) -> DatabaseResult<()> {
        match self.job {
            Some(job) => job(),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for PendingDurability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingDurability")
            .field("done", &self.is_done())
            .finish()
    }
}
