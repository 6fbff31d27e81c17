//! Derives a schema with only `netabase_store` as a Netabase dependency and prints its record, for
//! `netabase/tests/external_crate.rs` to check.

use netabase_store::prelude::*;
use serde::{Deserialize, Serialize};

/// A bookmark, keyed by its URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
pub struct Bookmark {
    #[key]
    url: String,
    title: String,
}

fn main() -> Result<(), netabase_store::DatabaseError> {
    let bookmark = Bookmark {
        url: "a.org".into(),
        title: "A".into(),
    };
    let record = kad::Record::try_from(&bookmark)?;
    println!("key: {}", record.key.as_ref().escape_ascii());
    println!("round trip: {}", Bookmark::try_from(&record)? == bookmark);
    Ok(())
}
