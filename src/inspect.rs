//! `netabase inspect`: what a store holds, read from its file while no node has it open. The file
//! is opened read-only (`RedbStore::open_read_only`): inspecting a store never changes a byte of
//! it, also when it is a copy of a live node's file that redb must repair to read.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use netabase_store::kad::{Record, RecordKey};
use netabase_store::tombstone::deleted_value;
use netabase_store::{OpenError, PeerId, RedbStore, identity_path_beside, split_record_key};
use serde::Serialize;

use crate::bytes;
use crate::cli::InspectArgs;
use crate::error::{CliError, CliResult};
use crate::output::{self, Align, Table};

/// The group of records whose keys have no `/<namespace>/<name>/` prefix.
const NO_PREFIX: &str = "(keys without a schema prefix)";

/// Runs `netabase inspect`.
pub fn run(args: &InspectArgs) -> CliResult<()> {
    let key = args
        .key
        .as_deref()
        .map(|key| {
            bytes::parse(key, args.hex).map_err(|source| CliError::BadBytes {
                what: "key",
                input: key.to_owned(),
                source,
            })
        })
        .transpose()?;
    let mut reports = Vec::new();
    for file in store_files(&args.path)? {
        reports.push(inspect_file(&file, key.as_deref(), args.verify)?);
    }
    if args.json {
        let json = serde_json::to_string_pretty(&Inspection { stores: reports })?;
        println!("{json}");
    } else {
        for (index, report) in reports.iter().enumerate() {
            if index > 0 {
                println!();
            }
            print!("{}", render(report));
        }
    }
    Ok(())
}

/// The store files `path` names: the file itself, or the `*.redb` files of a directory.
pub fn store_files(path: &Path) -> CliResult<Vec<PathBuf>> {
    let metadata = std::fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => CliError::PathNotFound(path.to_path_buf()),
        _ => CliError::io("read", path, source),
    })?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|source| CliError::io("list", path, source))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| CliError::io("list", path, source))?;
        let file = entry.path();
        if file.extension().is_some_and(|ext| ext == "redb") && file.is_file() {
            files.push(file);
        }
    }
    if files.is_empty() {
        return Err(CliError::NoStoreInDirectory(path.to_path_buf()));
    }
    files.sort();
    Ok(files)
}

/// Everything `inspect` printed, as JSON.
#[derive(Debug, Serialize)]
struct Inspection {
    stores: Vec<StoreReport>,
}

/// What one store file holds.
#[derive(Debug, Serialize)]
pub struct StoreReport {
    /// The file.
    pub path: String,
    /// The file's size on disk.
    pub file_bytes: u64,
    /// The peer id of the node that owns the store, from its identity file beside it.
    pub peer_id: Option<String>,
    /// Unexpired records.
    pub records: u64,
    /// Records whose expiry passed but that the node's sweep has not removed yet (never served).
    pub expired_awaiting_sweep: u64,
    /// Bytes of all record keys.
    pub key_bytes: u64,
    /// Bytes of all record values.
    pub value_bytes: u64,
    /// Records grouped by schema prefix `/<namespace>/<name>/`.
    pub schemas: Vec<SchemaReport>,
    /// Records grouped by the peer that published them.
    pub publishers: Vec<PublisherReport>,
    /// Provider records.
    pub providers: ProviderReport,
    /// Entries that could not be read (damaged behind the store's back); the walk went past them.
    pub damaged: DamageReport,
    /// The record asked for with `--key`, when one was asked for; `null` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Option<RecordReport>>,
}

/// Entries of a store that could not be read: counted, the first few described, and skipped.
#[derive(Debug, Default, Serialize)]
pub struct DamageReport {
    /// How many record and provider entries could not be read.
    pub entries: u64,
    /// What was wrong with the first [`DAMAGE_SHOWN`] of them.
    pub first: Vec<String>,
}

/// How many damaged entries a report describes; the others are only counted, so a badly damaged
/// store gives a short report.
pub const DAMAGE_SHOWN: usize = 5;

impl DamageReport {
    /// Counts `error` and keeps its message if it is among the first.
    fn note(&mut self, error: &dyn std::fmt::Display) {
        self.entries += 1;
        if self.first.len() < DAMAGE_SHOWN {
            self.first.push(error.to_string());
        }
    }
}

/// The records of one schema prefix.
#[derive(Debug, Default, Serialize)]
pub struct SchemaReport {
    /// `/<namespace>/<name>/`, escaped.
    pub prefix: String,
    /// How many records.
    pub records: u64,
    /// Bytes of their keys.
    pub key_bytes: u64,
    /// Bytes of their values.
    pub value_bytes: u64,
    /// The largest value.
    pub largest_value: u64,
    /// How many have an expiry.
    pub expiring: u64,
    /// How many are tombstones: deleted values (`netabase::tombstone`; recognised by their
    /// bytes, since inspect knows no schema).
    pub tombstones: u64,
    /// The soonest expiry (RFC 3339 UTC).
    pub next_expiry: Option<String>,
    /// The latest expiry (RFC 3339 UTC).
    pub last_expiry: Option<String>,
    /// How many distinct publishers.
    pub publishers: usize,
}

/// The records one peer published.
#[derive(Debug, Serialize)]
pub struct PublisherReport {
    /// The publisher's peer id, or `null` for records without one.
    pub peer_id: Option<String>,
    /// How many records.
    pub records: u64,
}

/// The provider records of a store: all of them, of every provider and key.
#[derive(Debug, Default, Serialize)]
pub struct ProviderReport {
    /// Unexpired provider records.
    pub records: u64,
    /// Distinct keys they provide.
    pub keys: u64,
    /// Of the records, those whose provider is the store's own node.
    pub provided_by_this_node: u64,
    /// Provider records whose expiry passed but that the node's sweep has not removed yet.
    pub expired_awaiting_sweep: u64,
}

/// One record, for `--key`.
#[derive(Debug, Serialize)]
pub struct RecordReport {
    /// The key, escaped.
    pub key: String,
    /// The key as hex.
    pub key_hex: String,
    /// The schema prefix, escaped, if the key has one.
    pub schema: Option<String>,
    /// The value's size.
    pub value_bytes: usize,
    /// The value, escaped.
    pub value: String,
    /// The value as hex.
    pub value_hex: String,
    /// Whether the record is a tombstone: its value was deleted (the bytes before the marker).
    pub deleted: bool,
    /// The publisher.
    pub publisher: Option<String>,
    /// When it expires (RFC 3339 UTC).
    pub expires: Option<String>,
    /// Seconds until it expires.
    pub expires_in_secs: Option<u64>,
}

/// Per-prefix totals while walking the store.
#[derive(Default)]
struct Totals {
    records: u64,
    key_bytes: u64,
    value_bytes: u64,
    largest_value: u64,
    expiring: u64,
    tombstones: u64,
    next_expiry: Option<Instant>,
    last_expiry: Option<Instant>,
    publishers: HashSet<Option<PeerId>>,
}

/// Reads the report of one store file, opened read-only: the file is left as it was.
pub fn inspect_file(path: &Path, key: Option<&[u8]>, verify: bool) -> CliResult<StoreReport> {
    let file_bytes = std::fs::metadata(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => CliError::PathNotFound(path.to_path_buf()),
            _ => CliError::io("read", path, source),
        })?
        .len();
    let peer_id = owner_peer_id(path);
    let store = RedbStore::builder()
        .set_verify_on_open(verify)
        .open_read_only(path)
        .map_err(open_error)?;

    let mut groups: BTreeMap<Vec<u8>, Totals> = BTreeMap::new();
    let mut publishers: BTreeMap<Option<PeerId>, u64> = BTreeMap::new();
    let (mut records, mut key_bytes, mut value_bytes) = (0u64, 0u64, 0u64);
    let mut damaged = DamageReport::default();
    let mut damaged_records = 0u64;
    for record in store.scan(Vec::new()) {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                damaged.note(&error);
                damaged_records += 1;
                continue;
            }
        };
        let key = record.key.as_ref();
        let prefix = match split_record_key(key) {
            Some((_, _, rest)) => key[..key.len() - rest.len()].to_vec(),
            None => Vec::new(),
        };
        let totals = groups.entry(prefix).or_default();
        let (k, v) = (key.len() as u64, record.value.len() as u64);
        totals.records += 1;
        totals.key_bytes += k;
        totals.value_bytes += v;
        totals.largest_value = totals.largest_value.max(v);
        if deleted_value(&record.value).is_some() {
            totals.tombstones += 1;
        }
        if let Some(expires) = record.expires {
            totals.expiring += 1;
            totals.next_expiry = Some(totals.next_expiry.map_or(expires, |t| t.min(expires)));
            totals.last_expiry = Some(totals.last_expiry.map_or(expires, |t| t.max(expires)));
        }
        totals.publishers.insert(record.publisher);
        *publishers.entry(record.publisher).or_default() += 1;
        records += 1;
        key_bytes += k;
        value_bytes += v;
    }
    let stored = store.record_count()?;

    let mut providers = ProviderReport::default();
    // The walk is ordered by key, so each key's providers are consecutive.
    let mut last_key: Option<RecordKey> = None;
    let mut damaged_providers = 0u64;
    for provider in store.scan_providers() {
        let provider = match provider {
            Ok(provider) => provider,
            Err(error) => {
                damaged.note(&error);
                damaged_providers += 1;
                continue;
            }
        };
        providers.records += 1;
        if Some(provider.provider) == peer_id {
            providers.provided_by_this_node += 1;
        }
        if last_key.as_ref() != Some(&provider.key) {
            providers.keys += 1;
            last_key = Some(provider.key);
        }
    }
    providers.expired_awaiting_sweep = store
        .provider_record_count()?
        .saturating_sub(providers.records + damaged_providers);

    let record = match key {
        Some(key) => Some(
            store
                .get_record(&RecordKey::new(&key))?
                .map(|record| record_report(&record)),
        ),
        None => None,
    };
    Ok(StoreReport {
        path: path.display().to_string(),
        file_bytes,
        peer_id: peer_id.map(|peer| peer.to_string()),
        records,
        expired_awaiting_sweep: stored.saturating_sub(records + damaged_records),
        key_bytes,
        value_bytes,
        schemas: groups
            .into_iter()
            .map(|(prefix, totals)| schema_report(&prefix, totals))
            .collect(),
        publishers: publishers
            .into_iter()
            .map(|(peer, records)| PublisherReport {
                peer_id: peer.map(|peer| peer.to_string()),
                records,
            })
            .collect(),
        providers,
        damaged,
        record,
    })
}

/// The command's error for a store that cannot be opened.
fn open_error(error: OpenError) -> CliError {
    match error {
        // A writable open would make an empty redb database a store; inspect writes nothing.
        OpenError::NotAStore { path, tables } if tables.is_empty() => CliError::NotAStore {
            path,
            reason: "an empty redb database without Netabase tables".to_owned(),
        },
        other => CliError::from_open(other),
    }
}

/// The peer id in the identity file beside the store (`node.key` for `node.redb`), if there is a
/// readable one. Reads only: the file is never created here.
fn owner_peer_id(store: &Path) -> Option<PeerId> {
    let identity = identity_path_beside(store);
    if !identity.is_file() {
        return None;
    }
    match netabase_store::load_or_create_identity(&identity) {
        Ok(keypair) => Some(keypair.public().to_peer_id()),
        Err(error) => {
            tracing::warn!(%error, "cannot read the identity beside the store");
            None
        }
    }
}

fn schema_report(prefix: &[u8], totals: Totals) -> SchemaReport {
    SchemaReport {
        prefix: if prefix.is_empty() {
            NO_PREFIX.to_owned()
        } else {
            bytes::escape(prefix)
        },
        records: totals.records,
        key_bytes: totals.key_bytes,
        value_bytes: totals.value_bytes,
        largest_value: totals.largest_value,
        expiring: totals.expiring,
        tombstones: totals.tombstones,
        next_expiry: totals
            .next_expiry
            .map(|t| output::timestamp(output::wall_clock(t))),
        last_expiry: totals
            .last_expiry
            .map(|t| output::timestamp(output::wall_clock(t))),
        publishers: totals.publishers.len(),
    }
}

fn record_report(record: &Record) -> RecordReport {
    let key = record.key.as_ref();
    RecordReport {
        key: bytes::escape(key),
        key_hex: bytes::to_hex(key),
        schema: split_record_key(key)
            .map(|(_, _, rest)| bytes::escape(&key[..key.len() - rest.len()])),
        value_bytes: record.value.len(),
        value: bytes::escape(&record.value),
        value_hex: bytes::to_hex(&record.value),
        deleted: deleted_value(&record.value).is_some(),
        publisher: record.publisher.map(|peer| peer.to_string()),
        expires: record
            .expires
            .map(|t| output::timestamp(output::wall_clock(t))),
        expires_in_secs: record
            .expires
            .map(|t| t.saturating_duration_since(Instant::now()).as_secs()),
    }
}

/// The report as aligned tables.
pub fn render(report: &StoreReport) -> String {
    let mut out = String::new();
    let owner = report
        .peer_id
        .as_deref()
        .map(|peer| format!("peer {peer}, "))
        .unwrap_or_default();
    out.push_str(&format!(
        "{}  ({owner}{} on disk)\n",
        report.path,
        output::bytes(report.file_bytes)
    ));
    out.push_str(&format!(
        "  {} records: {} of keys, {} of values; {} expired awaiting sweep\n",
        report.records,
        output::bytes(report.key_bytes),
        output::bytes(report.value_bytes),
        report.expired_awaiting_sweep
    ));
    if report.damaged.entries > 0 {
        out.push_str(&format!(
            "  {} damaged entries skipped (not counted above; everything else is listed):\n",
            report.damaged.entries
        ));
        for damage in &report.damaged.first {
            out.push_str(&format!("    {damage}\n"));
        }
        let unshown = report.damaged.entries - report.damaged.first.len() as u64;
        if unshown > 0 {
            out.push_str(&format!("    and {unshown} more\n"));
        }
    }
    if let Some(record) = &report.record {
        out.push('\n');
        match record {
            Some(record) => out.push_str(&render_record(record)),
            None => out.push_str("  no unexpired record under that key in this store\n"),
        }
        return out;
    }
    if !report.schemas.is_empty() {
        let mut table = Table::new(&[
            ("SCHEMA PREFIX", Align::Left),
            ("RECORDS", Align::Right),
            ("KEYS", Align::Right),
            ("VALUES", Align::Right),
            ("LARGEST", Align::Right),
            ("EXPIRING", Align::Right),
            ("NEXT EXPIRY", Align::Left),
            ("PUBLISHERS", Align::Right),
        ]);
        for schema in &report.schemas {
            table.row(vec![
                schema.prefix.clone(),
                schema.records.to_string(),
                output::bytes(schema.key_bytes),
                output::bytes(schema.value_bytes),
                output::bytes(schema.largest_value),
                schema.expiring.to_string(),
                schema.next_expiry.clone().unwrap_or_else(|| "-".into()),
                schema.publishers.to_string(),
            ]);
        }
        out.push('\n');
        out.push_str(&table.render(2));
        let mut table = Table::new(&[("PUBLISHER", Align::Left), ("RECORDS", Align::Right)]);
        for publisher in &report.publishers {
            table.row(vec![
                publisher.peer_id.clone().unwrap_or_else(|| "(none)".into()),
                publisher.records.to_string(),
            ]);
        }
        out.push('\n');
        out.push_str(&table.render(2));
    }
    let providers = &report.providers;
    out.push('\n');
    out.push_str(&format!(
        "  provider records: {} for {} keys ({} by this node); {} expired awaiting sweep\n",
        providers.records,
        providers.keys,
        providers.provided_by_this_node,
        providers.expired_awaiting_sweep
    ));
    out
}

fn render_record(record: &RecordReport) -> String {
    let mut table = Table::new(&[("FIELD", Align::Left), ("VALUE", Align::Left)]);
    table
        .row(vec!["key".into(), record.key.clone()])
        .row(vec![
            "schema".into(),
            record.schema.clone().unwrap_or_else(|| NO_PREFIX.into()),
        ])
        .row(vec!["value bytes".into(), record.value_bytes.to_string()])
        .row(vec!["value".into(), record.value.clone()])
        .row(vec!["value hex".into(), record.value_hex.clone()])
        .row(vec![
            "deleted".into(),
            if record.deleted {
                "yes: a tombstone, the deleted value followed by \\x00netabase:deleted".into()
            } else {
                "no".into()
            },
        ])
        .row(vec![
            "publisher".into(),
            record.publisher.clone().unwrap_or_else(|| "(none)".into()),
        ])
        .row(vec![
            "expires".into(),
            match (&record.expires, record.expires_in_secs) {
                (Some(at), Some(secs)) => format!(
                    "{at} (in {})",
                    output::approx(std::time::Duration::from_secs(secs))
                ),
                _ => "never".into(),
            },
        ]);
    table.render(2)
}
