//! [`NodeHandle`]: the cloneable, async front of a running node.

use std::future::Future;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use libp2p::kad::{Record, RecordKey};
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::command::{Command, GetMode, Reply};
use super::config::MAX_DURATION;
use super::error::{NodeError, NodeResult};
use super::events::{NodeEvent, NodeStats};
use super::ops::{FetchedRecord, PutOptions, PutReport, SyncOptions, SyncProgress, SyncReport};
use super::queries::MIN_PUBLISH_TTL;
use crate::owned::{Author, Delegation, OwnedWrite};
use crate::registry::SchemaInfo;
use crate::schema::NetabaseSchema;
use crate::tombstone::decode_record;

/// A handle to a running node: cheap to clone, usable from any task. Every operation is a message
/// to the node's event loop over a bounded channel and fails with [`NodeError::Timeout`] if it does
/// not finish within the configured operation timeout.
///
/// Typed operations take a [`NetabaseSchema`] value or key; the `*_record` operations take raw
/// `kad::Record`s and keys, for tools that handle records of any schema.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<NodeEvent>,
    peer_id: PeerId,
    timeout: Duration,
}

impl NodeHandle {
    pub(crate) fn new(
        commands: mpsc::Sender<Command>,
        events: broadcast::Sender<NodeEvent>,
        peer_id: PeerId,
        timeout: Duration,
    ) -> Self {
        NodeHandle {
            commands,
            events,
            peer_id,
            timeout,
        }
    }

    /// Sends a command and waits for its answer, all within the operation timeout.
    async fn request<T>(
        &self,
        operation: &'static str,
        command: impl FnOnce(Reply<T>) -> Command,
    ) -> NodeResult<T> {
        let (reply, answer) = oneshot::channel();
        let exchange = async {
            self.commands
                .send(command(reply))
                .await
                .map_err(|_| NodeError::Stopped)?;
            answer.await.map_err(|_| NodeError::Stopped)?
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| NodeError::Timeout {
                operation,
                after: self.timeout,
            })?
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// A receiver of this node's events from now on. See [`NodeEvent`] for what is reported and
    /// how a slow receiver is treated.
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.events.subscribe()
    }

    /// Waits until at least `min` peers are in this node's routing table with an open
    /// connection, so a put or get has someone to ask, and returns how many there are. Call it
    /// after [`Node::spawn`](crate::Node::spawn) with bootstrap peers (or after
    /// [`dial`](Self::dial)) before the first put. Fails with [`NodeError::NotEnoughPeers`] after
    /// `timeout`.
    pub async fn wait_for_peers(&self, min: usize, timeout: Duration) -> NodeResult<usize> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::WaitForPeers { min, reply })
            .await
            .map_err(|_| NodeError::Stopped)?;
        match tokio::time::timeout(timeout, answer).await {
            Ok(answer) => answer.map_err(|_| NodeError::Stopped)?,
            Err(_) => Err(NodeError::NotEnoughPeers {
                wanted: min,
                found: self.stats().await?.connected_routable_peers,
                after: timeout,
            }),
        }
    }

    /// Stores `value` durably in the local store, schedules its republication, then sends it to the
    /// closest peers of its key and returns once the quorum of them stored it (`Quorum::One`, or
    /// [`PutOptions`] for more control). The [`PutReport`] says which peers stored it, refused it
    /// (and why) or could not be reached. Peers keep it for the node's record TTL; the node
    /// republishes it before that runs out.
    ///
    /// Fails with [`NodeError::StaleWrite`] if the stored value wins over `value` under the schema's
    /// conflict rule (nothing is written), [`NodeError::QuorumFailed`] when too few peers stored it
    /// and [`NodeError::QuorumUnreachable`] when the network has fewer peers than the quorum (in
    /// both cases it is stored locally and will be republished), [`NodeError::ValueTooLarge`], or
    /// an encoding error.
    pub async fn put<T: NetabaseSchema>(
        &self,
        value: &T,
        options: impl Into<PutOptions>,
    ) -> NodeResult<PutReport> {
        self.put_record(value.to_record()?, options).await
    }

    /// Like [`put`](Self::put), with an expiry: the value is removed from this node and every peer
    /// `ttl` from now, and not renewed by republication. `ttl` is capped at
    /// [`MAX_DURATION`](crate::MAX_DURATION), the longest TTL kad can carry.
    pub async fn put_expiring<T: NetabaseSchema>(
        &self,
        value: &T,
        options: impl Into<PutOptions>,
        ttl: Duration,
    ) -> NodeResult<PutReport> {
        let mut record = value.to_record()?;
        // `None` only where `Instant` cannot reach 136 years ahead: such a record never expires.
        record.expires = Instant::now().checked_add(ttl.min(MAX_DURATION));
        self.put_record(record, options).await
    }

    /// Signs `value` as `author` (its owner) and puts it like [`put`](Self::put): an owned
    /// schema's write ([`crate::owned`]). The write's sequence is the current time in
    /// milliseconds, or one above the locally stored write's if that is higher, in the stored
    /// write's generation. Fails with [`DatabaseError::NotOwner`](crate::DatabaseError::NotOwner)
    /// when `value`'s key names another owner, and like `put` otherwise.
    pub async fn put_owned<T: NetabaseSchema>(
        &self,
        author: &Author,
        value: &T,
        options: impl Into<PutOptions>,
    ) -> NodeResult<PutReport> {
        let write = self.next_write::<T>(&value.key()).await?;
        self.put_record(author.sign(value, &write)?, options).await
    }

    /// Signs `value` as `writer` under the owner's `delegation` ([`Author::delegate_record`] or
    /// [`Author::delegate_collection`]) and puts it like [`put_owned`](Self::put_owned).
    pub async fn put_delegated<T: NetabaseSchema>(
        &self,
        writer: &Author,
        delegation: &Delegation,
        value: &T,
        options: impl Into<PutOptions>,
    ) -> NodeResult<PutReport> {
        let write = self.next_write::<T>(&value.key()).await?;
        self.put_record(writer.sign_delegated(value, &write, delegation)?, options)
            .await
    }

    /// Deletes the owned value under `key` as `author` (its owner): finds the current value like
    /// [`remove`](Self::remove), then puts a signed delete of it, which wins over every earlier
    /// write. Fails with [`NodeError::NotFound`] when there is nothing to delete.
    pub async fn remove_owned<T: NetabaseSchema>(
        &self,
        author: &Author,
        key: &T::Key,
        options: impl Into<PutOptions>,
    ) -> NodeResult<PutReport> {
        let current = self
            .get_typed::<T>(T::record_key(key)?, GetMode::Network)
            .await?;
        let value = checked_value::<T>(&current.record)?;
        let write = OwnedWrite::after(Some(&current.record.value)).deleting();
        self.put_record(author.sign(&value, &write)?, options).await
    }

    /// The write after the locally stored one of `key`.
    async fn next_write<T: NetabaseSchema>(&self, key: &T::Key) -> NodeResult<OwnedWrite> {
        let stored = self.get_local_record(&T::record_key(key)?).await?;
        Ok(OwnedWrite::after(
            stored.as_ref().map(|record| record.value.as_slice()),
        ))
    }

    /// The value under `key`: from the local store if it holds one, else from the network (the
    /// answers of the configured get quorum of peers, resolved by `T`'s conflict rule; the winner is
    /// stored locally). Fails with [`NodeError::NotFound`] if neither has one; records that do not
    /// decode as `T` are never returned.
    pub async fn get<T: NetabaseSchema>(&self, key: &T::Key) -> NodeResult<T> {
        let fetched = self
            .get_typed::<T>(T::record_key(key)?, GetMode::LocalFirst)
            .await?;
        checked_value::<T>(&fetched.record)
    }

    /// The value under `key` as the network sees it now: a complete lookup, whose answers and the
    /// local value are resolved by `T`'s conflict rule. The winner is stored locally, and peers that
    /// answered with a losing value are sent the winner.
    pub async fn get_from_network<T: NetabaseSchema>(&self, key: &T::Key) -> NodeResult<T> {
        let fetched = self
            .get_typed::<T>(T::record_key(key)?, GetMode::Network)
            .await?;
        checked_value::<T>(&fetched.record)
    }

    /// The value under `key` in the local store only, without asking the network. `None` also
    /// when the local store holds the value's tombstone (it was removed).
    pub async fn get_local<T: NetabaseSchema>(&self, key: &T::Key) -> NodeResult<Option<T>> {
        match self.get_local_record(&T::record_key(key)?).await? {
            Some(record) => Ok(decode_record::<T>(&record)?.live()),
            None => Ok(None),
        }
    }

    async fn get_typed<T: NetabaseSchema>(
        &self,
        key: RecordKey,
        mode: GetMode,
    ) -> NodeResult<FetchedRecord> {
        self.request("get", |reply| Command::Get {
            key,
            schema: Some(SchemaInfo::of::<T>()),
            mode,
            reply,
        })
        .await
    }

    /// Deletes the value under `key` on this node and the network: finds the current value (a
    /// complete lookup, resolved with the local copy), then stores its tombstone
    /// ([`crate::tombstone`]) as this node's own record and publishes it like a put, returning
    /// once `quorum` of the closest peers stored it, with their [`PutReport`].
    ///
    /// Afterwards every node that sees the tombstone answers `get` with
    /// [`NodeError::NotFound`] (`deleted: true`), also after restarts; a peer still holding the
    /// old value cannot bring it back, because the tombstone wins against it under the schema's
    /// rule and is sent to such peers by every get that meets them. A later put of a value that
    /// wins over the deleted one (a higher `#[version]`) stores it again. The tombstone expires
    /// after the value would have (see [`NodeConfig::set_tombstone_ttl`](crate::NodeConfig::set_tombstone_ttl)).
    ///
    /// Fails with [`NodeError::NotFound`] when there is nothing to delete (no value, or already
    /// deleted), and like [`put`](Self::put) otherwise; the tombstone is stored locally whatever
    /// the peers answered.
    pub async fn remove<T: NetabaseSchema>(
        &self,
        key: &T::Key,
        options: impl Into<PutOptions>,
    ) -> NodeResult<PutReport> {
        let current = self
            .get_typed::<T>(T::record_key(key)?, GetMode::Network)
            .await?;
        self.remove_current(current.record, options.into()).await
    }

    /// Removes the value under `key` from the local store only, and stops republishing it: peers
    /// keep their copies, and a later [`get`](Self::get) fetches one back. For a cache that
    /// drops what it no longer needs; [`remove`](Self::remove) deletes.
    pub async fn remove_local<T: NetabaseSchema>(&self, key: &T::Key) -> NodeResult<()> {
        self.remove_local_record(&T::record_key(key)?).await
    }

    async fn remove_current(&self, current: Record, options: PutOptions) -> NodeResult<PutReport> {
        self.request("remove", |reply| Command::Remove {
            current,
            options,
            reply,
        })
        .await
    }

    /// Raw [`put`](Self::put): stores `record` as this node's own (it becomes the publisher) and
    /// publishes it. A record with `expires` set expires then everywhere; without, peers keep it for
    /// the node's record TTL.
    pub async fn put_record(
        &self,
        record: Record,
        options: impl Into<PutOptions>,
    ) -> NodeResult<PutReport> {
        let options = options.into();
        self.request("put", |reply| Command::Put {
            record,
            options,
            reply,
        })
        .await
    }

    /// Raw [`get`](Self::get): the local record, else the network's, validated by the schema its
    /// key prefix names (when registered) and resolved by that schema's rule or byte order.
    pub async fn get_record(&self, key: &RecordKey) -> NodeResult<FetchedRecord> {
        self.get_raw(key.clone(), GetMode::LocalFirst).await
    }

    /// Raw [`get_from_network`](Self::get_from_network).
    pub async fn get_record_from_network(&self, key: &RecordKey) -> NodeResult<FetchedRecord> {
        self.get_raw(key.clone(), GetMode::Network).await
    }

    async fn get_raw(&self, key: RecordKey, mode: GetMode) -> NodeResult<FetchedRecord> {
        self.request("get", |reply| Command::Get {
            key,
            schema: None,
            mode,
            reply,
        })
        .await
    }

    /// The unexpired local record under `key`, without asking the network.
    pub async fn get_local_record(&self, key: &RecordKey) -> NodeResult<Option<Record>> {
        let key = key.clone();
        self.request("get", |reply| Command::GetLocal { key, reply })
            .await
    }

    /// Raw [`remove`](Self::remove): the current record is resolved by the schema its key prefix
    /// names (byte order for a schema this node does not know).
    pub async fn remove_record(
        &self,
        key: &RecordKey,
        options: impl Into<PutOptions>,
    ) -> NodeResult<PutReport> {
        let current = self.get_raw(key.clone(), GetMode::Network).await?;
        self.remove_current(current.record, options.into()).await
    }

    /// Raw [`remove_local`](Self::remove_local).
    pub async fn remove_local_record(&self, key: &RecordKey) -> NodeResult<()> {
        let key = key.clone();
        self.request("remove", |reply| Command::RemoveLocal { key, reply })
            .await
    }

    /// Publishes `record` to the closest peers of its key without storing it locally, as the
    /// publisher it names. What `sync_to_network` does for each record.
    pub async fn publish_record(
        &self,
        record: Record,
        options: impl Into<PutOptions>,
    ) -> NodeResult<PutReport> {
        let options = options.into();
        self.request("publish", |reply| Command::Publish {
            record,
            options,
            reply,
        })
        .await
    }

    /// Publishes local records (all, or those of [`SyncOptions::set_prefix`]) to the closest peers
    /// of their keys, a page at a time with at most [`SyncOptions::set_concurrency`] in flight.
    /// Peers resolve each against what they hold, so this also spreads winners of conflicts.
    /// Records expiring within seconds are skipped.
    pub async fn sync_to_network(&self, options: &SyncOptions) -> NodeResult<SyncReport> {
        let started = Instant::now();
        let mut report = SyncReport::default();
        let mut in_flight = FuturesUnordered::new();
        let mut after: Option<RecordKey> = None;
        loop {
            let page = self.local_page(after.take(), options).await?;
            let full_page = page.len() >= options.batch_size;
            after = page.last().map(|record| record.key.clone());
            for record in page {
                if record
                    .expires
                    .is_some_and(|expires| expires < Instant::now() + MIN_PUBLISH_TTL)
                {
                    report.skipped += 1;
                    report.processed += 1;
                    report_progress(options, &report, None);
                    continue;
                }
                while in_flight.len() >= options.concurrency {
                    if let Some(result) = in_flight.next().await {
                        count_publish(&mut report, result);
                        report_progress(options, &report, None);
                    }
                }
                in_flight.push(self.publish_record(record, options.quorum));
            }
            if !full_page {
                break;
            }
        }
        while let Some(result) = in_flight.next().await {
            count_publish(&mut report, result);
            report_progress(options, &report, None);
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Fetches the network's view of keys (the keys of local records, or of
    /// [`SyncOptions::set_keys`]) with complete lookups, at most [`SyncOptions::set_concurrency`]
    /// at once. Each key's answers and local record are resolved by its schema's rule; winners are
    /// stored locally and sent to peers holding losing values. After every node ran it, replicas
    /// that saw conflicting writes hold the same value.
    pub async fn sync_from_network(&self, options: &SyncOptions) -> NodeResult<SyncReport> {
        let started = Instant::now();
        let mut report = SyncReport::default();
        let mut in_flight = FuturesUnordered::new();
        let total = options.keys.as_ref().map(Vec::len);
        let mut given = options.keys.clone().map(Vec::into_iter);
        let mut after: Option<RecordKey> = None;
        let mut done = false;
        while !done {
            let keys: Vec<RecordKey> = match given.as_mut() {
                Some(keys) => {
                    let page: Vec<_> = keys.by_ref().take(options.batch_size).collect();
                    done = page.len() < options.batch_size;
                    page
                }
                None => {
                    let page = self.local_page(after.take(), options).await?;
                    done = page.len() < options.batch_size;
                    after = page.last().map(|record| record.key.clone());
                    page.into_iter().map(|record| record.key).collect()
                }
            };
            for key in keys {
                while in_flight.len() >= options.concurrency {
                    if let Some(result) = in_flight.next().await {
                        count_fetch(&mut report, result);
                        report_progress(options, &report, total);
                    }
                }
                in_flight.push(self.get_raw(key, GetMode::Network));
            }
        }
        while let Some(result) = in_flight.next().await {
            count_fetch(&mut report, result);
            report_progress(options, &report, total);
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }

    fn local_page(
        &self,
        after: Option<RecordKey>,
        options: &SyncOptions,
    ) -> impl Future<Output = NodeResult<Vec<Record>>> + '_ {
        let (prefix, limit) = (options.prefix.clone(), options.batch_size);
        self.request("read local records", move |reply| Command::LocalRecords {
            after,
            prefix,
            limit,
            reply,
        })
    }

    /// Joins the network: looks up this node's own id and refreshes the routing table, and waits
    /// until that is done. Fails with [`NodeError::NoKnownPeers`] when no peer is known yet.
    pub async fn bootstrap(&self) -> NodeResult<()> {
        self.request("bootstrap", |reply| Command::Bootstrap { reply })
            .await
    }

    /// Connects to `address` (with or without a `/p2p/<peer id>` suffix) and returns the peer's id
    /// once the connection is up. The peer enters the routing table if it speaks our Kademlia
    /// protocol.
    pub async fn dial(&self, address: Multiaddr) -> NodeResult<PeerId> {
        self.request("dial", |reply| Command::Dial { address, reply })
            .await
    }

    /// Adds `address` for `peer` to the routing table without connecting to it, as
    /// [`NodeConfig::add_bootstrap_peer`](crate::NodeConfig::add_bootstrap_peer) does for the
    /// peers known at start. Lookups try the peer when it is among the closest they know; a peer
    /// that does not answer is dropped from the table again. Returns `true` if the table now
    /// holds the peer, `false` if its bucket is full (kad then checks the bucket's oldest entry
    /// and takes the peer in its place if that entry is gone) or the address does not fit the
    /// peer id.
    ///
    /// Adding 20 peers (kad's bucket size) before a [`bootstrap`](Self::bootstrap) makes the join
    /// a single bootstrap: kad bootstraps again on its own after any bootstrap during which a
    /// peer entered a routing table of fewer than 20.
    pub async fn add_address(&self, peer: PeerId, address: Multiaddr) -> NodeResult<bool> {
        self.request("add address", |reply| Command::AddAddress {
            peer,
            address,
            reply,
        })
        .await
    }

    /// The addresses this node listens on.
    pub async fn listeners(&self) -> NodeResult<Vec<Multiaddr>> {
        self.request("listeners", |reply| Command::Listeners { reply })
            .await
    }

    /// The peers with an open connection to this node.
    pub async fn connected_peers(&self) -> NodeResult<Vec<PeerId>> {
        self.request("connected peers", |reply| Command::ConnectedPeers { reply })
            .await
    }

    /// This node's counters: records stored and rejected (by reason), expired, republished, storage
    /// errors, peers.
    pub async fn stats(&self) -> NodeResult<NodeStats> {
        self.request("stats", |reply| Command::Stats { reply })
            .await
    }

    /// Commits the records received from peers now rather than at the next flush tick.
    pub async fn flush(&self) -> NodeResult<()> {
        self.request("flush", |reply| Command::Flush { reply })
            .await
    }

    /// Stops the node: commits what the store buffered, closes every connection and drops the store
    /// (so its file can be opened again), then returns. Every handle fails with
    /// [`NodeError::Stopped`] afterwards. Returns the final commit's error, if any.
    pub async fn shutdown(&self) -> NodeResult<()> {
        self.request("shutdown", |reply| Command::Shutdown { reply })
            .await
    }
}

fn count_publish(report: &mut SyncReport, result: NodeResult<PutReport>) {
    report.processed += 1;
    match result {
        Ok(_) => report.published += 1,
        Err(error) => {
            tracing::debug!(%error, "sync_to_network: a record was not published");
            report.failed += 1;
        }
    }
}

fn count_fetch(report: &mut SyncReport, result: NodeResult<FetchedRecord>) {
    report.processed += 1;
    match result {
        Ok(fetched) if fetched.stored_locally => report.updated += 1,
        Ok(_) => report.unchanged += 1,
        Err(NodeError::NotFound { .. }) => report.not_found += 1,
        Err(error) => {
            tracing::debug!(%error, "sync_from_network: a key was not fetched");
            report.failed += 1;
        }
    }
}

fn report_progress(options: &SyncOptions, report: &SyncReport, total: Option<usize>) {
    if let Some(progress) = &options.progress {
        progress(SyncProgress {
            processed: report.processed,
            failed: report.failed,
            total,
        });
    }
}

/// The value of a record the event loop returned for a typed get of `T`, which it checked as `T`
/// (an owned record's signatures included): like [`NetabaseSchema::from_record`] without verifying
/// the signatures again.
fn checked_value<T: NetabaseSchema>(record: &libp2p::kad::Record) -> NodeResult<T> {
    if !T::OWNED {
        return Ok(T::from_record(record)?);
    }
    crate::tombstone::decode_stored_trusted::<T>(record.key.as_ref(), &record.value)?
        .live()
        .ok_or_else(|| {
            crate::owned::refused::<T>(record.key.as_ref(), crate::owned::OwnershipProblem::Deleted)
                .into()
        })
}
