use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
struct Doc {
    #[key]
    #[key]
    id: u64,
}

fn main() {}
