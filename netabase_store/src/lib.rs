//! redb-backed storage for Netabase: one file that is both the typed database of every schema and
//! libp2p's Kademlia `RecordStore`.
//!
//! ```
//! use netabase_store::prelude::*;
//! use netabase_store::RedbStore;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
//! struct Note {
//!     #[key]
//!     id: u32,
//!     text: String,
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let store = RedbStore::builder().register::<Note>().create(dir.path().join("notes.redb"))?;
//! let note = Note { id: 1, text: "hello".into() };
//! store.put_value(&note)?;
//! assert_eq!(store.get_value::<Note>(&note.key())?, Some(note.clone()));
//!
//! // What the typed API wrote is a plain kad record, and the other way round.
//! use netabase_store::kad::store::RecordStore;
//! let record = RecordStore::get(&store, &Note::record_key(&note.key())?).expect("stored");
//! assert_eq!(record.value, note.to_bytes()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Map of the crate
//! - [`RedbStore`]: the store; [`RedbStoreBuilder`] configures [`StoreLimits`], [`Durability`]
//!   and [`GroupCommit`], the local peer id and the schema registry.
//! - Typed local reads and writes on `RedbStore`: [`RedbStore::put`] / [`RedbStore::get`] (the
//!   seed's async spelling), [`RedbStore::put_value`], [`RedbStore::put_values`] (one
//!   transaction), [`RedbStore::put_value_expiring`] (a TTL), [`RedbStore::remove_value`],
//!   [`RedbStore::compare_and_swap`] (atomic; a [`SwapConflict`] carries the stored value);
//!   [`RedbStore::values`] and [`RedbStore::values_with_key_prefix`] list typed values
//!   ([`ValueScan`]).
//! - Secondary indexes (`#[index]`, `#[index(unique)]`, [`netabase::index`]): [`RedbStore::find`],
//!   [`RedbStore::find_unique`], [`RedbStore::find_range`] and [`RedbStore::find_prefix`] walk
//!   an index in its values' order ([`IndexScan`]); `indexes.rs` keeps the rows in step with every
//!   write path.
//! - Watching: [`RedbStore::watch`], [`RedbStore::watch_key`], [`RedbStore::watch_key_prefix`]
//!   and [`RedbStore::watch_index`] give a [`Watch`] of typed [`ChangeEvent`]s after each commit.
//!   `docs/local-database.md` walks through all of this.
//! - Trait impls on `RedbStore`: `NetabaseDatabase` and `NetabaseDatabaseExt` for every schema,
//!   `kad::store::RecordStore`, and `NodeStore` for the node.
//! - [`RecordScan`] and [`ProviderScan`]: walk records and provider records a page at a time.
//! - [`StoreReader`]: a store file opened read-only ([`RedbStore::open_read_only`]), for tools
//!   that look at a store without writing a byte of it; it reads with the same code.
//! - [`OpenError`] and [`StoreError`]: what fails when opening a file and when using it;
//!   `StoreError` reaches the database traits as `DatabaseError::Storage`.
//!
//! `RecordStore` and `NetabaseDatabase` both name methods `get` and `put`. On a `RedbStore`,
//! `store.put(key, value).await` and `store.get(&key).await` are always the typed calls (inherent
//! methods, [`RedbStore::put`] and [`RedbStore::get`], which win over both traits; the
//! synchronous [`RedbStore::put_value`] and [`RedbStore::get_value`] do the same without
//! `await`). Call kad's with a path: `RecordStore::put(&mut store, record)`,
//! `RecordStore::get(&store, &key)`.
//!
//! `docs/store-layout.md` describes the tables and their invariants, `docs/durability.md` what
//! each write path guarantees after a crash.
//!
//! This crate re-exports everything in `netabase`, so an application may depend on it alone.

mod clean_close;
mod clock;
mod compare_and_swap;
mod config;
mod database;
mod entry;
mod error;
mod inbox;
mod index_query;
mod indexes;
mod kad_store;
mod layout;
mod lazy;
mod marks;
mod metrics;
mod node_store;
mod path_check;
mod providers;
mod quota;
mod reader;
mod records;
mod scan;
mod store;
mod tables;
mod typed_scan;
mod verify_on_open;
mod view;
mod watch;

pub use netabase::*;

pub use compare_and_swap::SwapConflict;
pub use config::{DEFAULT_CACHE_BYTES, Durability, GroupCommit, StoreLimits};
pub use error::{OpenError, StoreError};
pub use index_query::IndexScan;
pub use kad_store::MIN_SERVED_TTL;
pub use marks::DEFAULT_OWNED_MARK_TTL;
pub use metrics::StoreMetrics;
pub use reader::StoreReader;
pub use scan::{ProvidedIter, ProviderScan, RecordScan, RecordsIter};
pub use store::{RedbStore, RedbStoreBuilder};
pub use typed_scan::ValueScan;
pub use watch::{Change, ChangeEvent, Origin, WATCH_CAPACITY, Watch, WatchEvent};

#[doc(hidden)]
pub use netabase::__private;
