//! One record as every command prints it in JSON: `get`, `put`, `inspect --key` and
//! `inspect --list` all nest this object under `"record"`, with raw numbers (bytes, unix
//! milliseconds) rather than text meant for people.

use std::time::Instant;

use netabase_store::kad::Record;
use netabase_store::split_record_key;
use netabase_store::tombstone::deleted_value;
use serde::{Deserialize, Serialize};

use crate::bytes;
use crate::output;

/// A record in JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordJson {
    /// The key, escaped as Netabase prints keys (`/netabase/Note/\x07`).
    pub key: String,
    /// The key as hex.
    pub key_hex: String,
    /// The schema prefix `/<namespace>/<name>/`, escaped, if the key has one.
    pub schema: Option<String>,
    /// The value, escaped.
    pub value: String,
    /// The value as hex.
    pub value_hex: String,
    /// The value's size in bytes.
    pub value_bytes: usize,
    /// Whether the value is a tombstone (a deleted value; recognised by its bytes).
    pub deleted: bool,
    /// The publisher's peer id.
    pub publisher: Option<String>,
    /// When the record expires, in unix milliseconds; `null`: never.
    pub expires_unix_ms: Option<u64>,
    /// Milliseconds until it expires; `null`: never.
    pub expires_in_ms: Option<u64>,
}

impl RecordJson {
    /// The JSON of `record`.
    pub fn of(record: &Record) -> Self {
        let key = record.key.as_ref();
        RecordJson {
            key: bytes::escape(key),
            key_hex: bytes::to_hex(key),
            schema: split_record_key(key)
                .map(|(_, _, rest)| bytes::escape(&key[..key.len() - rest.len()])),
            value: bytes::escape(&record.value),
            value_hex: bytes::to_hex(&record.value),
            value_bytes: record.value.len(),
            deleted: deleted_value(&record.value).is_some(),
            publisher: record.publisher.map(|peer| peer.to_string()),
            expires_unix_ms: record.expires.map(output::unix_ms),
            expires_in_ms: record.expires.map(|deadline| {
                let left = deadline.saturating_duration_since(Instant::now());
                u64::try_from(left.as_millis()).unwrap_or(u64::MAX)
            }),
        }
    }
}

impl RecordJson {
    /// When the record expires, for people: `2026-12-02T17:00:00Z (in 1h 0m)`, or `never`.
    pub fn expiry_text(&self) -> String {
        match (self.expires_unix_ms, self.expires_in_ms) {
            (Some(at), Some(left)) => format!(
                "{} (in {})",
                output::timestamp_ms(at),
                output::approx(std::time::Duration::from_millis(left))
            ),
            _ => "never".to_owned(),
        }
    }
}
