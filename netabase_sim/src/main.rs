//! `netabase-sim`: runs a simulated network and prints what it measured.
//!
//! `cargo run --release -p netabase_sim -- --nodes 200 --records 1000 --seed 7`

use std::num::NonZeroUsize;
use std::process::ExitCode;

use clap::Parser;
use netabase_sim::{Scenario, run};

/// Runs N real Netabase nodes in this process over libp2p's memory transport, puts records from
/// random nodes and gets them from random nodes, and prints success and latency.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// How many nodes.
    #[arg(long, default_value_t = Scenario::default().nodes)]
    nodes: usize,
    /// How many records to put and then get.
    #[arg(long, default_value_t = Scenario::default().records)]
    records: u64,
    /// The seed every random choice comes from.
    #[arg(long, default_value_t = Scenario::default().seed)]
    seed: u64,
    /// The replication factor (kad's k).
    #[arg(long, default_value_t = Scenario::default().replication)]
    replication: NonZeroUsize,
    /// How many earlier nodes each node joins through.
    #[arg(long, default_value_t = Scenario::default().bootstrap_peers)]
    bootstrap_peers: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let scenario = Scenario {
        nodes: args.nodes,
        records: args.records,
        seed: args.seed,
        replication: args.replication,
        bootstrap_peers: args.bootstrap_peers,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&scenario)) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
