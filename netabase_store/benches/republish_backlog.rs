//! Republish-backlog benchmark: a user's put on a node whose republish job has a backlog, against
//! the same put on the network before any backlog, in one run on one 10-node loopback network
//! (replication 5, redb file stores). The loaded node holds `BACKLOG_RECORDS` (default 20 000) of
//! its own records, all due for republishing when it starts, so its job has more to do than it can
//! finish during the measurement. It runs once per republish rate: unlimited (only the in-flight
//! budget of 32), the default, half and a quarter of it; each time from a copy of the same
//! store. During each run puts alternate between the loaded node and an idle twin, so the figures
//! show both what the backlog costs the node that has it and what its traffic costs the network
//! (on these 2 shared cores every node feels it). Prints medians, p99 and the ratios against the
//! puts measured before the backlog; asserts nothing.
//!
//! `cargo bench -p netabase_store --bench republish_backlog`
//! Environment: `BACKLOG_RECORDS`, `BACKLOG_SAMPLES` (default 200 puts per node and run).

#[path = "support/env.rs"]
mod bench_env;
#[path = "../tests/node/support.rs"]
#[allow(
    dead_code,
    reason = "the node tests' helpers; this benchmark uses only some"
)]
mod node_support;

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::{Duration, Instant, SystemTime};

use bench_env::env_or;
use netabase_store::kad::Quorum;
use netabase_store::{DEFAULT_REPUBLISH_RATE, NetabaseSchema, NodeConfig, NodeStore};
use node_support::*;

const NODES: usize = 10;

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

/// A user's puts on `nodes` in turn, `samples` rounds, ids from `first_id`: each node's times.
async fn timed_puts(nodes: &[&TestNode], samples: usize, first_id: u64) -> Vec<Vec<Duration>> {
    let mut times = vec![Vec::with_capacity(samples); nodes.len()];
    for round in 0..samples as u64 {
        for (index, node) in nodes.iter().enumerate() {
            let id = first_id + round * nodes.len() as u64 + index as u64;
            let started = Instant::now();
            node.handle
                .put(&profile(id), Quorum::One)
                .await
                .expect("put");
            times[index].push(started.elapsed());
        }
    }
    times
}

fn main() {
    let backlog = env_or::<usize>("BACKLOG_RECORDS", 20_000) as u64;
    let samples = env_or::<usize>("BACKLOG_SAMPLES", 200);
    let dir = tempfile::tempdir().expect("tempdir");
    // The loaded node's store, closed, copied for each run: its own records, every one due now.
    let template = dir.path().join("loaded-template.redb");
    {
        let mut store = file_store(&template);
        let mut keys = Vec::new();
        for id in 0..backlog {
            let record = profile(1_000_000_000 + id).to_record().expect("record");
            keys.push(record.key.clone());
            store.put_local(record).expect("put");
        }
        store
            .schedule_republish_all(&keys, SystemTime::now() - Duration::from_secs(1))
            .expect("schedule");
    }
    let default_rate = NonZeroU32::new(DEFAULT_REPUBLISH_RATE).expect("non-zero");
    let rates = [
        None,
        Some(default_rate),
        NonZeroU32::new(DEFAULT_REPUBLISH_RATE / 2),
        NonZeroU32::new(DEFAULT_REPUBLISH_RATE / 4),
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let mut nodes = Vec::new();
        for index in 0..NODES - 1 {
            let store = file_store(&dir.path().join(format!("peer{index}.redb")));
            let node = start_node(config(), store, nodes.first()).await;
            nodes.push(node);
        }
        connect_all(&nodes).await;
        let idle = &nodes[NODES - 2];
        let before = timed_puts(&[idle], samples, 0).await.remove(0);
        let (before_median, before_p99) = median_and_p99(before);
        println!(
            "{NODES}-node loopback network, {samples} puts per node and run; the loaded node has \
             {backlog} records due"
        );
        println!(
            "  before any backlog, put on the idle node: median {before_median:.2} ms, p99 \
             {before_p99:.2} ms"
        );
        for (run, rate) in rates.into_iter().enumerate() {
            let path = dir.path().join(format!("loaded{run}.redb"));
            std::fs::copy(&template, &path).expect("copy the loaded store");
            let mut loaded_config = config();
            loaded_config.set_republish_rate(rate);
            let loaded = start_node(loaded_config, file_store(&path), nodes.first()).await;
            within("bootstrap", loaded.handle.bootstrap())
                .await
                .expect("bootstrap");
            let started = Instant::now();
            let first_id = 1_000_000 * (run as u64 + 1);
            let mut times = timed_puts(&[&loaded, idle], samples, first_id).await;
            let elapsed = started.elapsed();
            let stats = loaded.handle.stats().await.expect("stats");
            loaded.stop().await;
            let republished = stats.republished + stats.republish_failed;
            let (idle_median, idle_p99) = median_and_p99(times.remove(1));
            let (loaded_median, loaded_p99) = median_and_p99(times.remove(0));
            let rate = rate.map_or("unlimited".to_string(), |rate| format!("{rate}/s"));
            println!(
                "  republish rate {rate}: {republished} republished in {:.1} s ({:.0}/s)",
                elapsed.as_secs_f64(),
                republished as f64 / elapsed.as_secs_f64()
            );
            println!(
                "    put on the loaded node: median {loaded_median:.2} ms ({:.2}x before), p99 \
                 {loaded_p99:.2} ms ({:.2}x)",
                loaded_median / before_median,
                loaded_p99 / before_p99
            );
            println!(
                "    put on the idle node:   median {idle_median:.2} ms ({:.2}x before), p99 \
                 {idle_p99:.2} ms ({:.2}x)",
                idle_median / before_median,
                idle_p99 / before_p99
            );
        }
        stop_all(nodes).await;
    });
}
