// Every mistake is reported in one build, not one per build.
use netabase::NetabaseSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, NetabaseSchema)]
#[netabase(name = "a/b", colour = "blue")]
struct Doc {
    id: u64,
    #[version]
    revision: u64,
    #[version]
    edited_at: u64,
}

fn main() {}
