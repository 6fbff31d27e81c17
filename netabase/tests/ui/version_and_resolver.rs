use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(resolver = newest)]
struct Doc {
    #[key]
    id: u64,
    #[version]
    revision: u64,
}

fn newest(a: &Doc, b: &Doc) -> Ordering {
    a.revision.cmp(&b.revision)
}

fn main() {}
