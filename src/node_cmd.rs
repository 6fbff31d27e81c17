//! `netabase node`: a long-lived storage node that serves records of every schema.

use std::path::Path;
use std::time::Duration;

use netabase_store::prometheus_client::registry::Registry;
use netabase_store::{
    Identity, Node, NodeConfig, NodeHandle, NodeMetrics, RedbStore, SchemaRegistry, StoreMetrics,
    UnknownSchemas, identity_path_beside,
};

use clap::ValueEnum;

use crate::cli::NodeArgs;
use crate::control::{self, ControlServer};
use crate::error::{CliError, CliResult};
use crate::inspect::LiveStore;
use crate::metrics_server::{self, MetricsServer};
use crate::network;
use crate::progress;

/// The store file inside a node's data directory.
pub const STORE_FILE: &str = "node.redb";

/// How long joining through `--bootstrap` may take.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `netabase node` until Ctrl-C (or SIGTERM).
pub async fn run(args: NodeArgs) -> CliResult<()> {
    for address in &args.bootstrap {
        network::check_bootstrap(address)?;
    }
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|source| CliError::io("create", &args.data_dir, source))?;
    let store_path = args.data_dir.join(STORE_FILE);
    let identity_path = identity_path_beside(&store_path);
    // The store knows no schemas: it keeps and serves raw records of every application, and
    // resolves their conflicts by the same policy as the node's inbound gate.
    let unknown_schemas = UnknownSchemas::from(args.unknown_schemas);
    let mut registry = SchemaRegistry::new();
    registry.set_unknown_schemas(unknown_schemas);
    // Every record is of a schema this node does not register, so the reserve the library keeps
    // for registered schemas would only leave part of the store unused.
    let store = RedbStore::builder()
        .set_registry(registry)
        .set_max_value_bytes(args.max_value_size)
        .set_max_records(args.max_records)
        .set_max_unknown_records(args.max_records)
        .set_max_unknown_per_namespace(args.max_records_per_namespace)
        .set_max_unknown_per_peer(args.max_records_per_peer)
        .set_cache_size(args.cache_mib.saturating_mul(1 << 20))
        .set_verify_on_open(args.verify_on_open)
        .create(&store_path)
        .map_err(CliError::from_open)?;
    let records = store.record_count()?;
    let verified = if store.verified_on_open() {
        ", every page verified"
    } else {
        ""
    };

    let mut config = NodeConfig::new();
    config
        .set_listen_addrs(args.listen.clone())
        .set_identity(Identity::File(identity_path.clone()))
        .set_mdns(args.mdns)
        .set_unknown_schemas(unknown_schemas)
        .set_record_ttl(args.record_ttl.0)
        .set_republish_interval(args.republish_interval.0)
        .set_republish_rate(args.republish_rate.0)
        .set_expiry_sweep_interval(args.expiry_sweep_interval)
        .set_flush_interval(args.flush_interval)
        .set_max_value_size(args.max_value_size)
        .set_stats_log_interval(args.stats_interval.0);
    let mut registry = Registry::default();
    let store_metrics = args.metrics.map(|_| {
        config.set_metrics(NodeMetrics::new(&mut registry));
        StoreMetrics::new(&mut registry)
    });
    let (handle, mut task) = Node::spawn(config, store.clone()).await?;
    let peer = handle.peer_id();

    println!("netabase node {peer}");
    println!(
        "store     {} ({records} records{verified}; at most {} records, {} per namespace, {} per \
         peer; cache {} MiB)",
        store_path.display(),
        args.max_records,
        args.max_records_per_namespace,
        args.max_records_per_peer,
        args.cache_mib
    );
    println!("identity  {}", identity_path.display());
    println!(
        "unknown schemas: {}",
        args.unknown_schemas
            .to_possible_value()
            .map_or_else(String::new, |value| value.get_name().to_owned())
    );
    for address in handle.listeners().await? {
        println!("listening on {}", network::with_peer(&address, peer));
    }
    let mut endpoints = Endpoints::default();
    let served = serve(
        &args,
        &handle,
        &mut task,
        Served {
            store,
            registry,
            store_metrics,
        },
        &store_path,
        &mut endpoints,
    )
    .await;
    // Every clone of the store goes before `stop` reopens the file.
    endpoints.stop();
    match served {
        Ok(Ended::ByItself) => Err(CliError::Node(netabase_store::NodeError::Stopped)),
        Ok(Ended::BySignal) => {
            println!(
                "stopping: committing received records to {}",
                store_path.display()
            );
            stop(&handle, task, &store_path).await
        }
        Err(error) => {
            stop(&handle, task, &store_path).await?;
            Err(error)
        }
    }
}

/// What the local endpoints serve: the store (moved in, so it is dropped when serving ends) and
/// the metrics registry.
struct Served {
    store: RedbStore,
    registry: Registry,
    store_metrics: Option<StoreMetrics>,
}

/// The node's local endpoints, stopped together.
#[derive(Default)]
struct Endpoints {
    metrics: Option<MetricsServer>,
    control: Option<ControlServer>,
}

impl Endpoints {
    /// Stops both; neither holds the store afterwards.
    fn stop(self) {
        if let Some(server) = self.metrics {
            server.stop();
        }
        if let Some(control) = self.control {
            control.stop();
        }
    }
}

/// How serving ended.
enum Ended {
    /// Ctrl-C or SIGTERM.
    BySignal,
    /// The node's task ended on its own.
    ByItself,
}

/// Starts the metrics endpoint and the control socket (into `endpoints`, which the caller stops
/// whatever happens), joins the network, and serves until a signal or the node's own end.
async fn serve(
    args: &NodeArgs,
    handle: &NodeHandle,
    task: &mut tokio::task::JoinHandle<()>,
    served: Served,
    store_path: &Path,
    endpoints: &mut Endpoints,
) -> CliResult<Ended> {
    let Served {
        store,
        registry,
        store_metrics,
    } = served;
    if let (Some(address), Some(store_metrics)) = (args.metrics, store_metrics) {
        let server = metrics_server::serve(
            address,
            registry,
            store_metrics,
            store.clone(),
            handle.clone(),
        )
        .await?;
        println!("metrics on http://{}/metrics", server.address);
        endpoints.metrics = Some(server);
    }
    if !args.bootstrap.is_empty() {
        let spinner = progress::spinner("joining the network");
        let joined = network::join(handle, &args.bootstrap, JOIN_TIMEOUT).await;
        spinner.finish_and_clear();
        let reached = joined?;
        let known = handle.stats().await?.routing_table_size;
        println!("joined the network through {reached} bootstrap peer(s); {known} peer(s) known");
    }
    let live = LiveStore {
        store,
        path: store_path.to_path_buf(),
    };
    endpoints.control = control::serve(&args.data_dir, handle.clone(), live)?;
    if let Some(control) = &endpoints.control {
        println!(
            "control   {} (netabase get/put --node {})",
            control.path().display(),
            args.data_dir.display()
        );
    }
    let mut signals = Signals::listen()?;
    let events = network::log_events(handle);
    println!("serving; stop with Ctrl-C");
    let ended = tokio::select! {
        signal = signals.recv() => signal.map(|()| Ended::BySignal),
        _ = task => Ok(Ended::ByItself),
    };
    events.abort();
    ended
}

/// Shuts the node down (its final commit makes every received record durable), waits for its task,
/// and reopens the file to report what it holds.
async fn stop(
    handle: &netabase_store::NodeHandle,
    task: tokio::task::JoinHandle<()>,
    store_path: &Path,
) -> CliResult<()> {
    let flushed = handle.shutdown().await;
    if let Err(error) = task.await {
        tracing::error!(%error, "the node's task failed");
    }
    flushed?;
    let records = RedbStore::open(store_path)
        .map_err(CliError::from_open)?
        .record_count()?;
    println!(
        "stopped cleanly: {records} records in {}",
        store_path.display()
    );
    Ok(())
}

/// Ctrl-C (SIGINT) and, on Unix, SIGTERM. Created before the node says it is serving, so a
/// signal sent as soon as that line appears is already caught.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> CliResult<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind, name| {
                signal(kind).map_err(|source| CliError::io("listen for", name, source))
            };
            Ok(Signals {
                interrupt: listen(SignalKind::interrupt(), "Ctrl-C")?,
                terminate: listen(SignalKind::terminate(), "SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    /// Resolves when one of the signals arrives.
    async fn recv(&mut self) -> CliResult<()> {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => {}
                _ = self.terminate.recv() => {}
            }
            Ok(())
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c()
                .await
                .map_err(|source| CliError::io("listen for", "Ctrl-C", source))
        }
    }
}
