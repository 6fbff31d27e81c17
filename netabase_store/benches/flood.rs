//! Flood benchmark: a plain rust-libp2p kad peer sends `FLOOD_RECORDS` (default 100 000) records of
//! a schema the node does not know, 200 at a time, to one Netabase node with the default limits,
//! while an honest Netabase peer writes `FLOOD_HONEST` (default 1 000) registered records to it.
//! Prints how many of each the node stored, the strangers' share of the quota, the honest put
//! latency idle and during the flood, and the node's rejections. It fails (after printing) if an
//! honest record is missing or the strangers' records exceed their quota; it asserts no speed.
//! The suite's `tests/node/flood.rs` checks the same at a small size.
//!
//! `cargo bench -p netabase_store --bench flood`

#[path = "support/env.rs"]
mod bench_env;
#[path = "../tests/node/support.rs"]
#[allow(
    dead_code,
    reason = "the node tests' helpers; this benchmark uses only some"
)]
mod node_support;

use std::time::{Duration, Instant};

use bench_env::env_or;
use futures::stream::{FuturesUnordered, StreamExt};
use netabase_store::kad::{Quorum, Record};
use netabase_store::{NodeHandle, RedbStore, StoreLimits};
use node_support::*;

/// Puts honest records `ids` from `honest` and returns each put's latency.
async fn honest_puts(honest: &NodeHandle, ids: std::ops::Range<u64>) -> Vec<Duration> {
    let mut latencies = Vec::new();
    for id in ids {
        let value = Profile {
            id,
            name: format!("honest {id}"),
        };
        let started = Instant::now();
        honest.put(&value, Quorum::One).await.expect("honest put");
        latencies.push(started.elapsed());
    }
    latencies
}

fn percentiles(latencies: &mut [Duration]) -> (f64, f64) {
    latencies.sort();
    let at = |p: f64| {
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[index].as_secs_f64() * 1000.0
    };
    (at(0.5), at(0.99))
}

#[tokio::main]
async fn main() {
    let flood = env_or::<usize>("FLOOD_RECORDS", 100_000);
    let honest_count = env_or::<usize>("FLOOD_HONEST", 1_000) as u64;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = RedbStore::builder()
        .register::<Profile>()
        .register::<Page>()
        .create(dir.path().join("target.redb"))
        .expect("store");
    let probe = store.clone();
    let limits = StoreLimits::default();
    let target = start_node(fast_config(Net::Tcp), store, None).await;
    let honest = start_node(fast_config(Net::Tcp), memory_store(), Some(&target)).await;
    let nodes = vec![target, honest];
    connect_all(&nodes).await;
    let (node, honest) = (&nodes[0].handle, &nodes[1].handle);
    let flooder = PlainNode::start(PlainOptions::default()).await;
    node.dial(flooder.dial_addr()).await.expect("dial");

    let mut idle = honest_puts(honest, 0..100).await;

    let started = Instant::now();
    let flooding = async {
        let mut acknowledged = 0usize;
        for chunk_start in (0..flood).step_by(200) {
            let mut puts: FuturesUnordered<_> = (chunk_start..(chunk_start + 200).min(flood))
                .map(|i| {
                    let key = format!("/flood/Junk/{i}").into_bytes();
                    flooder.put_to(Record::new(key, vec![0xAB; 64]), vec![node.peer_id()])
                })
                .collect();
            while let Some(put) = puts.next().await {
                acknowledged += usize::from(put.is_ok());
            }
        }
        acknowledged
    };
    let (acknowledged, mut during) = tokio::join!(flooding, honest_puts(honest, 100..honest_count));
    let flood_time = started.elapsed();
    node.flush().await.expect("flush");

    let mut honest_stored = 0;
    for id in 0..honest_count {
        if node
            .get_local::<Profile>(&ProfileKey(id))
            .await
            .expect("get_local")
            .is_some()
        {
            honest_stored += 1;
        }
    }
    let strangers = probe.scan(b"/flood/".to_vec()).count();
    let stats = node.stats().await.expect("stats");
    let (idle_p50, idle_p99) = percentiles(&mut idle);
    let (flood_p50, flood_p99) = percentiles(&mut during);
    println!("flood: {flood} records of an unknown schema in one namespace, default limits");
    println!(
        "  sent in {:.1} s ({:.0} records/s), {acknowledged} acknowledged by kad",
        flood_time.as_secs_f64(),
        flood as f64 / flood_time.as_secs_f64()
    );
    println!(
        "  strangers' records stored: {strangers} (quota: {} per namespace, {} in all, of {} records)",
        limits.max_unknown_per_namespace, limits.max_unknown_records, limits.max_records
    );
    println!("  honest records stored: {honest_stored} of {honest_count}");
    println!(
        "  honest put latency: idle p50 {idle_p50:.2} ms p99 {idle_p99:.2} ms; during the flood p50 {flood_p50:.2} ms p99 {flood_p99:.2} ms ({:.2}x at p50)",
        flood_p50 / idle_p50
    );
    println!(
        "  node rejections: {:?}; records stored from peers: {}",
        stats.records_rejected, stats.records_stored
    );
    stop_all(nodes).await;
    assert_eq!(honest_stored, honest_count, "every honest record is stored");
    assert!(
        strangers <= limits.max_unknown_per_namespace,
        "the strangers' records stay within their quota"
    );
}
