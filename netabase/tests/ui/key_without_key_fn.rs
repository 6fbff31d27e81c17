use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(key = u64)]
struct Doc {
    id: u64,
}

fn main() {}
