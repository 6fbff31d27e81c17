//! The errors of the `netabase` command. Each prints as one line that says what went wrong and
//! what to do about it; `main` prints it after `error: ` and exits with status 1.

use std::path::PathBuf;
use std::time::Duration;

use netabase_store::{DatabaseError, Multiaddr, NodeError, OpenError, SpawnError};

use crate::bytes::BytesError;

/// What went wrong in a `netabase` command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// `netabase key create` was given a file that exists.
    #[error(
        "{} already exists; an author key is never overwritten (records it signed would lose \
         their owner): pick another file, or print it with `netabase key show`",
        .0.display()
    )]
    KeyExists(PathBuf),
    /// `netabase key show` was given a file that does not exist.
    #[error(
        "{} does not exist; create an author key with `netabase key create {}`",
        .0.display(),
        .0.display()
    )]
    KeyMissing(PathBuf),
    /// An author key file could not be read, written or decoded.
    #[error("{0}")]
    Identity(#[from] netabase_store::IdentityError),
    /// The path given to `inspect` does not exist.
    #[error(
        "{} does not exist; pass a store file (*.redb) or the --data-dir of a node",
        .0.display()
    )]
    PathNotFound(PathBuf),
    /// A directory given to `inspect` holds no store file.
    #[error(
        "{} holds no Netabase store (*.redb file); pass a store file or the --data-dir of a node",
        .0.display()
    )]
    NoStoreInDirectory(PathBuf),
    /// Some of the stores of a directory given to `inspect` could not be inspected; each was
    /// reported as it failed.
    #[error(
        "{failed} of the {total} stores could not be inspected (each error is above); the others \
         were"
    )]
    StoresFailed {
        /// How many failed.
        failed: usize,
        /// How many there were.
        total: usize,
    },
    /// The `--config` file of `netabase node` cannot be used.
    #[error("{}: {reason}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `--node` names a directory where no node answers.
    #[error(
        "no node answers at {} ({source}); start `netabase node --data-dir` on that directory, \
         or reach a network with --bootstrap instead",
        path.display()
    )]
    NoControlSocket {
        /// The control socket's path.
        path: PathBuf,
        /// Why connecting failed.
        source: std::io::Error,
    },
    /// The node behind `--node` could not do what was asked; its message says why.
    #[error("the node says: {message}")]
    Control {
        /// The node's message.
        message: String,
    },
    /// The store file is held by a running node (or an `inspect` of it).
    #[error(
        "{} is in use by a running node or inspect (the file is locked); stop that process \
         (Ctrl-C), or inspect a copy of the file",
        .0.display()
    )]
    Locked(PathBuf),
    /// The file is not a Netabase store.
    #[error("{} is not a Netabase store ({reason}); pass a *.redb file written by netabase", path.display())]
    NotAStore {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The store could not be opened for another reason.
    #[error("{0}")]
    Open(#[from] OpenError),
    /// A record key or value given on the command line could not be read.
    #[error("cannot read the {what} {input:?}: {source}")]
    BadBytes {
        /// `"key"` or `"value"`.
        what: &'static str,
        /// What was given.
        input: String,
        /// Why it cannot be read.
        source: BytesError,
    },
    /// A bootstrap address does not name the peer to expect there.
    #[error(
        "bootstrap address {0} does not end in /p2p/<peer id>; copy the full address that \
         `netabase node` printed after `listening on`"
    )]
    BootstrapWithoutPeerId(Multiaddr),
    /// No bootstrap peer could be reached.
    #[error(
        "cannot reach any bootstrap peer ({details}); check that `netabase node` is running there \
         and that the address is one it printed"
    )]
    Unreachable {
        /// Each address with the reason it failed.
        details: String,
    },
    /// The network has no record under the key.
    #[error(
        "no record under \"{key}\" on this node or the peers it asked; check the key (`netabase \
         inspect <data-dir>` lists what a node holds) or whether the record expired"
    )]
    RecordNotFound {
        /// The key, escaped.
        key: String,
    },
    /// An operation on the network did not finish in time.
    #[error(
        "{operation} did not finish within {}; the network is unreachable or slow: check the \
         --bootstrap address, or raise --timeout",
        humantime::format_duration(*after)
    )]
    Timeout {
        /// What was being done.
        operation: &'static str,
        /// The limit that passed.
        after: Duration,
    },
    /// A node could not start.
    #[error("cannot start the node: {0}")]
    Spawn(#[from] SpawnError),
    /// A node operation failed; the node's message says what to do.
    #[error("{0}")]
    Node(#[from] NodeError),
    /// A store operation failed.
    #[error("{0}")]
    Database(#[from] DatabaseError),
    /// The demo's data directory already holds a demo network.
    #[error(
        "{} already holds the stores of a demo network; remove them or pass another --data-dir",
        .0.display()
    )]
    DemoDirectoryInUse(PathBuf),
    /// The demo saw something other than what Netabase promises.
    #[error("demo step `{step}` failed: {detail}")]
    DemoFailed {
        /// The step.
        step: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A file or directory could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. `"read"`.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing JSON output failed.
    #[error("cannot write JSON output: {0}")]
    Json(#[from] serde_json::Error),
}

/// The exit status of a `get` that found no record, so scripts can tell "absent" from "failed".
pub const EXIT_NOT_FOUND: u8 = 3;

impl CliError {
    /// The status the command exits with: [`EXIT_NOT_FOUND`] for a record that is not there, 1
    /// for every other failure (clap exits with 2 for arguments it refuses).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::RecordNotFound { .. } => EXIT_NOT_FOUND,
            _ => 1,
        }
    }

    /// Turns an error from opening a store into the message for that case.
    pub fn from_open(error: OpenError) -> Self {
        match error {
            OpenError::NotFound { path } => CliError::PathNotFound(path),
            OpenError::Locked { path } => CliError::Locked(path),
            OpenError::NotADatabase { path, source } => CliError::NotAStore {
                path,
                reason: format!("not a redb database: {source}"),
            },
            OpenError::NotAStore { path, tables } => CliError::NotAStore {
                path,
                reason: format!("a redb database with the tables {tables:?}"),
            },
            other => CliError::Open(other),
        }
    }

    /// An I/O error on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CliError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// The result of a command.
pub type CliResult<T> = Result<T, CliError>;
