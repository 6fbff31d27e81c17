//! The node: a Netabase peer on a Kademlia network, driven through a [`NodeHandle`].
//!
//! [`Node::spawn`] builds a libp2p swarm (TCP + noise + yamux, the in-process memory transport, QUIC
//! with the `quic` feature; kad over the given store, identify, mDNS with the `mdns` feature),
//! starts listening, and moves the swarm into one event-loop task. The returned [`NodeHandle`] sends
//! that task commands over a bounded channel and waits for each answer on a oneshot, as in
//! rust-libp2p's `file-sharing` example. The store lives inside the kad behaviour, so the swarm, the
//! inbound validation and the periodic jobs all reach it from the one task that owns it.
//!
//! The data path of a put: [`NodeHandle::put`] → the conflict rule against the stored value (a
//! stale write is refused) → the store's `put_local_deferred` (the record and its republish
//! schedule, visible at once) → kad `get_n_closest_peers`, while the write becomes durable on a
//! blocking thread → once both are done, the record goes to each of those peers over the store
//! protocol ([`STORE_PROTOCOL`]; a kad `PUT_VALUE` for plain kad peers) → each Netabase peer's
//! gate (schema prefix, decoding, size, expiry, conflict rule against its stored value, store
//! limits) decides and answers → the caller hears once its quorum of peers stored it, with a
//! [`PutReport`] of who stored, refused or could not be reached.

mod behaviour;
mod command;
mod config;
mod error;
mod event_loop;
mod events;
mod handle;
mod handoff;
mod identity;
mod inbound;
mod jobs;
mod memory_transport;
mod metrics;
mod ops;
mod publication;
mod queries;
mod rate_limit;
mod store_protocol;

use std::time::Duration;

use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

pub use config::{
    Acknowledgements, DEFAULT_CONNECTION_TIMEOUT, DEFAULT_EXPIRY_SWEEP_BATCH, DEFAULT_KAD_PROTOCOL,
    DEFAULT_MAX_VALUE_SIZE, DEFAULT_REPUBLISH_RATE, DEFAULT_ROUTING_REFRESH_INTERVAL,
    IDENTIFY_PROTOCOL_VERSION, Identity, MAX_DURATION, NodeConfig, PACKET_OVERHEAD,
    identity_path_beside,
};
pub use error::{AddressError, IdentityError, NodeError, NodeResult, SpawnError};
pub use events::{NodeEvent, NodeStats, RejectionCounts};
pub use handle::NodeHandle;
pub use identity::load_or_create as load_or_create_identity;
pub use inbound::MIN_INBOUND_TTL;
pub use memory_transport::{BoxedMemoryStream, MemoryStream, MemoryTransportFactory};
pub use metrics::NodeMetrics;
pub use ops::{
    FetchedRecord, PeerFailure, PeerRefusal, PutOptions, PutReport, RecordSource, SyncOptions,
    SyncProgress, SyncReport,
};
pub use store_protocol::{RefusalReason, STORE_PROTOCOL};

use crate::node_store::NodeStore;
use crate::registry::SchemaRegistry;
use crate::schema::ConflictRule;
use event_loop::{EventLoop, LoopSettings, Pending, Timers};

/// How long [`Node::spawn`] waits for its listeners to report an address.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts Netabase nodes. A node runs as a tokio task until [`NodeHandle::shutdown`] or until every
/// handle is dropped.
///
/// ```no_run
/// # async fn run<S: netabase::NodeStore>(store: S) -> Result<(), Box<dyn std::error::Error>> {
/// use netabase::{Node, NodeConfig, kad::Quorum};
///
/// let mut config = NodeConfig::new();
/// config.set_listen_addrs(vec!["/ip4/127.0.0.1/tcp/0".parse()?]);
/// let (node, task) = Node::spawn(config, store).await?;
/// println!("{} listens on {:?}", node.peer_id(), node.listeners().await?);
/// node.shutdown().await?;
/// task.await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Node;

impl Node {
    /// Builds the node's swarm over `store`, listens on the configured addresses (waiting until
    /// each reports an address, so [`NodeHandle::listeners`] is complete at once), dials the
    /// bootstrap peers and starts bootstrapping, then spawns the event loop on the current tokio
    /// runtime. Returns the handle and the loop's task, which ends after shutdown.
    pub async fn spawn<S: NodeStore>(
        config: NodeConfig,
        store: S,
    ) -> Result<(NodeHandle, JoinHandle<()>), SpawnError> {
        let registry = node_registry(&config, store.registry())?;
        let keypair = identity::load_identity(&config.identity)?;
        let mut store = store;
        store.set_local_peer(keypair.public().to_peer_id());
        let mut swarm = behaviour::build_swarm(&config, &keypair, store)?;
        let peer_id = *swarm.local_peer_id();

        let mut listeners = Vec::with_capacity(config.listen_addrs.len());
        for address in &config.listen_addrs {
            let id = swarm
                .listen_on(address.clone())
                .map_err(|error| SpawnError::Listen {
                    address: address.clone(),
                    reason: error.to_string(),
                })?;
            listeners.push((id, address.clone()));
        }
        let mut listen_addrs = Vec::new();
        let mut waiting = listeners.clone();
        let deadline = tokio::time::Instant::now() + LISTEN_TIMEOUT;
        while !waiting.is_empty() {
            let event = tokio::time::timeout_at(deadline, swarm.select_next_some())
                .await
                .map_err(|_| SpawnError::ListenTimeout(LISTEN_TIMEOUT))?;
            match event {
                SwarmEvent::NewListenAddr {
                    listener_id,
                    address,
                } => {
                    tracing::info!(%address, peer = %peer_id, "listening");
                    waiting.retain(|(id, _)| *id != listener_id);
                    listen_addrs.push(address);
                }
                SwarmEvent::ListenerError { listener_id, error }
                | SwarmEvent::ListenerClosed {
                    listener_id,
                    reason: Err(error),
                    ..
                } => {
                    let address = listeners
                        .iter()
                        .find(|(id, _)| *id == listener_id)
                        .map(|(_, address)| address.clone())
                        .unwrap_or_else(libp2p::Multiaddr::empty);
                    return Err(SpawnError::Listen {
                        address,
                        reason: error.to_string(),
                    });
                }
                _ => {}
            }
        }

        for (peer, address) in &config.bootstrap_peers {
            swarm.behaviour_mut().kad.add_address(peer, address.clone());
            let options = libp2p::swarm::dial_opts::DialOpts::peer_id(*peer)
                .addresses(vec![address.clone()])
                .build();
            if let Err(error) = swarm.dial(options) {
                tracing::warn!(%peer, %address, %error, "cannot dial bootstrap peer");
            }
        }
        if !config.bootstrap_peers.is_empty() {
            // Answered by kad's events; a failure only means the periodic bootstrap retries.
            let _ = swarm.behaviour_mut().kad.bootstrap();
        }

        let (command_sender, commands) = mpsc::channel(config.command_capacity);
        let (events, _) = broadcast::channel(config.event_capacity);
        let handle = NodeHandle::new(
            command_sender,
            events.clone(),
            peer_id,
            config.operation_timeout,
        );
        let store_errors_seen = swarm.behaviour_mut().kad.store_mut().storage_errors();
        let event_loop = EventLoop {
            swarm,
            commands,
            events,
            registry,
            settings: LoopSettings::from_config(&config),
            timers: Timers::from_config(&config),
            listen_addrs,
            pending: Pending::default(),
            stats: Default::default(),
            background_queries: 0,
            handoff: Default::default(),
            republish_backlog: false,
            republish_rate: config
                .republish_rate
                .map(|rate| rate_limit::RateLimit::new(rate, std::time::Instant::now())),
            store_errors_seen,
            durability: Default::default(),
            flushing: None,
            removals: Default::default(),
            metrics: config.metrics.clone(),
        };
        Ok((handle, tokio::spawn(event_loop.run())))
    }
}

/// The schemas the node validates with: the store's, plus those registered on the configuration.
/// A configuration schema with its own conflict rule must also be in the store, which resolves the
/// conflicts of what it stores with its own registry; otherwise the two would disagree. For the
/// same reason a node that lets unknown schemas replace needs a store that does too.
fn node_registry(
    config: &NodeConfig,
    store: &SchemaRegistry,
) -> Result<SchemaRegistry, SpawnError> {
    config.registry.check()?;
    let mut registry = store.clone();
    for schema in config.registry.schemas() {
        if schema.conflict_rule() != ConflictRule::ByteOrder
            && store.schema_of(schema.prefix().as_bytes()).is_none()
        {
            return Err(SpawnError::SchemaNotInStore {
                namespace: schema.namespace(),
                name: schema.name(),
            });
        }
        registry.register_info(*schema);
    }
    registry.check()?;
    let unknown = config
        .unknown_schemas
        .unwrap_or_else(|| store.unknown_schemas());
    // The store resolves what it stores with its own registry: a node that lets unknown values
    // replace over a byte-order store would report records stored that the store kept out.
    if unknown.replaces() && !store.unknown_schemas().replaces() {
        return Err(SpawnError::UnknownSchemasNotInStore {
            store: store.unknown_schemas(),
        });
    }
    registry.set_unknown_schemas(unknown);
    Ok(registry)
}
