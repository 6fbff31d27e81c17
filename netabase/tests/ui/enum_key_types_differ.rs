use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
enum Event {
    Created {
        #[key]
        id: u64,
    },
    Renamed(#[key] String, String),
}

fn main() {}
