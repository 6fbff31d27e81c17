//! Republish-backlog benchmark: a user's put on a node whose republish job has a backlog, against
//! the same put on an identical node without one, in one run on one 10-node loopback network
//! (replication 5, redb file stores). The loaded node holds `BACKLOG_RECORDS` (default 20 000) of
//! its own records, all due for republishing when it starts, so its job runs with the whole
//! background budget in flight for the length of the measurement. Puts alternate between the two
//! nodes so machine noise (the backlog's traffic loads every node on these 2 cores) hits both
//! alike. Prints medians, p99 and the ratio; asserts nothing.
//!
//! `cargo bench -p netabase_store --bench republish_backlog`
//! Environment: `BACKLOG_RECORDS`, `BACKLOG_SAMPLES` (default 200 puts per node).

#[path = "../tests/node/support.rs"]
#[allow(
    dead_code,
    reason = "the node tests' helpers; this benchmark uses only some"
)]
mod node_support;

use std::num::NonZeroUsize;
use std::time::{Duration, Instant, SystemTime};

use netabase_store::kad::Quorum;
use netabase_store::{NetabaseSchema, NodeConfig, NodeStore, RedbStore};
use node_support::*;

const NODES: usize = 10;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn profile(id: u64) -> Profile {
    Profile {
        id,
        name: format!("benchmark profile number {id} with a little text to make it realistic"),
    }
}

fn config() -> NodeConfig {
    let mut config = fast_config(Net::Tcp);
    config
        .set_replication_factor(NonZeroUsize::new(5).expect("non-zero"))
        .set_flush_interval(NodeConfig::new().flush_interval())
        .set_republish_interval(Some(Duration::from_secs(3600)))
        .set_republish_check_interval(Duration::from_millis(50));
    config
}

fn median_and_p99(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| {
        let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[index].as_secs_f64() * 1000.0
    };
    (at(0.5), at(0.99))
}

fn main() {
    let backlog = env_usize("BACKLOG_RECORDS", 20_000) as u64;
    let samples = env_usize("BACKLOG_SAMPLES", 200);
    let dir = tempfile::tempdir().expect("tempdir");
    // The loaded node's store: its own records, every one due now.
    let mut loaded_store = file_store(&dir.path().join("loaded.redb"));
    let mut keys = Vec::new();
    for id in 0..backlog {
        let record = profile(1_000_000 + id).to_record().expect("record");
        keys.push(record.key.clone());
        loaded_store.put_local(record).expect("put");
    }
    loaded_store
        .schedule_republish_all(&keys, SystemTime::now() - Duration::from_secs(1))
        .expect("schedule");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let mut nodes = Vec::new();
        for index in 0..NODES - 2 {
            let store = file_store(&dir.path().join(format!("peer{index}.redb")));
            let node = start_node(config(), store, nodes.first()).await;
            nodes.push(node);
        }
        let idle: RedbStore = file_store(&dir.path().join("idle.redb"));
        nodes.push(start_node(config(), idle, nodes.first()).await);
        nodes.push(start_node(config(), loaded_store, nodes.first()).await);
        connect_all(&nodes).await;
        let (idle, loaded) = (&nodes[NODES - 2], &nodes[NODES - 1]);
        let (mut idle_times, mut loaded_times) = (Vec::new(), Vec::new());
        for i in 0..samples as u64 {
            for (node, times, id) in [
                (idle, &mut idle_times, i),
                (loaded, &mut loaded_times, 500_000 + i),
            ] {
                let started = Instant::now();
                node.handle
                    .put(&profile(id), Quorum::One)
                    .await
                    .expect("put");
                times.push(started.elapsed());
            }
        }
        let stats = loaded.handle.stats().await.expect("stats");
        let (idle_median, idle_p99) = median_and_p99(idle_times);
        let (loaded_median, loaded_p99) = median_and_p99(loaded_times);
        println!(
            "{NODES}-node loopback network, {samples} puts per node; the loaded node had \
             {backlog} records due and republished {} of them meanwhile",
            stats.republished + stats.republish_failed
        );
        println!("  put on the idle node:   median {idle_median:.2} ms, p99 {idle_p99:.2} ms");
        println!("  put on the loaded node: median {loaded_median:.2} ms, p99 {loaded_p99:.2} ms");
        println!(
            "  loaded / idle: median {:.2}x, p99 {:.2}x",
            loaded_median / idle_median,
            loaded_p99 / idle_p99
        );
        stop_all(nodes).await;
    });
}
