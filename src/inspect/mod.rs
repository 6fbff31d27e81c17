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
mod view;

use std::path::{Path, PathBuf};

use netabase_store::{OpenError, RedbStore, StoreReader};
use serde::Serialize;

use crate::bytes;
use crate::cli::InspectArgs;
use crate::error::{CliError, CliResult};

pub use summary::StoreReport;
pub use view::LiveStore;

/// The summary of a running node's store, for its control socket.
pub fn live_summary(store: &LiveStore, key: Option<&[u8]>) -> CliResult<StoreReport> {
    let mut report = summary::inspect(store, key)?;
    report.live = true;
    Ok(report)
}

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
    let one = |file: &Path| inspect_one(file, args, key.as_deref(), prefix.as_deref());
    if let [file] = files.as_slice() {
        // One file: its error is the command's.
        return match one(file)? {
            Some(report) => print_reports(&[report], &[], args.json),
            None => Ok(()),
        };
    }
    let mut reports = Vec::new();
    let mut failed = Vec::new();
    for file in &files {
        match one(file) {
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

/// Inspects one file: its summary (`None` with `--list`, which prints as it goes). A file a
/// running node holds is summarised by that node, through the control socket in its directory.
fn inspect_one(
    file: &Path,
    args: &InspectArgs,
    key: Option<&[u8]>,
    prefix: Option<&[u8]>,
) -> CliResult<Option<StoreReport>> {
    match open(file, args.verify) {
        Ok(store) if args.list => {
            list::print(
                &store,
                prefix.unwrap_or_default().to_vec(),
                args.limit,
                args.json,
            )?;
            Ok(None)
        }
        Ok(store) => summary::inspect(&store, key).map(Some),
        Err(CliError::Locked(path)) => {
            let dir = file.parent().unwrap_or(Path::new("."));
            if args.list || !crate::control::socket_path(dir).exists() {
                return Err(CliError::Locked(path));
            }
            let mut report = ask_live(dir, key)?;
            report.path = file.display().to_string();
            if key.is_some() && report.record.is_none() {
                // JSON's null for "asked, and absent" reads back as "not asked".
                report.record = Some(None);
            }
            Ok(Some(report))
        }
        Err(error) => Err(error),
    }
}

/// The summary of the store of the node running on `dir`, from the node itself.
fn ask_live(dir: &Path, key: Option<&[u8]>) -> CliResult<StoreReport> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| CliError::io("start", "the tokio runtime", source))?;
    let request = crate::control::Request::Inspect {
        key_hex: key.map(bytes::to_hex),
    };
    let timeout = std::time::Duration::from_secs(600);
    match runtime.block_on(crate::control::ask(dir, &request, timeout))? {
        crate::control::Response::Inspected(report) => Ok(*report),
        other => Err(other.into_error(&netabase_store::kad::RecordKey::new(
            &key.unwrap_or_default(),
        ))),
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
