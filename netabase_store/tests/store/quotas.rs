//! Quotas for records of schemas the store does not register: in all and per namespace, on every
//! write path, freed by removal and expiry, kept across reopening, and never in the way of
//! registered records.

use std::time::{Duration, Instant};

use crate::common::*;
use netabase_store::kad::store::{Error, RecordStore};
use netabase_store::kad::{Record, RecordKey};
use netabase_store::{DatabaseError, NetabaseSchema, NodeStore, RedbStore};

fn limited() -> netabase_store::RedbStoreBuilder {
    let mut builder = builder();
    builder
        .set_max_records(10)
        .set_max_unknown_records(4)
        .set_max_unknown_per_namespace(3);
    builder
}

fn stranger(namespace: &str, id: u32) -> Record {
    raw(format!("/{namespace}/Thing/{id}").as_bytes(), b"x")
}

#[test]
fn strangers_get_their_quota_and_registered_records_keep_the_reserve() {
    let mut store = limited().in_memory().unwrap();
    for id in 0..3 {
        RecordStore::put(&mut store, stranger("a", id)).unwrap();
    }
    // The namespace is full; another namespace still has room in the total.
    assert!(matches!(
        RecordStore::put(&mut store, stranger("a", 3)),
        Err(Error::MaxRecords)
    ));
    RecordStore::put(&mut store, stranger("b", 0)).unwrap();
    // The total is full.
    assert!(matches!(
        RecordStore::put(&mut store, stranger("c", 0)),
        Err(Error::MaxRecords)
    ));
    // Replacing a counted key needs no room.
    RecordStore::put(&mut store, raw(b"/a/Thing/0", b"newer")).unwrap();
    // Registered records use the rest of max_records: 4 strangers + 6 users.
    for id in 0..6 {
        store.put_value(&user(id, "u")).unwrap();
    }
    assert_eq!(store.record_count().unwrap(), 10);
    let error = store.put_local(stranger("d", 0)).unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::UnknownSchemaQuota {
                quota: "max_unknown_records",
                max: 4
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("register the schema"), "{error}");
}

#[test]
fn removal_and_expiry_give_the_room_back() {
    let mut store = limited().in_memory().unwrap();
    let mut short = stranger("a", 0);
    short.expires = Some(Instant::now() + Duration::from_millis(30));
    RecordStore::put(&mut store, short).unwrap();
    RecordStore::put(&mut store, stranger("a", 1)).unwrap();
    RecordStore::put(&mut store, stranger("a", 2)).unwrap();
    assert!(RecordStore::put(&mut store, stranger("a", 3)).is_err());

    store.remove(&RecordKey::new(&b"/a/Thing/1"));
    RecordStore::put(&mut store, stranger("a", 3)).unwrap();
    assert!(RecordStore::put(&mut store, stranger("a", 4)).is_err());

    std::thread::sleep(Duration::from_millis(60));
    store.flush().unwrap();
    assert!(store.remove_expired(Instant::now()).unwrap() >= 1);
    RecordStore::put(&mut store, stranger("a", 4)).unwrap();
    store.flush().unwrap();
    assert!(RecordStore::get(&store, &RecordKey::new(&b"/a/Thing/4")).is_some());
}

#[test]
fn counts_survive_a_reopen_and_old_stores_are_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let mut store = limited().create(&path).unwrap();
        for id in 0..3 {
            RecordStore::put(&mut store, stranger("a", id)).unwrap();
        }
        store.flush().unwrap();
    }
    {
        let mut store = limited().open(&path).unwrap();
        assert!(
            RecordStore::put(&mut store, stranger("a", 3)).is_err(),
            "the count was kept"
        );
    }
    {
        // A store written before quotas existed has no count tables: drop them.
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.delete_table(redb::TableDefinition::<&[u8], u64>::new("unknown_counts"))
            .unwrap();
        txn.delete_table(redb::TableDefinition::<&[u8], ()>::new("unknown_keys"))
            .unwrap();
        txn.commit().unwrap();
    }
    let mut store = limited().open(&path).unwrap();
    assert!(
        RecordStore::put(&mut store, stranger("a", 3)).is_err(),
        "opening counted the existing records"
    );
    RecordStore::put(&mut store, stranger("b", 0)).unwrap();
}

#[test]
fn a_key_counted_before_its_schema_was_registered_is_uncounted_on_removal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let user_key = User::record_key(&user_key(1)).unwrap();
    {
        // A store that knows no schema counts a user record as a stranger's.
        let mut store = RedbStore::builder()
            .set_max_unknown_records(1)
            .create(&path)
            .unwrap();
        RecordStore::put(
            &mut store,
            Record::new(user_key.clone(), user(1, "u").to_bytes().unwrap()),
        )
        .unwrap();
        assert!(RecordStore::put(&mut store, stranger("a", 0)).is_err());
    }
    let mut store = RedbStore::builder()
        .register::<User>()
        .set_max_unknown_records(1)
        .open(&path)
        .unwrap();
    store.remove(&user_key);
    RecordStore::put(&mut store, stranger("a", 0)).unwrap();
}

#[test]
fn one_peer_gets_its_share_and_others_theirs() {
    let mut store = builder()
        .set_max_unknown_records(100)
        .set_max_unknown_per_namespace(100)
        .set_max_unknown_per_peer(2)
        .in_memory()
        .unwrap();
    let (greedy, other) = (peer(1), peer(2));
    store.put_validated(stranger("a", 0), greedy).unwrap();
    store.put_validated(stranger("a", 1), greedy).unwrap();
    assert!(matches!(
        store.put_validated(stranger("a", 2), greedy),
        Err(Error::MaxRecords)
    ));
    // Another peer, and records given to the store without a peer, are not charged to it.
    store.put_validated(stranger("a", 2), other).unwrap();
    RecordStore::put(&mut store, stranger("a", 3)).unwrap();
    // A replacement needs no room; a removal gives the greedy peer's room back.
    store
        .put_validated(raw(b"/a/Thing/0", b"newer"), greedy)
        .unwrap();
    store.remove(&RecordKey::new(&b"/a/Thing/1"));
    store.put_validated(stranger("a", 4), greedy).unwrap();
    store.flush().unwrap();
    assert_eq!(store.record_count().unwrap(), 4, "a/0, a/2, a/3 and a/4");
}
