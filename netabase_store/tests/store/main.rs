//! Integration tests of the store itself: `RedbStore` through the typed database traits, kad's
//! `RecordStore` and netabase's `NodeStore`, and `StoreReader`, on in-memory stores and on files.
//! One module per topic; `common` holds the schemas and helpers they share.
//!
//! All topics build into this one test binary, so the crate links its dependencies (libp2p among
//! them) once for the store tests rather than once per topic.

mod common;

mod canonical;
mod consistency;
mod crash;
mod damaged_entries;
mod hostile_input;
mod index_model;
mod indexes;
mod kad_store;
mod local_writes;
mod memory_store_model;
mod node_store;
mod open;
mod owned_marks;
mod quotas;
mod read_only;
mod reopen_model;
mod restart;
mod typed;
mod typed_queries;
mod unknown_schemas;
mod verify_on_open;
mod versions;
mod watch;
