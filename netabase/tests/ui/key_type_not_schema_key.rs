use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
struct DocId(u64);

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(key = DocId, key_fn = Doc::id)]
struct Doc {
    id: u64,
}

impl Doc {
    fn id(&self) -> DocId {
        DocId(self.id)
    }
}

fn main() {}
