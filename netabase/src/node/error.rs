//! Errors of starting a node and of the operations of its handle.

use std::path::PathBuf;
use std::time::Duration;

use libp2p::Multiaddr;

use crate::error::DatabaseError;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The identity file could not be read, created or decoded.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The transport could not be built (for example the noise handshake keys).
    #[error("cannot build the transport: {0}")]
    Transport(String),
    /// The node could not listen on an address.
    #[error(
        "cannot listen on {address}: {reason}; pick a free port (or port 0) on an interface of this \
         machine"
    )]
    Listen {
        /// The address from the configuration.
        address: Multiaddr,
        /// What the transport said.
        reason: String,
    },
    /// No listener reported an address within the startup timeout.
    #[error("listeners reported no address within {0:?}; check the listen addresses")]
    ListenTimeout(Duration),
    /// The configuration enables mDNS but this build of netabase has no mDNS support.
    #[error(
        "mDNS is enabled in the configuration but netabase was built without its `mdns` feature"
    )]
    MdnsUnavailable,
    /// mDNS could not start (no multicast-capable interface, socket error, ...).
    #[error("cannot start mDNS: {0}")]
    Mdns(#[source] std::io::Error),
    /// A schema registered on the node with a conflict rule other than byte order is not registered
    /// on the store, which resolves conflicts of records it stores with its own registry.
    #[error(
        "schema `{namespace}/{name}` is registered on the node but not on its store; register it \
         on the store too so both resolve its conflicts by the same rule"
    )]
    SchemaNotInStore {
        /// The schema's namespace.
        namespace: &'static str,
        /// The schema's name.
        name: &'static str,
    },
    /// The node is configured with [`UnknownSchemas::AcceptReplacing`](crate::UnknownSchemas) but
    /// its store resolves conflicts of unknown schemas by byte order, so the store would keep the
    /// values the node lets replace.
    #[error(
        "the node lets records of unknown schemas replace stored values but its store resolves them \
         by byte order ({store:?}); give the store's registry the same policy \
         (SchemaRegistry::set_unknown_schemas(UnknownSchemas::AcceptReplacing))"
    )]
    UnknownSchemasNotInStore {
        /// The store's policy.
        store: crate::UnknownSchemas,
    },
}

/// Why a node's identity file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// Reading or writing the file failed.
    #[error("cannot {action} identity file {path}: {source}")]
    Io {
        /// `"read"`, `"create"`, ...
        action: &'static str,
        /// The identity file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold a protobuf-encoded libp2p keypair.
    #[error(
        "identity file {path} does not hold a protobuf-encoded libp2p keypair ({reason}); restore \
         it from a backup, or delete it to start with a new peer id"
    )]
    Decode {
        /// The identity file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },
    /// The keypair could not be encoded (a key type without protobuf encoding).
    #[error("cannot encode the node's keypair: {0}")]
    Encode(String),
}

/// What went wrong in an operation of a [`NodeHandle`](crate::NodeHandle).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// Fewer peers than the quorum asked for acknowledged a put. The record is stored locally and
    /// durably and is republished, so it may still reach more peers later.
    #[error(
        "record {key} is stored locally, but only {reached} of the {needed} peers the quorum asked \
         for acknowledged it; connect to more peers (bootstrap, dial) or lower the quorum"
    )]
    QuorumFailed {
        /// The record key, escaped for display.
        key: String,
        /// Peers that stored the record.
        reached: usize,
        /// Peers the quorum needed.
        needed: usize,
    },
    /// No local copy and no peer returned a valid record under the key.
    #[error("no record under {key} locally or on the peers asked")]
    NotFound {
        /// The record key, escaped for display.
        key: String,
    },
    /// The operation did not finish in time.
    #[error(
        "{operation} did not finish within {after:?}; the network may be slow or unreachable, or \
         raise the node's operation timeout"
    )]
    Timeout {
        /// The operation, for example `"put"`.
        operation: &'static str,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// The routing table is empty, so there is no peer to ask.
    #[error("the node knows no peers; add a bootstrap peer or dial one first")]
    NoKnownPeers,
    /// Dialing a peer failed.
    #[error("cannot connect to {address}: {reason}")]
    Dial {
        /// The address dialed.
        address: Multiaddr,
        /// What the swarm said.
        reason: String,
    },
    /// The value is larger than the node's maximum value size.
    #[error(
        "value of {size} bytes is over the node's limit of {max} bytes; store a smaller value or \
         raise `NodeConfig::set_max_value_size`"
    )]
    ValueTooLarge {
        /// The encoded value's size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The record expires too soon to publish: peers refuse records with less than
    /// [`MIN_INBOUND_TTL`](crate::MIN_INBOUND_TTL) left, and kad carries expiry in whole seconds.
    #[error(
        "record {key} expires in under {min:?}, too soon to publish; give it a longer time to live"
    )]
    ExpiresTooSoon {
        /// The record key, escaped for display.
        key: String,
        /// The least lifetime a published record must have left.
        min: Duration,
    },
    /// Encoding, decoding or storing failed.
    #[error(transparent)]
    Database(#[from] DatabaseError),
    /// The node's event loop has stopped (shut down or failed), so the handle can do nothing.
    #[error("the node has stopped; start a new node")]
    Stopped,
}

/// The result of a node operation.
pub type NodeResult<T> = Result<T, NodeError>;
