//! Owned-record benchmark: what signing costs. In one run: signing and verification per record;
//! owned against unowned puts and gets on one redb file store; and owned against unowned puts and
//! gets on a 20-node loopback network (replication 5, validated acknowledgements), alternating
//! the two kinds so machine noise hits both alike. Prints figures and ratios; asserts nothing.
//!
//! `cargo bench -p netabase_store --bench owned`
//! Environment: `OWNED_BENCH_RECORDS` (default 5000) for the codec and store parts,
//! `OWNED_BENCH_SAMPLES` (default 300) network operations per kind.

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
use netabase_store::owned::{Author, OwnedWrite, Owner};
use netabase_store::tombstone::decode_record;
use netabase_store::{NetabaseSchema, NodeConfig, NodeStore, RedbStore};
use node_support::*;
use serde::{Deserialize, Serialize};

const NODES: usize = 20;

/// The owned twin of the tests' `Profile`: same fields, plus the owner in the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "bench", owned)]
struct OwnedProfile {
    #[key]
    owner: Owner,
    #[key]
    id: u64,
    name: String,
}

fn name(i: usize) -> String {
    format!("benchmark profile number {i} with a little text to make it realistic")
}

fn plain(i: usize) -> Profile {
    Profile {
        id: i as u64,
        name: name(i),
    }
}

fn owned(author: &Author, i: usize) -> OwnedProfile {
    OwnedProfile {
        owner: author.owner(),
        id: i as u64,
        name: name(i),
    }
}

fn per_record(elapsed: Duration, n: usize) -> f64 {
    elapsed.as_secs_f64() * 1e6 / n as f64
}

fn median_ms(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn codec(author: &Author, n: usize) {
    let write = OwnedWrite::after(None);
    let started = Instant::now();
    let signed: Vec<Record> = (0..n)
        .map(|i| author.sign(&owned(author, i), &write).expect("sign"))
        .collect();
    let sign = started.elapsed();
    let started = Instant::now();
    for record in &signed {
        decode_record::<OwnedProfile>(record).expect("verifies");
    }
    let verify = started.elapsed();
    let records: Vec<Record> = (0..n)
        .map(|i| plain(i).to_record().expect("record"))
        .collect();
    let started = Instant::now();
    for record in &records {
        decode_record::<Profile>(record).expect("decodes");
    }
    let decode = started.elapsed();
    println!("codec, {n} records:");
    println!(
        "  sign (encode + ed25519 sign): {:.1} us/record; unowned to_record: {:.1} us/record",
        per_record(sign, n),
        {
            let started = Instant::now();
            for i in 0..n {
                std::hint::black_box(plain(i).to_record().expect("record"));
            }
            per_record(started.elapsed(), n)
        }
    );
    println!(
        "  verify (decode + ed25519 verify): {:.1} us/record; unowned decode: {:.1} us/record",
        per_record(verify, n),
        per_record(decode, n)
    );
    let size = signed[0].value.len();
    let plain_size = records[0].value.len();
    println!(
        "  value size: owned {size} B, unowned {plain_size} B (+{} B)",
        size - plain_size
    );
}

fn store_part(author: &Author, n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = RedbStore::builder()
        .register::<Profile>()
        .register::<OwnedProfile>()
        .create(dir.path().join("bench.redb"))
        .expect("store");
    let (mut plain_put, mut owned_put) = (Duration::ZERO, Duration::ZERO);
    let write = OwnedWrite::after(None);
    // Alternating batches of 100 of each kind; each put is durable (the typed default).
    for batch in (0..n).step_by(100) {
        let range = batch..(batch + 100).min(n);
        let started = Instant::now();
        for i in range.clone() {
            store.put_value(&plain(i)).expect("put");
        }
        plain_put += started.elapsed();
        let started = Instant::now();
        for i in range {
            let record = author.sign(&owned(author, i), &write).expect("sign");
            store.put_local(record).expect("owned put");
        }
        owned_put += started.elapsed();
    }
    let (mut plain_get, mut owned_get) = (Duration::ZERO, Duration::ZERO);
    for i in 0..n {
        let started = Instant::now();
        store.get_value::<Profile>(&plain(i).key()).expect("get");
        plain_get += started.elapsed();
        let started = Instant::now();
        store
            .get_value::<OwnedProfile>(&owned(author, i).key())
            .expect("owned get");
        owned_get += started.elapsed();
    }
    println!("one redb file store, {n} records of each kind:");
    println!(
        "  put (durable): unowned {:.1} us, owned (sign + verify + mark) {:.1} us: {:.2}x",
        per_record(plain_put, n),
        per_record(owned_put, n),
        owned_put.as_secs_f64() / plain_put.as_secs_f64()
    );
    println!(
        "  get (typed, verified): unowned {:.1} us, owned {:.1} us: {:.2}x",
        per_record(plain_get, n),
        per_record(owned_get, n),
        owned_get.as_secs_f64() / plain_get.as_secs_f64()
    );
}

fn bench_config() -> NodeConfig {
    let mut config = fast_config(Net::Tcp);
    config
        .set_replication_factor(NonZeroUsize::new(5).expect("non-zero"))
        .set_flush_interval(NodeConfig::new().flush_interval())
        .register::<OwnedProfile>();
    config
}

async fn network_part(author: &Author, samples: usize) {
    let mut nodes: Vec<TestNode> = Vec::with_capacity(NODES);
    for _ in 0..NODES {
        let store = RedbStore::builder()
            .register::<Profile>()
            .register::<Page>()
            .register::<OwnedProfile>()
            .in_memory()
            .expect("store");
        let node = start_node(bench_config(), store, nodes.first()).await;
        nodes.push(node);
    }
    connect_all(&nodes).await;
    let (mut plain_puts, mut owned_puts) = (Vec::new(), Vec::new());
    for i in 0..samples {
        let node = &nodes[i % NODES].handle;
        let started = Instant::now();
        node.put(&plain(i), Quorum::One).await.expect("put");
        plain_puts.push(started.elapsed());
        let started = Instant::now();
        node.put_owned(author, &owned(author, i), Quorum::One)
            .await
            .expect("owned put");
        owned_puts.push(started.elapsed());
    }
    let (mut plain_gets, mut owned_gets) = (Vec::new(), Vec::new());
    for i in 0..samples {
        let node = &nodes[(i + 7) % NODES].handle;
        let started = Instant::now();
        node.get_from_network::<Profile>(&plain(i).key())
            .await
            .expect("get");
        plain_gets.push(started.elapsed());
        let started = Instant::now();
        node.get_from_network::<OwnedProfile>(&owned(author, i).key())
            .await
            .expect("owned get");
        owned_gets.push(started.elapsed());
    }
    let (plain_put, owned_put) = (median_ms(&mut plain_puts), median_ms(&mut owned_puts));
    let (plain_get, owned_get) = (median_ms(&mut plain_gets), median_ms(&mut owned_gets));
    println!("{NODES}-node loopback network, {samples} operations of each kind (medians):");
    println!(
        "  put: unowned {plain_put:.2} ms, owned {owned_put:.2} ms: {:.2}x",
        owned_put / plain_put
    );
    println!(
        "  get from the network: unowned {plain_get:.2} ms, owned {owned_get:.2} ms: {:.2}x",
        owned_get / plain_get
    );
    stop_all(nodes).await;
}

#[tokio::main]
async fn main() {
    let records = env_or::<usize>("OWNED_BENCH_RECORDS", 5_000);
    let samples = env_or::<usize>("OWNED_BENCH_SAMPLES", 300);
    let author = Author::generate();
    codec(&author, records);
    store_part(&author, records);
    network_part(&author, samples).await;
}
