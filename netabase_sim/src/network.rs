//! A network of real nodes on libp2p's memory transport: starting them, taking them offline and
//! back, replacing them, and looking into their stores. Each node dials through the network's
//! [`Faults`].

use std::sync::Arc;
use std::time::Duration;

use netabase_store::owned::Author;
use netabase_store::{
    DEFAULT_KAD_PROTOCOL, Identity, Keypair, Multiaddr, Node, NodeConfig, NodeError, NodeHandle,
    NodeStats, PeerId, RedbStore, SpawnError,
};
use rand::RngExt;
use rand::rngs::StdRng;
use tokio::task::JoinHandle;

use crate::faults::Faults;
use crate::hostile::{Counters, HostileCounts, HostileNode};
use crate::kad_peer::KadPeerConfig;
use crate::plain::{PlainHandle, PlainNode};
use crate::scenario::Scenario;
use crate::workload::{OwnedSimRecord, SimRecord};

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A node's store could not be created.
    #[error("a node's in-memory store could not be created: {0}")]
    Store(#[from] netabase_store::OpenError),
    /// A node could not start.
    #[error("a node could not start: {0}")]
    Spawn(#[from] SpawnError),
    /// A node did not answer its handle.
    #[error("a node failed: {0}")]
    Node(#[from] NodeError),
    /// A node's store could not be read.
    #[error("a node's store could not be read: {0}")]
    Database(#[from] netabase_store::DatabaseError),
    /// A node's identity could not be made from the seed.
    #[error("a node's identity could not be derived from the seed: {0}")]
    Identity(String),
    /// A node listened on no address.
    #[error("node {0} started without a listen address")]
    NoAddress(usize),
    /// The scenario cannot run as given.
    #[error("the scenario cannot run: {0}")]
    Scenario(String),
    /// A hostile node could not start.
    #[error("a hostile node could not start: {0}")]
    Hostile(String),
}

/// What a node does in the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Puts and republishes the records; never leaves.
    Writer,
    /// Stores and serves records; the nodes churn takes offline and replaces.
    Server,
    /// A plain kad node that routes honestly but acknowledges and drops every record sent to it
    /// and answers every lookup with junk; never leaves.
    Hostile,
}

/// What a stopping node keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// Its identity and store: it can come back as it was.
    Offline,
    /// Its identity only: it comes back with the same peer id and an empty store, as a server
    /// that lost its disk.
    LosesStore,
    /// Nothing: it can never start again.
    Gone,
}

/// A running Netabase node.
struct Running {
    handle: NodeHandle,
    task: JoinHandle<()>,
    address: Multiaddr,
}

/// How the workload reaches a running writer or server: a Netabase node's handle, or a plain
/// kad node's.
#[derive(Debug, Clone)]
pub(crate) enum Client {
    Netabase(NodeHandle),
    Plain(PlainHandle),
}

/// One node of the network, over its whole life: its identity and store outlive its runs, so an
/// offline node can come back as it was. At most one of `running`, `plain` and `hostile` is set.
struct Slot {
    role: Role,
    keypair: Keypair,
    /// `None` once the node is gone for good, and for hostile and plain kad nodes (a plain
    /// node's `MemoryStore` lives and dies with it).
    store: Option<RedbStore>,
    running: Option<Running>,
    /// A running plain kad node, with its address.
    plain: Option<(PlainNode, Multiaddr)>,
    /// A running hostile node, with its address.
    hostile: Option<(HostileNode, Multiaddr)>,
    /// The bootstrap the running node joined with (whether it succeeded), until
    /// [`SimNetwork::settle`] collects it.
    bootstrap: Option<JoinHandle<bool>>,
}

impl Slot {
    fn is_running(&self) -> bool {
        self.running.is_some() || self.plain.is_some() || self.hostile.is_some()
    }

    /// The address of the Netabase or plain kad node running in this slot.
    fn honest_address(&self) -> Option<&Multiaddr> {
        let netabase = self.running.as_ref().map(|running| &running.address);
        netabase.or(self.plain.as_ref().map(|(_, address)| address))
    }

    fn client(&self) -> Option<Client> {
        match (&self.running, &self.plain) {
            (Some(running), _) => Some(Client::Netabase(running.handle.clone())),
            (None, Some((plain, _))) => Some(Client::Plain(plain.handle().clone())),
            (None, None) => None,
        }
    }

    /// Takes what runs in this slot, and shuts it down when awaited.
    fn stopping(&mut self) -> impl Future<Output = ()> + use<> {
        let running = self.running.take();
        let plain = self.plain.take();
        let hostile = self.hostile.take();
        if let Some(bootstrap) = self.bootstrap.take() {
            bootstrap.abort();
        }
        async move {
            if let Some(running) = running {
                let _ = running.handle.shutdown().await;
                let _ = running.task.await;
            }
            if let Some((plain, _)) = plain {
                plain.stop().await;
            }
            if let Some((hostile, _)) = hostile {
                hostile.stop().await;
            }
        }
    }
}

/// A network of nodes, by index. Indices are never reused: a replaced node's successor gets a new
/// one.
pub struct SimNetwork {
    slots: Vec<Slot>,
    config: NodeConfig,
    bootstrap_peers: usize,
    faults: Faults,
    /// Noise on the in-process connections, else libp2p's plaintext protocol.
    noise: bool,
    /// Writers and servers are plain kad nodes instead of Netabase nodes.
    plain_kad: bool,
    /// The configuration of plain kad nodes: hostile ones, and with `plain_kad` the others.
    kad_peer_config: KadPeerConfig,
    hostile_counters: Arc<Counters>,
    /// Bootstraps that ended in an error (a timeout, or no peer answering).
    failed_bootstraps: u64,
    /// The handoffs counted by nodes that have stopped since: stored by a newcomer, and by none.
    departed_handoffs: (u64, u64),
}

/// Adds one to the count of record `id` in `counts`, if it has one.
fn count(counts: &mut [u32], id: u64) {
    if let Some(count) = usize::try_from(id).ok().and_then(|id| counts.get_mut(id)) {
        *count += 1;
    }
}

/// How many online nodes hold each record, indexed by record id (see [`SimNetwork::holders`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holders {
    /// The servers and writers holding a copy the DHT placed there.
    pub all: Vec<u32>,
    /// Of them, the servers.
    pub servers: Vec<u32>,
}

impl std::fmt::Debug for SimNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimNetwork")
            .field("nodes", &self.slots.len())
            .field("online", &self.online_count())
            .finish()
    }
}

/// redb's page cache per node. The records are in memory already; a larger cache only holds
/// copies of their pages.
const CACHE_BYTES: usize = 256 * 1024;

/// How long a query may run, at every node: network time, not scaled.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

impl SimNetwork {
    /// An empty network whose nodes are configured for `scenario`: the memory transport, its
    /// replication factor, and its record TTL and republish interval compressed by its time
    /// scale.
    pub fn new(scenario: &Scenario) -> Self {
        SimNetwork {
            slots: Vec::new(),
            config: node_config(scenario),
            bootstrap_peers: scenario.bootstrap_peers,
            faults: {
                let faults = Faults::new(scenario.seed);
                faults.set_delay(scenario.delay);
                faults
            },
            noise: scenario.noise,
            plain_kad: scenario.plain_kad,
            kad_peer_config: KadPeerConfig {
                kad_protocol: DEFAULT_KAD_PROTOCOL,
                replication_factor: scenario.replication,
                query_timeout: QUERY_TIMEOUT,
                idle_connection_timeout: scenario.idle_connection_timeout,
                record_ttl: scenario.time.real(scenario.record_ttl),
                publication_interval: scenario
                    .republish_interval
                    .map(|every| scenario.time.real(every)),
            },
            hostile_counters: Arc::default(),
            failed_bootstraps: 0,
            departed_handoffs: (0, 0),
        }
    }

    /// Adds a node with a fresh identity (from `rng`) and an empty store (a hostile node has
    /// none), offline. Returns its index.
    pub fn add(&mut self, role: Role, rng: &mut StdRng) -> Result<usize, SimError> {
        let mut secret: [u8; 32] = rng.random();
        let keypair = Keypair::ed25519_from_bytes(&mut secret)
            .map_err(|error| SimError::Identity(error.to_string()))?;
        let store = match role {
            Role::Hostile => None,
            Role::Writer | Role::Server if self.plain_kad => None,
            Role::Writer | Role::Server => Some(empty_store()?),
        };
        self.slots.push(Slot {
            role,
            keypair,
            store,
            running: None,
            plain: None,
            hostile: None,
            bootstrap: None,
        });
        Ok(self.slots.len() - 1)
    }

    /// Starts node `index` with its identity and store. In the background it adds the addresses
    /// of up to the scenario's bootstrap peers, chosen with `rng` among the online nodes, to its
    /// routing table and bootstraps (a lookup of itself, then a refresh of its routing table's
    /// buckets); with no online peer (the first node) it does neither.
    /// [`settle`](Self::settle) waits for the bootstraps. A plain kad node joins the same way; a
    /// hostile node dials its peers and bootstraps on its own.
    pub async fn start(&mut self, index: usize, rng: &mut StdRng) -> Result<(), SimError> {
        let peers = self.random_online(self.bootstrap_peers, Some(index), rng);
        let Some(slot) = self.slots.get(index) else {
            return Err(SimError::Scenario(format!("node {index} does not exist")));
        };
        let keypair = slot.keypair.clone();
        if slot.role == Role::Hostile {
            let (node, address) = HostileNode::start(
                keypair,
                self.faults.stream_transport(index),
                &self.kad_peer_config,
                self.noise,
                peers.into_iter().map(|(_, address)| address).collect(),
                self.hostile_counters.clone(),
            )
            .await?;
            self.faults.register(index, &address);
            if let Some(slot) = self.slots.get_mut(index) {
                slot.hostile = Some((node, address));
            }
            return Ok(());
        }
        if self.plain_kad {
            let joins = !peers.is_empty();
            let (node, address, bootstrapped) = PlainNode::start(
                keypair,
                self.faults.stream_transport(index),
                &self.kad_peer_config,
                self.noise,
                peers,
            )
            .await?;
            self.faults.register(index, &address);
            if let Some(slot) = self.slots.get_mut(index) {
                slot.plain = Some((node, address));
                slot.bootstrap =
                    joins.then(|| tokio::spawn(async move { bootstrapped.await == Ok(true) }));
            }
            return Ok(());
        }
        let Some((keypair, store)) = self
            .slots
            .get(index)
            .and_then(|slot| Some((slot.keypair.clone(), slot.store.clone()?)))
        else {
            return Err(SimError::Scenario(format!("node {index} is gone")));
        };
        let mut config = self.config.clone();
        config
            .set_identity(Identity::Keypair(keypair))
            .set_memory_transport(self.faults.transport(index, self.noise));
        let (handle, task) = Node::spawn(config, store).await?;
        let address = handle
            .listeners()
            .await?
            .into_iter()
            .next()
            .ok_or(SimError::NoAddress(index))?;
        self.faults.register(index, &address);
        // The join runs in the background, so churn never waits for it: the peers go into the
        // routing table (no connection yet), and the bootstrap's lookups dial whom they need.
        // With 20 peers known (kad's bucket size) a join is one bootstrap; with fewer, kad
        // bootstraps a second time on its own as soon as the first is done, since peers entered
        // a table of fewer than 20 while it ran.
        let bootstrap = (!peers.is_empty()).then(|| {
            let handle = handle.clone();
            tokio::spawn(async move {
                for (peer, address) in peers {
                    if handle.add_address(peer, address).await.is_err() {
                        return false;
                    }
                }
                handle.bootstrap().await.is_ok()
            })
        });
        if let Some(slot) = self.slots.get_mut(index) {
            slot.running = Some(Running {
                handle,
                task,
                address,
            });
            slot.bootstrap = bootstrap;
        }
        Ok(())
    }

    /// Waits for the bootstraps still running and counts those that failed.
    pub async fn settle(&mut self) {
        for slot in &mut self.slots {
            let Some(bootstrap) = slot.bootstrap.take() else {
                continue;
            };
            if !matches!(bootstrap.await, Ok(true)) {
                self.failed_bootstraps += 1;
            }
        }
    }

    /// Shuts node `index` down; `departure` says what it keeps for a later
    /// [`start`](Self::start).
    pub async fn stop(&mut self, index: usize, departure: Departure) -> Result<(), SimError> {
        let Some(slot) = self.slots.get_mut(index) else {
            return Err(SimError::Scenario(format!("node {index} does not exist")));
        };
        if let Some(running) = &slot.running
            && let Ok(stats) = running.handle.stats().await
        {
            self.departed_handoffs.0 += stats.handed_off;
            self.departed_handoffs.1 += stats.handoff_failed;
        }
        slot.stopping().await;
        match departure {
            Departure::Offline => {}
            // Nothing else holds a clone of the store once the node has stopped: this frees it.
            Departure::Gone => slot.store = None,
            Departure::LosesStore => slot.store = Some(empty_store()?),
        }
        Ok(())
    }

    /// Shuts every node down, all at once.
    pub async fn stop_all(&mut self) {
        futures::future::join_all(self.slots.iter_mut().map(Slot::stopping)).await;
    }

    /// The faults the network suffers: partitions, delay and loss.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// What the hostile nodes have done so far.
    pub fn hostile_counts(&self) -> HostileCounts {
        self.hostile_counters.counts()
    }

    /// How many bootstraps have failed so far (counted by [`settle`](Self::settle)).
    pub fn failed_bootstraps(&self) -> u64 {
        self.failed_bootstraps
    }

    /// How many nodes are running.
    pub fn online_count(&self) -> usize {
        self.slots.iter().filter(|slot| slot.is_running()).count()
    }

    /// The indices of the running nodes with `role`.
    pub fn online(&self, role: Role) -> Vec<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.role == role && slot.is_running())
            .map(|(index, _)| index)
            .collect()
    }

    /// The handle of node `index`, if it is a running Netabase node.
    pub fn handle(&self, index: usize) -> Option<&NodeHandle> {
        self.slots
            .get(index)?
            .running
            .as_ref()
            .map(|running| &running.handle)
    }

    /// How the workload reaches node `index`, if it is a running writer or server.
    pub(crate) fn client(&self, index: usize) -> Option<Client> {
        self.slots.get(index)?.client()
    }

    /// The address node `index` listens on, if it is running.
    pub fn address(&self, index: usize) -> Option<&Multiaddr> {
        let slot = self.slots.get(index)?;
        slot.honest_address()
            .or(slot.hostile.as_ref().map(|(_, address)| address))
    }

    /// Peer ids and addresses of up to `count` distinct running honest nodes (Netabase or plain
    /// kad) other than `except`: joining nodes are introduced by honest ones.
    fn random_online(
        &self,
        count: usize,
        except: Option<usize>,
        rng: &mut StdRng,
    ) -> Vec<(PeerId, Multiaddr)> {
        let mut candidates: Vec<(&Keypair, &Multiaddr)> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(index, _)| Some(*index) != except)
            .filter_map(|(_, slot)| Some((&slot.keypair, slot.honest_address()?)))
            .collect();
        let mut chosen = Vec::with_capacity(count.min(candidates.len()));
        while chosen.len() < count && !candidates.is_empty() {
            let pick = rng.random_range(0..candidates.len());
            let (keypair, address) = candidates.swap_remove(pick);
            chosen.push((keypair.public().to_peer_id(), address.clone()));
        }
        chosen
    }

    /// For each record id below `records`, how many running nodes hold a copy of it (unexpired)
    /// that the DHT placed there, read straight from their stores, and how many of those are
    /// servers. Every server's copy counts; a writer's only where `placed(writer, id)` says the
    /// DHT put it there (not the writer's own records, nor those its gets stored).
    pub async fn holders(
        &self,
        records: u64,
        placed: impl Fn(usize, u64) -> bool,
    ) -> Result<Holders, SimError> {
        let len = usize::try_from(records).unwrap_or(usize::MAX);
        let mut holders = Holders {
            all: vec![0; len],
            servers: vec![0; len],
        };
        for index in self.online(Role::Server) {
            for id in self.held_by(index).await? {
                count(&mut holders.all, id);
                count(&mut holders.servers, id);
            }
        }
        for index in self.online(Role::Writer) {
            for id in self.held_by(index).await? {
                if placed(index, id) {
                    count(&mut holders.all, id);
                }
            }
        }
        Ok(holders)
    }

    /// The ids of the records node `index` holds (unexpired) in its store, in id order; empty for
    /// a node that is gone, and for a plain kad node that is offline (its store went with it).
    pub async fn held_by(&self, index: usize) -> Result<Vec<u64>, SimError> {
        let Some(slot) = self.slots.get(index) else {
            return Ok(Vec::new());
        };
        let mut ids = match (&slot.store, &slot.plain) {
            (Some(store), _) => record_ids(store)?,
            (None, Some((plain, _))) => plain.handle().held().await,
            (None, None) => Vec::new(),
        };
        ids.sort_unstable();
        Ok(ids)
    }

    /// How many republications the running writers have run so far that reached their quorum
    /// (Netabase) or at least one peer (plain kad, whose quorum is all 20), and how many did not.
    pub async fn republished(&self) -> (u64, u64) {
        let (mut republished, mut failed) = (0, 0);
        for index in self.online(Role::Writer) {
            let (done, missed) = match self.client(index) {
                Some(Client::Netabase(handle)) => handle
                    .stats()
                    .await
                    .map_or((0, 0), |stats| (stats.republished, stats.republish_failed)),
                Some(Client::Plain(plain)) => plain.republished().await,
                None => (0, 0),
            };
            republished += done;
            failed += missed;
        }
        (republished, failed)
    }

    /// How many records the Netabase nodes have handed to peers that joined among their closest
    /// so far, stored by a newcomer and by none: the running nodes' counts and those of nodes
    /// that stopped (the repair traffic besides republishing).
    pub async fn handoffs(&self) -> (u64, u64) {
        let (mut handed, mut failed) = self.departed_handoffs;
        for role in [Role::Writer, Role::Server] {
            for stats in self.stats(role).await {
                handed += stats.handed_off;
                failed += stats.handoff_failed;
            }
        }
        (handed, failed)
    }

    /// The author of node `index`'s owned records: its node identity.
    pub fn author(&self, index: usize) -> Option<Author> {
        Author::from_keypair(self.slots.get(index)?.keypair.clone()).ok()
    }

    /// The counters of each running Netabase node with `role` (plain kad nodes keep none).
    pub async fn stats(&self, role: Role) -> Vec<NodeStats> {
        let mut all = Vec::new();
        for index in self.online(role) {
            if let Some(handle) = self.handle(index)
                && let Ok(stats) = handle.stats().await
            {
                all.push(stats);
            }
        }
        all
    }
}

/// The ids of the records (plain and owned, unexpired) `store` holds.
fn record_ids(store: &RedbStore) -> Result<Vec<u64>, SimError> {
    let plain = store
        .values::<SimRecord>()
        .map(|value| value.map(|value| value.id));
    let owned = store
        .values::<OwnedSimRecord>()
        .map(|value| value.map(|value| value.id));
    Ok(plain.chain(owned).collect::<Result<Vec<_>, _>>()?)
}

/// An empty in-memory store for the simulation's schemas.
fn empty_store() -> Result<RedbStore, SimError> {
    Ok(RedbStore::builder()
        .register::<SimRecord>()
        .register::<OwnedSimRecord>()
        .set_cache_size(CACHE_BYTES)
        .in_memory()?)
}

/// A node of the simulation: the memory transport, the scenario's replication factor, its
/// schedule compressed by the scenario's time scale, and the simulation's schema.
fn node_config(scenario: &Scenario) -> NodeConfig {
    let scale = scenario.time;
    // The periodic checks (due republications, newcomers, expired records) run at most once a real second
    // however large the speed-up: a thousand nodes checking ten times a second spent a tenth of
    // the machine on checks that mostly found nothing.
    let check = |simulated: Duration| scale.real(simulated).max(Duration::from_secs(1));
    let mut config = NodeConfig::new();
    config
        .set_listen_addrs(vec!["/memory/0".parse().expect("a valid memory address")])
        .set_replication_factor(scenario.replication)
        .set_query_timeout(QUERY_TIMEOUT)
        .set_operation_timeout(Duration::from_secs(30))
        .set_record_ttl(Some(scale.real(scenario.record_ttl)))
        .set_tombstone_ttl(Some(scale.real(scenario.record_ttl * 2)))
        .set_republish_interval(scenario.republish_interval.map(|every| scale.real(every)))
        .set_republish_check_interval(check(Duration::from_secs(60)))
        .set_expiry_sweep_interval(check(Duration::from_secs(60)))
        .set_handoff_interval(scenario.handoff.then(|| check(Duration::from_secs(10))))
        .set_flush_interval(Duration::from_millis(100))
        .set_idle_connection_timeout(scenario.idle_connection_timeout)
        .set_routing_refresh_interval(scenario.routing_refresh.map(|every| scale.real(every)))
        .register::<SimRecord>()
        .register::<OwnedSimRecord>();
    config
}
