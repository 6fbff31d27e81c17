//! redb-backed storage for Netabase.
//!
//! This crate re-exports everything in `netabase`, so an application may depend on it alone.

pub use netabase::*;

#[doc(hidden)]
pub use netabase::__private;
