use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(name = "People")]
#[netabase(namespace = "app", name = "Persons")]
struct Person {
    #[key]
    id: u64,
}

fn main() {}
