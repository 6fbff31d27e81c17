//! `netabase get` and `netabase put`: raw records against a running network.
//!
//! Each command starts a short-lived node with an in-memory store that listens nowhere (so no
//! peer ever routes to it or stores records at it), joins through `--bootstrap`, does its one
//! operation and shuts down.

use std::io::Write;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use netabase_store::kad::{Quorum, Record, RecordKey};
use netabase_store::{
    FetchedRecord, Node, NodeConfig, NodeError, NodeHandle, PutOptions, PutReport, RecordSource,
    RedbStore,
};
use serde::Serialize;

use crate::record_json::RecordJson;
use tokio::task::JoinHandle;

use crate::bytes;
use crate::cli::{GetArgs, NetworkArgs, PutArgs};
use crate::error::{CliError, CliResult};
use crate::network;
use crate::output::{self, Align, Table};
use crate::progress;

/// A node that only dials, joined to the network of `--bootstrap`.
struct Client {
    handle: NodeHandle,
    task: JoinHandle<()>,
}

impl Client {
    async fn connect(network: &NetworkArgs, record_ttl: Option<Duration>) -> CliResult<Self> {
        for address in &network.bootstrap {
            network::check_bootstrap(address)?;
        }
        let store = RedbStore::in_memory().map_err(CliError::from_open)?;
        let mut config = NodeConfig::new();
        config
            .set_listen_addrs(Vec::new())
            .set_query_timeout(network.timeout)
            .set_operation_timeout(network.timeout)
            .set_record_ttl(record_ttl)
            .set_republish_interval(None);
        let (handle, task) = Node::spawn(config, store).await?;
        let client = Client { handle, task };
        let spinner = progress::spinner(format!(
            "joining the network through {} peer(s)",
            network.bootstrap.len()
        ));
        let joined = network::join(&client.handle, &network.bootstrap, network.timeout).await;
        spinner.finish_and_clear();
        match joined {
            Ok(_) => Ok(client),
            Err(error) => {
                client.close().await;
                Err(error)
            }
        }
    }

    async fn close(self) {
        if let Err(error) = self.handle.shutdown().await {
            tracing::warn!(%error, "the client node did not shut down cleanly");
        }
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "the client node's task failed");
        }
    }
}

/// Maps the node errors a user can act on to the command's own messages.
fn node_error(error: NodeError, key: &RecordKey) -> CliError {
    match error {
        NodeError::NotFound { .. } => CliError::RecordNotFound {
            key: bytes::escape(key.as_ref()),
        },
        NodeError::Timeout { operation, after } => CliError::Timeout { operation, after },
        other => CliError::Node(other),
    }
}

fn parse_key(text: &str, hex: bool) -> CliResult<RecordKey> {
    bytes::parse(text, hex)
        .map(RecordKey::from)
        .map_err(|source| CliError::BadBytes {
            what: "key",
            input: text.to_owned(),
            source,
        })
}

/// Runs `netabase get`.
pub async fn get(args: GetArgs) -> CliResult<()> {
    let key = parse_key(&args.key, args.hex)?;
    let client = Client::connect(&args.network, None).await?;
    let spinner = progress::spinner("looking the key up");
    let result = client.handle.get_record(&key).await;
    spinner.finish_and_clear();
    client.close().await;
    let fetched = result.map_err(|error| node_error(error, &key))?;
    print_record(&fetched, &args)
}

/// `get --json`: the record and where it came from.
#[derive(Debug, Serialize)]
struct GetOutput {
    record: RecordJson,
    /// `"local"` (the client's own store, never in practice) or `"peer"`.
    source: &'static str,
    /// The peer that answered, for `"peer"`.
    source_peer: Option<String>,
}

fn print_record(fetched: &FetchedRecord, args: &GetArgs) -> CliResult<()> {
    let record = &fetched.record;
    if args.raw {
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(&record.value)
            .and_then(|()| stdout.flush())
            .map_err(|source| CliError::io("write", "standard output", source));
    }
    let (source, source_peer) = match fetched.source {
        RecordSource::Local => ("local", None),
        RecordSource::Peer(peer) => ("peer", Some(peer.to_string())),
    };
    let output = GetOutput {
        record: RecordJson::of(record),
        source,
        source_peer,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&output)?);
        return Ok(());
    }
    let json = &output.record;
    let mut table = Table::new(&[("FIELD", Align::Left), ("VALUE", Align::Left)]);
    table
        .row(vec!["key".into(), json.key.clone()])
        .row(vec!["value".into(), json.value.clone()])
        .row(vec!["value hex".into(), json.value_hex.clone()])
        .row(vec!["value bytes".into(), json.value_bytes.to_string()])
        .row(vec![
            "publisher".into(),
            json.publisher.clone().unwrap_or_else(|| "(none)".into()),
        ])
        .row(vec![
            "expires".into(),
            record
                .expires
                .map_or_else(|| "never".into(), output::deadline),
        ])
        .row(vec![
            "from".into(),
            output
                .source_peer
                .map_or_else(|| "local".into(), |peer| format!("peer {peer}")),
        ]);
    print!("{}", table.render(0));
    Ok(())
}

/// How long peers keep a record `put` sent without `--ttl`: kad's default record TTL.
const DEFAULT_TTL: Duration = Duration::from_secs(48 * 60 * 60);

/// Runs `netabase put`.
pub async fn put(args: PutArgs) -> CliResult<()> {
    let key = parse_key(&args.key, args.hex)?;
    let value = match (&args.value, &args.value_file) {
        (_, Some(path)) => {
            std::fs::read(path).map_err(|source| CliError::io("read", path, source))?
        }
        (Some(text), None) => {
            bytes::parse(text, args.hex).map_err(|source| CliError::BadBytes {
                what: "value",
                input: text.clone(),
                source,
            })?
        }
        // clap requires one of them.
        (None, None) => Vec::new(),
    };
    let size = value.len();
    let mut record = Record::new(key.clone(), value);
    record.expires = Some(Instant::now() + args.ttl.unwrap_or(DEFAULT_TTL));
    let record_json = RecordJson::of(&record);
    let quorum = NonZeroUsize::new(usize::from(args.quorum)).map_or(Quorum::One, Quorum::N);
    // The client exits right after the put: wait for every closest peer, or the records still in
    // flight would be dropped with it.
    let mut options = PutOptions::new(quorum);
    options.set_wait_for_all(true);

    let client = Client::connect(&args.network, Some(DEFAULT_TTL)).await?;
    let spinner = progress::spinner("storing the record at the closest peers");
    let result = client.handle.put_record(record, options).await;
    spinner.finish_and_clear();
    client.close().await;
    let report = result.map_err(|error| node_error(error, &key))?;
    let lifetime = args.ttl.unwrap_or(DEFAULT_TTL);
    if args.json {
        let output = PutOutput::new(&report, &record_json, lifetime);
        println!("{}", serde_json::to_string_pretty(&output)?);
        return Ok(());
    }
    println!(
        "stored \"{}\" ({size} bytes) on {} of the {} closest peer(s): {} validated it, {} plain \
         kad peer(s) acknowledged it{}; peers keep it for {} (nothing republishes it)",
        bytes::escape(key.as_ref()),
        report.reached(),
        report.peers_found,
        report.stored.len(),
        report.acknowledged.len(),
        not_stored(&report),
        output::approx(lifetime)
    );
    Ok(())
}

/// ", 1 refused it (lost conflict), 1 unreachable", or nothing.
fn not_stored(report: &PutReport) -> String {
    let mut text = String::new();
    if !report.refused.is_empty() {
        let reasons: Vec<&str> = report.refused.iter().map(|r| r.reason.as_str()).collect();
        text.push_str(&format!(
            ", {} refused it ({})",
            report.refused.len(),
            reasons.join(", ")
        ));
    }
    if !report.unreachable.is_empty() {
        text.push_str(&format!(", {} unreachable", report.unreachable.len()));
    }
    text
}

/// `put --json`: the record sent and what the peers did with it.
#[derive(Debug, Serialize)]
struct PutOutput {
    record: RecordJson,
    peers_found: usize,
    stored: Vec<String>,
    acknowledged: Vec<String>,
    refused: Vec<RefusedOutput>,
    unreachable: Vec<UnreachableOutput>,
    ttl_seconds: u64,
}

#[derive(Debug, Serialize)]
struct RefusedOutput {
    peer: String,
    reason: &'static str,
    message: String,
}

#[derive(Debug, Serialize)]
struct UnreachableOutput {
    peer: String,
    reason: String,
}

impl PutOutput {
    fn new(report: &PutReport, record: &RecordJson, lifetime: Duration) -> Self {
        let peers =
            |peers: &[netabase_store::PeerId]| peers.iter().map(|p| p.to_string()).collect();
        PutOutput {
            record: record.clone(),
            peers_found: report.peers_found,
            stored: peers(&report.stored),
            acknowledged: peers(&report.acknowledged),
            refused: report
                .refused
                .iter()
                .map(|refusal| RefusedOutput {
                    peer: refusal.peer.to_string(),
                    reason: refusal.reason.as_str(),
                    message: refusal.message.clone(),
                })
                .collect(),
            unreachable: report
                .unreachable
                .iter()
                .map(|failure| UnreachableOutput {
                    peer: failure.peer.to_string(),
                    reason: failure.reason.clone(),
                })
                .collect(),
            ttl_seconds: lifetime.as_secs(),
        }
    }
}
