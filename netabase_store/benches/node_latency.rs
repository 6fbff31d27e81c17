//! Node benchmark: put and get latency on a 20-node loopback network, Netabase nodes (redb file and
//! redb in-memory stores, validated acknowledgements; and redb files with kad acknowledgements)
//! against plain rust-libp2p kad nodes with `MemoryStore`, and the throughput of
//! `sync_to_network` for 10,000 records. Prints figures; asserts nothing.
//!
//! `cargo bench -p netabase_store --bench node_latency`
//! Environment: `NODE_BENCH_SAMPLES` (default 300) operations per measurement,
//! `NODE_BENCH_SYNC_RECORDS` (default 10000), `NODE_BENCH_SYNC_CONCURRENCY` (default 32, the
//! `SyncOptions` default).

#[path = "support/env.rs"]
mod bench_env;
#[path = "../tests/node/support.rs"]
#[allow(
    dead_code,
    reason = "the node tests' helpers; this benchmark uses only some"
)]
mod node_support;

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use bench_env::env_or;
use netabase_store::kad::{Quorum, Record};
use netabase_store::{
    Acknowledgements, NetabaseDatabaseExt, NetabaseSchema, NodeConfig, RedbStore, SyncOptions,
};
use node_support::*;

const NODES: usize = 20;
/// Each record lives on the 5 peers closest to its key, so most readers hold no copy and every get
/// is a real lookup (with the default 20, every node of a 20-node network holds every record).
const REPLICATION: usize = 5;

fn replication() -> NonZeroUsize {
    NonZeroUsize::new(REPLICATION).expect("non-zero")
}

#[derive(Debug)]
struct Latencies(Vec<Duration>);

impl Latencies {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index.min(sorted.len() - 1)]
    }

    fn summary(&self) -> (f64, f64) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        (ms(self.percentile(0.5)), ms(self.percentile(0.99)))
    }
}

fn value(i: usize) -> Profile {
    Profile {
        id: i as u64,
        name: format!("benchmark profile number {i} with a little text to make it realistic"),
    }
}

enum Backend {
    File(tempfile::TempDir),
    Memory,
}

fn store(backend: &Backend, index: usize) -> RedbStore {
    let mut builder = RedbStore::builder();
    builder.register::<Profile>().register::<Page>();
    match backend {
        Backend::File(dir) => builder
            .create(dir.path().join(format!("node{index}.redb")))
            .expect("store file"),
        Backend::Memory => builder.in_memory().expect("memory store"),
    }
}

fn bench_config(acknowledgements: Acknowledgements) -> NodeConfig {
    let mut config = fast_config(Net::Tcp);
    // The default flush interval: the tests' 50 ms would add fsyncs a deployment does not make.
    config
        .set_replication_factor(replication())
        .set_flush_interval(NodeConfig::new().flush_interval())
        .set_acknowledgements(acknowledgements);
    config
}

async fn netabase_network(
    backend: &Backend,
    acknowledgements: Acknowledgements,
) -> (Vec<TestNode>, RedbStore) {
    let mut nodes = Vec::with_capacity(NODES);
    let first_store = store(backend, 0);
    for index in 0..NODES {
        let store = if index == 0 {
            first_store.clone()
        } else {
            store(backend, index)
        };
        let node = start_node(bench_config(acknowledgements), store, nodes.first()).await;
        nodes.push(node);
    }
    connect_all(&nodes).await;
    (nodes, first_store)
}

/// One network under test.
enum Network {
    Plain(Vec<PlainNode>),
    Netabase(Vec<TestNode>),
}

impl Network {
    async fn put(&self, i: usize) -> Duration {
        let v = value(i);
        let started = Instant::now();
        match self {
            Network::Plain(nodes) => nodes[i % NODES]
                .put(v.to_record().expect("record"), Quorum::One)
                .await
                .expect("plain put"),
            Network::Netabase(nodes) => {
                nodes[i % NODES]
                    .handle
                    .put(&v, Quorum::One)
                    .await
                    .expect("put");
            }
        }
        started.elapsed()
    }

    /// A get from a node that holds no copy, so it goes to the network. (The plain get always
    /// asks the network, ending at the first answer from a peer.)
    async fn get(&self, i: usize) -> Duration {
        let v = value(i);
        match self {
            Network::Plain(nodes) => {
                let key = Profile::record_key(&v.key()).expect("key");
                let started = Instant::now();
                let (record, _) = nodes[(i + 7) % NODES].get(key).await.expect("plain get");
                let elapsed = started.elapsed();
                assert_eq!(record.value, v.to_bytes().expect("bytes"));
                elapsed
            }
            Network::Netabase(nodes) => {
                let mut reader = None;
                for step in 1..NODES {
                    let candidate = &nodes[(i + step * 7) % NODES].handle;
                    let local = candidate
                        .get_local::<Profile>(&v.key())
                        .await
                        .expect("local");
                    if local.is_none() {
                        reader = Some(candidate);
                        break;
                    }
                }
                let reader = reader.expect("with replication 5 of 20, some node holds no copy");
                let started = Instant::now();
                let got = reader.get::<Profile>(&v.key()).await.expect("get");
                let elapsed = started.elapsed();
                assert_eq!(got, v);
                elapsed
            }
        }
    }
}

async fn plain_network() -> Vec<PlainNode> {
    let options = PlainOptions {
        replication_factor: replication(),
        ..PlainOptions::default()
    };
    let mut nodes: Vec<PlainNode> = Vec::with_capacity(NODES);
    for _ in 0..NODES {
        nodes.push(PlainNode::start(options.clone()).await);
    }
    // Plain kad without identify cannot learn the listen address of a peer that dialed it, so
    // every node is given every other node's address, as a static peer list would.
    for node in &nodes {
        for other in &nodes {
            if other.peer_id != node.peer_id {
                node.add_peer(other.peer_id, other.addr.clone()).await;
            }
        }
    }
    for node in &nodes {
        node.bootstrap().await;
        assert!(node.routing_table_size().await >= NODES - 1);
    }
    nodes
}

fn print_row(name: &str, puts: &Latencies, gets: &Latencies) {
    let (put_median, put_p99) = puts.summary();
    let (get_median, get_p99) = gets.summary();
    println!(
        "{name:<28} put median {put_median:>7.2} ms  p99 {put_p99:>7.2} ms   get median {get_median:>7.2} ms  p99 {get_p99:>7.2} ms   ({} puts, {} gets)",
        puts.0.len(),
        gets.0.len()
    );
}

async fn run() {
    let samples = env_or::<usize>("NODE_BENCH_SAMPLES", 300);
    let sync_records = env_or::<usize>("NODE_BENCH_SYNC_RECORDS", 10_000);
    let concurrency = env_or::<usize>("NODE_BENCH_SYNC_CONCURRENCY", 32);
    println!(
        "{NODES} nodes per network on loopback TCP, replication factor {REPLICATION}, quorum one; \
         {samples} sequential puts then gets per network, interleaved across the networks"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    println!("redb files in {}", dir.path().display());
    let file_backend = Backend::File(dir);
    let kad_dir = tempfile::tempdir().expect("temp dir");
    let kad_backend = Backend::File(kad_dir);
    let plain = Network::Plain(plain_network().await);
    let (memory_nodes, _) = netabase_network(&Backend::Memory, Acknowledgements::Validated).await;
    let memory = Network::Netabase(memory_nodes);
    let (file_nodes, first_store) =
        netabase_network(&file_backend, Acknowledgements::Validated).await;
    let file = Network::Netabase(file_nodes);
    let (kad_nodes, _) = netabase_network(&kad_backend, Acknowledgements::Kad).await;
    let kad_acks = Network::Netabase(kad_nodes);
    let networks = [
        ("plain kad + MemoryStore", &plain),
        ("netabase, redb in-memory", &memory),
        ("netabase, redb file", &file),
        ("netabase, file, kad acks", &kad_acks),
    ];

    // Warm up connections and caches; not measured.
    let warmup = 20;
    for i in 0..warmup {
        for (_, network) in networks {
            network.put(i).await;
        }
    }
    let mut puts = vec![Vec::new(); networks.len()];
    let mut gets = vec![Vec::new(); networks.len()];
    // One operation on each network in turn, so load from elsewhere on the machine lands on all.
    for i in warmup..warmup + samples {
        for (n, (_, network)) in networks.iter().enumerate() {
            puts[n].push(network.put(i).await);
        }
    }
    for i in warmup..warmup + samples {
        for (n, (_, network)) in networks.iter().enumerate() {
            gets[n].push(network.get(i).await);
        }
    }
    let puts: Vec<Latencies> = puts.into_iter().map(Latencies).collect();
    let gets: Vec<Latencies> = gets.into_iter().map(Latencies).collect();
    for (n, (name, _)) in networks.iter().enumerate() {
        print_row(name, &puts[n], &gets[n]);
    }
    let ratio = |a: &Latencies, b: &Latencies| a.summary().0 / b.summary().0;
    println!(
        "validated vs kad acknowledgements (both redb file): put median {:.2}x, p99 {:.2}x",
        ratio(&puts[2], &puts[3]),
        puts[2].summary().1 / puts[3].summary().1,
    );
    for n in 1..networks.len() {
        println!(
            "{:<28} median vs plain kad: put {:.2}x, get {:.2}x; p99 vs plain: put {:.2}x, get {:.2}x",
            networks[n].0,
            ratio(&puts[n], &puts[0]),
            ratio(&gets[n], &gets[0]),
            puts[n].summary().1 / puts[0].summary().1,
            gets[n].summary().1 / gets[0].summary().1,
        );
    }

    // Throughput: plain kad put_record of `sync_records` records from one node, for reference...
    let Network::Plain(plain_nodes) = &plain else {
        unreachable!("the first network is plain")
    };
    let started = Instant::now();
    let mut in_flight = futures::stream::FuturesUnordered::new();
    let mut stored = 0;
    for i in 0..sync_records {
        if in_flight.len() >= concurrency
            && let Some(result) = futures::StreamExt::next(&mut in_flight).await
        {
            stored += usize::from(matches!(result, Ok(())));
        }
        let record = value(2_000_000 + i).to_record().expect("record");
        in_flight.push(plain_nodes[0].put(record, Quorum::One));
    }
    while let Some(result) = futures::StreamExt::next(&mut in_flight).await {
        stored += usize::from(matches!(result, Ok(())));
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(in_flight);
    println!(
        "plain kad put_record, {sync_records} records from one node, {concurrency} at once: \
         {stored} stored in {seconds:.2} s = {:.0} records/s",
        sync_records as f64 / seconds
    );
    drop(plain);
    let Network::Netabase(memory_nodes) = memory else {
        unreachable!("the second network is netabase")
    };
    stop_all(memory_nodes).await;
    let Network::Netabase(kad_nodes) = kad_acks else {
        unreachable!("the fourth network is netabase")
    };
    stop_all(kad_nodes).await;

    // ...and sync_to_network of as many records written straight into node 0's redb file.
    let Network::Netabase(nodes) = file else {
        unreachable!("the third network is netabase")
    };
    let records: Vec<Record> = (0..sync_records)
        .map(|i| value(1_000_000 + i).to_record().expect("record"))
        .collect();
    let mut writer = first_store.clone();
    NetabaseDatabaseExt::<ProfileKey, Profile>::put_records_batch(&mut writer, records)
        .await
        .expect("batch write");
    let mut options = SyncOptions::new();
    options
        .set_prefix(Profile::record_prefix())
        .set_concurrency(concurrency);
    let started = Instant::now();
    let report = nodes[0]
        .handle
        .sync_to_network(&options)
        .await
        .expect("sync");
    println!(
        "netabase sync_to_network (redb file): {} records ({} published, {} failed, {} skipped) \
         in {:.2} s = {:.0} records/s (batch 256, concurrency {concurrency})",
        report.processed,
        report.published,
        report.failed,
        report.skipped,
        started.elapsed().as_secs_f64(),
        report.records_per_second(),
    );
    stop_all(nodes).await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}
