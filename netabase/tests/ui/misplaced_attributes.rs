use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[key]
struct Doc {
    #[key]
    #[netabase(name = "Id")]
    id: u64,
}

#[derive(Serialize, Deserialize, NetabaseSchema)]
enum Event {
    #[version]
    Created {
        #[key]
        id: u64,
    },
}

fn main() {}
