//! The `Item` schema the index benchmarks write (`index.rs`, and `bench/native_db`), and its
//! values.

use netabase_store::NetabaseSchema;
use serde::{Deserialize, Serialize};

/// Prices span 0..PRICES, so a range of a tenth of them selects about a tenth of the records.
pub const PRICES: u64 = 10_000;

/// A schema with one secondary index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "bench")]
pub struct Item {
    #[key]
    pub id: u64,
    #[index]
    pub price: u64,
    pub name: String,
}

/// Item `id`, its price moved by `bump` (an update).
pub fn item(id: u64, bump: u64) -> Item {
    Item {
        id,
        price: (id.wrapping_mul(7919) + bump) % PRICES,
        name: format!("item number {id} with a short description"),
    }
}
