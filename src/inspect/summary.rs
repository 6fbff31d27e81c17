//! The summary of one store: one walk of its records and provider records in bounded memory,
//! whatever the store holds. Per schema prefix the figures are exact for the first
//! [`MAX_PREFIXES`] prefixes (the rest are summed as one group); publishers are counted with a
//! bounded top-N counter ([`super::top`]).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Instant;

use netabase_store::kad::RecordKey;
use netabase_store::tombstone::deleted_value;
use netabase_store::{PeerId, identity_path_beside, split_record_key};
use serde::{Deserialize, Serialize};

use super::top::TopCounter;
use super::view::StoreView;
use crate::bytes;
use crate::error::{CliError, CliResult};
use crate::output;
use crate::record_json::RecordJson;

/// The group of records whose keys have no `/<namespace>/<name>/` prefix.
pub const NO_PREFIX: &str = "(keys without a schema prefix)";
/// The group of the records of every prefix past the first [`MAX_PREFIXES`].
pub const OTHER_PREFIXES: &str = "(other prefixes)";
/// How many schema prefixes get a row of their own.
pub const MAX_PREFIXES: usize = 1000;
/// How many distinct publishers a prefix's row counts exactly.
pub const MAX_PREFIX_PUBLISHERS: usize = 100;
/// How many publishers the counter tracks, and how many the report shows.
const PUBLISHERS_TRACKED: usize = 1000;
const PUBLISHERS_SHOWN: usize = 10;

/// What one store file holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoreReport {
    /// The file.
    pub path: String,
    /// The file's size on disk.
    pub file_bytes: u64,
    /// Whether opening the file verified every page (`--verify`, or a file that was not closed
    /// cleanly or was changed since).
    pub verified: bool,
    /// Whether the running node that holds the file read it, through its control socket.
    #[serde(default)]
    pub live: bool,
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
    /// The peers that published the most records.
    pub publishers: PublishersReport,
    /// Provider records.
    pub providers: ProviderReport,
    /// Entries that could not be read (damaged behind the store's back); the walk went past them.
    pub damaged: DamageReport,
    /// The record asked for with `--key`, when one was asked for; `null` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Option<RecordJson>>,
}

/// Entries of a store that could not be read: counted, the first few described, and skipped.
#[derive(Debug, Default, Serialize, Deserialize)]
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
#[derive(Debug, Default, Serialize, Deserialize)]
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
    /// The soonest expiry, unix milliseconds.
    pub next_expiry_unix_ms: Option<u64>,
    /// The latest expiry, unix milliseconds.
    pub last_expiry_unix_ms: Option<u64>,
    /// How many distinct publishers, counted up to [`MAX_PREFIX_PUBLISHERS`].
    pub publishers: usize,
    /// Whether `publishers` is exact (false: there are at least that many).
    pub publishers_exact: bool,
}

/// The heaviest publishers of a store.
#[derive(Debug, Serialize, Deserialize)]
pub struct PublishersReport {
    /// How many distinct publishers there are, when that is known (`exact`).
    pub distinct: Option<usize>,
    /// Whether every count is exact: the store has at most the 1000 publishers the counter
    /// tracks. When not, a count may be too high by its `overcount`, never too low.
    pub exact: bool,
    /// The publishers with the most records, most first.
    pub top: Vec<PublisherReport>,
}

/// The records one peer published.
#[derive(Debug, Serialize, Deserialize)]
pub struct PublisherReport {
    /// The publisher's peer id, or `null` for records without one.
    pub peer_id: Option<String>,
    /// How many records.
    pub records: u64,
    /// The most `records` may be too high by.
    pub overcount: u64,
}

/// The provider records of a store: all of them, of every provider and key.
#[derive(Debug, Default, Serialize, Deserialize)]
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
    publishers_capped: bool,
}

impl Totals {
    fn add(&mut self, key_len: u64, record: &netabase_store::kad::Record) {
        let value_len = record.value.len() as u64;
        self.records += 1;
        self.key_bytes += key_len;
        self.value_bytes += value_len;
        self.largest_value = self.largest_value.max(value_len);
        if deleted_value(&record.value).is_some() {
            self.tombstones += 1;
        }
        if let Some(expires) = record.expires {
            self.expiring += 1;
            self.next_expiry = Some(self.next_expiry.map_or(expires, |t| t.min(expires)));
            self.last_expiry = Some(self.last_expiry.map_or(expires, |t| t.max(expires)));
        }
        if self.publishers.len() < MAX_PREFIX_PUBLISHERS {
            self.publishers.insert(record.publisher);
        } else if !self.publishers.contains(&record.publisher) {
            self.publishers_capped = true;
        }
    }
}

/// Reads the report of one store; with `key`, also that record.
pub fn inspect(store: &impl StoreView, key: Option<&[u8]>) -> CliResult<StoreReport> {
    let path = store.path();
    let file_bytes = std::fs::metadata(path)
        .map_err(|source| CliError::io("read", path, source))?
        .len();
    let peer_id = owner_peer_id(path);

    // Keyed by prefix; `None` is the group of every prefix past the first MAX_PREFIXES.
    let mut groups: BTreeMap<Option<Vec<u8>>, Totals> = BTreeMap::new();
    let mut publishers = TopCounter::new(PUBLISHERS_TRACKED);
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
        let group = if groups.len() < MAX_PREFIXES || groups.contains_key(&Some(prefix.clone())) {
            Some(prefix)
        } else {
            None
        };
        groups
            .entry(group)
            .or_default()
            .add(key.len() as u64, &record);
        publishers.add(record.publisher);
        records += 1;
        key_bytes += key.len() as u64;
        value_bytes += record.value.len() as u64;
    }
    let stored = store.record_count()?;

    let (providers, damaged_providers) = provider_report(store, peer_id, &mut damaged)?;
    let record = match key {
        Some(key) => Some(
            store
                .get_record(&RecordKey::new(&key))?
                .map(|record| RecordJson::of(&record)),
        ),
        None => None,
    };
    let mut providers = providers;
    providers.expired_awaiting_sweep = store
        .provider_record_count()?
        .saturating_sub(providers.records + damaged_providers);
    Ok(StoreReport {
        path: path.display().to_string(),
        file_bytes,
        verified: store.verified_on_open(),
        live: false,
        peer_id: peer_id.map(|peer| peer.to_string()),
        records,
        expired_awaiting_sweep: stored.saturating_sub(records + damaged_records),
        key_bytes,
        value_bytes,
        // `None` sorts first; the group of other prefixes goes last.
        schemas: groups
            .iter()
            .filter(|(prefix, _)| prefix.is_some())
            .chain(groups.iter().filter(|(prefix, _)| prefix.is_none()))
            .map(|(prefix, totals)| schema_report(prefix.as_deref(), totals))
            .collect(),
        publishers: PublishersReport {
            distinct: publishers.distinct(),
            exact: publishers.exact(),
            top: publishers
                .top(PUBLISHERS_SHOWN)
                .into_iter()
                .map(|counted| PublisherReport {
                    peer_id: counted.item.map(|peer| peer.to_string()),
                    records: counted.count,
                    overcount: counted.overcount,
                })
                .collect(),
        },
        providers,
        damaged,
        record,
    })
}

/// The provider records of `store`, and how many provider entries were damaged (noted in
/// `damaged`).
fn provider_report(
    store: &impl StoreView,
    peer_id: Option<PeerId>,
    damaged: &mut DamageReport,
) -> CliResult<(ProviderReport, u64)> {
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
    Ok((providers, damaged_providers))
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

fn schema_report(prefix: Option<&[u8]>, totals: &Totals) -> SchemaReport {
    SchemaReport {
        prefix: match prefix {
            None => OTHER_PREFIXES.to_owned(),
            Some([]) => NO_PREFIX.to_owned(),
            Some(prefix) => bytes::escape(prefix),
        },
        records: totals.records,
        key_bytes: totals.key_bytes,
        value_bytes: totals.value_bytes,
        largest_value: totals.largest_value,
        expiring: totals.expiring,
        tombstones: totals.tombstones,
        next_expiry_unix_ms: totals.next_expiry.map(output::unix_ms),
        last_expiry_unix_ms: totals.last_expiry.map(output::unix_ms),
        publishers: totals.publishers.len(),
        publishers_exact: !totals.publishers_capped,
    }
}
