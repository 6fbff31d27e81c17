//! Watching the store: typed change events for a key, a key prefix, an index value or a whole
//! schema, from every write path, delivered after the write commits.
//!
//! A write transaction notes each record it writes or removes (only while someone watches), and
//! the store hands the notes to the matching subscriptions once redb has committed; an aborted
//! write hands out nothing. Each subscription has a bounded queue, filled without waiting: a
//! subscriber that falls behind misses events rather than slowing writers, and its next receive
//! says how many it missed ([`WatchEvent::Lagged`]), so it can read the store again.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use netabase::index::Index;
use netabase::{DatabaseError, DatabaseResult, NetabaseSchema, SchemaRegistry};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::entry::RecordEntry;
use crate::store::RedbStore;

/// How many events a subscription holds before it lags: [`RedbStore::watch`] and friends.
pub const WATCH_CAPACITY: usize = 1024;

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A write of this store's own user: a typed write, `put_local`, a removal, an expiry sweep.
    Local,
    /// A record from a peer: `RecordStore::put` (the node's inbound records and get answers),
    /// `put_record`, `sync_from_network`, and the records a unique index removed for them.
    Peer,
}

/// What happened to a record, as a write transaction noted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Written,
    Removed,
    Expired,
}

/// One committed change of one record: its key and its entry before and after.
#[derive(Debug)]
pub(crate) struct Noted {
    key: Vec<u8>,
    before: Option<Vec<u8>>,
    after: Option<Vec<u8>>,
    kind: Kind,
    origin: Origin,
}

/// Which changes a subscription wants.
enum Filter {
    /// Record keys starting with these bytes (a key, a key prefix, or a schema's prefix).
    Prefix(Vec<u8>),
    /// Records of a schema whose index value (before or after the change) is this one.
    Index {
        prefix: Vec<u8>,
        position: usize,
        value: Vec<u8>,
    },
}

struct Subscription {
    filter: Filter,
    queue: mpsc::Sender<Arc<Noted>>,
    missed: Arc<AtomicU64>,
}

/// The store's subscriptions, and the changes of the write transaction under way.
#[derive(Default)]
pub(crate) struct Watchers {
    subscriptions: Mutex<Vec<Subscription>>,
    /// How many subscriptions exist: writes note nothing while it is 0.
    count: AtomicUsize,
    /// The changes of the write under way (writes are serialised by the store's writer lock).
    noted: Mutex<Vec<Noted>>,
}

impl Watchers {
    /// Whether anyone watches: writes keep the entries they replace only then.
    pub(crate) fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Notes a change of the write under way.
    pub(crate) fn note(
        &self,
        key: &[u8],
        before: Option<Vec<u8>>,
        after: Option<&[u8]>,
        kind: Kind,
        origin: Origin,
    ) {
        self.noted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Noted {
                key: key.to_vec(),
                before,
                after: after.map(<[u8]>::to_vec),
                kind,
                origin,
            });
    }

    /// Forgets the changes of a write that did not commit.
    pub(crate) fn discard(&self) {
        self.noted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Hands the changes of the write that just committed to the matching subscriptions, never
    /// waiting: a full queue counts a miss. Subscriptions whose receiver is gone are dropped.
    pub(crate) fn publish(&self, registry: &SchemaRegistry) {
        let noted = std::mem::take(&mut *self.noted.lock().unwrap_or_else(PoisonError::into_inner));
        if noted.is_empty() {
            return;
        }
        let mut subscriptions = self
            .subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for change in noted.into_iter().map(Arc::new) {
            subscriptions.retain(|subscription| {
                if !subscription.filter.matches(&change, registry) {
                    return !subscription.queue.is_closed();
                }
                match subscription.queue.try_send(change.clone()) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        subscription.missed.fetch_add(1, Ordering::Relaxed);
                        true
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                }
            });
        }
        self.count.store(subscriptions.len(), Ordering::Relaxed);
    }

    fn subscribe(&self, filter: Filter) -> (mpsc::Receiver<Arc<Noted>>, Arc<AtomicU64>) {
        let (queue, receiver) = mpsc::channel(WATCH_CAPACITY);
        let missed = Arc::new(AtomicU64::new(0));
        let mut subscriptions = self
            .subscriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        subscriptions.retain(|subscription| !subscription.queue.is_closed());
        subscriptions.push(Subscription {
            filter,
            queue,
            missed: missed.clone(),
        });
        self.count.store(subscriptions.len(), Ordering::Relaxed);
        (receiver, missed)
    }
}

impl Filter {
    fn matches(&self, change: &Noted, registry: &SchemaRegistry) -> bool {
        match self {
            Filter::Prefix(prefix) => change.key.starts_with(prefix),
            Filter::Index {
                prefix,
                position,
                value,
            } => {
                if !change.key.starts_with(prefix) {
                    return false;
                }
                let Some(schema) = registry.schema_of(&change.key) else {
                    return false;
                };
                [&change.before, &change.after]
                    .into_iter()
                    .flatten()
                    .any(|entry| {
                        RecordEntry::decode(entry)
                            .ok()
                            .and_then(|entry| schema.index_keys(&change.key, entry.value).ok())
                            .is_some_and(|keys| {
                                keys.iter().any(|(p, v)| p == position && v == value)
                            })
                    })
            }
        }
    }
}

/// What a change did to a value of schema `V`.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<V> {
    /// A value was stored under a key that had none (or only an expired or deleted one).
    Inserted(V),
    /// The value under a key was replaced.
    Updated {
        /// The value before.
        old: V,
        /// The value now.
        new: V,
    },
    /// The value was removed: a local removal, a delete (tombstone) from the network, or a
    /// unique index handing its value to a lower key. `None` when the removed bytes did not hold
    /// a live value.
    Removed(Option<V>),
    /// The value expired and the expiry sweep removed it: the value it held (`None` for a
    /// tombstone).
    Expired(Option<V>),
}

/// One change of one record of schema `V`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent<V: NetabaseSchema> {
    /// The key of the record.
    pub key: V::Key,
    /// What happened.
    pub change: Change<V>,
    /// Who wrote it.
    pub origin: Origin,
}

/// What a [`Watch`] receives.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent<V: NetabaseSchema> {
    /// A committed change.
    Change(ChangeEvent<V>),
    /// The subscription's queue was full and this many changes were not delivered: read the store
    /// again to catch up.
    Lagged {
        /// How many changes were missed.
        missed: u64,
    },
}

/// A subscription to changes of records of schema `V`: [`RedbStore::watch`],
/// [`watch_key`](RedbStore::watch_key), [`watch_key_prefix`](RedbStore::watch_key_prefix),
/// [`watch_index`](RedbStore::watch_index). Receive with [`recv`](Self::recv) (async),
/// [`blocking_recv`](Self::blocking_recv) or [`try_recv`](Self::try_recv); dropping it ends the
/// subscription. Every receive returns `None` once the store is closed and the queue is empty.
pub struct Watch<V> {
    receiver: mpsc::Receiver<Arc<Noted>>,
    missed: Arc<AtomicU64>,
    _schema: PhantomData<fn() -> V>,
}

impl<V> std::fmt::Debug for Watch<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("queued", &self.receiver.len())
            .field("missed", &self.missed.load(Ordering::Relaxed))
            .finish()
    }
}

impl<V: NetabaseSchema> Watch<V> {
    /// The next event, waiting for one. A value that does not decode as `V` is an error in its
    /// place.
    pub async fn recv(&mut self) -> Option<DatabaseResult<WatchEvent<V>>> {
        if let Some(lagged) = self.lagged() {
            return Some(Ok(lagged));
        }
        let noted = self.receiver.recv().await?;
        Some(self.event(&noted))
    }

    /// [`recv`](Self::recv) for synchronous code; it must not be called on an async runtime's
    /// thread.
    pub fn blocking_recv(&mut self) -> Option<DatabaseResult<WatchEvent<V>>> {
        if let Some(lagged) = self.lagged() {
            return Some(Ok(lagged));
        }
        let noted = self.receiver.blocking_recv()?;
        Some(self.event(&noted))
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<DatabaseResult<WatchEvent<V>>> {
        if let Some(lagged) = self.lagged() {
            return Some(Ok(lagged));
        }
        let noted = self.receiver.try_recv().ok()?;
        Some(self.event(&noted))
    }

    fn lagged(&self) -> Option<WatchEvent<V>> {
        match self.missed.swap(0, Ordering::Relaxed) {
            0 => None,
            missed => Some(WatchEvent::Lagged { missed }),
        }
    }

    fn event(&self, noted: &Noted) -> DatabaseResult<WatchEvent<V>> {
        let key = V::key_from_record_key(&netabase::kad::RecordKey::new(&noted.key))?;
        let change = match noted.kind {
            // Swept after its deadline: the value it held, expired as it is.
            Kind::Expired => Change::Expired(match noted.before.as_deref() {
                Some(entry) => stored_value::<V>(&noted.key, entry)?,
                None => None,
            }),
            Kind::Removed => Change::Removed(live_value::<V>(&noted.key, noted.before.as_deref())?),
            Kind::Written => {
                let before = live_value::<V>(&noted.key, noted.before.as_deref())?;
                match (before, live_value::<V>(&noted.key, noted.after.as_deref())?) {
                    (Some(old), Some(new)) => Change::Updated { old, new },
                    (None, Some(new)) => Change::Inserted(new),
                    // Written with a tombstone: the value was deleted.
                    (before, None) => Change::Removed(before),
                }
            }
        };
        Ok(WatchEvent::Change(ChangeEvent {
            key,
            change,
            origin: noted.origin,
        }))
    }
}

/// The live value of schema `V` in the entry `entry` stored under `key`: `None` for no entry, an
/// expired one or a tombstone.
fn live_value<V: NetabaseSchema>(key: &[u8], entry: Option<&[u8]>) -> DatabaseResult<Option<V>> {
    match entry {
        Some(entry) => crate::records::value_of_entry::<V>(key, entry),
        None => Ok(None),
    }
}

/// The value of schema `V` in `entry` whether or not it has expired: `None` for a tombstone.
fn stored_value<V: NetabaseSchema>(key: &[u8], entry: &[u8]) -> DatabaseResult<Option<V>> {
    let entry = RecordEntry::decode(entry).map_err(|detail| {
        DatabaseError::storage(crate::records::corrupt("records", key, detail))
    })?;
    netabase::tombstone::decode_stored_under::<V>(key, entry.value)
        .map(netabase::tombstone::Stored::live)
}

impl RedbStore {
    /// Every change of a record of schema `V`, from every write path (this store's user, peers'
    /// records, removals, expiry sweeps), delivered once it has committed.
    pub fn watch<V: NetabaseSchema>(&self) -> Watch<V> {
        self.subscribe(Filter::Prefix(V::record_prefix()))
    }

    /// Every change of the record of schema `V` under `key`.
    pub fn watch_key<V: NetabaseSchema>(&self, key: &V::Key) -> DatabaseResult<Watch<V>> {
        Ok(self.subscribe(Filter::Prefix(V::record_key(key)?.to_vec())))
    }

    /// Every change of a record of schema `V` whose key starts with `leading`: the leading key
    /// fields, as for [`values_with_key_prefix`](Self::values_with_key_prefix).
    pub fn watch_key_prefix<V: NetabaseSchema>(
        &self,
        leading: &impl Serialize,
    ) -> DatabaseResult<Watch<V>> {
        Ok(self.subscribe(Filter::Prefix(crate::typed_scan::key_prefix::<V>(leading)?)))
    }

    /// Every change of a record of schema `V` whose `index` value is `value`, before or after
    /// the change (a value that moves away from it is reported too).
    pub fn watch_index<V: NetabaseSchema, T: Serialize>(
        &self,
        index: Index<V, T>,
        value: &T,
    ) -> DatabaseResult<Watch<V>> {
        index.def()?;
        Ok(self.subscribe(Filter::Index {
            prefix: V::record_prefix(),
            position: index.position(),
            value: index.encode(value)?,
        }))
    }

    fn subscribe<V>(&self, filter: Filter) -> Watch<V> {
        let (receiver, missed) = self.inner.watchers.subscribe(filter);
        Watch {
            receiver,
            missed,
            _schema: PhantomData,
        }
    }
}
