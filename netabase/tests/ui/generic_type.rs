use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
struct Wrapper<T> {
    #[key]
    id: u64,
    value: T,
}

fn main() {}
