use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
struct Doc {
    #[key]
    id: u64,
    #[version]
    revision: u64,
    #[version]
    edited_at: u64,
}

fn main() {}
