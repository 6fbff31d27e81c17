use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(name = People)]
struct A {
    #[key]
    id: u64,
}

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(resolver)]
struct B {
    #[key]
    id: u64,
}

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase]
struct C {
    #[key]
    id: u64,
}

fn main() {}
