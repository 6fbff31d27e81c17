use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

// An index option other than `unique`, twice `unique`, a value, and two indexes on one field.
#[derive(Serialize, Deserialize, NetabaseSchema)]
struct Person {
    #[key]
    id: u64,
    #[index(sorted)]
    name: String,
    #[index(unique, unique)]
    email: String,
    #[index = "age"]
    age: u32,
    #[index]
    #[index(unique)]
    city: String,
}

// A tuple struct's field has no name to name the index by.
#[derive(Serialize, Deserialize, NetabaseSchema)]
struct Reading(#[key] u64, #[index] u32);

// An enum variant's field: other variants would have no index value.
#[derive(Serialize, Deserialize, NetabaseSchema)]
enum Shape {
    Circle {
        #[key]
        id: u32,
        #[index]
        radius: u32,
    },
    Square(#[key] u32),
}

// On the type instead of a field.
#[derive(Serialize, Deserialize, NetabaseSchema)]
#[index]
struct Misplaced {
    #[key]
    id: u64,
}

fn main() {}
