use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(key = u64, key_fn = Doc::id)]
struct Doc {
    #[key]
    id: u64,
}

impl Doc {
    fn id(&self) -> u64 {
        self.id
    }
}

fn main() {}
