//! `netabase-sim`: runs a simulated network and prints what it measured.
//!
//! `cargo run --release -p netabase_sim -- --nodes 200 --records 2000 --hours 48 --churn 0.5`

use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use netabase_sim::{Churn, Report, Scenario, SimError, TimeScale, plot_holders, run};
use tracing_subscriber::EnvFilter;

/// mimalloc rather than the system allocator: a run allocates from every core at once, which glibc
/// malloc serialises on its arena locks (see docs/simulation.md for the figures).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs N real Netabase nodes in this process over libp2p's memory transport. Writers put
/// records; then simulated time passes, servers leave and join, and the survival of the records
/// (their holders, and gets through the DHT) is sampled and printed as tables.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// How many nodes, writers included.
    #[arg(long, default_value_t = Scenario::default().nodes)]
    nodes: usize,
    /// How many nodes put and republish the records (they never leave).
    #[arg(long, default_value_t = Scenario::default().writers)]
    writers: usize,
    /// How many nodes are hostile (plain kad nodes that drop every record sent to them and answer
    /// every lookup with junk; they never leave).
    #[arg(long, default_value_t = Scenario::default().hostile)]
    hostile: usize,
    /// How many records to put.
    #[arg(long, default_value_t = Scenario::default().records)]
    records: u64,
    /// Put owned records, each signed by its writer's node identity, instead of plain ones.
    #[arg(long)]
    owned: bool,
    /// The seed every random choice comes from.
    #[arg(long, default_value_t = Scenario::default().seed)]
    seed: u64,
    /// The replication factor (kad's k).
    #[arg(long, default_value_t = Scenario::default().replication)]
    replication: NonZeroUsize,
    /// How many online nodes' addresses each joining node starts with (fewer than 20: each join
    /// is two bootstraps).
    #[arg(long, default_value_t = Scenario::default().bootstrap_peers)]
    bootstrap_peers: usize,
    /// How many nodes join at once while the network forms.
    #[arg(long, default_value_t = Scenario::default().joins_at_once)]
    joins_at_once: usize,
    /// How many puts run at once.
    #[arg(long, default_value_t = Scenario::default().puts_at_once)]
    puts_at_once: usize,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = Scenario::default().time.speedup())]
    speedup: f64,
    /// How long the run lasts, in simulated hours from the first put (0: put, sample once, stop).
    #[arg(long, default_value_t = 0.0)]
    hours: f64,
    /// The record TTL, in simulated hours.
    #[arg(long, default_value_t = 48.0)]
    ttl_hours: f64,
    /// How often writers republish, in simulated hours.
    #[arg(long, default_value_t = 22.0)]
    republish_hours: f64,
    /// Turn republishing off.
    #[arg(long)]
    no_republish: bool,
    /// Turn off the handoff of records to peers that join among their closest.
    #[arg(long)]
    no_handoff: bool,
    /// The share of the servers that leaves per simulated day (0.5: half).
    #[arg(long, default_value_t = 0.0)]
    churn: f64,
    /// Leaving servers come back with their stores after this many simulated hours, instead of
    /// being replaced at once by empty nodes.
    #[arg(long)]
    returns_after_hours: Option<f64>,
    /// How often survival is sampled, in simulated hours.
    #[arg(long, default_value_t = 4.0)]
    sample_every_hours: f64,
    /// How many records each sample gets through the DHT.
    #[arg(long, default_value_t = Scenario::default().gets_per_sample)]
    gets_per_sample: usize,
    /// How long an idle connection stays open, in real seconds.
    #[arg(long, default_value_t = Scenario::default().idle_connection_timeout.as_secs_f64())]
    idle_seconds: f64,
    /// Connect the nodes with libp2p's plaintext protocol instead of noise: public keys are
    /// exchanged, nothing is encrypted. Saves noise's key exchanges, about a third of the work of
    /// forming a large network.
    #[arg(long)]
    plaintext: bool,
    /// Hold back what each side of a connection receives by this many real milliseconds (a
    /// one-way delay: each round trip is twice that longer).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Each node refreshes its routing table (a bootstrap) every this many simulated hours; off
    /// by default.
    #[arg(long, value_name = "HOURS")]
    routing_refresh_hours: Option<f64>,
    /// Run plain rust-libp2p kad nodes with kad's MemoryStore as writers and servers instead of
    /// Netabase nodes (kad's own put, get and publication under the same schedule).
    #[arg(long)]
    plain_kad: bool,
    /// Run the same scenario a second time with republishing off, and report both.
    #[arg(long, conflicts_with = "no_republish")]
    compare_no_republish: bool,
    /// Run the same scenario once more on plain rust-libp2p kad nodes with kad's MemoryStore,
    /// and report it too.
    #[arg(long, conflicts_with = "plain_kad")]
    compare_plain_kad: bool,
    /// Write an SVG plot of the holders per record over time (of both runs with
    /// `--compare-no-republish`) to this file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

fn hours(hours: f64, what: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(hours * 3600.0)
        .map_err(|_| format!("{what} must be a non-negative number of hours, not {hours}"))
}

fn scenario(args: &Args) -> Result<Scenario, String> {
    let time = TimeScale::new(args.speedup).map_err(|error| error.to_string())?;
    let churn = (args.churn > 0.0)
        .then(|| -> Result<Churn, String> {
            Ok(Churn {
                per_day: args.churn,
                returns_after: args
                    .returns_after_hours
                    .map(|after| hours(after, "--returns-after-hours"))
                    .transpose()?,
            })
        })
        .transpose()?;
    let scenario = Scenario {
        nodes: args.nodes,
        writers: args.writers,
        hostile: args.hostile,
        records: args.records,
        owned: args.owned,
        seed: args.seed,
        replication: args.replication,
        bootstrap_peers: args.bootstrap_peers,
        joins_at_once: args.joins_at_once,
        puts_at_once: args.puts_at_once,
        time,
        duration: hours(args.hours, "--hours")?,
        record_ttl: hours(args.ttl_hours, "--ttl-hours")?,
        republish_interval: if args.no_republish {
            None
        } else {
            Some(hours(args.republish_hours, "--republish-hours")?)
        },
        churn,
        sample_every: hours(args.sample_every_hours, "--sample-every-hours")?,
        gets_per_sample: args.gets_per_sample,
        idle_connection_timeout: Duration::try_from_secs_f64(args.idle_seconds)
            .map_err(|_| format!("--idle-seconds cannot be {}", args.idle_seconds))?,
        noise: !args.plaintext,
        plain_kad: args.plain_kad,
        handoff: !args.no_handoff,
        delay: Duration::from_millis(args.delay_ms),
        routing_refresh: args
            .routing_refresh_hours
            .map(|every| hours(every, "--routing-refresh-hours"))
            .transpose()?,
    };
    scenario.check()?;
    Ok(scenario)
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Progress on stderr (the report goes to stdout); `RUST_LOG` overrides, e.g. `debug` to see
    // the nodes' own logs too. kad warns whenever a node that just started tries to bootstrap
    // before its first peer is routable, which every joining node under load does.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,libp2p_kad=error,netabase_sim=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let scenario = match scenario(&args) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
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
    let compare = Compare {
        no_republish: args.compare_no_republish,
        plain_kad: args.compare_plain_kad,
    };
    let runs = match runtime.block_on(run_all(&scenario, compare)) {
        Ok(runs) => runs,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    for (index, (label, report)) in runs.iter().enumerate() {
        if runs.len() > 1 {
            println!("{}## {label}\n", if index > 0 { "\n" } else { "" });
        }
        print!("{report}");
    }
    if let Some(path) = &args.plot {
        let labelled: Vec<(&str, &Report)> = runs
            .iter()
            .map(|(label, report)| (label.as_str(), report))
            .collect();
        let title = format!(
            "{} nodes, {} records, replication {}, {}",
            scenario.nodes,
            scenario.records,
            scenario.replication,
            scenario.churn.map_or_else(
                || "no churn".to_owned(),
                |churn| format!(
                    "{:.0}% of the servers replaced per day",
                    churn.per_day * 100.0
                )
            ),
        );
        if let Err(error) = plot_holders(&title, &labelled, path) {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Which runs of the same scenario go next to the first.
#[derive(Debug, Clone, Copy)]
struct Compare {
    /// One with republishing off.
    no_republish: bool,
    /// One on plain kad nodes.
    plain_kad: bool,
}

/// Runs `scenario`, then the runs `compare` asks for; each report with a label.
async fn run_all(scenario: &Scenario, compare: Compare) -> Result<Vec<(String, Report)>, SimError> {
    let label = |scenario: &Scenario| {
        let republish = match scenario.republish_interval {
            Some(_) => "republish on",
            None => "republish off",
        };
        if scenario.plain_kad {
            format!("plain kad, {republish}")
        } else {
            republish.to_owned()
        }
    };
    let mut runs = vec![(label(scenario), run(scenario).await?)];
    if compare.no_republish {
        let without = Scenario {
            republish_interval: None,
            ..scenario.clone()
        };
        runs.push((label(&without), run(&without).await?));
    }
    if compare.plain_kad {
        let plain = Scenario {
            plain_kad: true,
            ..scenario.clone()
        };
        runs.push((label(&plain), run(&plain).await?));
    }
    Ok(runs)
}
