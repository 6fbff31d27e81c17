//! Plain rust-libp2p Kademlia nodes with kad's own `MemoryStore` and no Netabase code: the network
//! Netabase's is compared with under the same schedule. A writer puts with kad's `put_record`
//! (quorum one) and republishes with kad's publication job; a get is kad's `get_record`, answered
//! by the first peer whose record decodes as the simulation's (as Netabase validates answers); holders are read from each node's
//! `MemoryStore`. kad's replication job is off, as in Netabase nodes: on by default it has every
//! holder send every record on each hour, which at a simulated hour per few real seconds is more
//! work than the machine has.

use std::collections::HashMap;
use std::time::Instant;

use futures::StreamExt;
use libp2p::core::transport::Boxed;
use libp2p::kad::store::{MemoryStore, MemoryStoreConfig, RecordStore};
use libp2p::kad::{
    self, GetRecordOk, PeerRecord, PutRecordError, QueryId, QueryResult, Quorum, Record, RecordKey,
};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{PeerId, StreamProtocol, Swarm, identify};
use netabase_store::{BoxedMemoryStream, Keypair, Multiaddr, NetabaseSchema};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::kad_peer::{self, KadPeerConfig};
use crate::network::SimError;
use crate::workload::SimRecord;

/// How many records a plain node's `MemoryStore` holds at most: far more than any node of a run
/// is sent (kad's default of 1,024 would refuse records at a writer of a large run).
const MAX_RECORDS: usize = 1 << 20;

/// What a plain node is asked to do.
enum Command {
    Put(Record, oneshot::Sender<bool>),
    /// Replies with how many peers the lookup asked, if a peer answered with a record that
    /// decodes as a [`SimRecord`].
    Get(RecordKey, oneshot::Sender<Option<u32>>),
    /// Replies with the ids of the unexpired records the node holds.
    Held(oneshot::Sender<Vec<u64>>),
    /// Replies with how many republications kad's publication job has run that reached at least
    /// one peer, and how many reached none.
    Republished(oneshot::Sender<(u64, u64)>),
}

/// A plain node's handle: cheap to clone, for the workload.
#[derive(Debug, Clone)]
pub(crate) struct PlainHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl PlainHandle {
    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).ok()?;
        answer.await.ok()
    }

    /// Puts `record` with quorum one: whether one closest peer stored it.
    pub(crate) async fn put(&self, record: Record) -> bool {
        self.ask(|reply| Command::Put(record, reply))
            .await
            .unwrap_or(false)
    }

    /// Gets `key` from the network (never from this node's own store): how many peers the
    /// lookup asked, if it found the record.
    pub(crate) async fn get(&self, key: RecordKey) -> Option<u32> {
        self.ask(|reply| Command::Get(key, reply)).await.flatten()
    }

    /// The ids of the unexpired records the node holds, in no order.
    pub(crate) async fn held(&self) -> Vec<u64> {
        self.ask(Command::Held).await.unwrap_or_default()
    }

    /// How many republications kad's publication job has run that one peer or more acknowledged,
    /// and how many no peer acknowledged before they ended (a peer may still have stored the
    /// record when its acknowledgement came after the query's timeout). kad republishes with
    /// quorum all, so one that missed a peer of the 20 is an error to kad; counted here as
    /// Netabase's republications are, by whether one peer acknowledged.
    pub(crate) async fn republished(&self) -> (u64, u64) {
        self.ask(Command::Republished).await.unwrap_or((0, 0))
    }
}

/// kad over a `MemoryStore`, and identify (see [`crate::kad_peer::identify`]).
#[derive(NetworkBehaviour)]
struct PlainBehaviour {
    kad: kad::Behaviour<MemoryStore>,
    identify: identify::Behaviour,
}

/// A running plain node.
pub(crate) struct PlainNode {
    handle: PlainHandle,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl PlainNode {
    /// Starts a plain node on `transport` (its memory transport, faults included), listening on
    /// a fresh memory address, which it returns. As a joining Netabase node does, it puts `peers`
    /// into its routing table (no connection yet) and bootstraps; the returned receiver says
    /// whether the bootstrap succeeded once it is done (it is dropped at once with no peers).
    pub(crate) async fn start(
        keypair: Keypair,
        transport: Boxed<BoxedMemoryStream>,
        config: &KadPeerConfig,
        noise: bool,
        peers: Vec<(PeerId, Multiaddr)>,
    ) -> Result<(PlainNode, Multiaddr, oneshot::Receiver<bool>), SimError> {
        let plain = |error: String| SimError::Scenario(format!("a plain kad node: {error}"));
        let peer_id = keypair.public().to_peer_id();
        let transport = kad_peer::secured(transport, &keypair, noise).map_err(plain)?;
        let store = MemoryStore::with_config(
            peer_id,
            MemoryStoreConfig {
                max_records: MAX_RECORDS,
                ..MemoryStoreConfig::default()
            },
        );
        let behaviour = PlainBehaviour {
            kad: config.kad(peer_id, store),
            identify: kad_peer::identify(&keypair),
        };
        let mut swarm = Swarm::new(transport, behaviour, peer_id, config.swarm());
        let address = kad_peer::listen(&mut swarm).await.map_err(plain)?;
        for (peer, address) in peers {
            swarm.behaviour_mut().kad.add_address(&peer, address);
        }
        let (bootstrapped, bootstrap) = oneshot::channel();
        let mut state = State {
            kad_protocol: config.kad_protocol.clone(),
            puts: HashMap::new(),
            gets: HashMap::new(),
            bootstrap: None,
            republished: 0,
            republish_failed: 0,
        };
        // With no peer known (the first node) there is nothing to bootstrap from.
        if let Ok(id) = swarm.behaviour_mut().kad.bootstrap() {
            state.bootstrap = Some((id, bootstrapped));
        }
        let (commands, received) = mpsc::unbounded_channel();
        let (shutdown, stopped) = oneshot::channel();
        let task = tokio::spawn(state.run(swarm, received, stopped));
        let node = PlainNode {
            handle: PlainHandle { commands },
            shutdown,
            task,
        };
        Ok((node, address, bootstrap))
    }

    /// The node's handle.
    pub(crate) fn handle(&self) -> &PlainHandle {
        &self.handle
    }

    /// Stops the node and waits until it has.
    pub(crate) async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

/// What a plain node's task keeps track of: the queries its handle started.
struct State {
    kad_protocol: StreamProtocol,
    puts: HashMap<QueryId, oneshot::Sender<bool>>,
    gets: HashMap<QueryId, (RecordKey, oneshot::Sender<Option<u32>>)>,
    bootstrap: Option<(QueryId, oneshot::Sender<bool>)>,
    republished: u64,
    republish_failed: u64,
}

impl State {
    async fn run(
        mut self,
        mut swarm: Swarm<PlainBehaviour>,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut stopped: oneshot::Receiver<()>,
    ) {
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                command = commands.recv() => match command {
                    Some(command) => self.command(&mut swarm, command),
                    None => return,
                },
                event = swarm.select_next_some() => self.event(&mut swarm, event),
            }
        }
    }

    fn command(&mut self, swarm: &mut Swarm<PlainBehaviour>, command: Command) {
        let kad = &mut swarm.behaviour_mut().kad;
        match command {
            Command::Put(record, reply) => match kad.put_record(record, Quorum::One) {
                Ok(id) => {
                    self.puts.insert(id, reply);
                }
                Err(_) => {
                    let _ = reply.send(false);
                }
            },
            Command::Get(key, reply) => {
                let id = kad.get_record(key.clone());
                self.gets.insert(id, (key, reply));
            }
            Command::Held(reply) => {
                let now = Instant::now();
                let held = kad
                    .store_mut()
                    .records()
                    .filter(|record| !record.is_expired(now))
                    .filter_map(|record| SimRecord::from_record(&record).ok())
                    .map(|record| record.id)
                    .collect();
                let _ = reply.send(held);
            }
            Command::Republished(reply) => {
                let _ = reply.send((self.republished, self.republish_failed));
            }
        }
    }

    fn event(&mut self, swarm: &mut Swarm<PlainBehaviour>, event: SwarmEvent<PlainBehaviourEvent>) {
        match event {
            // As a Netabase node does: the listen addresses of peers that speak the protocol go
            // into the routing table.
            SwarmEvent::Behaviour(PlainBehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) if info.protocols.contains(&self.kad_protocol) => {
                for address in info.listen_addrs {
                    swarm.behaviour_mut().kad.add_address(&peer_id, address);
                }
            }
            SwarmEvent::Behaviour(PlainBehaviourEvent::Kad(
                kad::Event::OutboundQueryProgressed {
                    id,
                    result,
                    stats,
                    step,
                },
            )) => self.progressed(swarm, id, result, stats.num_requests(), step.last),
            _ => {}
        }
    }

    fn progressed(
        &mut self,
        swarm: &mut Swarm<PlainBehaviour>,
        id: QueryId,
        result: QueryResult,
        asked: u32,
        last: bool,
    ) {
        match result {
            QueryResult::PutRecord(result) => {
                if let Some(reply) = self.puts.remove(&id) {
                    let _ = reply.send(result.is_ok());
                }
            }
            QueryResult::RepublishRecord(result) => {
                let reached = match result {
                    Ok(_) => true,
                    Err(
                        PutRecordError::QuorumFailed { success, .. }
                        | PutRecordError::Timeout { success, .. },
                    ) => !success.is_empty(),
                };
                if reached {
                    self.republished += 1;
                } else {
                    self.republish_failed += 1;
                }
            }
            // The record from the node's own store comes with no peer: a get through the
            // network waits for a peer's.
            QueryResult::GetRecord(Ok(GetRecordOk::FoundRecord(PeerRecord {
                peer: Some(_),
                record,
            }))) => {
                let found = self.gets.get(&id).is_some_and(|(key, _)| {
                    record.key == *key && SimRecord::from_record(&record).is_ok()
                });
                if found && let Some((_, reply)) = self.gets.remove(&id) {
                    let _ = reply.send(Some(asked));
                    if let Some(mut query) = swarm.behaviour_mut().kad.query_mut(&id) {
                        query.finish();
                    }
                }
            }
            QueryResult::Bootstrap(result) if last || result.is_err() => {
                if let Some((_, reply)) = self.bootstrap.take_if(|(bootstrap, _)| *bootstrap == id)
                {
                    let _ = reply.send(result.is_ok());
                }
            }
            _ => {}
        }
        // A get whose lookup ended without a record it could use found nothing.
        if last && let Some((_, reply)) = self.gets.remove(&id) {
            let _ = reply.send(None);
        }
    }
}
