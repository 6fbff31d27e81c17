//! [`NodeConfig`]: everything a node is started with, libp2p-style setters with documented defaults.

use std::net::Ipv4Addr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId, StreamProtocol};

use super::error::AddressError;
use crate::registry::{SchemaRegistry, UnknownSchemas};
use crate::schema::NetabaseSchema;

/// The Kademlia protocol name of a Netabase network unless [`NodeConfig::set_kad_protocol`] says
/// otherwise. Our own name keeps a Netabase network from merging with the public IPFS DHT.
pub const DEFAULT_KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/netabase/kad/1.0.0");

/// The identify protocol version a Netabase node announces.
pub const IDENTIFY_PROTOCOL_VERSION: &str = "/netabase/1.0.0";

/// How often a node refreshes its routing table by default: 5 minutes, kad's default.
pub const DEFAULT_ROUTING_REFRESH_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Bytes a Kademlia message needs beyond the record value: key, publisher, TTL and up to `k`
/// closer peers with their addresses. kad's maximum packet size is kept at the node's maximum value
/// size plus this.
pub const PACKET_OVERHEAD: usize = 16 * 1024;

/// The default maximum value size: 64 KiB, the default limit of `netabase_store::RedbStore`, so a
/// node and its store agree out of the box (libp2p's `MemoryStore` allows 65 KiB).
pub const DEFAULT_MAX_VALUE_SIZE: usize = 64 * 1024;

/// The longest record TTL, interval or timeout a node works with: about 136 years, the largest
/// TTL kad's wire format can carry (whole seconds in a `u32`; a longer one would wrap around to a
/// short or "never expires" TTL). Longer settings are capped to it, which also keeps every
/// deadline the node computes within the range of `Instant` and `SystemTime`.
pub const MAX_DURATION: Duration = Duration::from_secs(u32::MAX as u64);

/// The default [`NodeConfig::set_connection_timeout`]: 10 s, as libp2p's `SwarmBuilder`.
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// The default [`NodeConfig::set_expiry_sweep_batch`].
pub const DEFAULT_EXPIRY_SWEEP_BATCH: usize = 1024;

/// The default [`NodeConfig::set_republish_rate`]: republications started per second.
pub const DEFAULT_REPUBLISH_RATE: u32 = 50;

/// Caps a configured duration at [`MAX_DURATION`].
fn capped(duration: Duration) -> Duration {
    duration.min(MAX_DURATION)
}

/// How a node sends its records to the closest peers, and so what their acknowledgements mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Acknowledgements {
    /// The store protocol ([`STORE_PROTOCOL`](crate::STORE_PROTOCOL)) to Netabase peers, which
    /// answer after their gate decided (reported as stored or refused, with the reason), and a kad
    /// `PUT_VALUE` to peers that do not speak it (reported as kad acknowledgements). The default.
    #[default]
    Validated,
    /// A kad `PUT_VALUE` to every peer, as plain Kademlia does: each acknowledgement means only
    /// "received", before the receiver validated anything, and is reported as a kad
    /// acknowledgement. Saves the store protocol's negotiation with networks of plain kad peers.
    Kad,
}

/// Where a node's identity (its keypair, hence its peer id) comes from.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Identity {
    /// A fresh ed25519 keypair for every start: the peer id changes on restart. The default.
    #[default]
    Generate,
    /// This keypair.
    Keypair(Keypair),
    /// A protobuf-encoded keypair in this file, created with a fresh ed25519 keypair on first run,
    /// so a restarted node keeps its peer id. Keep it beside the store
    /// ([`identity_path_beside`]).
    File(PathBuf),
}

/// The conventional identity file of a store file: the same path with the extension `key`
/// (`data/node.redb` gives `data/node.key`).
pub fn identity_path_beside(store_path: &Path) -> PathBuf {
    store_path.with_extension("key")
}

/// The configuration of a Netabase node. Start from [`NodeConfig::new`] and adjust with the `set_*`
/// setters; every setter's documentation states its default.
///
/// ```
/// use std::time::Duration;
/// use netabase::NodeConfig;
///
/// let mut config = NodeConfig::new();
/// config
///     .set_listen_addrs(vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()])
///     .set_record_ttl(Some(Duration::from_secs(3600)))
///     .set_query_timeout(Duration::from_secs(10));
/// assert_eq!(config.max_packet_size(), config.max_value_size() + netabase::PACKET_OVERHEAD);
/// ```
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub(crate) listen_addrs: Vec<Multiaddr>,
    pub(crate) bootstrap_peers: Vec<(PeerId, Multiaddr)>,
    pub(crate) kad_protocol: StreamProtocol,
    pub(crate) identity: Identity,
    pub(crate) query_timeout: Duration,
    pub(crate) routing_refresh_interval: Option<Duration>,
    pub(crate) operation_timeout: Duration,
    pub(crate) record_ttl: Option<Duration>,
    pub(crate) tombstone_ttl: Option<Duration>,
    pub(crate) republish_interval: Option<Duration>,
    pub(crate) republish_check_interval: Duration,
    pub(crate) expiry_sweep_interval: Duration,
    pub(crate) handoff_interval: Option<Duration>,
    pub(crate) flush_interval: Duration,
    pub(crate) max_value_size: usize,
    pub(crate) replication_factor: NonZeroUsize,
    pub(crate) get_quorum: NonZeroUsize,
    pub(crate) idle_connection_timeout: Duration,
    pub(crate) connection_timeout: Duration,
    pub(crate) expiry_sweep_batch: usize,
    pub(crate) event_capacity: usize,
    pub(crate) command_capacity: usize,
    pub(crate) max_background_queries: usize,
    pub(crate) republish_rate: Option<NonZeroU32>,
    pub(crate) mdns: bool,
    pub(crate) acknowledgements: Acknowledgements,
    pub(crate) registry: SchemaRegistry,
    pub(crate) unknown_schemas: Option<UnknownSchemas>,
    pub(crate) metrics: Option<super::metrics::NodeMetrics>,
    pub(crate) stats_log_interval: Option<Duration>,
    pub(crate) memory_transport: Option<super::memory_transport::MemoryTransportFactory>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl NodeConfig {
    /// The default configuration; see each setter for its default.
    pub fn new() -> Self {
        NodeConfig {
            listen_addrs: vec![
                Multiaddr::empty()
                    .with(Protocol::Ip4(Ipv4Addr::LOCALHOST))
                    .with(Protocol::Tcp(0)),
            ],
            bootstrap_peers: Vec::new(),
            kad_protocol: DEFAULT_KAD_PROTOCOL,
            identity: Identity::Generate,
            query_timeout: Duration::from_secs(60),
            routing_refresh_interval: Some(DEFAULT_ROUTING_REFRESH_INTERVAL),
            operation_timeout: Duration::from_secs(120),
            record_ttl: Some(Duration::from_secs(48 * 60 * 60)),
            tombstone_ttl: Some(Duration::from_secs(96 * 60 * 60)),
            republish_interval: Some(Duration::from_secs(22 * 60 * 60)),
            republish_check_interval: Duration::from_secs(60),
            expiry_sweep_interval: Duration::from_secs(60),
            handoff_interval: Some(Duration::from_secs(10)),
            flush_interval: Duration::from_millis(200),
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
            replication_factor: libp2p::kad::K_VALUE,
            get_quorum: NonZeroUsize::MIN,
            idle_connection_timeout: Duration::from_secs(60),
            connection_timeout: DEFAULT_CONNECTION_TIMEOUT,
            expiry_sweep_batch: DEFAULT_EXPIRY_SWEEP_BATCH,
            event_capacity: 1024,
            command_capacity: 256,
            max_background_queries: 32,
            republish_rate: NonZeroU32::new(DEFAULT_REPUBLISH_RATE),
            mdns: false,
            acknowledgements: Acknowledgements::Validated,
            registry: SchemaRegistry::new(),
            unknown_schemas: None,
            metrics: None,
            stats_log_interval: None,
            memory_transport: None,
        }
    }

    /// The addresses to listen on. Default: `/ip4/127.0.0.1/tcp/0` (loopback only, a port the OS
    /// picks), so a node is never reachable from other machines by accident; set
    /// `/ip4/0.0.0.0/tcp/<port>` to serve a network. `/memory/<n>` addresses use libp2p's in-process `MemoryTransport`; with the `quic`
    /// feature, `/udp/<port>/quic-v1` addresses use QUIC. An empty list makes a node that only dials.
    pub fn set_listen_addrs(&mut self, addrs: Vec<Multiaddr>) -> &mut Self {
        self.listen_addrs = addrs;
        self
    }

    /// Adds a peer to join the network through: it is put in the routing table, dialed at start and
    /// used to bootstrap. Default: none.
    pub fn add_bootstrap_peer(&mut self, peer: PeerId, addr: Multiaddr) -> &mut Self {
        self.bootstrap_peers.push((peer, addr));
        self
    }

    /// Adds a bootstrap peer from one address that ends in `/p2p/<peer id>`, the form a node
    /// prints as its listen address (`/ip4/10.0.0.2/tcp/4001/p2p/12D3KooW...`): the same as
    /// [`add_bootstrap_peer`](Self::add_bootstrap_peer) with the peer id split off. Fails with
    /// [`AddressError::MissingPeerId`] for an address without one: the noise handshake must know
    /// which peer to expect.
    ///
    /// ```
    /// let mut config = netabase::NodeConfig::new();
    /// let address = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWGBqvAu5rafuNjnt5VWFDY3CYpr4iXtKUmdVcj4LWpCNE";
    /// config.add_bootstrap_addr(address.parse()?)?;
    /// assert_eq!(config.bootstrap_peers()[0].1.to_string(), "/ip4/127.0.0.1/tcp/4001");
    /// assert!(config.add_bootstrap_addr("/ip4/127.0.0.1/tcp/4001".parse()?).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_bootstrap_addr(&mut self, address: Multiaddr) -> Result<&mut Self, AddressError> {
        let mut transport = address.clone();
        match transport.pop() {
            Some(Protocol::P2p(peer)) => Ok(self.add_bootstrap_peer(peer, transport)),
            _ => Err(AddressError::MissingPeerId { address }),
        }
    }

    /// The Kademlia protocol name. Default: [`DEFAULT_KAD_PROTOCOL`] (`/netabase/kad/1.0.0`). Nodes
    /// only talk Kademlia to peers with the same name.
    pub fn set_kad_protocol(&mut self, protocol: StreamProtocol) -> &mut Self {
        self.kad_protocol = protocol;
        self
    }

    /// Where the node's keypair comes from. Default: [`Identity::Generate`], a new peer id on every
    /// start; use [`Identity::File`] for a node that keeps its peer id across restarts.
    pub fn set_identity(&mut self, identity: Identity) -> &mut Self {
        self.identity = identity;
        self
    }

    /// How long one Kademlia query (a lookup, a put to the closest peers, a bootstrap step) may run.
    /// Default: 60 s, kad's default. At most [`MAX_DURATION`].
    pub fn set_query_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.query_timeout = capped(timeout);
        self
    }

    /// How often the node refreshes its routing table on its own: a bootstrap (a lookup of its own
    /// peer id, then one of a random key in each bucket farther than its closest peer's), as kad
    /// runs periodically. `None` turns it off: the table then changes only through the node's own
    /// lookups and the peers that contact it, and a peer that stops answering leaves it when a
    /// request to it fails. Default: [`DEFAULT_ROUTING_REFRESH_INTERVAL`] (5 minutes, kad's
    /// default). At most [`MAX_DURATION`].
    pub fn set_routing_refresh_interval(&mut self, interval: Option<Duration>) -> &mut Self {
        self.routing_refresh_interval = interval.map(capped);
        self
    }

    /// How long a [`NodeHandle`](crate::NodeHandle) operation waits for the node before it fails
    /// with [`NodeError::Timeout`](crate::NodeError::Timeout). A put runs two queries (find the
    /// closest peers, then store at them). Default: 120 s. At most [`MAX_DURATION`].
    pub fn set_operation_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.operation_timeout = capped(timeout);
        self
    }

    /// How long peers keep a record this node publishes, unless the put names its own expiry; the
    /// publisher's republish job renews it. Also caps how long this node keeps records it receives.
    /// `None`: records without an expiry of their own never expire (peers still keep the expiry
    /// a record carries). Default: 48 h, kad's default. At most [`MAX_DURATION`].
    pub fn set_record_ttl(&mut self, ttl: Option<Duration>) -> &mut Self {
        self.record_ttl = ttl.map(capped);
        self
    }

    /// How long the tombstone of a removed value without an expiry of its own lives
    /// ([`NodeHandle::remove`](crate::NodeHandle::remove)); the tombstone of a value with an
    /// expiry expires just after that value would have. It must outlive every copy of the value: a
    /// copy lives up to the record TTL after its publisher last republished it, and a publisher
    /// learns of the delete the next time it republishes (its peers refuse the value), so the
    /// default is twice the default record TTL. `None`: tombstones never expire (what a node whose
    /// records never expire needs). Default: 96 h. At most [`MAX_DURATION`].
    pub fn set_tombstone_ttl(&mut self, ttl: Option<Duration>) -> &mut Self {
        self.tombstone_ttl = ttl.map(capped);
        self
    }

    /// How often this node republishes the records its user put, renewing their TTL on the peers
    /// closest to them. Should be well below the record TTL. The schedule lives in the store, so it
    /// survives restarts. `None`: never republish. Default: 22 h, kad's default. At most
    /// [`MAX_DURATION`].
    pub fn set_republish_interval(&mut self, interval: Option<Duration>) -> &mut Self {
        self.republish_interval = interval.map(capped);
        self
    }

    /// How often the node asks the store for records due for republishing. Default: 60 s. At most
    /// [`MAX_DURATION`].
    pub fn set_republish_check_interval(&mut self, interval: Duration) -> &mut Self {
        self.republish_check_interval = capped(interval);
        self
    }

    /// How often expired records are swept from the store. Expired records are never served even
    /// between sweeps; the sweep frees their space. Default: 60 s. At most [`MAX_DURATION`].
    pub fn set_expiry_sweep_interval(&mut self, interval: Duration) -> &mut Self {
        self.expiry_sweep_interval = capped(interval);
        self
    }

    /// How often the node checks for peers that entered its routing table, to hand them the
    /// records they are now among the closest peers of (the Kademlia paper's transfer to a new
    /// node). A check that finds newcomers walks the store once for all of them, a page at a
    /// time between the node's other work, and sends each record to the newcomers that are
    /// among the replication factor's closest peers it knows for the key, closer to it than this
    /// node, with fewer than three known peers between them: of a record's holders, the few
    /// just behind a newcomer send it. Without it a record's holders only leave, with churn,
    /// until its publisher republishes it. Only records of schemas this node registers are handed
    /// over: a newcomer is not necessarily empty, and one that accepts replacements for a schema
    /// it does not know would take an older value over its newer one. The walk reads every record in the store, so on a
    /// node with millions of records a longer interval (or `None`) bounds that work. `None`:
    /// never hand records over. Default: 10 s. At most [`MAX_DURATION`].
    pub fn set_handoff_interval(&mut self, interval: Option<Duration>) -> &mut Self {
        self.handoff_interval = interval.map(capped);
        self
    }

    /// How many expired records one sweep removes at most. The sweep runs on the node's event
    /// loop, so a batch bounds how long it holds up the network (after a long downtime a store
    /// can hold millions of expired records); when a batch is full the next one runs right after
    /// the node has served what is waiting. Default: [`DEFAULT_EXPIRY_SWEEP_BATCH`] (1024); at
    /// least 1.
    pub fn set_expiry_sweep_batch(&mut self, records: usize) -> &mut Self {
        self.expiry_sweep_batch = records.max(1);
        self
    }

    /// How often records received from peers are committed to disk (the store groups them into one
    /// commit). A crash loses at most this window of received records, which their publishers
    /// republish. The user's own puts are durable before they return. Default: 200 ms. At most
    /// [`MAX_DURATION`].
    pub fn set_flush_interval(&mut self, interval: Duration) -> &mut Self {
        self.flush_interval = capped(interval);
        self
    }

    /// The largest record value this node stores, publishes or accepts; larger inbound records are
    /// rejected with [`Rejection::TooLarge`](crate::Rejection::TooLarge). kad's maximum packet size
    /// follows as this plus [`PACKET_OVERHEAD`]. Keep it at or below the store's own limit.
    /// Default: [`DEFAULT_MAX_VALUE_SIZE`] (64 KiB, as `RedbStore`'s default limit).
    pub fn set_max_value_size(&mut self, bytes: usize) -> &mut Self {
        self.max_value_size = bytes;
        self
    }

    /// How many of the closest peers a record is stored at. Default: kad's `K_VALUE` (20).
    pub fn set_replication_factor(&mut self, factor: NonZeroUsize) -> &mut Self {
        self.replication_factor = factor;
        self
    }

    /// How many peers' answers [`NodeHandle::get`](crate::NodeHandle::get) waits for when it has to
    /// ask the network; the answers (and any local copy) are resolved by the schema's conflict rule.
    /// More answers cost latency; [`NodeHandle::get_from_network`](crate::NodeHandle::get_from_network)
    /// and `sync_from_network` always run the whole lookup. Default: 1.
    pub fn set_get_quorum(&mut self, quorum: NonZeroUsize) -> &mut Self {
        self.get_quorum = quorum;
        self
    }

    /// How long a connection with no open streams stays up. Default: 60 s. At most
    /// [`MAX_DURATION`].
    pub fn set_idle_connection_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.idle_connection_timeout = capped(timeout);
        self
    }

    /// How long setting up a connection (transport, noise handshake, yamux) may take, inbound or
    /// outbound, before it is dropped. Without it, a peer that opens a TCP connection and then
    /// stays silent would hold it (and a dial to it would stay pending) forever. Default:
    /// [`DEFAULT_CONNECTION_TIMEOUT`] (10 s, as libp2p's `SwarmBuilder`). At most
    /// [`MAX_DURATION`].
    pub fn set_connection_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.connection_timeout = capped(timeout);
        self
    }

    /// How many events [`NodeHandle::subscribe`](crate::NodeHandle::subscribe) buffers per
    /// subscriber; a subscriber that falls further behind skips the oldest. Default: 1024.
    pub fn set_event_capacity(&mut self, capacity: usize) -> &mut Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// How many commands from handles may wait for the event loop; further callers wait. Default:
    /// 256.
    pub fn set_command_capacity(&mut self, capacity: usize) -> &mut Self {
        self.command_capacity = capacity.max(1);
        self
    }

    /// How many background queries the node runs at once: republications of its own records, and
    /// repairs (a get's winner pushed to peers that answered with a losing value). A republish
    /// backlog is worked off with this many in flight; a repair that finds the budget spent is
    /// skipped (the next get or sync of the key repairs the peers). Default: 32; at least 1.
    pub fn set_max_background_queries(&mut self, max: usize) -> &mut Self {
        self.max_background_queries = max.max(1);
        self
    }

    /// How many republications the node starts per second, on average (bursts of one second's
    /// worth). Each one is a lookup and a store on up to the replication factor's peers, so a
    /// backlog (a bulk import coming due at once, a node back from downtime) is spread over time
    /// instead of loading this node and its peers all at once, and the user's own puts and gets
    /// stay fast meanwhile. The limit never lets the node fall behind: when its schedule holds
    /// more records than this rate gets through in half the republish interval (4 million at
    /// the defaults), the node goes as fast as that needs instead. `None`: only
    /// [`set_max_background_queries`](Self::set_max_background_queries) limits it. Default:
    /// [`DEFAULT_REPUBLISH_RATE`] (50 per second).
    pub fn set_republish_rate(&mut self, per_second: Option<NonZeroU32>) -> &mut Self {
        self.republish_rate = per_second;
        self
    }

    /// Records the node's metrics in `metrics` (libp2p's and Netabase's, see
    /// [`NodeMetrics`](crate::NodeMetrics)), which the application serves from its registry.
    /// Default: none.
    pub fn set_metrics(&mut self, metrics: super::metrics::NodeMetrics) -> &mut Self {
        self.metrics = Some(metrics);
        self
    }

    /// How often the node logs one line of its figures at info level (records stored and
    /// refused, peers, republications, storage errors); `None`: never. Default: `None`
    /// (`netabase node` logs every minute).
    pub fn set_stats_log_interval(&mut self, interval: Option<Duration>) -> &mut Self {
        self.stats_log_interval = interval;
        self
    }

    /// Whether to discover peers on the local network with mDNS. Needs the crate feature `mdns`;
    /// without it, starting a node with mDNS on fails with
    /// [`SpawnError::MdnsUnavailable`](crate::SpawnError::MdnsUnavailable). Default: off.
    pub fn set_mdns(&mut self, enabled: bool) -> &mut Self {
        self.mdns = enabled;
        self
    }

    /// The transport for `/memory` addresses, in place of libp2p's `MemoryTransport`: a test or a
    /// simulation can wrap the memory transport to refuse dials, cut connections or lose traffic
    /// (`netabase_sim` partitions networks this way). Each connection is still secured with noise
    /// (or, for a [`plaintext`](crate::MemoryTransportFactory::plaintext) factory, libp2p's
    /// plaintext protocol) and multiplexed with yamux on top of it. Default: libp2p's
    /// `MemoryTransport`.
    pub fn set_memory_transport(
        &mut self,
        factory: super::memory_transport::MemoryTransportFactory,
    ) -> &mut Self {
        self.memory_transport = Some(factory);
        self
    }

    /// How records are sent to the closest peers: [`Acknowledgements::Validated`] (the default)
    /// over the store protocol, so a put learns whether each Netabase peer kept the record, or
    /// [`Acknowledgements::Kad`], kad puts whose acknowledgements mean "received".
    /// `docs/performance.md` measures what each costs.
    pub fn set_acknowledgements(&mut self, acknowledgements: Acknowledgements) -> &mut Self {
        self.acknowledgements = acknowledgements;
        self
    }

    /// Registers schema `V` with the node: inbound records under its prefix must decode as `V` and
    /// conflicts resolve by `V`'s rule. The node also knows every schema its store registered.
    /// Default: no schemas beyond the store's.
    pub fn register<V: NetabaseSchema>(&mut self) -> &mut Self {
        self.registry.register::<V>();
        self
    }

    /// What to do with inbound records of schemas neither the node nor its store registered.
    /// Default: the store's policy, which defaults to [`UnknownSchemas::Accept`]: keep them as raw
    /// records, so nodes of different applications sharing one network serve each other's records.
    pub fn set_unknown_schemas(&mut self, policy: UnknownSchemas) -> &mut Self {
        self.unknown_schemas = Some(policy);
        self
    }

    /// The addresses to listen on.
    pub fn listen_addrs(&self) -> &[Multiaddr] {
        &self.listen_addrs
    }

    /// The bootstrap peers.
    pub fn bootstrap_peers(&self) -> &[(PeerId, Multiaddr)] {
        &self.bootstrap_peers
    }

    /// Where the node's keypair comes from.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// How long one Kademlia query may run.
    pub fn query_timeout(&self) -> Duration {
        self.query_timeout
    }

    /// How often the node refreshes its routing table on its own; `None`: never.
    pub fn routing_refresh_interval(&self) -> Option<Duration> {
        self.routing_refresh_interval
    }

    /// How long a handle operation may take.
    pub fn operation_timeout(&self) -> Duration {
        self.operation_timeout
    }

    /// How long peers keep a record this node publishes.
    pub fn record_ttl(&self) -> Option<Duration> {
        self.record_ttl
    }

    /// How long the tombstone of a removed value without an expiry lives.
    pub fn tombstone_ttl(&self) -> Option<Duration> {
        self.tombstone_ttl
    }

    /// How often this node republishes its own records.
    pub fn republish_interval(&self) -> Option<Duration> {
        self.republish_interval
    }

    /// How often expired records are swept.
    pub fn expiry_sweep_interval(&self) -> Duration {
        self.expiry_sweep_interval
    }

    /// How often the node hands records to peers that joined closer to them.
    pub fn handoff_interval(&self) -> Option<Duration> {
        self.handoff_interval
    }

    /// How many republications the node starts per second at most.
    pub fn republish_rate(&self) -> Option<NonZeroU32> {
        self.republish_rate
    }

    /// How many expired records one sweep removes at most.
    pub fn expiry_sweep_batch(&self) -> usize {
        self.expiry_sweep_batch
    }

    /// How long setting up a connection may take.
    pub fn connection_timeout(&self) -> Duration {
        self.connection_timeout
    }

    /// How often records received from peers are committed.
    pub fn flush_interval(&self) -> Duration {
        self.flush_interval
    }

    /// How many of the closest peers a record is stored at.
    pub fn replication_factor(&self) -> NonZeroUsize {
        self.replication_factor
    }

    /// Whether mDNS discovery is on.
    pub fn mdns(&self) -> bool {
        self.mdns
    }

    /// How records are sent to the closest peers.
    pub fn acknowledgements(&self) -> Acknowledgements {
        self.acknowledgements
    }

    /// The largest record value this node stores, publishes or accepts.
    pub fn max_value_size(&self) -> usize {
        self.max_value_size
    }

    /// kad's maximum packet size: [`Self::max_value_size`] plus [`PACKET_OVERHEAD`].
    pub fn max_packet_size(&self) -> usize {
        self.max_value_size.saturating_add(PACKET_OVERHEAD)
    }

    /// The Kademlia protocol name.
    pub fn kad_protocol(&self) -> &StreamProtocol {
        &self.kad_protocol
    }

    /// The schemas registered on this configuration (not including the store's).
    pub fn registry(&self) -> &SchemaRegistry {
        &self.registry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_routing_refresh_defaults_to_kads_interval_is_capped_and_can_be_turned_off() {
        let mut config = NodeConfig::new();
        assert_eq!(
            config.routing_refresh_interval(),
            Some(Duration::from_secs(300))
        );
        config.set_routing_refresh_interval(Some(Duration::MAX));
        assert_eq!(config.routing_refresh_interval(), Some(MAX_DURATION));
        config.set_routing_refresh_interval(None);
        assert_eq!(config.routing_refresh_interval(), None);
    }
}
