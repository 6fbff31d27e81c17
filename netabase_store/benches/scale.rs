//! Scale benchmark: one store at 10 000 and 1 000 000 records (and 10 000 000 with
//! `SCALE_BENCH_10M=1`), each figure side by side with raw redb doing the same work on the same
//! bytes in the same run. Prints figures and ratios; asserts nothing.
//!
//! `cargo bench -p netabase_store --bench scale`
//!
//! Per size: fill (typed `put_values`, 10 000 per durable commit, against raw redb inserting the
//! same key and value bytes 10 000 per durable commit); inbound puts (kad's `RecordStore::put` with
//! group commit, against raw redb committing the same records 512 at a time); file size; reopen
//! of the cleanly closed file (against raw redb's open, and with `set_verify_on_open(true)`);
//! point gets; a full scan; and, in a fresh process each, the resident memory of the opened store
//! and of a node serving it at rest and while working off a republish backlog, the same for an
//! empty store, and the time from the process's start to a node listening. `SCALE_BENCH_SIZES=10000,50000` picks other sizes.

#[path = "support/user.rs"]
mod user_schema;

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use libp2p::PeerId;
use libp2p::kad::store::RecordStore;
use libp2p::kad::{Record, RecordKey};
use libp2p::multihash::Multihash;
use netabase_store::{NetabaseSchema, Node, NodeConfig, NodeHandle, NodeStore, RedbStore};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use user_schema::{User, user};

const RAW: TableDefinition<&[u8], &[u8]> = TableDefinition::new("raw");
const FILL_BATCH: u64 = 10_000;
const INBOUND: u64 = 100_000;
const INBOUND_GROUP: usize = 512;
const GETS: u64 = 20_000;
/// What a child process is asked to measure, and the store it measures.
const CHILD_VAR: &str = "SCALE_BENCH_CHILD";
const CHILD_STORE_VAR: &str = "SCALE_BENCH_CHILD_STORE";
/// The most records the republishing child schedules due (the rest stay unscheduled).
const REPUBLISH_BACKLOG: u64 = 1_000_000;
/// How long the republishing child lets its node work before measuring.
const REPUBLISHING_FOR: Duration = Duration::from_secs(5);

fn key_of(id: u64) -> Vec<u8> {
    User::record_key(&user(id).key()).expect("key").to_vec()
}

fn publisher() -> PeerId {
    PeerId::from_multihash(Multihash::wrap(0x12, &[7; 32]).expect("digest")).expect("peer id")
}

/// The record a peer would send for user `id`.
fn inbound_record(id: u64) -> Record {
    let mut record = user(id).to_record().expect("record");
    record.publisher = Some(publisher());
    record.expires = Some(Instant::now() + Duration::from_secs(48 * 3600));
    record
}

/// A pseudo-random id below `n` (a fixed LCG: the same ids for Netabase and raw redb).
fn spread(i: u64, n: u64) -> u64 {
    i.wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407)
        % n
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn raw_db(path: &Path) -> redb::Database {
    redb::Database::builder()
        .set_cache_size(netabase_store::DEFAULT_CACHE_BYTES)
        .create(path)
        .expect("raw redb")
}

fn raw_insert(db: &redb::Database, rows: impl Iterator<Item = (Vec<u8>, Vec<u8>)>) {
    let txn = db.begin_write().expect("write");
    {
        let mut table = txn.open_table(RAW).expect("table");
        for (key, value) in rows {
            table
                .insert(key.as_slice(), value.as_slice())
                .expect("insert");
        }
    }
    txn.commit().expect("commit");
}

fn store_builder() -> netabase_store::RedbStoreBuilder {
    let mut builder = RedbStore::builder();
    builder
        .register::<User>()
        .set_max_records(usize::MAX)
        .set_max_unknown_records(usize::MAX);
    builder
}

struct Pair {
    netabase: f64,
    raw: f64,
}

impl Pair {
    /// `netabase / raw`: above 1 is faster for a rate, slower for a duration.
    fn ratio(&self) -> f64 {
        self.netabase / self.raw
    }
}

fn run_size(n: u64, dir: &Path) {
    let path = dir.join(format!("netabase-{n}.redb"));
    let raw_path = dir.join(format!("raw-{n}.redb"));
    println!("{n} records:");

    // Fill, alternating batches so machine noise hits both alike.
    let store = store_builder().create(&path).expect("store");
    let raw = raw_db(&raw_path);
    let (mut netabase_time, mut raw_time) = (Duration::ZERO, Duration::ZERO);
    let mut from = 0;
    while from < n {
        let to = (from + FILL_BATCH).min(n);
        let values: Vec<User> = (from..to).map(user).collect();
        let started = Instant::now();
        store.put_values(&values).expect("fill");
        netabase_time += started.elapsed();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = values
            .iter()
            .map(|value| (key_of(value.id), value.to_bytes().expect("bytes")))
            .collect();
        let started = Instant::now();
        raw_insert(&raw, rows.into_iter());
        raw_time += started.elapsed();
        from = to;
    }
    let fill = Pair {
        netabase: per_second(n, netabase_time),
        raw: per_second(n, raw_time),
    };
    println!(
        "  fill: {:.0} records/s, raw redb {:.0}/s: {:.2}x",
        fill.netabase,
        fill.raw,
        fill.ratio()
    );

    // Inbound puts of new keys, as peers send them.
    let inbound = INBOUND.min(n);
    let mut store_mut = store.clone();
    let (mut netabase_time, mut raw_time) = (Duration::ZERO, Duration::ZERO);
    let mut next = n;
    while next < n + inbound {
        let to = (next + INBOUND_GROUP as u64).min(n + inbound);
        let records: Vec<Record> = (next..to).map(inbound_record).collect();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = records
            .iter()
            .map(|record| (record.key.to_vec(), record.value.clone()))
            .collect();
        let started = Instant::now();
        for record in records {
            RecordStore::put(&mut store_mut, record).expect("inbound put");
        }
        netabase_time += started.elapsed();
        let started = Instant::now();
        raw_insert(&raw, rows.into_iter());
        raw_time += started.elapsed();
        next = to;
    }
    let started = Instant::now();
    NodeStore::flush(&mut store_mut).expect("flush");
    netabase_time += started.elapsed();
    let inbound_rate = Pair {
        netabase: per_second(inbound, netabase_time),
        raw: per_second(inbound, raw_time),
    };
    println!(
        "  inbound put ({inbound} new keys): {:.0} records/s, raw redb grouped commit of {INBOUND_GROUP} {:.0}/s: {:.2}x",
        inbound_rate.netabase,
        inbound_rate.raw,
        inbound_rate.ratio()
    );
    drop(store_mut);
    drop(store);
    drop(raw);
    let total = n + inbound;
    let size = |path: &Path| std::fs::metadata(path).expect("metadata").len() as f64 / 1e6;
    println!(
        "  file: {:.1} MB, raw redb {:.1} MB: {:.2}x",
        size(&path),
        size(&raw_path),
        size(&path) / size(&raw_path)
    );

    // Reopen of the cleanly closed files.
    let started = Instant::now();
    let store = RedbStore::open(&path).expect("reopen");
    let reopen = started.elapsed();
    assert!(!store.verified_on_open(), "a clean file is not read whole");
    drop(store);
    let started = Instant::now();
    let raw = redb::Database::builder()
        .set_cache_size(netabase_store::DEFAULT_CACHE_BYTES)
        .open(&raw_path)
        .expect("raw reopen");
    let raw_reopen = started.elapsed();
    drop(raw);
    let started = Instant::now();
    drop(
        store_builder()
            .set_verify_on_open(true)
            .open(&path)
            .expect("verified reopen"),
    );
    let verified_reopen = started.elapsed();
    println!(
        "  reopen, clean: {:.2} ms, raw redb {:.2} ms; verifying every page: {:.1} ms",
        reopen.as_secs_f64() * 1e3,
        raw_reopen.as_secs_f64() * 1e3,
        verified_reopen.as_secs_f64() * 1e3
    );

    // Point gets and a full scan.
    let store = store_builder().open(&path).expect("reopen");
    let raw = redb::Database::builder()
        .set_cache_size(netabase_store::DEFAULT_CACHE_BYTES)
        .open(&raw_path)
        .expect("raw reopen");
    let started = Instant::now();
    for i in 0..GETS {
        let id = spread(i, n);
        black_box(store.get_value::<User>(&user(id).key()).expect("get"));
    }
    let get = started.elapsed();
    let started = Instant::now();
    for i in 0..GETS {
        let key = key_of(spread(i, n));
        let txn = raw.begin_read().expect("read");
        let table = txn.open_table(RAW).expect("table");
        let value = table.get(key.as_slice()).expect("get").expect("present");
        black_box(User::from_bytes(value.value()).expect("decode"));
    }
    let raw_get = started.elapsed();
    let gets = Pair {
        netabase: get.as_secs_f64() * 1e6 / GETS as f64,
        raw: raw_get.as_secs_f64() * 1e6 / GETS as f64,
    };
    println!(
        "  point get (typed): {:.2} us, raw redb get + decode {:.2} us: {:.2}x",
        gets.netabase,
        gets.raw,
        gets.ratio()
    );
    let started = Instant::now();
    let mut scanned = 0u64;
    for record in store.scan(Vec::new()) {
        black_box(record.expect("record"));
        scanned += 1;
    }
    let scan = started.elapsed();
    let started = Instant::now();
    let mut raw_scanned = 0u64;
    {
        let txn = raw.begin_read().expect("read");
        let table = txn.open_table(RAW).expect("table");
        for row in table.iter().expect("iter") {
            let (key, value) = row.expect("row");
            // What a walk over records hands out: the key and the value, owned.
            black_box((key.value().to_vec(), value.value().to_vec()));
            raw_scanned += 1;
        }
    }
    let raw_scan = started.elapsed();
    assert_eq!(scanned, total);
    assert_eq!(raw_scanned, total);
    let scans = Pair {
        netabase: scan.as_secs_f64(),
        raw: raw_scan.as_secs_f64(),
    };
    println!(
        "  full scan: {:.3} s ({:.0} records/s), raw redb {:.3} s: {:.2}x",
        scans.netabase,
        per_second(total, scan),
        scans.raw,
        scans.ratio()
    );
    drop(store);
    drop(raw);

    print_memory(&path);
}

/// The resident memory of a fresh process holding the store at `path`, then of one running a node
/// on it at rest; then one process schedules up to [`REPUBLISH_BACKLOG`] of its records due, and a
/// last one measures a node working that backlog off (a lone node: each republication fails for
/// want of peers at once, so the job turns over as fast as it can).
fn print_memory(path: &Path) {
    for (what, label) in [
        ("store", "store opened, 1000 gets"),
        ("node", "node serving it, at rest"),
        ("schedule", "republish schedule"),
        ("republishing", "node republishing that backlog"),
    ] {
        match child(what, path) {
            Some(report) => println!("  {label}: {report}"),
            None => println!("  {label}: not measured (the child process failed)"),
        }
    }
}

/// Runs this benchmark again as a child process that measures `what` on `store` and prints one
/// line; returns the line.
fn child(what: &str, store: &Path) -> Option<String> {
    let output = Command::new(std::env::current_exe().ok()?)
        .env(CHILD_VAR, what)
        .env(CHILD_STORE_VAR, store)
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        return None;
    }
    Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The resident memory of this process, from `/proc/self/status` (Linux).
fn resident_mb() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or_else(|| "n/a".to_owned(), |kb| format!("{:.1} MB", kb / 1024.0))
}

/// Runs a node on `store` with `config` listening on loopback, runs `measure` with its handle, and
/// returns what `measure` returned once the node has stopped.
fn with_node<F, Fut>(store: RedbStore, mut config: NodeConfig, measure: F) -> String
where
    F: FnOnce(NodeHandle) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        config.set_listen_addrs(vec!["/ip4/127.0.0.1/tcp/0".parse().expect("address")]);
        let (handle, task) = Node::spawn(config, store).await.expect("node");
        let report = measure(handle.clone()).await;
        handle.shutdown().await.expect("shutdown");
        task.await.expect("task");
        report
    })
}

/// The child's part: what it measures goes to stdout as one line.
fn run_child(what: &str, path: &Path, started: Instant) {
    let store = store_builder().open(path).expect("child store");
    match what {
        "store" => {
            let n = store.record_count().expect("count").max(1);
            for i in 0..1000 {
                black_box(
                    store
                        .get_value::<User>(&user(spread(i, n)).key())
                        .expect("get"),
                );
            }
            println!("resident {}", resident_mb());
        }
        "node" => {
            let report = with_node(store, NodeConfig::new(), |handle| async move {
                let listening = loop {
                    if !handle.listeners().await.expect("listeners").is_empty() {
                        break started.elapsed();
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                };
                tokio::time::sleep(Duration::from_secs(2)).await;
                format!(
                    "resident {}; start to listening {:.1} ms",
                    resident_mb(),
                    listening.as_secs_f64() * 1e3
                )
            });
            println!("{report}");
        }
        "schedule" => {
            let mut store = store;
            let backlog = store.record_count().expect("count").min(REPUBLISH_BACKLOG);
            let due = SystemTime::now() - Duration::from_secs(1);
            let mut from = 0;
            while from < backlog {
                let to = (from + FILL_BATCH).min(backlog);
                let keys: Vec<RecordKey> =
                    (from..to).map(|id| RecordKey::new(&key_of(id))).collect();
                store.schedule_republish_all(&keys, due).expect("schedule");
                from = to;
            }
            println!("{backlog} records due");
        }
        "republishing" => {
            let backlog = store.record_count().expect("count").min(REPUBLISH_BACKLOG);
            // No rate limit: the job runs as fast as it can, the most it ever holds at once.
            let mut config = NodeConfig::new();
            config.set_republish_rate(None);
            let report = with_node(store, config, |handle| async move {
                tokio::time::sleep(REPUBLISHING_FOR).await;
                let stats = handle.stats().await.expect("stats");
                format!(
                    "resident {}; {} of {backlog} due records republished in {} s",
                    resident_mb(),
                    stats.republished + stats.republish_failed,
                    REPUBLISHING_FOR.as_secs()
                )
            });
            println!("{report}");
        }
        other => panic!("unknown child task {other}"),
    }
}

fn main() {
    let started = Instant::now();
    if let (Ok(what), Ok(path)) = (std::env::var(CHILD_VAR), std::env::var(CHILD_STORE_VAR)) {
        run_child(&what, Path::new(&path), started);
        return;
    }
    let mut sizes: Vec<u64> = std::env::var("SCALE_BENCH_SIZES")
        .ok()
        .map(|sizes| {
            sizes
                .split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![10_000, 1_000_000]);
    if std::env::var("SCALE_BENCH_10M").is_ok_and(|v| v == "1") {
        sizes.push(10_000_000);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.redb");
    drop(store_builder().create(&empty).expect("empty store"));
    println!("empty store:");
    print_memory(&empty);
    for n in sizes {
        run_size(n, dir.path());
    }
}
