//! Errors of the store: one enum for opening a file, one for operations on an open store.
//!
//! Both convert into [`netabase::DatabaseError::Storage`], so the database traits return them
//! wrapped; `downcast_ref::<StoreError>()` on the source recovers the detail.

use std::io;
use std::path::PathBuf;

use netabase::DatabaseError;

/// Why a store could not be opened or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Two types were registered under one record key prefix (see [`netabase::PrefixClash`]).
    #[error(transparent)]
    SchemaClash(#[from] netabase::PrefixClash),
    /// The directory a store file was to be created in does not exist.
    #[error(
        "cannot create the store {path}: the directory {} does not exist; create it first \
         (std::fs::create_dir_all) or pick another path",
        directory.display()
    )]
    NoDirectory {
        /// The path of the store file.
        path: PathBuf,
        /// Its missing directory.
        directory: PathBuf,
    },
    /// The path is a directory, named pipe, socket or device, not a store file. Found before
    /// anything opens it (opening a named pipe would block until something writes to it).
    #[error("{path} is {kind}, not a store file; give the path of a store file (`*.redb`)")]
    NotAFile {
        /// The path that was given.
        path: PathBuf,
        /// What the path is: "a directory", "a named pipe (FIFO)", "a socket" or "a device".
        kind: &'static str,
    },
    /// The file does not exist; `RedbStore::open` never creates one.
    #[error("no store at {path}: the file does not exist; use `RedbStore::create` to make one")]
    NotFound {
        /// The path that was opened.
        path: PathBuf,
    },
    /// The file exists but is not a redb database (wrong magic number or too short).
    #[error(
        "{path} is not a redb database ({source}); open the right file, or move this one away \
         and create a new store"
    )]
    NotADatabase {
        /// The path that was opened.
        path: PathBuf,
        /// What redb reported.
        #[source]
        source: io::Error,
    },
    /// The file is a redb database but holds tables of another application (or, to a read-only
    /// open, no table at all: a writable open would make it a new, empty store).
    #[error(
        "{path} is a redb database but not a Netabase store ({}); open the right file",
        describe_tables(tables)
    )]
    NotAStore {
        /// The path that was opened.
        path: PathBuf,
        /// The names of the tables the file holds.
        tables: Vec<String>,
    },
    /// The file is a Netabase store written in a layout version this build cannot read.
    #[error(
        "{path} is a Netabase store of layout version {found}, this build reads version {supported}; \
         open it with a matching netabase_store release"
    )]
    UnsupportedLayout {
        /// The path that was opened.
        path: PathBuf,
        /// The layout version recorded in the file.
        found: u32,
        /// The layout version this build reads and writes.
        supported: u32,
    },
    /// A registered schema declares a unique index the stored records break: two of them share a
    /// value, so it cannot be built.
    #[error(
        "{path}: `{schema}`'s unique index `{index}` cannot be built: the records {first} and \
         {second} share a value; change or remove one of them (open without `unique`, fix the \
         data, then add it back)"
    )]
    UniqueIndexConflict {
        /// The path that was opened.
        path: PathBuf,
        /// The schema.
        schema: &'static str,
        /// The unique index.
        index: &'static str,
        /// One record key holding the value, escaped for display.
        first: String,
        /// The other, escaped for display.
        second: String,
    },
    /// The file is corrupt: a checksum or structure check failed, or a table has the wrong types.
    #[error(
        "{path} is corrupt: {detail}; restore it from a backup, or move it away and create a new \
         store (peers will send their records again)"
    )]
    Corrupted {
        /// The path that was opened.
        path: PathBuf,
        /// What was found to be wrong.
        detail: String,
    },
    /// Another process (or another `RedbStore` in this process) has the file open.
    #[error(
        "{path} is already open by another process or another store handle; close it first, or \
         share one `RedbStore` (it is cheap to clone)"
    )]
    Locked {
        /// The path that was opened.
        path: PathBuf,
    },
    /// The file is in an older redb file format that must be upgraded with redb's tools.
    #[error(
        "{path} uses redb file format {version}, which must be upgraded before it can be opened"
    )]
    UpgradeRequired {
        /// The path that was opened.
        path: PathBuf,
        /// The file format version found.
        version: u8,
    },
    /// Reading or writing the file failed.
    #[error("cannot open {path}: {source}")]
    Io {
        /// The path that was opened.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// redb failed in another way while opening or initialising the file.
    #[error("cannot open {path}: {source}")]
    Redb {
        /// The path that was opened, or `<memory>` for an in-memory store.
        path: PathBuf,
        /// The redb error.
        #[source]
        source: redb::Error,
    },
}

/// What [`OpenError::NotAStore`] says about the tables of a file.
fn describe_tables(tables: &[String]) -> String {
    if tables.is_empty() {
        "it holds no table; `RedbStore::open` would make it a new, empty store".to_owned()
    } else {
        format!("it holds the tables {tables:?} and no `netabase_meta` table")
    }
}

impl OpenError {
    pub(crate) fn from_database(path: PathBuf, error: redb::DatabaseError) -> Self {
        match error {
            redb::DatabaseError::DatabaseAlreadyOpen => OpenError::Locked { path },
            redb::DatabaseError::UpgradeRequired(version) => {
                OpenError::UpgradeRequired { path, version }
            }
            redb::DatabaseError::Storage(storage) => Self::from_storage(path, storage),
            other => OpenError::Redb {
                path,
                source: other.into(),
            },
        }
    }

    pub(crate) fn from_storage(path: PathBuf, error: redb::StorageError) -> Self {
        match error {
            redb::StorageError::Io(source) if source.kind() == io::ErrorKind::NotFound => {
                OpenError::NotFound { path }
            }
            redb::StorageError::Io(source)
                if matches!(
                    source.kind(),
                    io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
                ) =>
            {
                OpenError::NotADatabase { path, source }
            }
            redb::StorageError::Io(source) => OpenError::Io { path, source },
            redb::StorageError::Corrupted(detail) => OpenError::Corrupted { path, detail },
            other => OpenError::Redb {
                path,
                source: other.into(),
            },
        }
    }

    pub(crate) fn from_store(path: PathBuf, error: StoreError) -> Self {
        match error {
            StoreError::Storage(storage) => Self::from_storage(path, storage),
            StoreError::Table(redb::TableError::Storage(storage)) => {
                Self::from_storage(path, storage)
            }
            StoreError::Table(table) => OpenError::Corrupted {
                path,
                detail: table.to_string(),
            },
            StoreError::Transaction(redb::TransactionError::Storage(storage)) => {
                Self::from_storage(path, storage)
            }
            StoreError::Commit(redb::CommitError::Storage(storage)) => {
                Self::from_storage(path, storage)
            }
            StoreError::CorruptEntry { table, detail, .. } => OpenError::Corrupted {
                path,
                detail: format!("table `{table}`: {detail}"),
            },
            other => OpenError::Redb {
                path,
                source: redb::Error::Corrupted(other.to_string()),
            },
        }
    }
}

/// What went wrong in an operation on an open store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// redb's storage layer failed: an I/O error, a full disk, or corruption found while reading.
    #[error(
        "redb storage failed: {0}; check the disk (free space, permissions, hardware errors), then \
         reopen the store"
    )]
    Storage(#[from] redb::StorageError),
    /// A transaction could not be started (after a failed commit redb refuses new write
    /// transactions until the file is reopened).
    #[error(
        "cannot begin a redb transaction: {0}; after a storage failure or a failed commit, check \
         the disk and reopen the store"
    )]
    Transaction(#[from] redb::TransactionError),
    /// A table could not be opened (wrong types means the file was written by something else).
    #[error(
        "cannot open a redb table: {0}; the file was written by another program or a \
         different store layout: open the right file"
    )]
    Table(#[from] redb::TableError),
    /// A transaction could not be committed: the write is not acknowledged. A durable commit that
    /// failed part way may still be found on disk after the file is reopened (redb keeps the last
    /// complete commit), and redb refuses further writes until then.
    #[error(
        "cannot commit a redb transaction: {0}; the write was not acknowledged and may or may not \
         be on disk: check the disk and reopen the store, which repairs the file"
    )]
    Commit(#[from] redb::CommitError),
    /// The durability of a transaction could not be set.
    #[error("cannot set the durability of a redb transaction: {0}")]
    Durability(#[from] redb::SetDurabilityError),
    /// An entry of a store table does not have the layout `docs/store-layout.md` describes; the
    /// file was damaged or written by an incompatible program.
    #[error(
        "corrupt entry in table `{table}` under key {key}: {detail}; the file was damaged or \
         written by another program: remove the record (or provider record) under that key, or \
         restore the file from a backup"
    )]
    CorruptEntry {
        /// The table holding the entry.
        table: &'static str,
        /// The entry's key, escaped for display.
        key: String,
        /// What is wrong with it.
        detail: &'static str,
    },
    /// The index values of a record being written could not be computed: its value does not
    /// decode as the schema that declares the indexes, or a field cannot be encoded in order.
    #[error(
        "cannot index the record under key {key}: {detail}; the value does not match its \
         registered schema: register the schema that wrote it, or remove the record"
    )]
    IndexValue {
        /// The record key, escaped for display.
        key: String,
        /// What failed.
        detail: String,
    },
    /// A peer id or address is too long for the store's layout.
    #[error("{what} of {len} bytes is longer than the {max} bytes the store layout allows")]
    TooLong {
        /// What was too long.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The layout's limit.
        max: usize,
    },
}

impl From<StoreError> for DatabaseError {
    fn from(error: StoreError) -> Self {
        DatabaseError::storage(error)
    }
}

/// Result of a store operation.
pub(crate) type StoreResult<T> = Result<T, StoreError>;

/// Renders key bytes for error messages: printable ASCII as is, everything else as `\xNN`.
pub(crate) fn escape(bytes: &[u8]) -> String {
    format!("\"{}\"", bytes.escape_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every error of an open store says what to do about it, not only what failed.
    #[test]
    fn store_errors_say_how_to_fix_them() {
        let io = || redb::StorageError::Io(io::Error::other("disk on fire"));
        let cases = [
            (StoreError::Storage(io()), "check the disk"),
            (
                StoreError::Transaction(redb::TransactionError::Storage(io())),
                "reopen the store",
            ),
            (
                StoreError::Table(redb::TableError::TableDoesNotExist("records".into())),
                "open the right file",
            ),
            (
                StoreError::Commit(redb::CommitError::Storage(io())),
                "may or may not be on disk",
            ),
            (
                StoreError::CorruptEntry {
                    table: "records",
                    key: escape(b"/a/B/1"),
                    detail: "empty entry",
                },
                "remove the record",
            ),
        ];
        for (error, remedy) in cases {
            let message = error.to_string();
            assert!(message.contains(remedy), "{message}");
            assert!(
                !message.contains("nothing was written"),
                "a failed durable commit may be on disk: {message}"
            );
        }
    }
}
