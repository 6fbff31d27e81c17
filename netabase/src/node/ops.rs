//! Results and options of node operations.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use libp2p::PeerId;
use libp2p::kad::{Quorum, Record, RecordKey};

use super::store_protocol::RefusalReason;
use crate::schema::NetabaseSchema;

/// What became of a put (or publication) at the closest peers of its key: who stored it, who
/// refused it and why, who could not be reached. Returned by a put that met its quorum, and carried
/// by [`NodeError::QuorumFailed`](crate::NodeError::QuorumFailed) and
/// [`NodeError::QuorumUnreachable`](crate::NodeError::QuorumUnreachable) when it did not.
///
/// Netabase peers answer a store only after their gate (schema, decoding, size, expiry, conflict
/// rule, store limits) decided, so [`stored`](Self::stored) means "validated and kept". Plain
/// Kademlia peers cannot say more than "received": they are listed in
/// [`acknowledged`](Self::acknowledged). Both count toward the quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutReport {
    /// The record key.
    pub key: RecordKey,
    /// The size of the value sent, in bytes.
    pub value_bytes: usize,
    /// How many closest peers the lookup found (at most the replication factor); the record was
    /// sent to each of them.
    pub peers_found: usize,
    /// Netabase peers that validated and stored the record (or already held this value).
    pub stored: Vec<PeerId>,
    /// Plain Kademlia peers that acknowledged the record; they do not report whether they kept it.
    pub acknowledged: Vec<PeerId>,
    /// Netabase peers whose gate refused the record, with their reasons.
    pub refused: Vec<PeerRefusal>,
    /// Peers that could not be reached or did not answer in time.
    pub unreachable: Vec<PeerFailure>,
    /// Peers still to answer when the put returned: a put returns once its quorum is met, and the
    /// node goes on sending to the rest in the background (see [`PutOptions::wait_for_all`]).
    pub unanswered: usize,
}

impl PutReport {
    /// An empty report for `key`.
    pub(crate) fn new(key: RecordKey, value_bytes: usize, peers_found: usize) -> Self {
        PutReport {
            key,
            value_bytes,
            peers_found,
            stored: Vec::new(),
            acknowledged: Vec::new(),
            refused: Vec::new(),
            unreachable: Vec::new(),
            unanswered: peers_found,
        }
    }

    /// Peers that count toward the quorum: those that stored it plus plain kad acknowledgements.
    pub fn reached(&self) -> usize {
        self.stored.len() + self.acknowledged.len()
    }

    /// Whether every peer the record was sent to has answered.
    pub fn is_complete(&self) -> bool {
        self.unanswered == 0
    }
}

/// A peer's refusal of a record it was sent, as the peer reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerRefusal {
    /// The peer.
    pub peer: PeerId,
    /// Why, as a reason a program can match on.
    pub reason: RefusalReason,
    /// The peer's own explanation (at most 256 bytes; the peer's words, not checked).
    pub message: String,
}

/// A peer a record could not be delivered to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerFailure {
    /// The peer.
    pub peer: PeerId,
    /// What went wrong: a dial failure, a timeout, a closed connection, ...
    pub reason: String,
}

/// How a put waits: its quorum, and whether it returns at the quorum or once every closest peer
/// answered.
///
/// ```
/// use netabase::{PutOptions, kad::Quorum};
///
/// let mut options = PutOptions::new(Quorum::Majority);
/// options.set_wait_for_all(true);
/// assert!(options.wait_for_all());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutOptions {
    pub(crate) quorum: Quorum,
    pub(crate) wait_for_all: bool,
}

impl PutOptions {
    /// A put that needs `quorum` and returns as soon as it is met.
    ///
    /// The quorum counts peers that stored (or, for plain kad peers, acknowledged) the record:
    /// [`Quorum::One`] needs one, [`Quorum::N`] exactly `n`, [`Quorum::Majority`] more than half of
    /// the closest peers found, [`Quorum::All`] every one of them. A quorum is never lowered to fit
    /// the network: asking for more peers than the lookup found fails with
    /// [`NodeError::QuorumUnreachable`](crate::NodeError::QuorumUnreachable).
    pub fn new(quorum: Quorum) -> Self {
        PutOptions {
            quorum,
            wait_for_all: false,
        }
    }

    /// Whether the put waits until every closest peer answered (bounded by the query timeout),
    /// so its [`PutReport`] is complete. Default: `false`, the put returns once its quorum is met
    /// and the node keeps sending to the remaining peers in the background. A program that exits
    /// right after a put (a command-line tool) wants `true`, or the records still in flight are
    /// dropped with it.
    pub fn set_wait_for_all(&mut self, wait: bool) -> &mut Self {
        self.wait_for_all = wait;
        self
    }

    /// The quorum.
    pub fn quorum(&self) -> Quorum {
        self.quorum
    }

    /// Whether the put waits for every closest peer.
    pub fn wait_for_all(&self) -> bool {
        self.wait_for_all
    }
}

impl From<Quorum> for PutOptions {
    fn from(quorum: Quorum) -> Self {
        PutOptions::new(quorum)
    }
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
    /// How many peers the lookup sent a request to (kad's count); 0 when the local store
    /// answered without one. Junk answers and peers that never answered count too.
    pub queried_peers: u32,
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
