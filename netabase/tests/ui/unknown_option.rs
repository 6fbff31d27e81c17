use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(nmae = "People", namespace = "app")]
struct Person {
    #[key]
    id: u64,
}

fn main() {}
