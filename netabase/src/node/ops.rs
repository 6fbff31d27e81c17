//! Results and options of node operations.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use libp2p::PeerId;
use libp2p::kad::{Quorum, Record, RecordKey};

use crate::schema::NetabaseSchema;

/// A put that reached its quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutOk {
    /// The record key.
    pub key: RecordKey,
}

/// Where a record a get returned came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordSource {
    /// The local store, which held the winning value.
    Local,
    /// This peer answered with the winning value (now also stored locally).
    Peer(PeerId),
}

/// A record returned by a raw get, with where it came from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FetchedRecord {
    /// The record, with its publisher and expiry.
    pub record: Record,
    /// Where it came from.
    pub source: RecordSource,
    /// Whether the local store was updated with it (it was missing or lost against it).
    pub stored_locally: bool,
}

pub(crate) type Fetched = FetchedRecord;

/// Progress of a sync, passed to the callback of [`SyncOptions::set_progress`] after each record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncProgress {
    /// Records finished so far.
    pub processed: usize,
    /// Of those, how many failed.
    pub failed: usize,
    /// How many records the sync covers, when known (a list of keys); `None` while walking the store.
    pub total: Option<usize>,
}

/// The outcome of `sync_to_network` or `sync_from_network`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncReport {
    /// Records (or keys) processed.
    pub processed: usize,
    /// `sync_to_network`: records stored by the quorum of their closest peers.
    pub published: usize,
    /// `sync_from_network`: keys whose local record was replaced by a winning network value (or
    /// that were missing locally and found).
    pub updated: usize,
    /// `sync_from_network`: keys whose local record already was the winner.
    pub unchanged: usize,
    /// `sync_from_network`: keys found neither locally nor on the network.
    pub not_found: usize,
    /// `sync_to_network`: records skipped because they expire within seconds.
    pub skipped: usize,
    /// Records (or keys) whose operation failed (quorum not reached, timeout, ...).
    pub failed: usize,
    /// How long the sync took.
    pub elapsed: Duration,
}

impl SyncReport {
    /// Records per second over the whole sync.
    pub fn records_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.processed as f64 / seconds
        } else {
            0.0
        }
    }
}

type ProgressFn = Arc<dyn Fn(SyncProgress) + Send + Sync>;

/// The largest page [`SyncOptions::set_batch_size`] accepts.
const MAX_BATCH_SIZE: usize = 4096;

/// How `sync_to_network` and `sync_from_network` run: which records, how many at once, and who
/// hears about progress.
///
/// ```
/// use netabase::{SyncOptions, kad::Quorum};
///
/// let mut options = SyncOptions::new();
/// options
///     .set_concurrency(16)
///     .set_quorum(Quorum::One)
///     .set_progress(|progress| eprintln!("{} records", progress.processed));
/// ```
#[derive(Clone)]
pub struct SyncOptions {
    pub(crate) batch_size: usize,
    pub(crate) concurrency: usize,
    pub(crate) quorum: Quorum,
    pub(crate) prefix: Vec<u8>,
    pub(crate) keys: Option<Vec<RecordKey>>,
    pub(crate) progress: Option<ProgressFn>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncOptions")
            .field("batch_size", &self.batch_size)
            .field("concurrency", &self.concurrency)
            .field("quorum", &self.quorum)
            .field("prefix", &self.prefix.escape_ascii().to_string())
            .field("keys", &self.keys.as_ref().map(Vec::len))
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl SyncOptions {
    /// Every local record, 256 per page, 32 at once, quorum one, no progress callback.
    pub fn new() -> Self {
        SyncOptions {
            batch_size: 256,
            concurrency: 32,
            quorum: Quorum::One,
            prefix: Vec::new(),
            keys: None,
            progress: None,
        }
    }

    /// How many local records are read from the store at a time; memory stays proportional to
    /// this, not to the store. Default: 256; at most 4096, because each page is read on the
    /// node's task, and a page bounds how long that read holds the swarm up.
    pub fn set_batch_size(&mut self, size: usize) -> &mut Self {
        self.batch_size = size.clamp(1, MAX_BATCH_SIZE);
        self
    }

    /// How many records are published or fetched at once. Default: 32.
    pub fn set_concurrency(&mut self, concurrency: usize) -> &mut Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The quorum each publication of `sync_to_network` needs. Default: [`Quorum::One`].
    pub fn set_quorum(&mut self, quorum: Quorum) -> &mut Self {
        self.quorum = quorum;
        self
    }

    /// Only local records whose key starts with this raw prefix. Default: every record.
    pub fn set_prefix(&mut self, prefix: impl Into<Vec<u8>>) -> &mut Self {
        self.prefix = prefix.into();
        self
    }

    /// Only local records of schema `V` (the prefix `/<namespace>/<name>/`).
    pub fn set_schema<V: NetabaseSchema>(&mut self) -> &mut Self {
        self.set_prefix(V::record_prefix())
    }

    /// `sync_from_network` only: fetch these keys instead of the keys of local records, so a node
    /// can pull records it does not hold yet. Default: the local records' keys.
    pub fn set_keys(&mut self, keys: Vec<RecordKey>) -> &mut Self {
        self.keys = Some(keys);
        self
    }

    /// Called after each record with the progress so far. Default: none.
    pub fn set_progress(
        &mut self,
        progress: impl Fn(SyncProgress) + Send + Sync + 'static,
    ) -> &mut Self {
        self.progress = Some(Arc::new(progress));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_page_holds_at_least_one_record_and_at_most_the_cap() {
        let mut options = SyncOptions::new();
        assert_eq!(options.set_batch_size(0).batch_size, 1);
        assert_eq!(options.set_batch_size(1000).batch_size, 1000);
        assert_eq!(
            options.set_batch_size(usize::MAX).batch_size,
            MAX_BATCH_SIZE
        );
    }
}
