// Forgetting serde's derives gives the compiler's own message about the missing trait.
use netabase::NetabaseSchema;

#[derive(NetabaseSchema)]
struct Doc {
    #[key]
    id: u64,
}

fn main() {}
