//! Shared by the node tests and the node benchmark: schemas, fast node configurations, networks of
//! nodes on loopback TCP or the in-process memory transport, and a plain rust-libp2p Kademlia node
//! (no Netabase code) driven from a task of its own.

use std::future::Future;
use std::num::NonZeroUsize;
use std::time::Duration;

use futures::StreamExt;
use libp2p::kad::store::{MemoryStore, MemoryStoreConfig, RecordStore};
use libp2p::kad::{self, Mode, QueryId, Quorum, Record, RecordKey};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, SwarmBuilder, noise, tcp, yamux};
use netabase_store::{
    DEFAULT_KAD_PROTOCOL, NetabaseSchema, Node, NodeConfig, NodeHandle, RedbStore, SchemaRegistry,
    UnknownSchemas,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The longest any single step of a test may take before the test fails.
pub const STEP: Duration = Duration::from_secs(30);

/// A schema with the default byte-order conflict rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
pub struct Profile {
    #[key]
    pub id: u64,
    pub name: String,
}

/// A schema whose `#[version]` field decides conflicts: the higher version wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
pub struct Page {
    #[key]
    pub slug: String,
    #[version]
    pub version: u64,
    pub body: String,
}

/// Fails the test if `future` does not finish within [`STEP`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {STEP:?}"))
}

/// Polls `check` every 50 ms until it returns `Some`, for at most [`STEP`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    within(what, async {
        loop {
            if let Some(value) = check().await {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

/// Which transport a test network uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// TCP on 127.0.0.1.
    Tcp,
    /// libp2p's in-process memory transport.
    Memory,
    /// QUIC on 127.0.0.1 (netabase's `quic` feature, which this crate's tests enable).
    Quic,
}

impl Net {
    pub fn listen_addr(self) -> Multiaddr {
        match self {
            Net::Tcp => "/ip4/127.0.0.1/tcp/0".parse().expect("valid multiaddr"),
            Net::Memory => "/memory/0".parse().expect("valid multiaddr"),
            Net::Quic => "/ip4/127.0.0.1/udp/0/quic-v1"
                .parse()
                .expect("valid multiaddr"),
        }
    }
}

/// A configuration with short timeouts and fast jobs, listening on `net`.
pub fn fast_config(net: Net) -> NodeConfig {
    let mut config = NodeConfig::new();
    config
        .set_listen_addrs(vec![net.listen_addr()])
        .set_query_timeout(Duration::from_secs(5))
        .set_operation_timeout(Duration::from_secs(15))
        .set_expiry_sweep_interval(Duration::from_millis(200))
        .set_flush_interval(Duration::from_millis(50))
        .set_republish_check_interval(Duration::from_millis(200))
        .register::<Profile>()
        .register::<Page>();
    config
}

/// The store file at `path` (created if missing) that knows the test schemas.
pub fn file_store(path: &std::path::Path) -> RedbStore {
    RedbStore::builder()
        .register::<Profile>()
        .register::<Page>()
        .create(path)
        .expect("store file opens")
}

/// An in-memory store that knows the test schemas (which `fast_config` registers) and `V`.
pub fn memory_store_with<V: NetabaseSchema>() -> RedbStore {
    RedbStore::builder()
        .register::<Profile>()
        .register::<Page>()
        .register::<V>()
        .in_memory()
        .expect("in-memory store opens")
}

/// An in-memory store that knows the test schemas.
pub fn memory_store() -> RedbStore {
    RedbStore::builder()
        .register::<Profile>()
        .register::<Page>()
        .in_memory()
        .expect("in-memory store opens")
}

/// [`fast_config`] without the test schemas, and an in-memory store that knows none either, both
/// with `policy`.
pub fn generic_node_parts(policy: UnknownSchemas) -> (NodeConfig, RedbStore) {
    let mut config = NodeConfig::new();
    config
        .set_listen_addrs(vec![Net::Memory.listen_addr()])
        .set_query_timeout(Duration::from_secs(5))
        .set_operation_timeout(Duration::from_secs(15))
        .set_flush_interval(Duration::from_millis(50))
        .set_unknown_schemas(policy);
    let mut registry = SchemaRegistry::new();
    registry.set_unknown_schemas(policy);
    let store = RedbStore::builder()
        .set_registry(registry)
        .in_memory()
        .expect("in-memory store opens");
    (config, store)
}

/// A running node and its task.
pub struct TestNode {
    pub handle: NodeHandle,
    pub task: JoinHandle<()>,
    pub addr: Multiaddr,
}

impl TestNode {
    /// The node's first listen address with its `/p2p/` suffix.
    pub fn dial_addr(&self) -> Multiaddr {
        self.addr
            .clone()
            .with(libp2p::multiaddr::Protocol::P2p(self.handle.peer_id()))
    }

    /// Shuts the node down and waits for its task.
    pub async fn stop(self) {
        within("shutdown", self.handle.shutdown())
            .await
            .expect("shutdown");
        within("node task", self.task).await.expect("node task");
    }
}

/// Starts a node with `config` over `store`, bootstrapping through `bootstrap` if given.
pub async fn start_node(
    mut config: NodeConfig,
    store: RedbStore,
    bootstrap: Option<&TestNode>,
) -> TestNode {
    if let Some(peer) = bootstrap {
        config.add_bootstrap_peer(peer.handle.peer_id(), peer.addr.clone());
    }
    let (handle, task) = within("spawn", Node::spawn(config, store))
        .await
        .expect("node starts");
    let addr = handle
        .listeners()
        .await
        .expect("listeners")
        .into_iter()
        .next()
        .expect("a listen address");
    TestNode { handle, task, addr }
}

/// Starts `n` nodes with in-memory stores, each bootstrapping through the first, and waits until
/// every routing table holds every other node.
pub async fn start_network(
    n: usize,
    net: Net,
    configure: impl Fn(&mut NodeConfig),
) -> Vec<TestNode> {
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        let mut config = fast_config(net);
        configure(&mut config);
        let node = start_node(config, memory_store(), nodes.first()).await;
        nodes.push(node);
    }
    connect_all(&nodes).await;
    nodes
}

/// Bootstraps every node and waits until each routing table holds every other node.
pub async fn connect_all(nodes: &[TestNode]) {
    let want = nodes.len() - 1;
    for node in nodes.iter().skip(1) {
        within("bootstrap", node.handle.bootstrap())
            .await
            .expect("bootstrap");
    }
    for node in nodes {
        eventually("routing tables fill", || async {
            let stats = node.handle.stats().await.expect("stats");
            if stats.routing_table_size >= want {
                return Some(());
            }
            // Another round of lookups spreads the peers we learned since.
            let _ = node.handle.bootstrap().await;
            None
        })
        .await;
    }
}

/// Shuts every node down.
pub async fn stop_all(nodes: Vec<TestNode>) {
    for node in nodes {
        node.stop().await;
    }
}

// --- A silent peer ------------------------------------------------------------------------------

/// A TCP listener on 127.0.0.1 that accepts every connection and never sends a byte: a peer that
/// stalls every handshake. Its thread stops, and the connections close, when it is dropped.
pub struct SilentListener {
    /// Its address, `/ip4/127.0.0.1/tcp/<port>`.
    pub addr: Multiaddr,
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SilentListener {
    pub fn start() -> SilentListener {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    held.push(stream);
                }
            }
        });
        SilentListener {
            addr: format!("/ip4/127.0.0.1/tcp/{port}")
                .parse()
                .expect("valid multiaddr"),
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SilentListener {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The TCP port of a `/ip4/../tcp/<port>` address.
pub fn tcp_port(addr: &Multiaddr) -> u16 {
    addr.iter()
        .find_map(|protocol| match protocol {
            libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .expect("a TCP address")
}

// --- A plain rust-libp2p Kademlia node -------------------------------------------------------

type PlainSwarm = Swarm<kad::Behaviour<MemoryStore>>;
type Reply<T> = oneshot::Sender<T>;

enum PlainCommand {
    Dial(Multiaddr, Reply<Result<PeerId, String>>),
    /// Sends `record` to these peers only (the way a hostile peer pushes garbage).
    PutTo(Record, Vec<PeerId>, Reply<Result<(), String>>),
    /// kad's own `put_record`: stores locally and at the closest peers.
    Put(Record, Quorum, Reply<Result<(), String>>),
    /// kad's `get_record`, finished at the first answer from a peer.
    Get(RecordKey, Reply<Result<(Record, Option<PeerId>), String>>),
    /// Writes straight into the plain node's own store.
    StoreLocal(Record, Reply<()>),
    Bootstrap(Reply<()>),
    /// kad's `start_providing`: announces this node as a provider of the key.
    Provide(RecordKey, Reply<Result<(), String>>),
    /// kad's `add_address`: how a plain kad user adds a bootstrap peer.
    AddPeer(PeerId, Multiaddr, Reply<()>),
    RoutingTableSize(Reply<usize>),
}

/// A plain libp2p kad node with `MemoryStore`, configured only with Netabase's protocol name
/// (and server mode, which loopback needs), running in its own task.
#[derive(Clone)]
pub struct PlainNode {
    commands: mpsc::Sender<PlainCommand>,
    pub peer_id: PeerId,
    pub addr: Multiaddr,
}

/// Options of a plain node.
#[derive(Debug, Clone)]
pub struct PlainOptions {
    pub max_packet_size: usize,
    pub replication_factor: NonZeroUsize,
    pub max_value_bytes: usize,
}

impl Default for PlainOptions {
    fn default() -> Self {
        PlainOptions {
            max_packet_size: 16 * 1024,
            replication_factor: kad::K_VALUE,
            max_value_bytes: 65 * 1024,
        }
    }
}

impl PlainNode {
    /// Starts a plain node listening on loopback TCP.
    pub async fn start(options: PlainOptions) -> PlainNode {
        let mut swarm: PlainSwarm = SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .expect("tcp transport")
            .with_behaviour(|key| {
                let peer = key.public().to_peer_id();
                let mut config = kad::Config::new(DEFAULT_KAD_PROTOCOL);
                config
                    .set_max_packet_size(options.max_packet_size)
                    .set_replication_factor(options.replication_factor);
                let store = MemoryStore::with_config(
                    peer,
                    MemoryStoreConfig {
                        max_value_bytes: options.max_value_bytes,
                        max_records: 100_000,
                        ..Default::default()
                    },
                );
                let mut kad = kad::Behaviour::with_config(peer, store, config);
                kad.set_mode(Some(Mode::Server));
                kad
            })
            .expect("behaviour")
            .with_swarm_config(|config| {
                config.with_idle_connection_timeout(Duration::from_secs(60))
            })
            .build();
        swarm
            .listen_on("/ip4/127.0.0.1/tcp/0".parse().expect("valid multiaddr"))
            .expect("listen");
        let addr = within("plain node listens", async {
            loop {
                if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                    return address;
                }
            }
        })
        .await;
        let peer_id = *swarm.local_peer_id();
        let (commands, receiver) = mpsc::channel(64);
        tokio::spawn(run_plain(swarm, receiver));
        PlainNode {
            commands,
            peer_id,
            addr,
        }
    }

    pub fn dial_addr(&self) -> Multiaddr {
        self.addr
            .clone()
            .with(libp2p::multiaddr::Protocol::P2p(self.peer_id))
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> PlainCommand) -> T {
        let (reply, answer) = oneshot::channel();
        within("plain node command", async {
            self.commands
                .send(command(reply))
                .await
                .map_err(|_| "plain node stopped")
                .expect("plain node runs");
            answer.await.expect("plain node answers")
        })
        .await
    }

    pub async fn dial(&self, addr: Multiaddr) -> Result<PeerId, String> {
        self.ask(|reply| PlainCommand::Dial(addr, reply)).await
    }

    pub async fn put_to(&self, record: Record, peers: Vec<PeerId>) -> Result<(), String> {
        self.ask(|reply| PlainCommand::PutTo(record, peers, reply))
            .await
    }

    pub async fn put(&self, record: Record, quorum: Quorum) -> Result<(), String> {
        self.ask(|reply| PlainCommand::Put(record, quorum, reply))
            .await
    }

    pub async fn get(&self, key: RecordKey) -> Result<(Record, Option<PeerId>), String> {
        self.ask(|reply| PlainCommand::Get(key, reply)).await
    }

    pub async fn store_local(&self, record: Record) {
        self.ask(|reply| PlainCommand::StoreLocal(record, reply))
            .await
    }

    pub async fn provide(&self, key: RecordKey) -> Result<(), String> {
        self.ask(|reply| PlainCommand::Provide(key, reply)).await
    }

    pub async fn add_peer(&self, peer: PeerId, addr: Multiaddr) {
        self.ask(|reply| PlainCommand::AddPeer(peer, addr, reply))
            .await
    }

    pub async fn bootstrap(&self) {
        self.ask(PlainCommand::Bootstrap).await
    }

    #[allow(
        dead_code,
        reason = "only the node_latency benchmark waits on a plain node's routing table"
    )]
    pub async fn routing_table_size(&self) -> usize {
        self.ask(PlainCommand::RoutingTableSize).await
    }
}

enum PlainPending {
    Put(Reply<Result<(), String>>),
    Get(Reply<Result<(Record, Option<PeerId>), String>>),
    Bootstrap(Reply<()>),
}

/// The plain node's event loop: rust-libp2p's file-sharing pattern, nothing more.
async fn run_plain(mut swarm: PlainSwarm, mut commands: mpsc::Receiver<PlainCommand>) {
    use std::collections::HashMap;
    let mut pending: HashMap<QueryId, PlainPending> = HashMap::new();
    let mut dials: HashMap<libp2p::swarm::ConnectionId, Reply<Result<PeerId, String>>> =
        HashMap::new();
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { return };
                let kad = swarm.behaviour_mut();
                match command {
                    PlainCommand::Dial(addr, reply) => {
                        let options = libp2p::swarm::dial_opts::DialOpts::unknown_peer_id()
                            .address(addr)
                            .build();
                        let id = options.connection_id();
                        match swarm.dial(options) {
                            Ok(()) => { dials.insert(id, reply); }
                            Err(error) => { let _ = reply.send(Err(error.to_string())); }
                        }
                    }
                    PlainCommand::PutTo(record, peers, reply) => {
                        let id = kad.put_record_to(record, peers.into_iter(), Quorum::One);
                        pending.insert(id, PlainPending::Put(reply));
                    }
                    PlainCommand::Put(record, quorum, reply) => match kad.put_record(record, quorum) {
                        Ok(id) => { pending.insert(id, PlainPending::Put(reply)); }
                        Err(error) => { let _ = reply.send(Err(format!("{error:?}"))); }
                    },
                    PlainCommand::Get(key, reply) => {
                        let id = kad.get_record(key);
                        pending.insert(id, PlainPending::Get(reply));
                    }
                    PlainCommand::StoreLocal(record, reply) => {
                        kad.store_mut().put(record).expect("plain store accepts the record");
                        let _ = reply.send(());
                    }
                    PlainCommand::Bootstrap(reply) => match kad.bootstrap() {
                        Ok(id) => { pending.insert(id, PlainPending::Bootstrap(reply)); }
                        Err(_) => { let _ = reply.send(()); }
                    },
                    PlainCommand::Provide(key, reply) => match kad.start_providing(key) {
                        Ok(id) => { pending.insert(id, PlainPending::Put(reply)); }
                        Err(error) => { let _ = reply.send(Err(format!("{error:?}"))); }
                    },
                    PlainCommand::AddPeer(peer, addr, reply) => {
                        kad.add_address(&peer, addr);
                        let _ = reply.send(());
                    }
                    PlainCommand::RoutingTableSize(reply) => {
                        let size = kad.kbuckets().map(|bucket| bucket.num_entries()).sum();
                        let _ = reply.send(size);
                    }
                }
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { peer_id, connection_id, .. } => {
                    if let Some(reply) = dials.remove(&connection_id) {
                        let _ = reply.send(Ok(peer_id));
                    }
                }
                SwarmEvent::OutgoingConnectionError { connection_id, error, .. } => {
                    if let Some(reply) = dials.remove(&connection_id) {
                        let _ = reply.send(Err(error.to_string()));
                    }
                }
                SwarmEvent::Behaviour(kad::Event::OutboundQueryProgressed { id, result, step, .. }) => {
                    match result {
                        kad::QueryResult::PutRecord(result) => {
                            if let Some(PlainPending::Put(reply)) = pending.remove(&id) {
                                let _ = reply.send(result.map(drop).map_err(|error| error.to_string()));
                            }
                        }
                        kad::QueryResult::StartProviding(result) => {
                            if let Some(PlainPending::Put(reply)) = pending.remove(&id) {
                                let _ = reply.send(result.map(drop).map_err(|error| error.to_string()));
                            }
                        }
                        kad::QueryResult::GetRecord(Ok(kad::GetRecordOk::FoundRecord(found))) => {
                            // The first answer from a peer ends the lookup, as most kad users do.
                            if found.peer.is_some()
                                && let Some(PlainPending::Get(reply)) = pending.remove(&id)
                            {
                                let _ = reply.send(Ok((found.record, found.peer)));
                                if let Some(mut query) = swarm.behaviour_mut().query_mut(&id) {
                                    query.finish();
                                }
                            }
                        }
                        kad::QueryResult::GetRecord(other) => {
                            if step.last
                                && let Some(PlainPending::Get(reply)) = pending.remove(&id)
                            {
                                let _ = reply.send(Err(format!("not found: {other:?}")));
                            }
                        }
                        kad::QueryResult::Bootstrap(_) if step.last => {
                            if let Some(PlainPending::Bootstrap(reply)) = pending.remove(&id) {
                                let _ = reply.send(());
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            },
        }
    }
}
