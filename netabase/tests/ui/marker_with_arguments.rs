use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
struct Doc {
    #[key(primary)]
    id: u64,
    #[version = 1]
    revision: u64,
}

fn main() {}
