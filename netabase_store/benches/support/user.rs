//! The `User` schema the store benchmarks write (`store.rs`, `scale.rs`), and its values.

use netabase_store::NetabaseSchema;
use serde::{Deserialize, Serialize};

/// A small typed record: a `u64` key and three fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "bench")]
pub struct User {
    #[key]
    pub id: u64,
    pub name: String,
    pub email: String,
    pub age: u32,
}

/// User `id`, with a realistic amount of text.
pub fn user(id: u64) -> User {
    User {
        id,
        name: format!("user number {id}"),
        email: format!("user{id}@example.org"),
        age: (id % 90) as u32,
    }
}
