//! The swarm a node runs: its transport and its network behaviour.

use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::timeout::TransportTimeout;
use libp2p::core::transport::{Boxed, MemoryTransport, Transport, upgrade};
use libp2p::identity::Keypair;
use libp2p::kad::store::RecordStore;
use libp2p::kad::{self, Mode, StoreInserts};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{PeerId, Swarm, identify, noise, ping, plaintext, tcp, yamux};

use super::config::{IDENTIFY_PROTOCOL_VERSION, MAX_DURATION, NodeConfig};
use super::error::SpawnError;
use super::memory_transport::{BoxedMemoryStream, MemorySecurity, MemoryTransportFactory};
use super::store_protocol::{self, StoreBehaviour};

#[cfg(feature = "mdns")]
pub(crate) type Mdns = libp2p::swarm::behaviour::toggle::Toggle<libp2p::mdns::tokio::Behaviour>;
#[cfg(not(feature = "mdns"))]
pub(crate) type Mdns = libp2p::swarm::dummy::Behaviour;

/// Kademlia over the node's store; the store protocol, over which Netabase nodes store records at
/// each other and hear whether the receiver's gate kept them; identify (which tells kad the listen
/// addresses of peers that dialed us); ping (js-libp2p's kad-dht pings a new contact before it
/// adds it to its routing table); and, with the `mdns` feature, mDNS discovery.
#[derive(NetworkBehaviour)]
#[behaviour(prelude = "libp2p::swarm::derive_prelude")]
pub(crate) struct Behaviour<S: RecordStore + Send + 'static> {
    pub(crate) kad: kad::Behaviour<S>,
    pub(crate) store: StoreBehaviour,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
    pub(crate) mdns: Mdns,
}

/// The kad configuration of a node.
///
/// kad's own publication and replication jobs are off: they collect every stored record into memory
/// on each run and republish from timers that restart with the process. The node runs its own
/// republish job from the store's persistent schedule instead, in pages.
///
/// kad's record TTL is never `None`: kad sets a received record's expiry to the smaller of the
/// record's own and `now + record TTL`, and with no record TTL that minimum is `None`, so a
/// record published with an expiry would be kept forever. A node configured without a record TTL
/// gives kad [`MAX_DURATION`] instead: records keep their own expiry, records without one live
/// about 136 years.
pub(crate) fn kad_config(config: &NodeConfig) -> kad::Config {
    let mut kad = kad::Config::new(config.kad_protocol.clone());
    kad.set_record_filtering(StoreInserts::FilterBoth)
        .set_query_timeout(config.query_timeout)
        .set_periodic_bootstrap_interval(config.routing_refresh_interval)
        .set_record_ttl(Some(config.record_ttl.unwrap_or(MAX_DURATION)))
        .set_publication_interval(None)
        .set_replication_interval(None)
        .set_replication_factor(config.replication_factor)
        .set_max_packet_size(config.max_packet_size());
    kad
}

/// TCP (and with the `quic` feature QUIC), plus the in-process memory transport (or the one the
/// configuration gives for `/memory` addresses), each secured with
/// noise (or, for a plaintext memory transport, libp2p's plaintext protocol) and multiplexed with
/// yamux, under a timeout on setting up each connection (as libp2p's
/// `SwarmBuilder` adds): a peer that connects and then stays silent is dropped after
/// `connection_timeout` rather than holding a pending connection forever.
fn build_transport(
    keypair: &Keypair,
    connection_timeout: std::time::Duration,
    memory_transport: Option<&MemoryTransportFactory>,
) -> Result<Boxed<(PeerId, StreamMuxerBox)>, SpawnError> {
    let noise =
        noise::Config::new(keypair).map_err(|error| SpawnError::Transport(error.to_string()))?;
    let tcp = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true))
        .upgrade(upgrade::Version::V1Lazy)
        .authenticate(noise.clone())
        .multiplex(yamux::Config::default())
        .boxed();
    let streams = match memory_transport {
        Some(factory) => factory.make(),
        None => MemoryTransport::default()
            .map(|stream, _| Box::new(stream) as BoxedMemoryStream)
            .boxed(),
    };
    let security = memory_transport.map_or(MemorySecurity::Noise, MemoryTransportFactory::security);
    let memory = match security {
        MemorySecurity::Noise => streams
            .upgrade(upgrade::Version::V1Lazy)
            .authenticate(noise)
            .multiplex(yamux::Config::default())
            .boxed(),
        MemorySecurity::Plaintext => streams
            .upgrade(upgrade::Version::V1Lazy)
            .authenticate(plaintext::Config::new(keypair))
            .multiplex(yamux::Config::default())
            .boxed(),
    };
    let transport = tcp
        .or_transport(memory)
        .map(|either, _| either.into_inner())
        .boxed();
    #[cfg(feature = "quic")]
    let transport = {
        let quic = libp2p::quic::tokio::Transport::new(libp2p::quic::Config::new(keypair))
            .map(|(peer, connection), _| (peer, StreamMuxerBox::new(connection)));
        quic.or_transport(transport)
            .map(|either, _| either.into_inner())
            .boxed()
    };
    Ok(TransportTimeout::new(transport, connection_timeout).boxed())
}

/// Builds the swarm with `store` inside its kad behaviour, in server mode: a node answers queries
/// even without a confirmed external address (which loopback and in-process networks never get).
pub(crate) fn build_swarm<S: RecordStore + Send + 'static>(
    config: &NodeConfig,
    keypair: &Keypair,
    store: S,
) -> Result<Swarm<Behaviour<S>>, SpawnError> {
    let peer_id = keypair.public().to_peer_id();
    let mut kad = kad::Behaviour::with_config(peer_id, store, kad_config(config));
    kad.set_mode(Some(Mode::Server));
    let identify = identify::Behaviour::new(
        identify::Config::new(IDENTIFY_PROTOCOL_VERSION.to_owned(), keypair.public())
            .with_agent_version(format!("netabase/{}", env!("CARGO_PKG_VERSION"))),
    );
    let behaviour = Behaviour {
        kad,
        store: store_protocol::behaviour(config.max_packet_size(), config.query_timeout),
        identify,
        ping: ping::Behaviour::default(),
        mdns: build_mdns(config, peer_id)?,
    };
    let swarm_config = libp2p::swarm::Config::with_tokio_executor()
        .with_idle_connection_timeout(config.idle_connection_timeout);
    Ok(Swarm::new(
        build_transport(
            keypair,
            config.connection_timeout,
            config.memory_transport.as_ref(),
        )?,
        behaviour,
        peer_id,
        swarm_config,
    ))
}

#[cfg(feature = "mdns")]
fn build_mdns(config: &NodeConfig, peer_id: PeerId) -> Result<Mdns, SpawnError> {
    let mdns = if config.mdns {
        Some(
            libp2p::mdns::tokio::Behaviour::new(libp2p::mdns::Config::default(), peer_id)
                .map_err(SpawnError::Mdns)?,
        )
    } else {
        None
    };
    Ok(mdns.into())
}

#[cfg(not(feature = "mdns"))]
fn build_mdns(config: &NodeConfig, _peer_id: PeerId) -> Result<Mdns, SpawnError> {
    if config.mdns {
        return Err(SpawnError::MdnsUnavailable);
    }
    Ok(libp2p::swarm::dummy::Behaviour)
}
