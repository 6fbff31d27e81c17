//! The workload: writers putting the records, readers getting a sample of them through the DHT.

use std::collections::HashSet;
use std::time::Instant;

use futures::StreamExt;
use netabase_store::NetabaseSchema;
use netabase_store::kad::{Quorum, RecordKey};
use netabase_store::owned::Owner;
use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::network::{Client, SimNetwork};
use crate::report::Operations;

/// The records the simulation writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "sim")]
pub struct SimRecord {
    /// Which record of the run.
    #[key]
    pub id: u64,
    /// The index of the node that wrote it.
    pub writer: u64,
}

/// The owned records the simulation writes with `--owned`: each signed by its writer's node
/// identity, so only that writer can change it, and every holder checks the signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "sim-owned", owned)]
pub struct OwnedSimRecord {
    /// The writer's public key.
    #[key]
    pub owner: Owner,
    /// Which record of the run.
    #[key]
    pub id: u64,
    /// The index of the node that wrote it.
    pub writer: u64,
}

/// The writer of record `id`: `writers[id % writers.len()]`.
fn writer_of(writers: &[usize], id: u64) -> Option<usize> {
    writers
        .get(usize::try_from(id).ok()? % writers.len().max(1))
        .copied()
}

/// The writers, and which records sit at them because the workload put them there rather than
/// the DHT: each writer's own records, and those its sampled gets stored at it. The survival
/// counts leave those copies out, so a record that only its writer and its readers hold counts
/// as lost.
#[derive(Debug, Clone)]
pub(crate) struct Writers {
    indices: Vec<usize>,
    /// (reader, record id) of every sampled get so far.
    read: HashSet<(usize, u64)>,
}

impl Writers {
    pub(crate) fn new(indices: Vec<usize>) -> Self {
        Writers {
            indices,
            read: HashSet::new(),
        }
    }

    /// The writers' node indices.
    pub(crate) fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// Whether a copy of record `id` at writer `writer` can only have come from the DHT: the
    /// record is not the writer's own, and the writer never read it.
    pub(crate) fn placed_by_dht(&self, writer: usize, id: u64) -> bool {
        writer_of(&self.indices, id) != Some(writer) && !self.read.contains(&(writer, id))
    }
}

/// The key record `id` has in the DHT: a [`SimRecord`]'s, or with `owned` an
/// [`OwnedSimRecord`]'s under its writer's key.
fn record_key(network: &SimNetwork, writers: &[usize], id: u64, owned: bool) -> Option<RecordKey> {
    if owned {
        let owner = network.author(writer_of(writers, id)?)?.owner();
        OwnedSimRecord::record_key(&OwnedSimRecordKey { owner, id }).ok()
    } else {
        SimRecord::record_key(&SimRecordKey(id)).ok()
    }
}

/// Puts records `0..records`, record `i` from writer `writers[i % writers.len()]` (with `owned`,
/// as [`OwnedSimRecord`]s signed by the writer), with quorum one and up to `at_once` in flight.
/// Returns what they did and, summed, how many closest peers each successful put found to send
/// the record to.
///
/// The puts hold their writers' handles, not the network, so the network can change (churn)
/// while they run; writers never leave.
pub(crate) fn put_all(
    network: &SimNetwork,
    writers: &[usize],
    records: u64,
    at_once: usize,
    owned: bool,
) -> impl Future<Output = (Operations, u64)> + Send + use<> {
    let puts: Vec<_> = (0..records)
        .filter_map(|id| {
            let writer = writer_of(writers, id)?;
            let client = network.client(writer)?;
            let author = if owned {
                Some(network.author(writer)?)
            } else {
                None
            };
            Some(async move {
                let started = Instant::now();
                let record = SimRecord {
                    id,
                    writer: writer as u64,
                };
                let stored = match (client, author) {
                    (Client::Netabase(handle), Some(author)) => {
                        let record = OwnedSimRecord {
                            owner: author.owner(),
                            id,
                            writer: writer as u64,
                        };
                        let put = handle.put_owned(&author, &record, Quorum::One).await;
                        put.ok().map(|report| report.peers_found)
                    }
                    (Client::Netabase(handle), None) => {
                        let put = handle.put(&record, Quorum::One).await;
                        put.ok().map(|report| report.peers_found)
                    }
                    // Scenario::check refuses owned records on plain kad nodes; kad does not say
                    // how many peers a put reached.
                    (Client::Plain(plain), _) => match record.to_record() {
                        Ok(record) => plain.put(record).await.then_some(0),
                        Err(_) => None,
                    },
                };
                (started.elapsed(), stored)
            })
        })
        .collect();
    let faults = network.faults().clone();
    async move {
        let mut results = futures::stream::iter(puts).buffer_unordered(at_once);
        let mut operations = Operations::default();
        let mut sent_to = 0u64;
        let started = Instant::now();
        // Progress at every tenth of the records.
        let tenth = (records / 10).max(1);
        while let Some((latency, result)) = results.next().await {
            match result {
                Some(stored) => {
                    operations.succeeded(latency);
                    sent_to += stored as u64;
                }
                None => operations.failed(),
            }
            let done = operations.ok + operations.failed;
            if done % tenth == 0 {
                tracing::info!(
                    "{done} of {records} records put in {:.1} s ({} connections dialled)",
                    started.elapsed().as_secs_f64(),
                    faults.counts().dials,
                );
            }
        }
        (operations, sent_to)
    }
}

/// Gets `count` records chosen at random below `records` through the DHT (never from the
/// reader's own store), up to `at_once` at a time. Each is read by a random writer other than its
/// own, as probe-lab's measurements read from a probe: a get stores what it found at its reader,
/// and a server reading would become a holder the survival counts would include; `writers`
/// remembers the reads so those counts leave the copies they store out.
pub(crate) async fn get_sample(
    network: &SimNetwork,
    writers: &mut Writers,
    records: u64,
    owned: bool,
    count: usize,
    at_once: usize,
    rng: &mut StdRng,
) -> Operations {
    let mut operations = Operations::default();
    let indices = &writers.indices;
    if records == 0 || indices.is_empty() {
        return operations;
    }
    let mut read = Vec::with_capacity(count);
    let gets: Vec<_> = (0..count)
        .filter_map(|_| {
            let id = rng.random_range(0..records);
            let own = usize::try_from(id).ok()? % indices.len();
            // Any writer but the record's own (which holds it), unless there is only that one.
            let reader = match indices.len() {
                1 => indices[0],
                n => {
                    let pick = rng.random_range(0..n - 1);
                    indices[if pick >= own { pick + 1 } else { pick }]
                }
            };
            let client = network.client(reader)?;
            let key = record_key(network, indices, id, owned)?;
            read.push((reader, id));
            Some(async move {
                let started = Instant::now();
                let queried = match client {
                    // The raw get validates every answer by the schema its key names (an owned
                    // record's signature included) before it can win, as a typed get does, and
                    // says how many peers it asked.
                    Client::Netabase(handle) => handle
                        .get_record_from_network(&key)
                        .await
                        .ok()
                        .filter(|fetched| fetched.record.key == key)
                        .map(|fetched| fetched.queried_peers),
                    Client::Plain(plain) => plain.get(key).await,
                };
                (started.elapsed(), queried)
            })
        })
        .collect();
    writers.read.extend(read);
    let mut results = futures::stream::iter(gets).buffer_unordered(at_once);
    while let Some((latency, queried)) = results.next().await {
        if let Some(queried) = queried {
            operations.succeeded_asking(latency, queried);
        } else {
            operations.failed();
        }
    }
    operations
}
