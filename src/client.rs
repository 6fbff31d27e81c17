//! `netabase get` and `netabase put`: raw records against a running network.
//!
//! With `--node DIR` each command asks the node running on that data directory, through its
//! control socket (`control.rs`). Otherwise it starts a short-lived node with an in-memory store
//! that listens nowhere (so no peer ever routes to it or stores records at it), joins through
//! `--bootstrap`, does its one operation and shuts down.

use std::io::Write;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use netabase_store::kad::{Quorum, Record, RecordKey};
use netabase_store::{
    Node, NodeConfig, NodeError, NodeHandle, PutOptions, PutReport, RecordSource, RedbStore,
};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::bytes;
use crate::cli::{GetArgs, NetworkArgs, PutArgs};
use crate::control;
use crate::error::{CliError, CliResult};
use crate::network;
use crate::output::{self, Align, Table};
use crate::progress;
use crate::record_json::RecordJson;

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

/// Runs `netabase get`: through the running node of `--node`, else through a client node of its
/// own joined with `--bootstrap`.
pub async fn get(args: GetArgs) -> CliResult<()> {
    let key = parse_key(&args.key, args.hex)?;
    let output = match &args.network.node {
        Some(dir) => {
            let request = control::Request::Get {
                key_hex: bytes::to_hex(key.as_ref()),
            };
            match control::ask(dir, &request, args.network.timeout).await? {
                control::Response::Got(output) => output,
                other => return Err(other.into_error(&key)),
            }
        }
        None => {
            let client = Client::connect(&args.network, None).await?;
            let spinner = progress::spinner("looking the key up");
            let result = get_through(&client.handle, &key).await;
            spinner.finish_and_clear();
            client.close().await;
            result?
        }
    };
    print_get(&output, &args)
}

/// Gets `key` through `node`: the output `get` prints.
pub async fn get_through(node: &NodeHandle, key: &RecordKey) -> CliResult<GetOutput> {
    let fetched = node
        .get_record(key)
        .await
        .map_err(|error| node_error(error, key))?;
    let (source, source_peer) = match fetched.source {
        RecordSource::Local => ("local", None),
        RecordSource::Peer(peer) => ("peer", Some(peer.to_string())),
    };
    Ok(GetOutput {
        record: RecordJson::of(&fetched.record),
        source: source.to_owned(),
        source_peer,
    })
}

/// `get --json`: the record and where it came from.
#[derive(Debug, Serialize, Deserialize)]
pub struct GetOutput {
    record: RecordJson,
    /// `"local"` (the node's own store) or `"peer"`.
    source: String,
    /// The peer that answered, for `"peer"`.
    source_peer: Option<String>,
}

fn print_get(output: &GetOutput, args: &GetArgs) -> CliResult<()> {
    let json = &output.record;
    if args.raw {
        let value = bytes::from_hex(&json.value_hex).map_err(|source| CliError::BadBytes {
            what: "value",
            input: json.value_hex.clone(),
            source,
        })?;
        let mut stdout = std::io::stdout().lock();
        return stdout
            .write_all(&value)
            .and_then(|()| stdout.flush())
            .map_err(|source| CliError::io("write", "standard output", source));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(output)?);
        return Ok(());
    }
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
        .row(vec!["expires".into(), json.expiry_text()])
        .row(vec![
            "from".into(),
            output
                .source_peer
                .as_ref()
                .map_or_else(|| "local".into(), |peer| format!("peer {peer}")),
        ]);
    print!("{}", table.render(0));
    Ok(())
}

/// How long peers keep a record `put` sent without `--ttl`: kad's default record TTL.
const DEFAULT_TTL: Duration = Duration::from_secs(48 * 60 * 60);

/// Runs `netabase put`: through the running node of `--node` (the record becomes that node's own,
/// which republishes it), else through a client node of its own joined with `--bootstrap`.
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
    let ttl = args.ttl.unwrap_or(DEFAULT_TTL);
    let output = match &args.network.node {
        Some(dir) => {
            let request = control::Request::Put {
                key_hex: bytes::to_hex(key.as_ref()),
                value_hex: bytes::to_hex(&value),
                ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
                quorum: args.quorum,
            };
            match control::ask(dir, &request, args.network.timeout).await? {
                control::Response::Put(output) => output,
                other => return Err(other.into_error(&key)),
            }
        }
        None => {
            let client = Client::connect(&args.network, Some(DEFAULT_TTL)).await?;
            let spinner = progress::spinner("storing the record at the closest peers");
            // The client exits right after the put: it waits for every closest peer, or the
            // records still in flight would be dropped with it.
            let result = put_through(
                &client.handle,
                Record::new(key, value),
                ttl,
                args.quorum,
                false,
            )
            .await;
            spinner.finish_and_clear();
            client.close().await;
            result?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&output)?);
        return Ok(());
    }
    let json = &output.record;
    println!(
        "stored \"{}\" ({} bytes) on {} of the {} closest peer(s): {} validated it, {} plain \
         kad peer(s) acknowledged it{}; peers keep it for {} ({})",
        json.key,
        json.value_bytes,
        output.stored.len() + output.acknowledged.len(),
        output.peers_found,
        output.stored.len(),
        output.acknowledged.len(),
        not_stored(&output),
        output::approx(Duration::from_secs(output.ttl_seconds)),
        if output.republished {
            "the node republishes it"
        } else {
            "nothing republishes it"
        }
    );
    Ok(())
}

/// Puts `record`, living `ttl`, through `node` with `quorum`: the output `put` prints. A node
/// that stays up (`republished`) answers once the quorum is reached; a client node that exits
/// right after waits for every closest peer.
pub async fn put_through(
    node: &NodeHandle,
    mut record: Record,
    ttl: Duration,
    quorum: u16,
    republished: bool,
) -> CliResult<PutOutput> {
    record.expires = Some(Instant::now() + ttl);
    let record_json = RecordJson::of(&record);
    let key = record.key.clone();
    let quorum = NonZeroUsize::new(usize::from(quorum)).map_or(Quorum::One, Quorum::N);
    let mut options = PutOptions::new(quorum);
    options.set_wait_for_all(!republished);
    let report = node
        .put_record(record, options)
        .await
        .map_err(|error| node_error(error, &key))?;
    Ok(PutOutput::new(&report, record_json, ttl, republished))
}

/// ", 1 refused it (lost conflict), 1 unreachable", or nothing.
fn not_stored(output: &PutOutput) -> String {
    let mut text = String::new();
    if !output.refused.is_empty() {
        let reasons: Vec<&str> = output.refused.iter().map(|r| r.reason.as_str()).collect();
        text.push_str(&format!(
            ", {} refused it ({})",
            output.refused.len(),
            reasons.join(", ")
        ));
    }
    if !output.unreachable.is_empty() {
        text.push_str(&format!(", {} unreachable", output.unreachable.len()));
    }
    text
}

/// `put --json`: the record sent and what the peers did with it.
#[derive(Debug, Serialize, Deserialize)]
pub struct PutOutput {
    record: RecordJson,
    peers_found: usize,
    stored: Vec<String>,
    acknowledged: Vec<String>,
    refused: Vec<RefusedOutput>,
    unreachable: Vec<UnreachableOutput>,
    ttl_seconds: u64,
    /// Whether a node keeps and republishes the record (a put through `--node`).
    republished: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct RefusedOutput {
    peer: String,
    reason: String,
    message: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct UnreachableOutput {
    peer: String,
    reason: String,
}

impl PutOutput {
    fn new(report: &PutReport, record: RecordJson, lifetime: Duration, republished: bool) -> Self {
        let peers =
            |peers: &[netabase_store::PeerId]| peers.iter().map(|p| p.to_string()).collect();
        PutOutput {
            record,
            peers_found: report.peers_found,
            stored: peers(&report.stored),
            acknowledged: peers(&report.acknowledged),
            refused: report
                .refused
                .iter()
                .map(|refusal| RefusedOutput {
                    peer: refusal.peer.to_string(),
                    reason: refusal.reason.as_str().to_owned(),
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
            republished,
        }
    }
}
