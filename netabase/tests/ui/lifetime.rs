use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
struct Borrowed<'a> {
    #[key]
    id: u64,
    name: &'a str,
}

fn main() {}
