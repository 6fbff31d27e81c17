//! The workload: writers putting records from random nodes, then readers getting each from a
//! random node through the DHT.

use std::num::NonZeroUsize;
use std::time::Instant;

use netabase_store::NetabaseSchema;
use netabase_store::kad::Quorum;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::network::{SimError, SimNetwork};
use crate::report::Report;

/// The records the simulation writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "sim")]
pub struct SimRecord {
    /// Which record of the run.
    #[key]
    pub id: u64,
    /// Which node wrote it.
    pub writer: u64,
}

/// What a simulation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// How many nodes.
    pub nodes: usize,
    /// How many records are put (each by a random node) and then got (each by a random node).
    pub records: u64,
    /// Every random choice of the run comes from this seed.
    pub seed: u64,
    /// The nodes' replication factor (kad's `k`).
    pub replication: NonZeroUsize,
    /// How many earlier nodes each node joins through.
    pub bootstrap_peers: usize,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            nodes: 50,
            records: 100,
            seed: 1,
            replication: NonZeroUsize::new(20).expect("non-zero"),
            bootstrap_peers: 3,
        }
    }
}

/// Runs `scenario`: starts its network, puts every record from a random node (quorum one),
/// gets each from a random node through the DHT (never from its own store), stops the network,
/// and reports.
pub async fn run(scenario: &Scenario) -> Result<Report, SimError> {
    let mut rng = StdRng::seed_from_u64(scenario.seed);
    let started = Instant::now();
    let network = SimNetwork::start(
        scenario.nodes,
        scenario.replication,
        scenario.bootstrap_peers,
        &mut rng,
    )
    .await?;
    let mut report = Report::new(scenario, started.elapsed());
    for id in 0..scenario.records {
        let writer = rng.random_range(0..network.len());
        let Some(handle) = network.handle(writer) else {
            continue;
        };
        let record = SimRecord {
            id,
            writer: writer as u64,
        };
        let started = Instant::now();
        match handle.put(&record, Quorum::One).await {
            Ok(put) => report.put_succeeded(started.elapsed(), put.peers_found),
            Err(_) => report.put_failed(),
        }
    }
    for id in 0..scenario.records {
        let reader = rng.random_range(0..network.len());
        let Some(handle) = network.handle(reader) else {
            continue;
        };
        let started = Instant::now();
        match handle
            .get_from_network::<SimRecord>(&SimRecordKey(id))
            .await
        {
            Ok(found) if found.id == id => report.get_succeeded(started.elapsed()),
            _ => report.get_failed(),
        }
    }
    network.stop().await;
    Ok(report)
}
