//! Netabase: a typed, persistent, distributed database on libp2p's Kademlia DHT.
//!
//! Derive [`NetabaseSchema`] on a struct with a `#[key]` field and every value converts directly to
//! and from a [`kad::Record`]: the record key is `/<namespace>/<schema name>/<postcard key bytes>` and
//! the record value is exactly the postcard encoding of the value, with nothing added.
//!
//! ```
//! use netabase::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
//! struct Article {
//!     #[key]
//!     slug: String,
//!     body: String,
//! }
//!
//! let article = Article { slug: "hello".into(), body: "first post".into() };
//! let record: kad::Record = article.clone().try_into()?;
//! assert!(record.key.as_ref().starts_with(b"/netabase/Article/"));
//! assert_eq!(Article::try_from(record)?, article);
//! # Ok::<(), netabase::DatabaseError>(())
//! ```
//!
//! # Map of the crate
//! - [`NetabaseSchema`] and [`NetabaseSchemaKey`]: the traits (and derives) a schema and its key
//!   implement; the record format lives in their provided methods.
//! - [`NetabaseDatabase`] and [`NetabaseDatabaseExt`]: what a store offers; `netabase_store`
//!   implements them on redb.
//! - [`ConflictRule`], [`resolve_records`], [`SchemaRegistry`]: deterministic conflict resolution and
//!   validation of records received from the network.
//! - [`owned`]: owned records (`#[netabase(owned)]`), which only their owner's key or an
//!   authorised writer can change: [`owned::Author`] signs, every entry point verifies.
//! - [`index`]: secondary indexes a schema declares (`#[index]`), with typed [`index::Index`]
//!   handles for queries and the order-preserving encoding of their values.
//! - [`tombstone`]: how a delete travels as a record (the tombstone of a value) and how it is
//!   ordered against values.
//! - [`DatabaseError`]: every error, naming the schema and the cause.
//! - [`Node`], [`NodeConfig`], [`NodeHandle`]: a peer on a Kademlia network whose record store is a
//!   [`NodeStore`] (`netabase_store::RedbStore`): typed put/get across nodes, validation of every
//!   inbound record, republish and expiry jobs, [`NodeEvent`]s and [`NodeStats`]; errors are
//!   [`NodeError`] and [`SpawnError`]. `docs/node.md` describes it.

extern crate self as netabase;

mod codec;
mod conflict;
mod database;
mod error;
pub mod index;
mod key_impls;
mod node;
mod node_store;
pub mod owned;
mod registry;
mod schema;
pub mod tombstone;
pub mod version;

pub use async_trait::async_trait;
pub use conflict::{
    Winner, compare_raw_values, compare_values, pick_winner, resolve_records, winner_from,
};
pub use database::{NetabaseDatabase, NetabaseDatabaseExt};
pub use error::{DatabaseError, DatabaseResult};
pub use libp2p::identity::Keypair;
pub use libp2p::kad;
pub use libp2p::multiaddr;
pub use libp2p::{Multiaddr, PeerId, StreamProtocol};
pub use netabase_macros::{NetabaseSchema, NetabaseSchemaKey};
pub use node::{
    Acknowledgements, AddressError, BoxedMemoryStream, DEFAULT_CONNECTION_TIMEOUT,
    DEFAULT_EXPIRY_SWEEP_BATCH, DEFAULT_KAD_PROTOCOL, DEFAULT_MAX_VALUE_SIZE,
    DEFAULT_REPUBLISH_RATE, DEFAULT_ROUTING_REFRESH_INTERVAL, FetchedRecord,
    IDENTIFY_PROTOCOL_VERSION, Identity, IdentityError, MAX_DURATION, MIN_INBOUND_TTL,
    MemoryStream, MemoryTransportFactory, Node, NodeConfig, NodeError, NodeEvent, NodeHandle,
    NodeMetrics, NodeResult, NodeStats, PACKET_OVERHEAD, PeerFailure, PeerRefusal, PutOptions,
    PutReport, RecordSource, RefusalReason, RejectionCounts, STORE_PROTOCOL, SpawnError,
    SyncOptions, SyncProgress, SyncReport, identity_path_beside, load_or_create_identity,
};
pub use node_store::{NodeStore, PendingDurability};
/// The `prometheus-client` crate [`NodeMetrics`] registers in, at the version libp2p's metrics use.
pub use prometheus_client;
pub use registry::{
    PrefixClash, Rejection, SchemaInfo, SchemaRegistry, UnknownSchemas, split_record_key,
};
pub use schema::{ConflictRule, DEFAULT_NAMESPACE, NetabaseSchema, NetabaseSchemaKey};

/// The traits and derives most programs need: `use netabase::prelude::*;`.
pub mod prelude {
    pub use crate::kad;
    pub use crate::{
        DatabaseError, DatabaseResult, NetabaseDatabase, NetabaseDatabaseExt, NetabaseSchema,
        NetabaseSchemaKey,
    };
}

/// Paths used by code that `netabase_macros` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::owned::Owner;

    /// Implemented only by [`Owner`]: the derive checks an owned schema's first key field with it.
    #[diagnostic::on_unimplemented(
        message = "the first `#[key]` field of an owned schema must be `netabase::owned::Owner`, not `{Self}`",
        label = "the record key of an owned schema starts with its owner's public key",
        note = "put the owner first: `#[key] owner: Owner` before the other key fields"
    )]
    pub trait OwnerField {}

    impl OwnerField for Owner {}
    pub use crate::index::{Index, IndexDef, IndexKeys, order_key};
    pub use crate::schema::DEFAULT_NAMESPACE;
    pub use crate::{
        ConflictRule, DatabaseError, DatabaseResult, NetabaseSchema, NetabaseSchemaKey,
    };
    pub use core::cmp::Ordering;
    pub use core::convert::TryFrom;
    pub use core::result::Result;
    pub use libp2p::kad::{Record, RecordKey};
    pub use serde;

    /// Stands in for the key type of a schema whose derive failed, so that the derive's error is
    /// the only one the user sees. Uninhabited: no value of it ever exists.
    #[derive(
        Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
    )]
    pub enum FallbackKey {}

    impl NetabaseSchemaKey for FallbackKey {}
}
