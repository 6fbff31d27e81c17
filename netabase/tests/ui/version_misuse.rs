use netabase::NetabaseSchema;
use netabase::owned::Owner;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
struct Old {
    #[key]
    id: u64,
}

// `from` without a version of its own.
#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(from = Old)]
struct NoVersion {
    #[key]
    id: u64,
}

// Nothing comes before version 1.
#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(version = 1, from = Old)]
struct First {
    #[key]
    id: u64,
}

// Not a version number.
#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(version = 0)]
struct Zero {
    #[key]
    id: u64,
}

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(version = "two")]
struct Text {
    #[key]
    id: u64,
}

// Owned schemas carry no version yet.
#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(owned, version = 2)]
struct Signed {
    #[key]
    owner: Owner,
}

// `from` a version that is not older.
#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(version = 3)]
struct Three {
    #[key]
    id: u64,
}

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(version = 2, from = Three)]
struct Two {
    #[key]
    id: u64,
}

impl From<Three> for Two {
    fn from(three: Three) -> Self {
        Two { id: three.id }
    }
}

fn main() {}
