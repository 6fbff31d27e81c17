use std::collections::{BTreeMap, HashMap, HashSet};

use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
struct Tags {
    #[key]
    id: u64,
    ordered: BTreeMap<String, u32>,
    counts: HashMap<String, u32>,
    nested: Vec<Option<HashSet<u8>>>,
}

fn main() {}
