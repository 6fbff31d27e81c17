use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(key = u64, key_fn = Doc::id)]
struct Doc {
    id: u64,
}

impl Doc {
    fn id(&self) -> u32 {
        self.id as u32
    }
}

fn main() {}
