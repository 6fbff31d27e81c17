//! Secondary index benchmark: a typed put of a schema with one `#[index]` field against raw redb
//! writing the same two tables (the record, and an index row of the same memcomparable bytes) in
//! one transaction, and an index range query against raw redb ranging over its index table and
//! reading each record. Same bytes, same cache, one run; samples alternate so machine noise hits
//! both alike. Prints medians and ratios; asserts nothing.
//!
//! `cargo bench -p netabase_store --bench index`
//! Environment: `INDEX_BENCH_RECORDS` (default 20 000), `INDEX_BENCH_SAMPLES` (default 15).

use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "support/env.rs"]
mod bench_env;
#[path = "support/item.rs"]
mod item_schema;

use bench_env::env_or;
use item_schema::{Item, PRICES, item};
use netabase_store::index::order_key;
use netabase_store::{NetabaseSchema, RedbStore};
use redb::{ReadableDatabase, TableDefinition};

const RAW_RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");
const RAW_INDEX: TableDefinition<(&[u8], &[u8]), ()> = TableDefinition::new("by_price");
/// Values per transaction in the batched runs.
const BATCH: u64 = 1000;

fn raw_put(db: &redb::Database, items: &[Item], durable: bool) {
    let mut txn = db.begin_write().expect("write");
    if !durable {
        txn.set_durability(redb::Durability::None)
            .expect("durability");
    }
    {
        let mut records = txn.open_table(RAW_RECORDS).expect("records");
        let mut index = txn.open_table(RAW_INDEX).expect("index");
        for item in items {
            let key = Item::record_key(&item.key()).expect("key");
            let value = postcard::to_allocvec(item).expect("value");
            let price = order_key::<Item>(&item.price).expect("order key");
            // What replacing a value costs: the old index row goes.
            if let Some(old) = records
                .insert(key.as_ref(), value.as_slice())
                .expect("insert")
            {
                let old: Item = postcard::from_bytes(old.value()).expect("old");
                let old_price = order_key::<Item>(&old.price).expect("order key");
                index
                    .remove((old_price.as_slice(), key.as_ref()))
                    .expect("remove");
            }
            index
                .insert((price.as_slice(), key.as_ref()), ())
                .expect("index");
        }
    }
    txn.commit().expect("commit");
}

fn raw_range(db: &redb::Database, low: u64, high: u64) -> usize {
    let txn = db.begin_read().expect("read");
    let records = txn.open_table(RAW_RECORDS).expect("records");
    let index = txn.open_table(RAW_INDEX).expect("index");
    let low = order_key::<Item>(&low).expect("low");
    let high = order_key::<Item>(&high).expect("high");
    let mut found = 0;
    for row in index
        .range::<(&[u8], &[u8])>((low.as_slice(), &[][..])..(high.as_slice(), &[][..]))
        .expect("range")
    {
        let (row, _) = row.expect("row");
        let (_, key) = row.value();
        let value = records.get(key).expect("get").expect("present");
        black_box(postcard::from_bytes::<Item>(value.value()).expect("decode"));
        found += 1;
    }
    found
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn report(what: &str, unit: &str, count: u64, ours: Vec<Duration>, raw: Vec<Duration>) {
    let (ours, raw) = (median(ours), median(raw));
    let per = |d: Duration| d.as_secs_f64() * 1e6 / count as f64;
    println!(
        "  {what}: {:.2} {unit}, raw redb {:.2} {unit}: {:.2}x",
        per(ours),
        per(raw),
        ours.as_secs_f64() / raw.as_secs_f64()
    );
}

fn main() {
    let records = env_or::<u64>("INDEX_BENCH_RECORDS", 20_000);
    let samples = env_or::<u64>("INDEX_BENCH_SAMPLES", 15) as usize;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = RedbStore::builder()
        .register::<Item>()
        .set_max_records(usize::MAX)
        .create(dir.path().join("netabase.redb"))
        .expect("store");
    let raw = redb::Database::builder()
        .set_cache_size(netabase_store::DEFAULT_CACHE_BYTES)
        .create(dir.path().join("raw.redb"))
        .expect("raw");
    let items: Vec<Item> = (0..records).map(|id| item(id, 0)).collect();
    for chunk in items.chunks(BATCH as usize) {
        store.put_values(chunk).expect("fill");
        raw_put(&raw, chunk, false);
    }
    println!("{records} records of a schema with one #[index] field, {samples} samples:");

    // Batched puts: BATCH updates (a new price each) per transaction, not durable for raw redb;
    // the store's user durability is durable, so both are given one fsync per batch below.
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for sample in 0..samples as u64 {
        let batch: Vec<Item> = (0..BATCH)
            .map(|i| item((sample * BATCH + i) % records, sample + 1))
            .collect();
        let started = Instant::now();
        store.put_values(&batch).expect("put");
        ours.push(started.elapsed());
        let started = Instant::now();
        raw_put(&raw, &batch, true);
        theirs.push(started.elapsed());
    }
    report(
        &format!("indexed put, {BATCH} updates per durable transaction"),
        "us per record",
        BATCH,
        ours,
        theirs,
    );

    // One put per durable transaction.
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for sample in 0..(samples as u64 * 20) {
        let one = item(sample % records, 7 * sample + 3);
        let started = Instant::now();
        store.put_value(&one).expect("put");
        ours.push(started.elapsed());
        let started = Instant::now();
        raw_put(&raw, std::slice::from_ref(&one), true);
        theirs.push(started.elapsed());
    }
    report(
        "indexed put, one per durable transaction",
        "us",
        1,
        ours,
        theirs,
    );

    // Range queries over a tenth of the prices.
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut selected = 0;
    for sample in 0..samples as u64 {
        let low = (sample * 613) % (PRICES - PRICES / 10);
        let high = low + PRICES / 10;
        let started = Instant::now();
        let mut found = 0;
        for item in store
            .find_range(Item::by_price(), low..high)
            .expect("query")
        {
            black_box(item.expect("item"));
            found += 1;
        }
        ours.push(started.elapsed());
        let started = Instant::now();
        let raw_found = raw_range(&raw, low, high);
        theirs.push(started.elapsed());
        assert_eq!(found, raw_found, "both answer the same records");
        selected = found;
    }
    report(
        &format!("index range query (about {selected} records)"),
        "us per record",
        selected.max(1) as u64,
        ours,
        theirs,
    );
}
