//! Store settings: limits, durability of each write path, and group commit.

use std::time::Duration;

/// Limits on what a store holds, with the meaning of kad's `MemoryStoreConfig`.
///
/// Every write path enforces them: the typed API returns
/// [`DatabaseError::MaxRecords`](netabase::DatabaseError::MaxRecords) or
/// [`DatabaseError::ValueTooLarge`](netabase::DatabaseError::ValueTooLarge), `RecordStore` returns
/// kad's `MaxRecords`, `ValueTooLarge` or `MaxProvidedKeys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreLimits {
    /// The most records the store holds. Default: 1 000 000.
    pub max_records: usize,
    /// The largest value, in bytes, the store accepts (inclusive: a value of exactly this size is
    /// accepted). Default: 65 536.
    pub max_value_bytes: usize,
    /// The most provider records kept per key; further providers of a full key are ignored, as
    /// `MemoryStore` does, unless some of the key's providers have expired (those are removed to
    /// make room). Default: 20 (kad's replication factor).
    pub max_providers_per_key: usize,
    /// The most distinct keys that have provider records (of any provider, as `MemoryStore` counts
    /// them). A provider record of a new key in a full store first sweeps a batch of expired
    /// provider records. Default: 100 000.
    pub max_provided_keys: usize,
    /// The most records of schemas the store does not register (raw records other applications
    /// put on shared nodes). Records of registered schemas may use all of `max_records`, so
    /// `max_records - max_unknown_records` is their reserve: strangers filling the store never
    /// refuse them. Default: half of the default `max_records`, 500 000.
    pub max_unknown_records: usize,
    /// The most records of unknown schemas under one namespace (`/<namespace>/...`; keys without
    /// that shape count as one namespace), so one application's flood leaves room for the others.
    /// Default: 100 000, a fifth of `max_unknown_records`.
    pub max_unknown_per_namespace: usize,
    /// The most records of unknown schemas stored from one peer: the peer that delivered them to a
    /// node's gate (its authenticated connection, not the `publisher` a record claims), so one
    /// peer cannot take a namespace's share alone. Records given to the store directly (kad's
    /// `RecordStore::put` outside a node, `put_local`) name no peer and count only in the other
    /// limits. Default: 50 000, half a namespace's share.
    pub max_unknown_per_peer: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_records: 1_000_000,
            max_value_bytes: 64 * 1024,
            max_providers_per_key: 20,
            max_provided_keys: 100_000,
            max_unknown_records: 500_000,
            max_unknown_per_namespace: 100_000,
            max_unknown_per_peer: 50_000,
        }
    }
}

/// When a write is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// The write is on disk (fsync'd) when the call returns.
    Immediate,
    /// The write is committed and visible when the call returns, and becomes durable with the next
    /// group commit: at the latest after the group commit window or the group's maximum number of
    /// writes, whichever comes first (see [`GroupCommit`]). A crash loses at most that window.
    Grouped,
}

/// How writes with [`Durability::Grouped`] are grouped into durable commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupCommit {
    /// The longest a grouped write waits to become durable. Default: 100 ms.
    pub window: Duration,
    /// The most grouped writes committed together; the write that fills the group makes it
    /// durable before it returns. Default: 512.
    pub max_writes: usize,
}

impl GroupCommit {
    /// Grouped writes become durable after at most `window`, or when `max_writes` of them are
    /// pending, whichever comes first. A `max_writes` of 0 or 1 commits every write durably.
    pub fn new(window: Duration, max_writes: usize) -> Self {
        GroupCommit { window, max_writes }
    }
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            window: Duration::from_millis(100),
            max_writes: 512,
        }
    }
}

/// The default of [`crate::RedbStoreBuilder::set_cache_size`]: 64 MiB of redb's page cache,
/// allocated as pages are read. redb's own default is 1 GiB.
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

/// Everything a store is configured with, apart from its schema registry and peer id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreConfig {
    pub(crate) limits: StoreLimits,
    /// Typed writes and `NodeStore::put_local` / `remove_local`.
    pub(crate) user_durability: Durability,
    /// `RecordStore` writes, expiry sweeps and republish schedules.
    pub(crate) network_durability: Durability,
    pub(crate) group_commit: GroupCommit,
    /// Whether a background thread enforces the group commit window.
    pub(crate) background_flush: bool,
    /// Records read per read transaction when walking the store.
    pub(crate) page_size: usize,
    /// redb's page cache, in bytes.
    pub(crate) cache_size: usize,
    /// Whether every open verifies the file, not only one the store did not close cleanly.
    pub(crate) verify_on_open: bool,
    /// How long the mark of an owned record key outlives its last write (`marks.rs`).
    pub(crate) owned_mark_ttl: std::time::Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            limits: StoreLimits::default(),
            user_durability: Durability::Immediate,
            network_durability: Durability::Grouped,
            group_commit: GroupCommit::default(),
            background_flush: true,
            page_size: 256,
            cache_size: DEFAULT_CACHE_BYTES,
            verify_on_open: false,
            owned_mark_ttl: crate::marks::DEFAULT_OWNED_MARK_TTL,
        }
    }
}
