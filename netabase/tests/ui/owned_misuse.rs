use netabase::owned::Owner;
use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

/// The owner must be the key's first field.
#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(owned)]
struct OwnerNotFirst {
    #[key]
    id: u64,
    #[key]
    owner: Owner,
}

/// Conflicts of owned records are decided by their signed writes.
#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(owned)]
struct Versioned {
    #[key]
    owner: Owner,
    #[version]
    version: u64,
}

/// `owned` is a flag.
#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(owned = true)]
struct WithValue {
    #[key]
    owner: Owner,
}

fn main() {}
