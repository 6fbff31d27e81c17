use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
struct Sample {
    #[key]
    id: u32,
    #[version]
    stamp: f64,
}

fn main() {}
