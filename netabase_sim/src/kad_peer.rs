//! What the simulation's plain rust-libp2p kad nodes (hostile ones and the plain kad network Netabase
//! is compared with) share: their transport, kad configuration and identify, set as the network's
//! Netabase nodes have theirs where it matters.

use std::time::Duration;

use futures::StreamExt;
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{Boxed, Transport, upgrade};
use libp2p::kad::{self, Mode};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{PeerId, StreamProtocol, Swarm, identify, noise, plaintext, yamux};
use netabase_store::{BoxedMemoryStream, IDENTIFY_PROTOCOL_VERSION, Keypair, Multiaddr};

/// How plain kad nodes are configured: as the network's Netabase nodes are, where it matters.
#[derive(Debug, Clone)]
pub(crate) struct KadPeerConfig {
    pub(crate) kad_protocol: StreamProtocol,
    pub(crate) replication_factor: std::num::NonZeroUsize,
    pub(crate) query_timeout: Duration,
    pub(crate) idle_connection_timeout: Duration,
    /// The record TTL, in real time.
    pub(crate) record_ttl: Duration,
    /// How often a node republishes the records it put (kad's publication job), in real time;
    /// `None` turns it off.
    pub(crate) publication_interval: Option<Duration>,
}

impl KadPeerConfig {
    /// kad over `store`, in server mode (in-process networks never confirm an external address),
    /// with the replication factor, query timeout, record TTL and publication interval of this
    /// configuration. kad's replication job (every holder sending every record it holds on to the
    /// closest peers, hourly by default) is off, as it is in Netabase nodes.
    pub(crate) fn kad<S: kad::store::RecordStore + Send + 'static>(
        &self,
        peer_id: PeerId,
        store: S,
    ) -> kad::Behaviour<S> {
        let mut config = kad::Config::new(self.kad_protocol.clone());
        config
            .set_replication_factor(self.replication_factor)
            .set_query_timeout(self.query_timeout)
            .set_periodic_bootstrap_interval(None)
            .set_record_ttl(Some(self.record_ttl))
            .set_publication_interval(self.publication_interval)
            .set_replication_interval(None);
        let mut kad = kad::Behaviour::with_config(peer_id, store, config);
        kad.set_mode(Some(Mode::Server));
        kad
    }

    /// The swarm configuration: the tokio executor and the idle connection timeout.
    pub(crate) fn swarm(&self) -> libp2p::swarm::Config {
        libp2p::swarm::Config::with_tokio_executor()
            .with_idle_connection_timeout(self.idle_connection_timeout)
    }
}

/// Identify, which tells Netabase nodes a plain node's listen address and that it speaks their
/// kad protocol, so they put it in their routing tables.
pub(crate) fn identify(keypair: &Keypair) -> identify::Behaviour {
    identify::Behaviour::new(identify::Config::new(
        IDENTIFY_PROTOCOL_VERSION.to_owned(),
        keypair.public(),
    ))
}

/// `transport` (a node's memory transport, faults included) secured with noise, or with libp2p's
/// plaintext protocol, and multiplexed with yamux, as Netabase nodes' memory transports are.
pub(crate) fn secured(
    transport: Boxed<BoxedMemoryStream>,
    keypair: &Keypair,
    noise: bool,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, String> {
    Ok(if noise {
        let noise = noise::Config::new(keypair).map_err(|error| error.to_string())?;
        transport
            .upgrade(upgrade::Version::V1Lazy)
            .authenticate(noise)
            .multiplex(yamux::Config::default())
            .boxed()
    } else {
        transport
            .upgrade(upgrade::Version::V1Lazy)
            .authenticate(plaintext::Config::new(keypair))
            .multiplex(yamux::Config::default())
            .boxed()
    })
}

/// Has `swarm` listen on a fresh in-process address (port 0, for which the memory transport picks
/// one), and returns it once the listener is up.
pub(crate) async fn listen<B: NetworkBehaviour>(swarm: &mut Swarm<B>) -> Result<Multiaddr, String> {
    swarm
        .listen_on(Multiaddr::empty().with(Protocol::Memory(0)))
        .map_err(|error| error.to_string())?;
    loop {
        match swarm.select_next_some().await {
            SwarmEvent::NewListenAddr { address, .. } => return Ok(address),
            SwarmEvent::ListenerError { error, .. } => return Err(error.to_string()),
            SwarmEvent::ListenerClosed { reason, .. } => {
                return Err(format!("the listener closed: {reason:?}"));
            }
            _ => {}
        }
    }
}
