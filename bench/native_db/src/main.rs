//! A typed put of a schema with one secondary index, and a range query on that index: Netabase
//! (`#[index]`, `RedbStore::put_values`, `find_range`) against native_db 0.8 (`#[secondary_key]`,
//! `upsert`, `scan().secondary().range()`), the same values, the same number per transaction,
//! durable commits for both, samples alternating. Prints medians and ratios; asserts nothing but
//! that both answer the same records.
//!
//! `cargo run --release --manifest-path bench/native_db/Cargo.toml`
//! Environment: `RECORDS` (default 20 000), `SAMPLES` (default 15).

use std::hint::black_box;
use std::time::{Duration, Instant};

// `ToKey` is in scope for the code `#[native_db]` generates.
use native_db::{Builder, Models, ToKey as _};
use native_model::{Model, native_model};
use netabase_store::RedbStore;
use serde::{Deserialize, Serialize};

#[path = "../../../netabase_store/benches/support/env.rs"]
mod bench_env;
#[path = "../../../netabase_store/benches/support/item.rs"]
mod item_schema;

use bench_env::env_or;

use item_schema::{Item, PRICES, item};

const BATCH: u64 = 1000;

/// native_db's model of the same fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[native_model(id = 1, version = 1)]
#[native_db::native_db]
struct NativeItem {
    #[primary_key]
    id: u64,
    #[secondary_key]
    price: u64,
    name: String,
}

fn native(item: &Item) -> NativeItem {
    NativeItem {
        id: item.id,
        price: item.price,
        name: item.name.clone(),
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let records = env_or::<u64>("RECORDS", 20_000);
    let samples = env_or::<u64>("SAMPLES", 15);
    let dir = tempfile::tempdir()?;
    let store = RedbStore::builder()
        .register::<Item>()
        .set_max_records(usize::MAX)
        .create(dir.path().join("netabase.redb"))?;
    let mut models = Models::new();
    models.define::<NativeItem>()?;
    let db = Builder::new().create(&models, dir.path().join("native_db.redb"))?;

    let write_native = |items: &[Item]| -> Result<(), Box<dyn std::error::Error>> {
        let rw = db.rw_transaction()?;
        for item in items {
            rw.upsert(native(item))?;
        }
        rw.commit()?;
        Ok(())
    };
    let all: Vec<Item> = (0..records).map(|id| item(id, 0)).collect();
    for chunk in all.chunks(BATCH as usize) {
        store.put_values(chunk)?;
        write_native(chunk)?;
    }
    println!("{records} records with one secondary index, {samples} samples:");

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for sample in 0..samples {
        let batch: Vec<Item> = (0..BATCH)
            .map(|i| item((sample * BATCH + i) % records, sample + 1))
            .collect();
        let started = Instant::now();
        store.put_values(&batch)?;
        ours.push(started.elapsed());
        let started = Instant::now();
        write_native(&batch)?;
        theirs.push(started.elapsed());
    }
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "  indexed put, {BATCH} updates per durable transaction: {:.2} us per record, native_db {:.2} us: {:.2}x",
        ours.as_secs_f64() * 1e6 / BATCH as f64,
        theirs.as_secs_f64() * 1e6 / BATCH as f64,
        ours.as_secs_f64() / theirs.as_secs_f64()
    );

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut selected = 0;
    for sample in 0..samples {
        let low = (sample * 613) % (PRICES - PRICES / 10);
        let high = low + PRICES / 10;
        let started = Instant::now();
        let mut found = 0;
        for item in store.find_range(Item::by_price(), low..high)? {
            black_box(item?);
            found += 1;
        }
        ours.push(started.elapsed());
        let started = Instant::now();
        let r = db.r_transaction()?;
        let mut native_found = 0;
        for item in r
            .scan()
            .secondary::<NativeItem>(NativeItemKey::price)?
            .range(low..high)?
        {
            black_box(item?);
            native_found += 1;
        }
        theirs.push(started.elapsed());
        assert_eq!(found, native_found, "both answer the same records");
        selected = found;
    }
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "  index range query (about {selected} records): {:.2} us per record, native_db {:.2} us: {:.2}x",
        ours.as_secs_f64() * 1e6 / selected.max(1) as f64,
        theirs.as_secs_f64() * 1e6 / selected.max(1) as f64,
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
    Ok(())
}
