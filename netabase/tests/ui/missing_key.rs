use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
struct User {
    id: u64,
    name: String,
}

fn main() {}
