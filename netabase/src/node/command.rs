//! What a handle asks the event loop to do. Every command carries a oneshot for its answer.

use libp2p::kad::{Record, RecordKey};
use libp2p::{Multiaddr, PeerId};
use tokio::sync::oneshot;

use super::error::NodeResult;
use super::events::NodeStats;
use super::ops::{Fetched, PutOptions, PutReport};
use crate::registry::SchemaInfo;

pub(crate) type Reply<T> = oneshot::Sender<NodeResult<T>>;

/// Whether a get may answer from the local store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GetMode {
    /// The local record if there is one, else a lookup that stops at the configured get quorum.
    LocalFirst,
    /// A complete lookup, resolved together with the local record.
    Network,
}

pub(crate) enum Command {
    /// Store durably as this node's own record, schedule its republication, publish it.
    Put {
        record: Record,
        options: PutOptions,
        reply: Reply<PutReport>,
    },
    /// Publish a record to the closest peers without touching the local store.
    Publish {
        record: Record,
        options: PutOptions,
        reply: Reply<PutReport>,
    },
    /// Answer once the routing table holds `min` connected peers.
    WaitForPeers {
        min: usize,
        reply: Reply<usize>,
    },
    Get {
        key: RecordKey,
        /// The typed caller's schema: answers must also decode as it, and it orders them.
        schema: Option<SchemaInfo>,
        mode: GetMode,
        reply: Reply<Fetched>,
    },
    GetLocal {
        key: RecordKey,
        reply: Reply<Option<Record>>,
    },
    /// Store the tombstone of `current` (the winning value, as a network get found it) as this
    /// node's own record and publish it.
    Remove {
        current: Record,
        options: PutOptions,
        reply: Reply<PutReport>,
    },
    /// Remove the local record and its republish schedule only.
    RemoveLocal {
        key: RecordKey,
        reply: Reply<()>,
    },
    /// A page of local records, in key order, after `after`, with keys starting with `prefix`.
    LocalRecords {
        after: Option<RecordKey>,
        prefix: Vec<u8>,
        limit: usize,
        reply: Reply<Vec<Record>>,
    },
    Bootstrap {
        reply: Reply<()>,
    },
    Dial {
        address: Multiaddr,
        reply: Reply<PeerId>,
    },
    /// Whether the routing table took `address` for `peer`.
    AddAddress {
        peer: PeerId,
        address: Multiaddr,
        reply: Reply<bool>,
    },
    Listeners {
        reply: Reply<Vec<Multiaddr>>,
    },
    ConnectedPeers {
        reply: Reply<Vec<PeerId>>,
    },
    Stats {
        reply: Reply<NodeStats>,
    },
    Flush {
        reply: Reply<()>,
    },
    Shutdown {
        reply: Reply<()>,
    },
}
