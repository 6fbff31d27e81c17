//! Starting and stopping a network of real nodes on libp2p's memory transport.

use std::num::NonZeroUsize;
use std::time::Duration;

use netabase_store::{Node, NodeConfig, NodeError, NodeHandle, RedbStore, SpawnError};
use rand::RngExt;
use rand::rngs::StdRng;
use tokio::task::JoinHandle;

use crate::workload::SimRecord;

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
    #[error("a node failed while setting up the network: {0}")]
    Node(#[from] NodeError),
    /// A node learned of no peer while the network formed.
    #[error(
        "node {index} found no peer within {waited:?}; the network did not form (raise the \
         bootstrap peers per node)"
    )]
    Isolated {
        /// The node's index.
        index: usize,
        /// How long it was given.
        waited: Duration,
    },
}

/// One running node.
struct SimNode {
    handle: NodeHandle,
    task: JoinHandle<()>,
}

/// A running network: the nodes, by index.
pub struct SimNetwork {
    nodes: Vec<SimNode>,
}

impl std::fmt::Debug for SimNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimNetwork")
            .field("nodes", &self.nodes.len())
            .finish()
    }
}

/// How long setting up the network may wait for one node to learn of a peer.
const FORM_TIMEOUT: Duration = Duration::from_secs(30);

impl SimNetwork {
    /// Starts `nodes` nodes with `replication` as their replication factor; each joins through
    /// up to `bootstrap_peers` nodes started before it, chosen with `rng`. Returns once every
    /// node has run a bootstrap and knows at least one peer.
    pub async fn start(
        nodes: usize,
        replication: NonZeroUsize,
        bootstrap_peers: usize,
        rng: &mut StdRng,
    ) -> Result<Self, SimError> {
        let mut network = SimNetwork {
            nodes: Vec::with_capacity(nodes),
        };
        let mut addresses = Vec::with_capacity(nodes);
        for index in 0..nodes {
            let mut config = node_config(replication);
            for _ in 0..bootstrap_peers.min(index) {
                let (peer, address) = &addresses[rng.random_range(0..index)];
                config.add_bootstrap_peer(*peer, netabase_store::Multiaddr::clone(address));
            }
            let store = RedbStore::builder().register::<SimRecord>().in_memory()?;
            let (handle, task) = Node::spawn(config, store).await?;
            let address =
                handle
                    .listeners()
                    .await?
                    .into_iter()
                    .next()
                    .ok_or(SimError::Isolated {
                        index,
                        waited: Duration::ZERO,
                    })?;
            addresses.push((handle.peer_id(), address));
            network.nodes.push(SimNode { handle, task });
        }
        // One at a time: run together, some of the bootstrap queries ran into their timeout (see
        // docs/simulation.md).
        for (index, node) in network.nodes.iter().enumerate().skip(1) {
            node.handle.bootstrap().await?;
            match node.handle.wait_for_peers(1, FORM_TIMEOUT).await {
                Ok(_) => {}
                Err(NodeError::NotEnoughPeers { .. }) => {
                    return Err(SimError::Isolated {
                        index,
                        waited: FORM_TIMEOUT,
                    });
                }
                Err(error) => return Err(SimError::Node(error)),
            }
        }
        Ok(network)
    }

    /// How many nodes the network has.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the network has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The handle of node `index`, if there is one.
    pub fn handle(&self, index: usize) -> Option<&NodeHandle> {
        self.nodes.get(index).map(|node| &node.handle)
    }

    /// Shuts every node down and waits for its task.
    pub async fn stop(self) {
        for node in self.nodes {
            let _ = node.handle.shutdown().await;
            let _ = node.task.await;
        }
    }
}

/// A node of the simulation: memory transport, short timeouts, the simulation's schema.
fn node_config(replication: NonZeroUsize) -> NodeConfig {
    let mut config = NodeConfig::new();
    config
        .set_listen_addrs(vec!["/memory/0".parse().expect("a valid memory address")])
        .set_replication_factor(replication)
        .set_query_timeout(Duration::from_secs(10))
        .set_operation_timeout(Duration::from_secs(30))
        .set_flush_interval(Duration::from_millis(50))
        .register::<SimRecord>();
    config
}
