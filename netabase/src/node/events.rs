//! What a node reports: the events of [`NodeHandle::subscribe`](crate::NodeHandle::subscribe) and
//! the counters of [`NodeHandle::stats`](crate::NodeHandle::stats).

use std::sync::Arc;

use libp2p::kad::RecordKey;
use libp2p::{Multiaddr, PeerId};

use crate::error::DatabaseError;
use crate::owned::OwnershipProblem;
use crate::registry::Rejection;

/// Something that happened on a node. Events go to every subscriber through a bounded broadcast
/// channel; a subscriber that falls behind misses the oldest (`RecvError::Lagged`) rather than
/// slowing the node down. [`NodeStats`] counts the same things without loss.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NodeEvent {
    /// The node listens on a new address.
    Listening {
        /// The address.
        address: Multiaddr,
    },
    /// A connection to a peer is open (the first one, if there are several).
    PeerConnected {
        /// The peer.
        peer: PeerId,
        /// The peer's address on this connection.
        address: Multiaddr,
    },
    /// The last connection to a peer closed.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A peer entered the node's routing table.
    PeerRoutable {
        /// The peer.
        peer: PeerId,
    },
    /// A record from a peer passed validation and was stored.
    RecordStored {
        /// The record key.
        key: RecordKey,
        /// The peer that sent it.
        from: PeerId,
    },
    /// A record from a peer was not stored.
    RecordRejected {
        /// The record key.
        key: RecordKey,
        /// The peer that sent it (a put) or answered with it (a get).
        from: PeerId,
        /// Why it was refused.
        reason: Arc<Rejection>,
    },
    /// A provider record from a peer was stored.
    ProviderStored {
        /// The key provided.
        key: RecordKey,
        /// The provider.
        provider: PeerId,
    },
    /// A provider record from a peer was not stored.
    ProviderRejected {
        /// The key provided.
        key: RecordKey,
        /// The provider.
        provider: PeerId,
        /// Why it was refused.
        reason: Arc<Rejection>,
    },
    /// The expiry sweep removed records.
    RecordsExpired {
        /// How many.
        count: usize,
    },
    /// A record this node published was republished.
    Republished {
        /// The record key.
        key: RecordKey,
        /// Whether the quorum of peers stored it.
        ok: bool,
    },
    /// The store failed (a flush, a sweep, a write of a received record); the node carries on.
    StorageError {
        /// What failed.
        message: String,
    },
}

/// How many inbound records were rejected, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RejectionCounts {
    /// Key with no registered schema prefix while unknown schemas are rejected.
    pub unknown_schema: u64,
    /// Key or value that does not decode as its schema, or disagrees with each other, or a
    /// malformed message.
    pub invalid: u64,
    /// Key or value that decodes as its schema but is not the canonical encoding of what it
    /// decodes to (a padded varint): a second byte string for a value, which could otherwise win
    /// byte-order comparisons.
    pub non_canonical: u64,
    /// Value over the size limit.
    pub too_large: u64,
    /// Already expired, or expiring within a second.
    pub expired: u64,
    /// Lost conflict resolution against the stored value.
    pub lost_conflict: u64,
    /// Refused by the store (record count or size limit).
    pub refused: u64,
    /// An owned record whose signature does not verify (forged, or changed on the way).
    pub bad_signature: u64,
    /// An owned record validly signed by a key its owner did not authorise.
    pub not_a_writer: u64,
    /// An owned record of a writer whose authorisation expired or was revoked.
    pub revoked: u64,
    /// An owned record older than one this node holds or held (a replay or rollback).
    pub replayed: u64,
    /// An owned record whose write time or signed expiry is too far in the future.
    pub future_timestamp: u64,
    /// An owned record whose Kademlia expiry is later than its signed expiry.
    pub expiry_extended: u64,
}

impl RejectionCounts {
    /// All rejections.
    pub fn total(&self) -> u64 {
        self.by_reason().iter().map(|(_, count)| count).sum()
    }

    /// Each counter with a short name of its reason, in declaration order.
    pub fn by_reason(&self) -> [(&'static str, u64); 13] {
        [
            ("unknown schema", self.unknown_schema),
            ("invalid", self.invalid),
            ("not canonical", self.non_canonical),
            ("too large", self.too_large),
            ("expired", self.expired),
            ("lost conflict", self.lost_conflict),
            ("refused by the store", self.refused),
            ("bad signature", self.bad_signature),
            ("not a writer", self.not_a_writer),
            ("revoked writer", self.revoked),
            ("replayed", self.replayed),
            ("future timestamp", self.future_timestamp),
            ("expiry extended", self.expiry_extended),
        ]
    }

    pub(crate) fn count(&mut self, reason: &Rejection) {
        let counter = match reason {
            Rejection::UnknownSchema => &mut self.unknown_schema,
            Rejection::Invalid(DatabaseError::NonCanonical { .. }) => &mut self.non_canonical,
            Rejection::Invalid(DatabaseError::Ownership { problem, .. }) => match problem {
                OwnershipProblem::BadSignature => &mut self.bad_signature,
                OwnershipProblem::NotAWriter => &mut self.not_a_writer,
                OwnershipProblem::Revoked => &mut self.revoked,
                OwnershipProblem::Replayed => &mut self.replayed,
                OwnershipProblem::FutureTimestamp => &mut self.future_timestamp,
                OwnershipProblem::ExpiryExtended => &mut self.expiry_extended,
                OwnershipProblem::Expired => &mut self.expired,
                _ => &mut self.invalid,
            },
            Rejection::Invalid(_) | Rejection::Malformed(_) => &mut self.invalid,
            Rejection::TooLarge { .. } => &mut self.too_large,
            Rejection::Expired => &mut self.expired,
            Rejection::LostConflict => &mut self.lost_conflict,
            Rejection::Refused(_) => &mut self.refused,
        };
        *counter += 1;
    }
}

/// Counters of a node since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeStats {
    /// Records received from peers (puts and get answers) that were validated and stored.
    pub records_stored: u64,
    /// Records received from peers (puts and get answers) that were rejected, by reason.
    pub records_rejected: RejectionCounts,
    /// Provider records received and stored.
    pub providers_stored: u64,
    /// Provider records received and rejected, by reason.
    pub providers_rejected: RejectionCounts,
    /// Records removed by expiry sweeps.
    pub records_expired: u64,
    /// Republications that reached their quorum.
    pub republished: u64,
    /// Republications that did not.
    pub republish_failed: u64,
    /// Records handed to peers that joined among their closest, and stored by at least one of
    /// them (see [`NodeConfig::set_handoff_interval`](crate::NodeConfig::set_handoff_interval)).
    pub handed_off: u64,
    /// Records handed to newcomers that none of them stored (unreachable, or refused).
    pub handoff_failed: u64,
    /// Storage failures: the node's own (flushes, sweeps, schedule updates) plus those the store's
    /// `RecordStore` methods met and could not return.
    pub storage_errors: u64,
    /// Peers with an open connection now.
    pub connected_peers: usize,
    /// Peers in the routing table now.
    pub routing_table_size: usize,
    /// Of those, peers with an open connection: the peers a lookup can ask at once.
    pub connected_routable_peers: usize,
}
