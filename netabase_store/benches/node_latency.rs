//! Node benchmark: put and get latency on a 20-node loopback network, Netabase nodes (redb file and
//! redb in-memory stores) against plain rust-libp2p kad nodes with `MemoryStore`, and the
//! throughput of `sync_to_network` for 10,000 records. Prints figures; asserts nothing.
//!
//! `cargo bench -p netabase_store --bench node_latency`
//! Environment: `NODE_BENCH_SAMPLES` (default 300) operations per measurement,
//! `NODE_BENCH_SYNC_RECORDS` (default 10000).

#[path = "../tests/node_support/mod.rs"]
mod node_support;

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use netabase_store::kad::{Quorum, Record};
use netabase_store::{NetabaseDatabaseExt, NetabaseSchema, NodeConfig, RedbStore, SyncOptions};
use node_support::*;

const NODES: usize = 20;
/// Each record lives on the 5 peers closest to its key, so most readers hold no copy and every get
/// is a real lookup (with the default 20, every node of a 20-node network holds every record).
const REPLICATION: usize = 5;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

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

fn bench_config() -> NodeConfig {
    let mut config = fast_config(Net::Tcp);
    // The default flush interval: the tests' 50 ms would add fsyncs a deployment does not make.
    config
        .set_replication_factor(replication())
        .set_flush_interval(NodeConfig::new().flush_interval());
    config
}

async fn netabase_network(backend: &Backend) -> (Vec<TestNode>, RedbStore) {
    let mut nodes = Vec::with_capacity(NODES);
    let first_store = store(backend, 0);
    for index in 0..NODES {
        let store = if index == 0 {
            first_store.clone()
        } else {
            store(backend, index)
        };
        let node = start_node(bench_config(), store, nodes.first()).await;
        nodes.push(node);
    }
    connect_all(&nodes).await;
    (nodes, first_store)
}

async fn netabase_latencies(
    nodes: &[TestNode],
    samples: usize,
    offset: usize,
) -> (Latencies, Latencies) {
    let mut puts = Vec::with_capacity(samples);
    let mut gets = Vec::with_capacity(samples);
    for i in 0..samples {
        let v = value(offset + i);
        let writer = &nodes[i % NODES].handle;
        let started = Instant::now();
        writer.put(&v, Quorum::One).await.expect("put");
        puts.push(started.elapsed());
    }
    for i in 0..samples {
        let v = value(offset + i);
        // A reader that holds no copy, so the get goes to the network.
        let mut reader = None;
        for step in 1..NODES {
            let candidate = &nodes[(i + step * 7) % NODES].handle;
            if candidate
                .get_local::<Profile>(&v.key())
                .await
                .expect("local")
                .is_none()
            {
                reader = Some(candidate);
                break;
            }
        }
        let Some(reader) = reader else { continue };
        let started = Instant::now();
        let got = reader.get::<Profile>(&v.key()).await.expect("get");
        gets.push(started.elapsed());
        assert_eq!(got, v);
    }
    (Latencies(puts), Latencies(gets))
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

async fn plain_latencies(nodes: &[PlainNode], samples: usize) -> (Latencies, Latencies) {
    let mut puts = Vec::with_capacity(samples);
    let mut gets = Vec::with_capacity(samples);
    for i in 0..samples {
        let record: Record = value(i).to_record().expect("record");
        let started = Instant::now();
        nodes[i % NODES]
            .put(record, Quorum::One)
            .await
            .expect("plain put");
        puts.push(started.elapsed());
    }
    for i in 0..samples {
        let v = value(i);
        let key = Profile::record_key(&v.key()).expect("key");
        let started = Instant::now();
        // The plain get always asks the network and ends at the first answer from a peer.
        let (record, _) = nodes[(i + 7) % NODES].get(key).await.expect("plain get");
        gets.push(started.elapsed());
        assert_eq!(record.value, v.to_bytes().expect("bytes"));
    }
    (Latencies(puts), Latencies(gets))
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
    let samples = env_usize("NODE_BENCH_SAMPLES", 300);
    let sync_records = env_usize("NODE_BENCH_SYNC_RECORDS", 10_000);
    println!(
        "{NODES} nodes on loopback TCP, replication factor {REPLICATION}, quorum one, {samples} sequential operations each"
    );

    let plain = plain_network().await;
    let (plain_puts, plain_gets) = plain_latencies(&plain, samples).await;
    print_row("plain kad + MemoryStore", &plain_puts, &plain_gets);
    drop(plain);

    let (nodes, _) = netabase_network(&Backend::Memory).await;
    let (puts, gets) = netabase_latencies(&nodes, samples, 0).await;
    print_row("netabase, redb in-memory", &puts, &gets);
    let ratio = |a: &Latencies, b: &Latencies| a.summary().0 / b.summary().0;
    println!(
        "  median ratio to plain kad: put {:.2}x, get {:.2}x",
        ratio(&puts, &plain_puts),
        ratio(&gets, &plain_gets)
    );
    stop_all(nodes).await;

    let dir = tempfile::tempdir().expect("temp dir");
    println!("redb files in {}", dir.path().display());
    let backend = Backend::File(dir);
    let (nodes, first_store) = netabase_network(&backend).await;
    let (puts, gets) = netabase_latencies(&nodes, samples, 0).await;
    print_row("netabase, redb file", &puts, &gets);
    println!(
        "  median ratio to plain kad: put {:.2}x, get {:.2}x",
        ratio(&puts, &plain_puts),
        ratio(&gets, &plain_gets)
    );

    // sync_to_network: records written straight into node 0's store, then published.
    let records: Vec<Record> = (0..sync_records)
        .map(|i| value(1_000_000 + i).to_record().expect("record"))
        .collect();
    let mut writer = first_store.clone();
    NetabaseDatabaseExt::<ProfileKey, Profile>::put_records_batch(&mut writer, records)
        .await
        .expect("batch write");
    let mut options = SyncOptions::new();
    options.set_prefix(Profile::record_prefix());
    let started = Instant::now();
    let report = nodes[0]
        .handle
        .sync_to_network(&options)
        .await
        .expect("sync");
    println!(
        "sync_to_network: {} records ({} published, {} failed, {} skipped) in {:.2} s = {:.0} records/s (batch {}, concurrency {})",
        report.processed,
        report.published,
        report.failed,
        report.skipped,
        started.elapsed().as_secs_f64(),
        report.records_per_second(),
        256,
        32
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
