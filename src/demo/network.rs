//! The demo's nodes: each a real Netabase node on 127.0.0.1 with its own redb file and identity.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netabase_store::{
    Identity, Multiaddr, Node, NodeConfig, NodeHandle, PeerId, RedbStore, identity_path_beside,
};
use tokio::task::JoinHandle;

use super::schema::{Note, Presence};
use crate::error::{CliError, CliResult};
use crate::network;

/// How long one demo operation may take before the demo reports it as failed.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);

/// Settings shared by every node of the demo network.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Kademlia's replication factor.
    pub replication: NonZeroUsize,
}

/// One running node of the demo.
#[derive(Debug)]
pub struct DemoNode {
    /// `node-<n>`.
    pub name: String,
    /// The handle to talk to it.
    pub handle: NodeHandle,
    task: JoinHandle<()>,
    /// Its store file.
    pub store_path: PathBuf,
    /// Its loopback address with `/p2p/<peer id>`.
    pub address: Multiaddr,
}

/// Opens (or creates) a demo store with the demo's schemas registered.
pub fn open_store(path: &Path) -> CliResult<RedbStore> {
    RedbStore::builder()
        .register::<Note>()
        .register::<Presence>()
        .create(path)
        .map_err(CliError::from_open)
}

/// The configuration of a demo node: loopback only, a persistent identity beside the store, quick
/// timeouts and sweeps.
pub fn config(identity: Identity, settings: Settings, listen: bool) -> NodeConfig {
    let mut config = NodeConfig::new();
    let listen_addrs = if listen {
        vec![
            "/ip4/127.0.0.1/tcp/0"
                .parse()
                .expect("a constant multiaddr parses"),
        ]
    } else {
        Vec::new()
    };
    config
        .set_listen_addrs(listen_addrs)
        .set_identity(identity)
        .set_replication_factor(settings.replication)
        .set_query_timeout(OPERATION_TIMEOUT / 2)
        .set_operation_timeout(OPERATION_TIMEOUT)
        .set_expiry_sweep_interval(Duration::from_secs(1))
        .register::<Note>()
        .register::<Presence>();
    config
}

impl DemoNode {
    /// Starts `name` on its store file (created if missing) and identity file beside it, and joins
    /// the network through `bootstrap`, if given.
    pub async fn start(
        name: String,
        store_path: PathBuf,
        settings: Settings,
        bootstrap: Option<&Multiaddr>,
    ) -> CliResult<Self> {
        let store = open_store(&store_path)?;
        let identity = Identity::File(identity_path_beside(&store_path));
        let (handle, task) = Node::spawn(config(identity, settings, true), store).await?;
        let address = handle
            .listeners()
            .await?
            .first()
            .map(|address| network::with_peer(address, handle.peer_id()))
            .ok_or(CliError::DemoFailed {
                step: "start",
                detail: format!("{name} reported no listen address"),
            })?;
        let node = DemoNode {
            name,
            handle,
            task,
            store_path,
            address,
        };
        if let Some(bootstrap) = bootstrap {
            network::join(
                &node.handle,
                std::slice::from_ref(bootstrap),
                OPERATION_TIMEOUT,
            )
            .await?;
        }
        Ok(node)
    }

    /// The node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.handle.peer_id()
    }

    /// Shuts the node down: its store commits what it buffered and closes its file.
    pub async fn stop(self) -> CliResult<PathBuf> {
        let flushed = self.handle.shutdown().await;
        self.task.await.map_err(|error| CliError::DemoFailed {
            step: "stop",
            detail: format!("{} failed: {error}", self.name),
        })?;
        flushed?;
        Ok(self.store_path)
    }
}

/// A node with an in-memory store that listens nowhere: a newcomer that asks the network.
pub struct Probe {
    /// The handle to talk to it.
    pub handle: NodeHandle,
    task: JoinHandle<()>,
}

impl Probe {
    /// Starts a probe and connects it to `peer` only.
    pub async fn connect_to(peer: &Multiaddr, settings: Settings) -> CliResult<Self> {
        let store = open_store_in_memory()?;
        let (handle, task) =
            Node::spawn(config(Identity::Generate, settings, false), store).await?;
        let probe = Probe { handle, task };
        probe.handle.dial(peer.clone()).await?;
        let deadline = tokio::time::Instant::now() + OPERATION_TIMEOUT;
        network::wait_routable(&probe.handle, 1, deadline).await?;
        Ok(probe)
    }

    /// Shuts the probe down.
    pub async fn stop(self) -> CliResult<()> {
        self.handle.shutdown().await?;
        self.task.await.map_err(|error| CliError::DemoFailed {
            step: "probe",
            detail: error.to_string(),
        })
    }
}

fn open_store_in_memory() -> CliResult<RedbStore> {
    RedbStore::builder()
        .register::<Note>()
        .register::<Presence>()
        .in_memory()
        .map_err(CliError::from_open)
}
