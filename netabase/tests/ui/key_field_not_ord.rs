use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
struct Sample {
    #[key]
    at: f64,
    value: u32,
}

fn main() {}
