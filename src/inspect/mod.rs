//! `netabase inspect`: what a store holds, read from its file while no node has it open. The file
//! is opened read-only (`RedbStore::open_read_only`): inspecting a store never changes a byte of
//! it, also when it is a copy of a live node's file that redb must repair to read.
//!
//! The summary walks the store once in bounded memory (`summary.rs`, with `top.rs` for the
//! heaviest publishers), `--list` streams the records it selects (`list.rs`), and a file that
//! cannot be inspected is reported and the others are still inspected.

mod list;
mod render;
mod summary;
mod top;

use std::path::{Path, PathBuf};

use netabase_store::{OpenError, RedbStore, StoreReader};
use serde::Serialize;

use crate::bytes;
use crate::cli::InspectArgs;
use crate::error::{CliError, CliResult};

pub use summary::StoreReport;

/// Runs `netabase inspect`.
pub fn run(args: &InspectArgs) -> CliResult<()> {
    let parse = |what: &'static str, text: &str| {
        bytes::parse(text, args.hex).map_err(|source| CliError::BadBytes {
            what,
            input: text.to_owned(),
            source,
        })
    };
    let key = args
        .key
        .as_deref()
        .map(|key| parse("key", key))
        .transpose()?;
    let prefix = args
        .prefix
        .as_deref()
        .map(|prefix| parse("prefix", prefix))
        .transpose()?;
    let files = store_files(&args.path)?;
    if let [file] = files.as_slice() {
        // One file: its error is the command's.
        let store = open(file, args.verify)?;
        if args.list {
            return list::print(&store, prefix.unwrap_or_default(), args.limit, args.json);
        }
        let report = summary::inspect(&store, key.as_deref())?;
        return print_reports(&[report], &[], args.json);
    }
    let mut reports = Vec::new();
    let mut failed = Vec::new();
    for file in &files {
        let inspected = open(file, args.verify).and_then(|store| {
            if args.list {
                list::print(
                    &store,
                    prefix.clone().unwrap_or_default(),
                    args.limit,
                    args.json,
                )
                .map(|()| None)
            } else {
                summary::inspect(&store, key.as_deref()).map(Some)
            }
        });
        match inspected {
            Ok(Some(report)) => reports.push(report),
            Ok(None) => {}
            Err(error) => {
                eprintln!("error: {}", crate::network::one_line(&error.to_string()));
                failed.push(Failure {
                    path: file.display().to_string(),
                    error: error.to_string(),
                });
            }
        }
    }
    if !args.list {
        print_reports(&reports, &failed, args.json)?;
    }
    match failed.len() {
        0 => Ok(()),
        count => Err(CliError::StoresFailed {
            failed: count,
            total: files.len(),
        }),
    }
}

/// Everything `inspect` printed, as JSON.
#[derive(Debug, Serialize)]
struct Inspection<'r> {
    stores: &'r [StoreReport],
    /// The files that could not be inspected.
    failed: &'r [Failure],
}

/// A file that could not be inspected.
#[derive(Debug, Serialize)]
struct Failure {
    path: String,
    error: String,
}

fn print_reports(reports: &[StoreReport], failed: &[Failure], json: bool) -> CliResult<()> {
    if json {
        let inspection = Inspection {
            stores: reports,
            failed,
        };
        println!("{}", serde_json::to_string_pretty(&inspection)?);
        return Ok(());
    }
    for (index, report) in reports.iter().enumerate() {
        if index > 0 {
            println!();
        }
        print!("{}", render::render(report));
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

/// Opens one store file read-only: the file is left as it was.
fn open(path: &Path, verify: bool) -> CliResult<StoreReader> {
    RedbStore::builder()
        .set_verify_on_open(verify)
        .open_read_only(path)
        .map_err(open_error)
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
