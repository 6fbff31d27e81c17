//! Store benchmarks (figures in docs/performance.md, section "Store"):
//! - typed `put_values` of 1000 values in one transaction and typed `get_value`, against raw redb
//!   doing the same work on the same bytes (same record keys, postcard values, one table);
//! - `RecordStore::get` / `put` against libp2p's `MemoryStore`;
//! - inbound `RecordStore::put` throughput with group commit against one durable commit per
//!   record.
//!
//! Run: `cargo bench -p netabase_store --bench store`

#[path = "support/user.rs"]
mod user_schema;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput};
use libp2p::PeerId;
use libp2p::kad::store::{MemoryStore, MemoryStoreConfig, RecordStore};
use libp2p::kad::{Record, RecordKey};
use libp2p::multihash::Multihash;
use netabase_store::{Durability, NetabaseSchema, RedbStore};
use redb::{ReadableDatabase, TableDefinition};
use user_schema::{User, user};

const RAW: TableDefinition<&[u8], &[u8]> = TableDefinition::new("raw");
const STORED: u64 = 10_000;

fn users(from: u64, count: u64) -> Vec<User> {
    (from..from + count).map(user).collect()
}

fn peer() -> PeerId {
    PeerId::from_multihash(Multihash::wrap(0x12, &[1; 32]).expect("digest")).expect("peer id")
}

/// Raw redb's half of the comparison: the same key and value bytes, encoded the same way.
fn raw_put_batch(db: &redb::Database, values: &[User], durable: bool) {
    let mut txn = db.begin_write().expect("write");
    if !durable {
        txn.set_durability(redb::Durability::None)
            .expect("durability");
    }
    {
        let mut table = txn.open_table(RAW).expect("table");
        for value in values {
            let key = User::record_key(&value.key()).expect("key");
            let bytes = postcard::to_allocvec(value).expect("encode");
            table
                .insert(key.as_ref(), bytes.as_slice())
                .expect("insert");
        }
    }
    txn.commit().expect("commit");
}

fn raw_get(db: &redb::Database, id: u64) -> Option<User> {
    let key = User::record_key(&user(id).key()).expect("key");
    let txn = db.begin_read().expect("read");
    let table = txn.open_table(RAW).expect("table");
    let value = table.get(key.as_ref()).expect("get")?;
    Some(postcard::from_bytes(value.value()).expect("decode"))
}

fn typed_vs_raw(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = RedbStore::create(dir.path().join("typed.redb")).expect("store");
    // Written without fsync: the CPU cost of each layer, without the disk's noise.
    let no_fsync = RedbStore::builder()
        .set_user_durability(Durability::Grouped)
        .set_background_flush(false)
        .create(dir.path().join("typed-no-fsync.redb"))
        .expect("store");
    let db = redb::Database::create(dir.path().join("raw.redb")).expect("raw db");
    let db_no_fsync = redb::Database::create(dir.path().join("raw-no-fsync.redb")).expect("raw db");
    for start in (0..STORED).step_by(1000) {
        store.put_values(&users(start, 1000)).expect("fill");
        no_fsync.put_values(&users(start, 1000)).expect("fill");
        raw_put_batch(&db, &users(start, 1000), true);
        raw_put_batch(&db_no_fsync, &users(start, 1000), false);
    }

    let batch = users(STORED, 1000);
    let mut group = c.benchmark_group("typed_put_batch_1000_durable");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("netabase_store", |b| {
        b.iter(|| store.put_values(black_box(&batch)).expect("put"))
    });
    group.bench_function("raw_redb", |b| {
        b.iter(|| raw_put_batch(&db, black_box(&batch), true))
    });
    group.finish();

    let mut group = c.benchmark_group("typed_put_batch_1000_no_fsync");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("netabase_store", |b| {
        b.iter(|| no_fsync.put_values(black_box(&batch)).expect("put"))
    });
    group.bench_function("raw_redb", |b| {
        b.iter(|| raw_put_batch(&db_no_fsync, black_box(&batch), false))
    });
    group.finish();

    let mut group = c.benchmark_group("typed_get");
    let mut id = 0;
    group.bench_function("netabase_store", |b| {
        b.iter(|| {
            id = (id + 7919) % STORED;
            black_box(store.get_value::<User>(&user(id).key()).expect("get"))
        })
    });
    let mut id = 0;
    group.bench_function("raw_redb", |b| {
        b.iter(|| {
            id = (id + 7919) % STORED;
            black_box(raw_get(&db, id))
        })
    });
    group.finish();
}

fn record(id: u64) -> Record {
    let mut record = user(id).to_record().expect("record");
    record.publisher = Some(peer());
    record
}

/// A record of user `n % STORED` whose value is greater (in byte order, the rule of `User`) than
/// any written before with a smaller `n`: same name length, zero-padded counter.
fn greater_record(n: u64) -> Record {
    let id = n % STORED;
    let value = User {
        name: format!("user number {id} {n:020}"),
        ..user(id)
    };
    let mut record = value.to_record().expect("record");
    record.publisher = Some(peer());
    record
}

fn record_store_vs_memory_store(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = RedbStore::builder()
        .register::<User>()
        .set_local_peer_id(peer())
        .create(dir.path().join("kad.redb"))
        .expect("store");
    let mut memory = MemoryStore::with_config(
        peer(),
        MemoryStoreConfig {
            max_records: 1_000_000,
            ..MemoryStoreConfig::default()
        },
    );
    for id in 0..STORED {
        RecordStore::put(&mut store, record(id)).expect("fill");
        memory.put(record(id)).expect("fill");
    }
    store.flush().expect("flush");

    let keys: Vec<RecordKey> = (0..STORED).map(|id| record(id).key).collect();
    let mut group = c.benchmark_group("record_store_get");
    let mut i = 0;
    group.bench_function("redb_store", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            black_box(
                RecordStore::get(&store, &keys[i])
                    .expect("stored")
                    .value
                    .len(),
            )
        })
    });
    let mut i = 0;
    group.bench_function("memory_store", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            black_box(memory.get(&keys[i]).expect("stored").value.len())
        })
    });
    group.finish();

    // Replacing stored records with greater values, so that each put is stored (grouped commits).
    let mut group = c.benchmark_group("record_store_put");
    let mut n = 0u64;
    group.bench_function("redb_store", |b| {
        b.iter_batched(
            || {
                n += 1;
                greater_record(n)
            },
            |r| RecordStore::put(&mut store, r).expect("put"),
            BatchSize::SmallInput,
        )
    });
    let mut n = 0u64;
    group.bench_function("memory_store", |b| {
        b.iter_batched(
            || {
                n += 1;
                greater_record(n)
            },
            |r| memory.put(r).expect("put"),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn inbound_put_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("inbound_put_100_records");
    group.throughput(Throughput::Elements(100));
    for (name, durability) in [
        ("group_commit", Durability::Grouped),
        ("commit_per_record", Durability::Immediate),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = RedbStore::builder()
            .register::<User>()
            .set_network_durability(durability)
            .create(dir.path().join("inbound.redb"))
            .expect("store");
        let mut next = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..100 {
                    next += 1;
                    RecordStore::put(&mut store, record(next)).expect("put");
                }
            })
        });
        store.flush().expect("flush");
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
}

fn main() {
    let mut criterion = config().configure_from_args();
    typed_vs_raw(&mut criterion);
    record_store_vs_memory_store(&mut criterion);
    inbound_put_throughput(&mut criterion);
    criterion.final_summary();
}
