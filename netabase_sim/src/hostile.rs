//! Hostile nodes: plain rust-libp2p Kademlia nodes (no Netabase code) that join the network as
//! any server does and route honestly, but lie about records. Every record sent to one is
//! acknowledged and dropped (it refuses to store while claiming it stored), and every lookup of a
//! value is answered with junk under the key asked for. Being in the routing tables, they are
//! among the closest peers of some records, so they cost those records holders, and every get
//! that asks one has to reject its answer and go on.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use libp2p::core::transport::Boxed;
use libp2p::kad::store::{RecordStore, Result as StoreResult};
use libp2p::kad::{self, ProviderRecord, Record, RecordKey};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{PeerId, StreamProtocol, Swarm, identify};
use netabase_store::{BoxedMemoryStream, Keypair, Multiaddr};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::kad_peer::{self, KadPeerConfig};
use crate::network::SimError;

/// The value a hostile node answers every lookup with: it decodes as no schema.
const JUNK: &[u8] = b"\xff\xffjunk from a hostile node";

/// What the hostile nodes of a network did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostileCounts {
    /// Records sent to a hostile node, acknowledged and dropped.
    pub dropped_records: u64,
    /// Lookups a hostile node answered with junk.
    pub junk_answers: u64,
}

/// The counters all hostile nodes of a network add to.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    dropped_records: AtomicU64,
    junk_answers: AtomicU64,
}

impl Counters {
    pub(crate) fn counts(&self) -> HostileCounts {
        HostileCounts {
            dropped_records: self.dropped_records.load(Ordering::Relaxed),
            junk_answers: self.junk_answers.load(Ordering::Relaxed),
        }
    }
}

/// A kad record store that lies: it stores nothing, and holds junk under every key.
struct LyingStore {
    counters: Arc<Counters>,
}

impl RecordStore for LyingStore {
    type RecordsIter<'a> = std::iter::Empty<Cow<'a, Record>>;
    type ProvidedIter<'a> = std::iter::Empty<Cow<'a, ProviderRecord>>;

    fn get(&self, key: &RecordKey) -> Option<Cow<'_, Record>> {
        self.counters.junk_answers.fetch_add(1, Ordering::Relaxed);
        Some(Cow::Owned(Record::new(key.clone(), JUNK.to_vec())))
    }

    fn put(&mut self, _record: Record) -> StoreResult<()> {
        self.counters
            .dropped_records
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn remove(&mut self, _key: &RecordKey) {}

    fn records(&self) -> Self::RecordsIter<'_> {
        std::iter::empty()
    }

    fn add_provider(&mut self, _record: ProviderRecord) -> StoreResult<()> {
        Ok(())
    }

    fn providers(&self, _key: &RecordKey) -> Vec<ProviderRecord> {
        Vec::new()
    }

    fn provided(&self) -> Self::ProvidedIter<'_> {
        std::iter::empty()
    }

    fn remove_provider(&mut self, _key: &RecordKey, _provider: &PeerId) {}
}

/// kad over the lying store, and identify (see [`crate::kad_peer::identify`]).
#[derive(NetworkBehaviour)]
struct HostileBehaviour {
    kad: kad::Behaviour<LyingStore>,
    identify: identify::Behaviour,
}

/// A running hostile node.
pub(crate) struct HostileNode {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl HostileNode {
    /// Starts a hostile node on `transport` (its memory transport, faults included) secured with
    /// noise, or with libp2p's plaintext protocol, listening on a fresh memory address, which it
    /// returns; it dials `peers` and bootstraps once the first of them has told it its listen
    /// addresses.
    pub(crate) async fn start(
        keypair: Keypair,
        transport: Boxed<BoxedMemoryStream>,
        config: &KadPeerConfig,
        noise: bool,
        peers: Vec<Multiaddr>,
        counters: Arc<Counters>,
    ) -> Result<(HostileNode, Multiaddr), SimError> {
        let hostile = |error: String| SimError::Hostile(error);
        let peer_id = keypair.public().to_peer_id();
        let transport = kad_peer::secured(transport, &keypair, noise).map_err(hostile)?;
        let behaviour = HostileBehaviour {
            kad: config.kad(peer_id, LyingStore { counters }),
            identify: kad_peer::identify(&keypair),
        };
        let mut swarm = Swarm::new(transport, behaviour, peer_id, config.swarm());
        let address = kad_peer::listen(&mut swarm).await.map_err(hostile)?;
        for peer in peers {
            // A peer that just went offline refuses; the others are enough.
            let _ = swarm.dial(peer);
        }
        let (shutdown, stopped) = oneshot::channel();
        let task = tokio::spawn(run(swarm, config.kad_protocol.clone(), stopped));
        Ok((HostileNode { shutdown, task }, address))
    }

    /// Stops the node and waits until it has.
    pub(crate) async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

async fn run(
    mut swarm: Swarm<HostileBehaviour>,
    kad_protocol: StreamProtocol,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut bootstrapped = false;
    loop {
        let event = tokio::select! {
            _ = &mut stopped => return,
            event = swarm.select_next_some() => event,
        };
        // As a Netabase node does: the listen addresses of peers that speak the protocol go into
        // the routing table, and the first of them starts the bootstrap.
        if let SwarmEvent::Behaviour(HostileBehaviourEvent::Identify(identify::Event::Received {
            peer_id,
            info,
            ..
        })) = event
            && info.protocols.contains(&kad_protocol)
        {
            for address in info.listen_addrs {
                swarm.behaviour_mut().kad.add_address(&peer_id, address);
            }
            if !bootstrapped {
                bootstrapped = swarm.behaviour_mut().kad.bootstrap().is_ok();
            }
        }
    }
}
