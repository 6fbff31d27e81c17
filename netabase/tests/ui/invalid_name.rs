use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(name = "")]
struct Empty {
    #[key]
    id: u64,
}

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(name = "users/v2", namespace = "my/app")]
struct Slashed {
    #[key]
    id: u64,
}

fn main() {}
