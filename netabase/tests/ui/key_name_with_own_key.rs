use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(key = u64, key_fn = Doc::id, key_name = DocId)]
struct Doc {
    id: u64,
}

impl Doc {
    fn id(&self) -> u64 {
        self.id
    }
}

fn main() {}
