//! `inspect --list`: the records of a store under a key prefix, streamed as they are read (one
//! page of the store in memory at a time), as lines of text or one JSON object per line.

use std::io::Write;

use netabase_store::StoreReader;
use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::record_json::RecordJson;

/// One line of `inspect --list --json`.
#[derive(Serialize)]
struct Listed<'a> {
    store: &'a str,
    record: RecordJson,
}

/// Prints the unexpired records of `store` whose keys start with `prefix`, in key order, at most
/// `limit` of them. A damaged entry is reported on stderr and skipped.
pub fn print(
    store: &StoreReader,
    prefix: Vec<u8>,
    limit: Option<u64>,
    json: bool,
) -> CliResult<()> {
    let path = store.path().display().to_string();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let write_error = |source| CliError::io("write", "standard output", source);
    let mut listed = 0u64;
    let mut damaged = 0u64;
    for record in store.scan(prefix) {
        if limit.is_some_and(|limit| listed >= limit) {
            break;
        }
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                damaged += 1;
                tracing::warn!(%error, "skipping a damaged entry");
                continue;
            }
        };
        let record = RecordJson::of(&record);
        if json {
            serde_json::to_writer(
                &mut out,
                &Listed {
                    store: &path,
                    record,
                },
            )?;
            writeln!(out).map_err(write_error)?;
        } else {
            writeln!(
                out,
                "{}  {} B  expires {}  publisher {}{}",
                record.key,
                record.value_bytes,
                record.expiry_text(),
                record.publisher.as_deref().unwrap_or("(none)"),
                if record.deleted { "  (deleted)" } else { "" }
            )
            .map_err(write_error)?;
        }
        listed += 1;
    }
    if !json {
        let damaged = if damaged > 0 {
            format!(", {damaged} damaged entries skipped")
        } else {
            String::new()
        };
        writeln!(out, "{listed} records listed from {path}{damaged}").map_err(write_error)?;
    }
    out.flush().map_err(write_error)
}
