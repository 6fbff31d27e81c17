use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(resolver = longest)]
struct Doc {
    #[key]
    id: u64,
    text: String,
}

fn longest(a: &Doc, b: &Doc) -> bool {
    a.text.len() > b.text.len()
}

fn main() {}
