//! The task that owns the swarm: it runs commands from handles, swarm events and the node's jobs,
//! one at a time, in one `tokio::select!` loop.

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::OptionFuture;
use futures::stream::FuturesUnordered;
use libp2p::kad::{self, QueryId, Record, RecordKey};
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, identify};
use tokio::sync::{broadcast, mpsc};
use tokio::time::{Interval, MissedTickBehavior};

use super::behaviour::{Behaviour, BehaviourEvent};
use super::command::{Command, Reply};
use super::config::{Acknowledgements, NodeConfig};
use super::error::NodeError;
use super::events::{NodeEvent, NodeStats, RejectionCounts};
use super::handoff::Handoff;
use super::ops::{PutOptions, PutReport};
use super::publication::Publication;
use super::rate_limit::RateLimit;
use super::store_protocol::{StoreRequest, StoreResponse};
use crate::error::{DatabaseError, DatabaseResult};
use crate::node_store::{NodeStore, PendingDurability};
use crate::registry::{Rejection, SchemaInfo, SchemaRegistry};

/// Who waits for the outcome of a publication.
pub(crate) enum PublishReply {
    /// A handle's put or publish.
    User(Reply<PutReport>),
    /// The republish job.
    Republish,
    /// A get's push of its winner to peers that answered with a losing value; no one waits.
    Repair,
    /// The handoff job's send of a record to peers that joined among its closest.
    Handoff,
}

impl PublishReply {
    /// Whether the publication counts against the background query budget.
    pub(crate) fn is_background(&self) -> bool {
        !matches!(self, PublishReply::User(_))
    }
}

/// A publication sent to the closest peers, with whether it counts against the background budget
/// (its reply is gone once answered, the budget is released when every peer answered).
pub(crate) struct InFlight {
    pub(crate) publication: Publication<PublishReply>,
    pub(crate) background: bool,
    /// A republication or a sync's publication: if a peer refuses it as a lost conflict, this
    /// node's copy is stale (a newer value, or a tombstone, won), and a lookup fetches the winner.
    pub(crate) learn: bool,
}

/// A publication waiting for the closest peers of its key and, for a user's put, for the local
/// write to become durable. It is sent only when both are done (`EventLoop::advance_publication`).
pub(crate) struct PendingPublish {
    pub(crate) record: Record,
    pub(crate) options: PutOptions,
    pub(crate) reply: PublishReply,
    /// Whether a lost conflict at a peer makes this node fetch the winner ([`InFlight::learn`]).
    pub(crate) learn: bool,
    /// Whether the local write is durable (always, for a publication without one).
    pub(crate) durable: bool,
    /// The closest peers, once the lookup has finished.
    pub(crate) peers: Option<Vec<PeerId>>,
}

/// A deferred local write becoming durable on a blocking thread, with the closest-peers query of
/// the publication waiting for it (none when the put failed before it started one).
pub(crate) type DurabilityTask =
    Pin<Box<dyn Future<Output = (Option<QueryId>, DatabaseResult<()>)> + Send>>;

/// Runs the job of `durability` on tokio's blocking pool; the task answers with `query`.
pub(crate) fn durability_task(
    query: Option<QueryId>,
    durability: PendingDurability,
) -> DurabilityTask {
    let job = tokio::task::spawn_blocking(move || durability.wait());
    Box::pin(async move {
        let result = match job.await {
            Ok(result) => result,
            Err(error) => Err(DatabaseError::Storage(Box::new(error))),
        };
        (query, result)
    })
}

/// A lookup resolving answers as they come: it holds the best record so far, not every answer,
/// so a lookup answered by many peers with large values costs one record of memory.
pub(crate) struct PendingGet {
    pub(crate) key: RecordKey,
    pub(crate) schema: Option<SchemaInfo>,
    /// The best valid record so far (the local one to begin with), and the peer that sent it
    /// first (`None`: the local record).
    pub(crate) best: Option<(Option<PeerId>, Record)>,
    /// Peers that answered with the best value.
    pub(crate) holders: Vec<PeerId>,
    /// Peers that answered with a value that lost.
    pub(crate) stale: Vec<PeerId>,
    /// Valid answers so far.
    pub(crate) answered: usize,
    /// Answers refused by validation, by reason.
    pub(crate) refused: RejectionCounts,
    /// How many answers end the lookup early.
    pub(crate) wanted: usize,
    /// Peers the lookup has sent a request to so far.
    pub(crate) queried: u32,
    pub(crate) reply: Reply<super::ops::Fetched>,
}

/// Replies waiting for kad queries and dials, keyed by what will answer them.
#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) closest: HashMap<QueryId, PendingPublish>,
    /// Publications sent to their peers, by the id `next_publication` gave them.
    pub(crate) publications: HashMap<u64, InFlight>,
    pub(crate) next_publication: u64,
    /// A publication's record sent to one peer with the store protocol.
    pub(crate) store_requests: HashMap<OutboundRequestId, (u64, PeerId)>,
    /// A publication's record sent to one plain kad peer with `put_record_to`.
    pub(crate) kad_puts: HashMap<QueryId, (u64, PeerId)>,
    pub(crate) gets: HashMap<QueryId, PendingGet>,
    pub(crate) bootstraps: HashMap<QueryId, Reply<()>>,
    pub(crate) dials: HashMap<ConnectionId, (Multiaddr, Reply<PeerId>)>,
    /// Callers of `wait_for_peers`: how many connected routable peers each waits for.
    pub(crate) peer_waiters: Vec<(usize, Reply<usize>)>,
}

/// The most addresses the node keeps for one peer from what the peer announces about itself.
pub(crate) const MAX_PEER_ADDRESSES: usize = 8;

/// The announced addresses (with the peer's `/p2p` suffix, as kad keeps them) that are new and
/// fit within [`MAX_PEER_ADDRESSES`] beside the `known` ones.
pub(crate) fn addresses_to_learn(
    peer: PeerId,
    known: &[Multiaddr],
    announced: Vec<Multiaddr>,
) -> Vec<Multiaddr> {
    let room = MAX_PEER_ADDRESSES.saturating_sub(known.len());
    let mut new: Vec<Multiaddr> = Vec::new();
    for address in announced {
        if new.len() >= room {
            break;
        }
        // An address naming another peer id is not this peer's.
        let Ok(address) = address.with_p2p(peer) else {
            continue;
        };
        if !known.contains(&address) && !new.contains(&address) {
            new.push(address);
        }
    }
    new
}

/// The settings the loop reads while running.
pub(crate) struct LoopSettings {
    pub(crate) record_ttl: Option<Duration>,
    pub(crate) tombstone_ttl: Option<Duration>,
    pub(crate) republish_interval: Option<Duration>,
    pub(crate) query_timeout: Duration,
    pub(crate) max_value_size: usize,
    pub(crate) replication_factor: NonZeroUsize,
    pub(crate) get_quorum: NonZeroUsize,
    pub(crate) max_background_queries: usize,
    pub(crate) expiry_sweep_batch: usize,
    pub(crate) kad_protocol: libp2p::StreamProtocol,
    pub(crate) acknowledgements: Acknowledgements,
}

impl LoopSettings {
    pub(crate) fn from_config(config: &NodeConfig) -> Self {
        LoopSettings {
            record_ttl: config.record_ttl,
            tombstone_ttl: config.tombstone_ttl,
            republish_interval: config.republish_interval,
            query_timeout: config.query_timeout,
            max_value_size: config.max_value_size,
            replication_factor: config.replication_factor,
            get_quorum: config.get_quorum,
            max_background_queries: config.max_background_queries,
            expiry_sweep_batch: config.expiry_sweep_batch,
            kad_protocol: config.kad_protocol.clone(),
            acknowledgements: config.acknowledgements,
        }
    }
}

/// The timers of the node's jobs.
pub(crate) struct Timers {
    pub(crate) republish: Interval,
    pub(crate) expiry: Interval,
    pub(crate) flush: Interval,
    /// The handoff job, if the node hands records to newcomers.
    pub(crate) handoff: Option<Interval>,
    /// The one-line stats log, if the node writes one.
    pub(crate) stats_log: Option<Interval>,
}

impl Timers {
    pub(crate) fn from_config(config: &NodeConfig) -> Self {
        let interval = |period: Duration| {
            let mut interval = tokio::time::interval(period.max(Duration::from_millis(1)));
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        };
        Timers {
            republish: interval(config.republish_check_interval),
            expiry: interval(config.expiry_sweep_interval),
            flush: interval(config.flush_interval),
            handoff: config.handoff_interval.map(interval),
            stats_log: config.stats_log_interval.map(interval),
        }
    }
}

/// The event loop of one node.
pub(crate) struct EventLoop<S: NodeStore> {
    pub(crate) swarm: Swarm<Behaviour<S>>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) events: broadcast::Sender<NodeEvent>,
    pub(crate) registry: SchemaRegistry,
    pub(crate) settings: LoopSettings,
    pub(crate) timers: Timers,
    pub(crate) listen_addrs: Vec<Multiaddr>,
    pub(crate) pending: Pending,
    pub(crate) stats: NodeStats,
    /// Republications, repairs and handoffs in flight.
    pub(crate) background_queries: usize,
    /// Peers that entered the routing table, waiting to be handed their records, and the walk of
    /// the store doing it.
    pub(crate) handoff: Handoff,
    /// Whether the last republish run found as many due records as it could take: more may be
    /// due, so the job runs again as soon as one of its publications finishes.
    pub(crate) republish_backlog: bool,
    /// Spreads the republish job's publications over time, if the node limits their rate.
    pub(crate) republish_rate: Option<RateLimit>,
    /// The store's own error count when it was last reported.
    pub(crate) store_errors_seen: u64,
    /// Local writes becoming durable off the loop (`NodeStore::put_local_deferred`).
    pub(crate) durability: FuturesUnordered<DurabilityTask>,
    /// The flush timer's job running off the loop (`NodeStore::flush_deferred`), if one is.
    pub(crate) flushing: Option<DurabilityTask>,
    /// Removals becoming durable off the loop (`NodeStore::remove_local_deferred`); each answers
    /// its caller when done.
    pub(crate) removals: FuturesUnordered<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// Where the node's metrics go, if anywhere.
    pub(crate) metrics: Option<super::metrics::NodeMetrics>,
}

impl<S: NodeStore> EventLoop<S> {
    /// Runs until a handle asks for shutdown or every handle is gone; then waits for the local
    /// writes still becoming durable, commits what the store buffered, drops the swarm (closing
    /// the store) and only then answers the shutdown.
    pub(crate) async fn run(mut self) {
        let shutdown_reply = loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => break Some(reply),
                    Some(command) => self.on_command(command),
                    None => break None,
                },
                Some((query, result)) = self.durability.next(), if !self.durability.is_empty() => {
                    self.on_durable(query, result);
                }
                Some(()) = self.removals.next(), if !self.removals.is_empty() => {}
                Some((_, result)) = OptionFuture::from(self.flushing.as_mut()), if self.flushing.is_some() => {
                    self.flushing = None;
                    self.on_flushed(result);
                }
                _ = self.timers.republish.tick() => self.run_republish_job(),
                _ = self.timers.expiry.tick() => self.run_expiry_job(),
                _ = self.timers.flush.tick() => self.run_flush_job(),
                Some(_) = OptionFuture::from(self.timers.handoff.as_mut().map(Interval::tick)), if self.timers.handoff.is_some() => {
                    self.run_handoff_job();
                }
                Some(_) = OptionFuture::from(self.timers.stats_log.as_mut().map(Interval::tick)), if self.timers.stats_log.is_some() => {
                    self.log_stats();
                }
            }
        };
        // A durability job holds the store: wait for it, so that the store is closed when the
        // shutdown returns. The puts waiting for them are answered `Stopped` (they are durable).
        while let Some((_, result)) = self.durability.next().await {
            if let Err(error) = result {
                self.storage_error("a local write could not be made durable", error);
            }
        }
        while self.removals.next().await.is_some() {}
        if let Some(flushing) = self.flushing.take() {
            let (_, result) = flushing.await;
            self.on_flushed(result);
        }
        let EventLoop {
            mut swarm, pending, ..
        } = self;
        let flushed = swarm.behaviour_mut().kad.store_mut().flush();
        if let Err(error) = &flushed {
            tracing::error!(%error, "final flush of the store failed at shutdown");
        }
        drop(pending);
        drop(swarm);
        tracing::debug!("node stopped");
        if let Some(reply) = shutdown_reply {
            let _ = reply.send(flushed.map_err(NodeError::from));
        }
    }

    /// Reports a failed flush job (a flush that failed, or a job that panicked).
    fn on_flushed(&mut self, result: DatabaseResult<()>) {
        if let Err(error) = result {
            self.storage_error("cannot commit received records", error);
        }
    }

    pub(crate) fn store(&mut self) -> &mut S {
        self.swarm.behaviour_mut().kad.store_mut()
    }

    pub(crate) fn local_peer(&self) -> PeerId {
        *self.swarm.local_peer_id()
    }

    pub(crate) fn emit(&self, event: NodeEvent) {
        // No subscriber is not an error: events are for whoever listens.
        let _ = self.events.send(event);
    }

    pub(crate) fn storage_error(&mut self, what: &str, error: impl std::fmt::Display) {
        self.stats.storage_errors += 1;
        let message = format!("{what}: {error}");
        tracing::error!("{message}");
        self.emit(NodeEvent::StorageError { message });
    }

    /// Counts and reports a rejected inbound record; returns the reason, shared with the event.
    pub(crate) fn reject_record(
        &mut self,
        key: RecordKey,
        from: PeerId,
        reason: Rejection,
    ) -> Arc<Rejection> {
        tracing::debug!(key = %key.as_ref().escape_ascii(), %from, %reason, "rejected a record");
        self.stats.records_rejected.count(&reason);
        let reason = Arc::new(reason);
        self.emit(NodeEvent::RecordRejected {
            key,
            from,
            reason: Arc::clone(&reason),
        });
        reason
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Put {
                record,
                options,
                reply,
            } => self.put(record, options, reply),
            Command::Publish {
                record,
                options,
                reply,
            } => self.publish(record, options, PublishReply::User(reply)),
            Command::WaitForPeers { min, reply } => {
                self.pending.peer_waiters.push((min, reply));
                self.answer_peer_waiters();
            }
            Command::Get {
                key,
                schema,
                mode,
                reply,
            } => self.get(key, schema, mode, reply),
            Command::GetLocal { key, reply } => {
                let result = self.store().get_local(&key).map_err(NodeError::from);
                let _ = reply.send(result);
            }
            Command::Remove {
                current,
                options,
                reply,
            } => self.remove(current, options, reply),
            Command::RemoveLocal { key, reply } => match self.store().remove_local_deferred(&key) {
                Ok(job) if job.is_done() => {
                    let _ = reply.send(Ok(()));
                }
                Ok(job) => {
                    let task = durability_task(None, job);
                    self.removals.push(Box::pin(async move {
                        let (_, result) = task.await;
                        let _ = reply.send(result.map_err(NodeError::from));
                    }));
                }
                Err(error) => {
                    let _ = reply.send(Err(error.into()));
                }
            },
            Command::LocalRecords {
                after,
                prefix,
                limit,
                reply,
            } => {
                let page = self
                    .store()
                    .records_page(after.as_ref(), &prefix, limit)
                    .map_err(NodeError::from);
                let _ = reply.send(page);
            }
            Command::Bootstrap { reply } => match self.swarm.behaviour_mut().kad.bootstrap() {
                Ok(id) => {
                    self.pending.bootstraps.insert(id, reply);
                }
                Err(kad::NoKnownPeers()) => {
                    let _ = reply.send(Err(NodeError::NoKnownPeers));
                }
            },
            Command::Dial { address, reply } => self.dial(address, reply),
            Command::AddAddress {
                peer,
                address,
                reply,
            } => {
                let update = self.swarm.behaviour_mut().kad.add_address(&peer, address);
                let _ = reply.send(Ok(matches!(update, kad::RoutingUpdate::Success)));
            }
            Command::Listeners { reply } => {
                let _ = reply.send(Ok(self.listen_addrs.clone()));
            }
            Command::ConnectedPeers { reply } => {
                let _ = reply.send(Ok(self.swarm.connected_peers().copied().collect()));
            }
            Command::Stats { reply } => {
                let stats = self.current_stats();
                let _ = reply.send(Ok(stats));
            }
            Command::Flush { reply } => {
                let result = self.store().flush().map_err(NodeError::from);
                let _ = reply.send(result);
            }
            Command::Shutdown { reply } => {
                // Handled by `run`; unreachable here, but answer rather than drop the caller.
                let _ = reply.send(Ok(()));
            }
        }
    }

    /// Peers in the routing table with an open connection: the peers a lookup can ask now.
    fn connected_routable_peers(&mut self) -> usize {
        self.swarm
            .behaviour_mut()
            .kad
            .kbuckets()
            .map(|bucket| {
                bucket
                    .iter()
                    .filter(|entry| entry.status == kad::NodeStatus::Connected)
                    .count()
            })
            .sum()
    }

    /// Answers the callers of `wait_for_peers` whose number of peers is reached, and forgets those
    /// that stopped waiting.
    fn answer_peer_waiters(&mut self) {
        if self.pending.peer_waiters.is_empty() {
            return;
        }
        let found = self.connected_routable_peers();
        let waiters = std::mem::take(&mut self.pending.peer_waiters);
        for (min, reply) in waiters {
            if found >= min {
                let _ = reply.send(Ok(found));
            } else if !reply.is_closed() {
                self.pending.peer_waiters.push((min, reply));
            }
        }
    }

    fn current_stats(&mut self) -> NodeStats {
        let mut stats = self.stats.clone();
        stats.storage_errors += self.store().storage_errors();
        stats.connected_peers = self.swarm.connected_peers().count();
        stats.routing_table_size = self
            .swarm
            .behaviour_mut()
            .kad
            .kbuckets()
            .map(|bucket| bucket.num_entries())
            .sum();
        stats.connected_routable_peers = self.connected_routable_peers();
        if let Some(metrics) = &self.metrics {
            metrics.update(&stats, self.republish_backlog, self.background_queries);
        }
        stats
    }

    /// The periodic one-line log of the node's figures (and a refresh of its metrics).
    fn log_stats(&mut self) {
        let stats = self.current_stats();
        let refused: u64 = stats
            .records_rejected
            .by_reason()
            .iter()
            .map(|(_, count)| count)
            .sum();
        tracing::info!(
            stored = stats.records_stored,
            refused,
            expired = stats.records_expired,
            republished = stats.republished,
            republish_failed = stats.republish_failed,
            republish_backlog = self.republish_backlog,
            handed_off = stats.handed_off,
            peers = stats.connected_peers,
            routing_table = stats.routing_table_size,
            storage_errors = stats.storage_errors,
            "stats"
        );
    }

    fn dial(&mut self, address: Multiaddr, reply: Reply<PeerId>) {
        let peer = address.iter().find_map(|protocol| match protocol {
            libp2p::multiaddr::Protocol::P2p(peer) => Some(peer),
            _ => None,
        });
        // The swarm refuses to dial a peer it is connected to; the caller wants the connection,
        // which is there.
        if let Some(peer) = peer.filter(|peer| self.swarm.is_connected(peer)) {
            let _ = reply.send(Ok(peer));
            return;
        }
        let options = match peer {
            Some(peer) => DialOpts::peer_id(peer)
                .addresses(vec![address.clone()])
                .build(),
            None => DialOpts::unknown_peer_id().address(address.clone()).build(),
        };
        let connection = options.connection_id();
        match self.swarm.dial(options) {
            Ok(()) => {
                self.pending.dials.insert(connection, (address, reply));
            }
            Err(error) => {
                let _ = reply.send(Err(NodeError::Dial {
                    address,
                    reason: error.to_string(),
                }));
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent<S>>) {
        if let Some(metrics) = &self.metrics {
            metrics.record(&event);
        }
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => {
                self.on_kad_event(event);
                self.answer_peer_waiters();
            }
            SwarmEvent::Behaviour(BehaviourEvent::Store(event)) => self.on_store_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(_)) => {}
            // Peers that dialed us are only routable once we know where they listen.
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) if info.protocols.contains(&self.settings.kad_protocol) => {
                self.learn_listen_addrs(peer_id, info.listen_addrs);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(_)) => {}
            #[cfg(feature = "mdns")]
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(libp2p::mdns::Event::Discovered(found))) => {
                for (peer, address) in found {
                    self.swarm.behaviour_mut().kad.add_address(&peer, address);
                }
            }
            #[cfg(feature = "mdns")]
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(_)) => {}
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                if !self.listen_addrs.contains(&address) {
                    self.listen_addrs.push(address.clone());
                }
                self.emit(NodeEvent::Listening { address });
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs.retain(|known| known != &address);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                if let Some((_, reply)) = self.pending.dials.remove(&connection_id) {
                    let _ = reply.send(Ok(peer_id));
                }
                if num_established.get() == 1 {
                    self.emit(NodeEvent::PeerConnected {
                        peer: peer_id,
                        address: endpoint.get_remote_address().clone(),
                    });
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => {
                if let Some((address, reply)) = self.pending.dials.remove(&connection_id) {
                    let _ = reply.send(Err(NodeError::Dial {
                        address,
                        reason: error.to_string(),
                    }));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => self.emit(NodeEvent::PeerDisconnected { peer: peer_id }),
            _ => {}
        }
    }

    /// Adds the listen addresses a peer announced to its routing table entry, up to
    /// [`MAX_PEER_ADDRESSES`] in all: kad keeps (and dials) every address it is given, and a peer
    /// can announce as many as fit in an identify message, as often as it likes.
    ///
    /// A peer not in the table yet enters it only if its bucket has room. Handing kad a peer
    /// for a full bucket makes it dial the bucket's least recently seen entry to check it is
    /// still there, and that check's own connection does the same at the peer it reaches: every
    /// peer that connected could make this node dial another, and a network of a thousand nodes
    /// spent more than half of its connections on those checks. Entries that have gone are
    /// dropped when a lookup fails to reach them; peers this node dials itself still go through
    /// kad's own check.
    fn learn_listen_addrs(&mut self, peer: PeerId, announced: Vec<Multiaddr>) {
        let kad = &mut self.swarm.behaviour_mut().kad;
        // `None`: this node's own id.
        let Some(bucket) = kad.kbucket(peer) else {
            return;
        };
        let known: Option<Vec<Multiaddr>> = bucket
            .iter()
            .find(|entry| *entry.node.key.preimage() == peer)
            .map(|entry| entry.node.value.iter().cloned().collect());
        let known = match known {
            Some(known) => known,
            None if bucket.num_entries() >= kad::K_VALUE.get() => return,
            None => Vec::new(),
        };
        for address in addresses_to_learn(peer, &known, announced) {
            kad.add_address(&peer, address);
        }
    }

    /// The store protocol: records other Netabase nodes send to be stored, and the answers to the
    /// records this node sent.
    fn on_store_event(&mut self, event: request_response::Event<StoreRequest, StoreResponse>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.on_store_request(peer, request, channel),
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => self.on_store_response(request_id, response),
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => self.on_store_failure(request_id, error),
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "a store request from a peer failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn on_kad_event(&mut self, event: kad::Event) {
        match event {
            kad::Event::InboundRequest {
                request:
                    kad::InboundRequest::PutRecord {
                        source,
                        record: Some(record),
                        ..
                    },
            } => {
                // kad has acknowledged it already; the gate's decision is only counted.
                let _ = self.admit_record(source, record);
            }
            kad::Event::InboundRequest {
                request:
                    kad::InboundRequest::AddProvider {
                        record: Some(provider),
                    },
            } => self.on_inbound_provider(provider),
            kad::Event::OutboundQueryProgressed {
                id,
                result,
                step,
                stats,
            } => self.on_query_progressed(id, result, step, stats),
            kad::Event::RoutingUpdated {
                peer, is_new_peer, ..
            } if is_new_peer => {
                if self.timers.handoff.is_some() {
                    self.handoff.on_new_peer(peer);
                }
                self.emit(NodeEvent::PeerRoutable { peer });
            }
            _ => {}
        }
    }

    fn on_query_progressed(
        &mut self,
        id: QueryId,
        result: kad::QueryResult,
        step: kad::ProgressStep,
        stats: kad::QueryStats,
    ) {
        match result {
            kad::QueryResult::GetClosestPeers(result) => {
                let peers = match result {
                    Ok(ok) => ok.peers,
                    Err(kad::GetClosestPeersError::Timeout { peers, .. }) => peers,
                };
                self.on_closest_peers(id, peers.into_iter().map(|peer| peer.peer_id).collect());
            }
            kad::QueryResult::PutRecord(result) => self.on_put_result(id, result),
            kad::QueryResult::GetRecord(result) => self.on_get_progress(id, result, stats),
            kad::QueryResult::Bootstrap(result) if step.last => {
                if let Some(reply) = self.pending.bootstraps.remove(&id) {
                    let result = result.map(drop).map_err(|_| NodeError::Timeout {
                        operation: "bootstrap",
                        after: self.settings.query_timeout,
                    });
                    let _ = reply.send(result);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(port: u16) -> Multiaddr {
        format!("/ip4/127.0.0.1/tcp/{port}").parse().expect("valid")
    }

    #[test]
    fn a_peer_announcing_many_addresses_gets_a_bounded_few() {
        let peer = PeerId::random();
        let announced: Vec<Multiaddr> = (1..=500).map(tcp).collect();
        let learned = addresses_to_learn(peer, &[], announced.clone());
        assert_eq!(learned.len(), MAX_PEER_ADDRESSES);
        assert_eq!(learned[0], tcp(1).with_p2p(peer).expect("no other peer id"));
        // Announcing again, or announcing others, adds nothing once the entry is full.
        assert!(addresses_to_learn(peer, &learned, announced).is_empty());
        // Known addresses and duplicates take no room; other peers' addresses are skipped.
        let other = tcp(9).with_p2p(PeerId::random()).expect("fresh address");
        let known = vec![tcp(1).with_p2p(peer).expect("no other peer id")];
        let learned = addresses_to_learn(peer, &known, vec![tcp(1), tcp(2), tcp(2), other]);
        assert_eq!(
            learned,
            vec![tcp(2).with_p2p(peer).expect("no other peer id")]
        );
    }
}
