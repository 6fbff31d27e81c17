//! Netabase as a local database: a schema with secondary indexes, queries by exact value and by
//! range in the values' own order, a unique index, compare-and-swap, and a watch that reacts to
//! every change.
//!
//! No network: the same store, given to a node, would also publish and receive these records,
//! and the watch would hear peers' changes too (as `Origin::Peer`).
//!
//! Run it with `cargo run --example local_database`.

use std::time::Duration;

use netabase_store::prelude::*;
use netabase_store::{Change, ChangeEvent, RedbStore, SwapConflict, WatchEvent};
use serde::{Deserialize, Serialize};

/// An item of a shop's stock. Its key is the SKU; `#[index]` fields can be queried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
struct Item {
    #[key]
    sku: u32,
    /// The barcode: one item per code.
    #[index(unique)]
    barcode: String,
    /// The price in cents, for range queries.
    #[index]
    price: u64,
    /// How many are in stock.
    stock: u32,
}

fn item(sku: u32, barcode: &str, price: u64, stock: u32) -> Item {
    Item {
        sku,
        barcode: barcode.into(),
        price,
        stock,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    // Registering the schema makes the store keep its indexes (and build them from what the
    // file already holds).
    let store = RedbStore::builder()
        .register::<Item>()
        .create(dir.path().join("shop.redb"))?;

    // A watch on every item (`watch_key`, `watch_key_prefix` and `watch_index` narrow it). Events
    // queue until received; a subscriber that falls far behind is told how many it missed.
    let mut changes = store.watch::<Item>();

    store.put_values(&[
        item(1, "4006381333931", 250, 12),
        item(2, "4006381333948", 1999, 3),
        item(3, "5901234123457", 120, 40),
        item(4, "9780201379624", 4999, 1),
        item(5, "0012345678905", 899, 0),
    ])?;

    // A range in price order (numeric; record keys would sort by postcard bytes instead).
    let affordable: Vec<Item> = store
        .find_range(Item::by_price(), 100..=1000)?
        .collect::<Result<_, _>>()?;
    println!("from 1.00 to 10.00:");
    for item in &affordable {
        println!("  {:>6} cents  sku {}", item.price, item.sku);
    }
    assert_eq!(
        affordable.iter().map(|item| item.sku).collect::<Vec<_>>(),
        [3, 1, 5]
    );

    // A unique index answers one value, and refuses a second holder.
    let scanned = store
        .find_unique(Item::by_barcode(), &"9780201379624".to_string())?
        .expect("the book is in stock");
    println!("barcode 9780201379624 is sku {}", scanned.sku);
    let duplicate = store.put_value(&item(6, "9780201379624", 10, 1));
    println!(
        "a second item with that barcode: {}",
        duplicate.unwrap_err()
    );

    // Sell one of sku 2 with compare-and-swap: the write lands only if nobody changed the item
    // in between, and a conflict hands back what is stored now, to retry from.
    let mut current = store.get_value::<Item>(&ItemKey(2))?;
    loop {
        let mut sold = current.clone().expect("sku 2 exists");
        sold.stock -= 1;
        match store.compare_and_swap(&ItemKey(2), current.as_ref(), Some(&sold))? {
            Ok(()) => break,
            Err(SwapConflict { current: now }) => current = now,
        }
    }

    // A flash sale that ends by itself: the value expires (a node's sweep then removes it).
    store.put_value_expiring(
        &item(7, "4012345678901", 99, 100),
        Duration::from_secs(3600),
    )?;

    // Everything the watch saw, in commit order.
    println!("changes:");
    while let Some(event) = changes.try_recv() {
        match event? {
            WatchEvent::Change(ChangeEvent {
                key,
                change,
                origin,
            }) => match change {
                Change::Inserted(item) => {
                    println!("  {key:?} added ({origin:?}), {} in stock", item.stock)
                }
                Change::Updated { old, new } => {
                    println!(
                        "  {key:?} stock {} -> {} ({origin:?})",
                        old.stock, new.stock
                    )
                }
                Change::Removed(_) | Change::Expired(_) => println!("  {key:?} gone ({origin:?})"),
            },
            WatchEvent::Lagged { missed } => {
                println!("  missed {missed} changes: read the store again")
            }
        }
    }
    assert_eq!(
        store.get_value::<Item>(&ItemKey(2))?.map(|item| item.stock),
        Some(2)
    );
    Ok(())
}
