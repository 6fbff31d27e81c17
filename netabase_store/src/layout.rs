//! The check every open runs before it hands out a store: is the file a Netabase store, and one of
//! the layout version this build reads? A writable open then initialises what is missing; a
//! read-only open, which writes nothing, refuses what it cannot read as it is.

use std::path::PathBuf;

use crate::error::{OpenError, StoreError};
use crate::tables;

/// Why a file is not a store this build can use.
pub(crate) enum LayoutError {
    /// Reading the file failed.
    Store(StoreError),
    /// A redb database without `netabase_meta`: the names of the tables it holds.
    NotAStore(Vec<String>),
    /// A Netabase store of another layout version.
    Layout(u32),
    /// A unique index declared by a registered schema cannot be built: two records share a value.
    Unique(crate::indexes::UniqueConflict),
}

impl<E: Into<StoreError>> From<E> for LayoutError {
    fn from(error: E) -> Self {
        LayoutError::Store(error.into())
    }
}

impl LayoutError {
    /// The error an open of `path` reports.
    pub(crate) fn into_open_error(self, path: PathBuf) -> OpenError {
        match self {
            LayoutError::Store(error) => OpenError::from_store(path, error),
            LayoutError::NotAStore(tables) => OpenError::NotAStore { path, tables },
            LayoutError::Layout(found) => OpenError::UnsupportedLayout {
                path,
                found,
                supported: u32::try_from(tables::LAYOUT_VERSION).unwrap_or(u32::MAX),
            },
            LayoutError::Unique(conflict) => OpenError::UniqueIndexConflict {
                path,
                schema: conflict.schema,
                index: conflict.index,
                first: crate::error::escape(&conflict.keys.0),
                second: crate::error::escape(&conflict.keys.1),
            },
        }
    }
}

/// What the tables of a redb database say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tables {
    /// It has `netabase_meta`: a Netabase store (of some layout version).
    Store,
    /// It has no table at all: a new database, which a writable open makes a store.
    Empty,
}

/// Classifies a database by the names of its tables; one with tables but no `netabase_meta` is
/// another application's database.
pub(crate) fn check_tables(names: Vec<String>) -> Result<Tables, LayoutError> {
    if names
        .iter()
        .any(|name| name == redb::TableHandle::name(&tables::META))
    {
        Ok(Tables::Store)
    } else if names.is_empty() {
        Ok(Tables::Empty)
    } else {
        Err(LayoutError::NotAStore(names))
    }
}

/// Checks the layout version a store records; `None` (not recorded yet) is accepted as the
/// current version, which a writable open then records.
pub(crate) fn check_version(version: Option<u64>) -> Result<(), LayoutError> {
    match version {
        None | Some(tables::LAYOUT_VERSION) => Ok(()),
        Some(other) => Err(LayoutError::Layout(
            u32::try_from(other).unwrap_or(u32::MAX),
        )),
    }
}

/// The names of the tables a transaction lists.
pub(crate) fn table_names(handles: impl Iterator<Item = redb::UntypedTableHandle>) -> Vec<String> {
    handles
        .map(|handle| redb::TableHandle::name(&handle).to_string())
        .collect()
}
