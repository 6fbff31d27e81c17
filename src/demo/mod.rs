//! `netabase demo`: a local network of real nodes in one process, on loopback, each with its own
//! redb file, taken through the things Netabase promises: typed records written on one node and
//! read on another through the DHT, a node restarted from its file still serving them, an expiry,
//! a conflict resolved the same way everywhere, and a delete that every node sees.

mod network;
mod schema;

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use netabase_store::kad::Quorum;
use netabase_store::{
    NetabaseSchema, NodeError, PutReport, RecordSource, RefusalReason, SyncOptions,
};

use self::network::{DemoNode, Probe, Settings};
use self::schema::{Note, NoteKey, Presence};
use crate::cli::DemoArgs;
use crate::error::{CliError, CliResult};
use crate::output::{self, Align, Table};
use crate::progress;

/// Operations in flight at once when writing or reading many notes.
const CONCURRENCY: usize = 16;

/// The demo's results, one row per step.
#[derive(Debug, Default)]
struct Summary {
    rows: Vec<(&'static str, String, Duration)>,
}

impl Summary {
    /// Prints a finished step with what it showed, and keeps its short result for the summary.
    fn record(
        &mut self,
        step: &'static str,
        result: String,
        details: &[String],
        elapsed: Duration,
    ) {
        println!("[ok] {step:<8} {result} ({})", output::elapsed(elapsed));
        for line in details {
            println!("              {line}");
        }
        self.rows.push((step, result, elapsed));
    }

    fn render(&self, total: Duration) -> String {
        let mut table = Table::new(&[
            ("STEP", Align::Left),
            ("RESULT", Align::Left),
            ("TIME", Align::Right),
        ]);
        for (step, result, elapsed) in &self.rows {
            table.row(vec![
                (*step).to_owned(),
                result.clone(),
                output::elapsed(*elapsed),
            ]);
        }
        table.row(vec!["total".into(), String::new(), output::elapsed(total)]);
        table.render(2)
    }
}

/// Runs `netabase demo`.
pub async fn run(args: DemoArgs) -> CliResult<()> {
    let total = Instant::now();
    let (dir, chosen) = data_dir(args.data_dir)?;
    let count = args.records;
    let settings = Settings {
        replication: NonZeroUsize::new(usize::from(args.replication)).unwrap_or(NonZeroUsize::MIN),
    };
    let nodes = usize::from(args.nodes);
    println!(
        "Netabase demo: {nodes} nodes on 127.0.0.1 in this process, each with its own redb store in {}",
        dir.display()
    );
    if !chosen {
        println!("(a new temporary directory, kept afterwards; choose one with --data-dir)");
    }
    println!(
        "Schemas: Note {{ #[key] id, author, text, #[version] revision }} and Presence {{ #[key] \
         user, status }}; each record is stored at its {} closest peers.\n",
        settings.replication
    );
    let mut summary = Summary::default();

    let mut network = start(&dir, nodes, settings, &mut summary).await?;
    put_notes(&network[0], count, &mut summary).await?;
    read_notes(&network[nodes - 1], count, &mut summary).await?;
    restart(&mut network, count, settings, &mut summary).await?;
    expiry(&network, args.expiry, &mut summary).await?;
    conflict(&network, count + 1, &mut summary).await?;
    delete(&network, count + 1, &mut summary).await?;

    let started = Instant::now();
    let stopping = progress::spinner("stopping the nodes");
    for node in network {
        node.stop().await?;
    }
    stopping.finish_and_clear();
    summary.record(
        "stop",
        format!("{nodes} stores committed and closed"),
        &["every node shut down cleanly: what it received is on disk".to_owned()],
        started.elapsed(),
    );

    println!("\nSummary\n{}", summary.render(total.elapsed()));
    println!(
        "The stores are kept in {}. Look inside them with:",
        dir.display()
    );
    let netabase = this_command();
    println!(
        "  {netabase} inspect {}",
        output::shell_quote(&dir.display().to_string())
    );
    println!(
        "  {netabase} inspect {} --list --limit 5",
        output::shell_quote(&dir.join("node-1.redb").display().to_string())
    );
    println!(
        "  {netabase} inspect {} --key '/demo/Note/\\x01'",
        output::shell_quote(&dir.join("node-1.redb").display().to_string())
    );
    Ok(())
}

/// How to run this program from a shell: `netabase` when that is what `PATH` finds, else the path
/// of this executable (after `cargo run`, `target/release/netabase`), quoted for the shell.
fn this_command() -> String {
    let Ok(this) = std::env::current_exe().and_then(std::fs::canonicalize) else {
        return "netabase".to_owned();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .filter_map(|dir| std::fs::canonicalize(dir.join("netabase")).ok())
            .next()
            .is_some_and(|found| found == this)
    });
    if on_path {
        "netabase".to_owned()
    } else {
        output::shell_quote(&this.display().to_string())
    }
}

/// The data directory, and whether the user chose it. A chosen directory is created if missing
/// and must not hold a demo network already; the default is a new temporary directory.
fn data_dir(chosen: Option<PathBuf>) -> CliResult<(PathBuf, bool)> {
    let Some(dir) = chosen else {
        let dir = tempfile::Builder::new()
            .prefix("netabase-demo-")
            .tempdir()
            .map_err(|source| CliError::io("create", std::env::temp_dir(), source))?;
        return Ok((dir.keep(), false));
    };
    std::fs::create_dir_all(&dir).map_err(|source| CliError::io("create", &dir, source))?;
    let entries = std::fs::read_dir(&dir).map_err(|source| CliError::io("list", &dir, source))?;
    for entry in entries {
        let entry = entry.map_err(|source| CliError::io("list", &dir, source))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("node-") && (name.ends_with(".redb") || name.ends_with(".key")) {
            return Err(CliError::DemoDirectoryInUse(dir));
        }
    }
    Ok((dir, true))
}

fn store_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.redb"))
}

/// Starts the nodes: node-1 first, every other one joining through it.
async fn start(
    dir: &Path,
    count: usize,
    settings: Settings,
    summary: &mut Summary,
) -> CliResult<Vec<DemoNode>> {
    let started = Instant::now();
    let spinner = progress::spinner(format!("starting {count} nodes"));
    let mut nodes: Vec<DemoNode> = Vec::with_capacity(count);
    for index in 1..=count {
        let name = format!("node-{index}");
        let path = store_path(dir, &name);
        let seed = nodes.first().map(|node| node.address.clone());
        nodes.push(DemoNode::start(name, path, settings, seed.as_ref()).await?);
    }
    // The first nodes joined before the later ones existed: a second bootstrap lets every node
    // find every other.
    for node in &nodes[1..] {
        if let Err(error) = node.handle.bootstrap().await {
            tracing::debug!(node = %node.name, %error, "second bootstrap failed");
        }
    }
    spinner.finish_and_clear();
    let details: Vec<String> = nodes
        .iter()
        .map(|node| format!("{}  {}", node.name, node.address))
        .collect();
    summary.record(
        "start",
        format!("{count} nodes on 127.0.0.1, one .redb file each"),
        &details,
        started.elapsed(),
    );
    Ok(nodes)
}

fn note(id: u32, author: &str) -> Note {
    Note {
        id,
        author: author.to_owned(),
        text: format!("note {id}, written on {author}"),
        revision: 1,
    }
}

/// The writer puts `count` notes; each is stored durably on the writer, then at its closest peers.
async fn put_notes(writer: &DemoNode, count: u32, summary: &mut Summary) -> CliResult<()> {
    let started = Instant::now();
    let bar = progress::bar(
        u64::from(count),
        format!("putting {count} notes on {}", writer.name),
    );
    let results: Vec<_> = futures::stream::iter(1..=count)
        .map(|id| {
            let handle = writer.handle.clone();
            let value = note(id, &writer.name);
            async move { handle.put(&value, Quorum::One).await }
        })
        .buffer_unordered(CONCURRENCY)
        .inspect(|_| bar.inc(1))
        .collect()
        .await;
    bar.finish_and_clear();
    if let Some(error) = results.into_iter().find_map(Result::err) {
        return Err(CliError::DemoFailed {
            step: "put",
            detail: error.to_string(),
        });
    }
    summary.record(
        "put",
        format!("{count}/{count} notes stored on {}", writer.name),
        &[format!(
            "each durable in {}'s file first, then sent to the closest peers of its key",
            writer.name
        )],
        started.elapsed(),
    );
    Ok(())
}

/// The reader gets every note: those it does not hold come from its peers through the DHT.
async fn read_notes(reader: &DemoNode, count: u32, summary: &mut Summary) -> CliResult<()> {
    let started = Instant::now();
    let bar = progress::bar(
        u64::from(count),
        format!("reading {count} notes on {}", reader.name),
    );
    let results: Vec<_> = futures::stream::iter(1..=count)
        .map(|id| {
            let handle = reader.handle.clone();
            async move {
                let key = Note::record_key(&NoteKey(id))?;
                let fetched = handle.get_record(&key).await?;
                let value = Note::from_record(&fetched.record)?;
                Ok::<_, CliError>((id, value, fetched.source))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .inspect(|_| bar.inc(1))
        .collect()
        .await;
    bar.finish_and_clear();
    let (mut from_peers, mut local) = (0, 0);
    for result in results {
        let (id, value, source) = result.map_err(|error| CliError::DemoFailed {
            step: "read",
            detail: error.to_string(),
        })?;
        if value != note(id, "node-1") {
            return Err(CliError::DemoFailed {
                step: "read",
                detail: format!("note {id} read back as {value:?}"),
            });
        }
        match source {
            RecordSource::Peer(_) => from_peers += 1,
            RecordSource::Local => local += 1,
        }
    }
    summary.record(
        "read",
        format!(
            "{count}/{count} intact on {}, {from_peers} through the DHT",
            reader.name
        ),
        &[format!(
            "{from_peers} fetched from peers through the DHT, {local} already held as replicas"
        )],
        started.elapsed(),
    );
    Ok(())
}

/// The ids of the notes `node` holds in its own store.
async fn held_notes(node: &DemoNode, count: u32) -> CliResult<Vec<u32>> {
    let mut held = Vec::new();
    for id in 1..=count {
        if node.handle.get_local::<Note>(&NoteKey(id)).await?.is_some() {
            held.push(id);
        }
    }
    Ok(held)
}

/// Stops the node (neither the writer nor the reader) that holds the most notes, reopens its file,
/// restarts it, and has a newcomer that knows only this node read its notes.
async fn restart(
    network: &mut Vec<DemoNode>,
    count: u32,
    settings: Settings,
    summary: &mut Summary,
) -> CliResult<()> {
    let started = Instant::now();
    let spinner = progress::spinner("restarting a node from its file");
    let candidates = 1..network.len() - 1;
    let mut target = (candidates.start, Vec::new());
    for index in candidates {
        let held = held_notes(&network[index], count).await?;
        if held.len() > target.1.len() || index == 1 {
            target = (index, held);
        }
    }
    let (index, held) = target;
    let name = network[index].name.clone();
    let peer = network[index].peer_id();
    let seed = network[0].address.clone();

    let path = network.remove(index).stop().await?;
    let on_disk = {
        let store = network::open_store(&path)?;
        let notes = store.scan_schema::<Note>().collect::<Result<Vec<_>, _>>()?;
        notes.len()
    };
    if on_disk < held.len() {
        return Err(CliError::DemoFailed {
            step: "restart",
            detail: format!(
                "{name} held {} notes but its file has {on_disk} after a clean stop",
                held.len()
            ),
        });
    }
    let restarted = DemoNode::start(name.clone(), path, settings, Some(&seed)).await?;
    if restarted.peer_id() != peer {
        return Err(CliError::DemoFailed {
            step: "restart",
            detail: format!("{name} came back with another peer id"),
        });
    }

    let probe = Probe::connect_to(&restarted.address, settings).await?;
    let (mut served, mut by_restarted) = (0, 0);
    for &id in &held {
        let key = Note::record_key(&NoteKey(id))?;
        let fetched = probe.handle.get_record(&key).await?;
        if Note::from_record(&fetched.record)? == note(id, "node-1") {
            served += 1;
        }
        if fetched.source == RecordSource::Peer(peer) {
            by_restarted += 1;
        }
    }
    probe.stop().await?;
    network.insert(index, restarted);
    spinner.finish_and_clear();
    if served != held.len() {
        return Err(CliError::DemoFailed {
            step: "restart",
            detail: format!("only {served} of {} notes were served", held.len()),
        });
    }
    summary.record(
        "restart",
        format!(
            "{name} back from its file, {served}/{} notes served",
            held.len()
        ),
        &[
            format!(
                "{name} stopped, {on_disk} notes found in {name}.redb, restarted with the same \
                 peer id"
            ),
            format!(
                "a newcomer that knows only {name} read {served}/{} of them ({by_restarted} \
                 answered by {name} itself)",
                held.len()
            ),
        ],
        started.elapsed(),
    );
    Ok(())
}

/// A note (expiring presence) is written with a short time to live, read at once, and is served by
/// no node once it has expired.
async fn expiry(network: &[DemoNode], ttl: Duration, summary: &mut Summary) -> CliResult<()> {
    let started = Instant::now();
    let writer = &network[0];
    let reader = &network[2 % network.len()];
    let presence = Presence {
        user: "alice".into(),
        status: "online".into(),
    };
    let key = presence.key();
    let deadline = Instant::now() + ttl;
    writer
        .handle
        .put_expiring(&presence, Quorum::One, ttl)
        .await?;
    let seen = reader.handle.get::<Presence>(&key).await?;
    if seen != presence {
        return Err(CliError::DemoFailed {
            step: "expiry",
            detail: format!("{} read {seen:?}", reader.name),
        });
    }
    let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    let bar = progress::bar(
        millis,
        format!(
            "waiting out the {} TTL (ms)",
            humantime::format_duration(ttl)
        ),
    );
    // A little past the deadline: the writer's own copy expires exactly then, peers' copies (kad
    // sends whole seconds) no later.
    let margin = Duration::from_millis(50);
    while Instant::now() < deadline + margin {
        let waited = ttl.saturating_sub(deadline.saturating_duration_since(Instant::now()));
        bar.set_position(u64::try_from(waited.as_millis()).unwrap_or(millis));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bar.finish_and_clear();
    for node in network {
        match node.handle.get::<Presence>(&key).await {
            Err(NodeError::NotFound { .. }) => {}
            Ok(value) => {
                return Err(CliError::DemoFailed {
                    step: "expiry",
                    detail: format!("{} still served {value:?} after it expired", node.name),
                });
            }
            Err(error) => return Err(error.into()),
        }
    }
    summary.record(
        "expiry",
        format!(
            "gone from all {} nodes after {}",
            network.len(),
            humantime::format_duration(ttl)
        ),
        &[format!(
            "alice's presence, put on {} with a time to live of {}, was read on {} at once; \
             after it expired no node served it",
            writer.name,
            humantime::format_duration(ttl),
            reader.name
        )],
        started.elapsed(),
    );
    Ok(())
}

/// Two nodes write different revisions of one note at the same time; after one sync round every
/// node holds the higher revision.
async fn conflict(network: &[DemoNode], id: u32, summary: &mut Summary) -> CliResult<()> {
    let started = Instant::now();
    let (a, b) = (&network[1], &network[2]);
    let edit = |node: &DemoNode, revision| Note {
        id,
        author: node.name.clone(),
        text: format!("agenda, edited on {}", node.name),
        revision,
    };
    let (first, second) = (edit(a, 2), edit(b, 3));
    let (put_a, put_b) = tokio::join!(
        a.handle.put(&first, Quorum::One),
        b.handle.put(&second, Quorum::One)
    );
    // The loser's put may already be refused: by its own node, if the winner reached it first
    // (a stale write), or by the peers that hold the winner. That is the honest answer.
    let outcome_a = put_outcome(put_a)?;
    let outcome_b = put_outcome(put_b)?;
    let key = NoteKey(id);
    let before = revisions(network, &key).await?;

    let mut options = SyncOptions::new();
    options.set_keys(vec![Note::record_key(&key)?]);
    for node in network {
        node.handle.sync_from_network(&options).await?;
    }
    let after = revisions(network, &key).await?;
    for (node, held) in network.iter().zip(&after) {
        if held.as_ref() != Some(&second) {
            return Err(CliError::DemoFailed {
                step: "conflict",
                detail: format!("{} holds {held:?} after the sync", node.name),
            });
        }
    }
    let shown: Vec<String> = network
        .iter()
        .zip(&before)
        .map(|(node, held)| {
            let revision = held
                .as_ref()
                .map_or("none".into(), |n| n.revision.to_string());
            format!("{}: {revision}", node.name)
        })
        .collect();
    summary.record(
        "conflict",
        format!("all {} nodes converged on revision 3", network.len()),
        &[
            format!(
                "{} wrote revision 2 of note {id} while {} wrote revision 3",
                a.name, b.name
            ),
            format!("revision 2's put: {outcome_a}; revision 3's put: {outcome_b}"),
            format!("revisions held before a sync: {}", shown.join(", ")),
            "after one sync_from_network on each node, all hold revision 3 (#[version]: higher \
             wins)"
                .to_owned(),
        ],
        started.elapsed(),
    );
    Ok(())
}

/// One node removes the conflict step's note; every node then looks it up on the network, finds
/// the tombstone and answers "not found", and keeps the tombstone.
async fn delete(network: &[DemoNode], id: u32, summary: &mut Summary) -> CliResult<()> {
    let started = Instant::now();
    let remover = &network[network.len() - 2];
    let key = NoteKey(id);
    let report = remover.handle.remove::<Note>(&key, Quorum::One).await?;
    for node in network {
        match node.handle.get_from_network::<Note>(&key).await {
            Err(NodeError::NotFound { deleted: true, .. }) => {}
            Ok(note) => {
                return Err(CliError::DemoFailed {
                    step: "delete",
                    detail: format!("{} still found {note:?} after the remove", node.name),
                });
            }
            Err(error) => return Err(error.into()),
        }
        if let Some(note) = node.handle.get_local::<Note>(&key).await? {
            return Err(CliError::DemoFailed {
                step: "delete",
                detail: format!("{} still holds {note:?} locally", node.name),
            });
        }
    }
    summary.record(
        "delete",
        format!("note {id} gone from all {} nodes", network.len()),
        &[
            format!(
                "{} removed note {id}: its tombstone was stored by {} peer(s), and every node's \
                 lookup met it and answered not found",
                remover.name,
                report.reached()
            ),
            "nodes that held the note now hold its tombstone, so the old value cannot come back"
                .to_owned(),
        ],
        started.elapsed(),
    );
    Ok(())
}

/// What became of one of the conflict step's puts: stored, or refused because it lost.
fn put_outcome(result: Result<PutReport, NodeError>) -> CliResult<String> {
    match result {
        Ok(report) => Ok(format!("stored by {} peer(s)", report.reached())),
        Err(NodeError::StaleWrite { .. }) => {
            Ok("refused by its own node, which already held the winner".to_owned())
        }
        Err(NodeError::QuorumFailed { report, .. })
            if !report.refused.is_empty()
                && report
                    .refused
                    .iter()
                    .all(|refusal| refusal.reason == RefusalReason::LostConflict) =>
        {
            Ok(format!(
                "refused by {} peer(s) holding the winner (lost conflict)",
                report.refused.len()
            ))
        }
        Err(error) => Err(error.into()),
    }
}

/// What each node holds locally under `key`.
async fn revisions(network: &[DemoNode], key: &NoteKey) -> CliResult<Vec<Option<Note>>> {
    let mut held = Vec::with_capacity(network.len());
    for node in network {
        held.push(node.handle.get_local::<Note>(key).await?);
    }
    Ok(held)
}
