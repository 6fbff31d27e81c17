//! Derives a schema without the runtime crate: `cargo build` must fail with the derive's error
//! telling the user to add `netabase`.

use netabase_macros::NetabaseSchema;
use serde::{Deserialize, Serialize};

/// A note; its derive cannot find the runtime crate.
#[derive(Serialize, Deserialize, NetabaseSchema)]
pub struct Note {
    #[key]
    id: u64,
}

fn main() {}
