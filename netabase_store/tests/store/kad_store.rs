//! kad's `RecordStore` on `RedbStore`: every method, limits, expiry and conflicts.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::common::*;
use netabase_store::kad::store::{Error, RecordStore};
use netabase_store::kad::{ProviderRecord, Record, RecordKey};
use netabase_store::{MIN_SERVED_TTL, NetabaseSchema, NodeStore, RedbStore};

#[test]
fn put_get_remove() {
    let mut store = memory_store();
    let mut record = raw(b"/app/Thing/1", b"value");
    record.publisher = Some(peer(7));
    record.expires = Some(Instant::now() + Duration::from_secs(60));
    RecordStore::put(&mut store, record.clone()).unwrap();
    let got = RecordStore::get(&store, &record.key)
        .expect("stored")
        .into_owned();
    assert_eq!(got.key, record.key);
    assert_eq!(got.value, record.value);
    assert_eq!(got.publisher, Some(peer(7)));
    let expires = got.expires.expect("expiry kept");
    let wanted = record.expires.unwrap();
    // Deadlines are kept as wall-clock milliseconds: the rebuilt instant is within 2 ms.
    let diff = if expires > wanted {
        expires - wanted
    } else {
        wanted - expires
    };
    assert!(diff <= Duration::from_millis(2), "{diff:?}");
    store.remove(&record.key);
    assert!(RecordStore::get(&store, &record.key).is_none());
    store.remove(&record.key);
}

#[test]
fn records_lists_everything_once() {
    let mut store = builder().set_page_size(3).in_memory().unwrap();
    let mut wanted = HashSet::new();
    for i in 0..20u8 {
        let record = raw(&[b'/', b'k', i], &[i]);
        wanted.insert(record.key.clone());
        RecordStore::put(&mut store, record).unwrap();
    }
    let listed: Vec<RecordKey> = store.records().map(|r| r.key.clone()).collect();
    assert_eq!(listed.len(), 20);
    assert_eq!(listed.into_iter().collect::<HashSet<_>>(), wanted);
}

#[test]
fn value_size_and_record_count_limits() {
    let mut store = builder()
        .set_max_records(2)
        .set_max_value_bytes(4)
        .in_memory()
        .unwrap();
    assert!(matches!(
        RecordStore::put(&mut store, raw(b"/a", b"12345")),
        Err(Error::ValueTooLarge)
    ));
    RecordStore::put(&mut store, raw(b"/a", b"1234")).unwrap();
    RecordStore::put(&mut store, raw(b"/b", b"1")).unwrap();
    assert!(matches!(
        RecordStore::put(&mut store, raw(b"/c", b"1")),
        Err(Error::MaxRecords)
    ));
    RecordStore::put(&mut store, raw(b"/b", b"2")).unwrap();
    store.remove(&RecordKey::new(b"/a"));
    RecordStore::put(&mut store, raw(b"/c", b"1")).unwrap();
}

#[test]
fn a_full_store_sweeps_expired_records_to_make_room() {
    let mut store = builder().set_max_records(2).in_memory().unwrap();
    let mut short = raw(b"/short", b"1");
    short.expires = Some(Instant::now() + Duration::from_millis(20));
    RecordStore::put(&mut store, short).unwrap();
    RecordStore::put(&mut store, raw(b"/b", b"1")).unwrap();
    std::thread::sleep(Duration::from_millis(40));
    RecordStore::put(&mut store, raw(b"/c", b"1")).unwrap();
    assert_eq!(store.record_count().unwrap(), 2);
}

#[test]
fn expired_records_are_not_stored_or_returned() {
    let mut store = memory_store();
    let mut record = raw(b"/x/y/1", b"v");
    record.expires = Some(Instant::now());
    RecordStore::put(&mut store, record.clone()).unwrap();
    assert!(RecordStore::get(&store, &record.key).is_none());
    assert_eq!(store.record_count().unwrap(), 0);
}

#[test]
fn a_record_about_to_expire_is_not_handed_to_kad_for_the_wire() {
    // kad sends a served record's lifetime in whole seconds and 0 means "never expires": a record
    // with under a second left would live forever on the peer that asked for it.
    let mut store = memory_store();
    let mut soon = raw(b"/x/y/soon", b"v");
    soon.expires = Some(Instant::now() + MIN_SERVED_TTL - Duration::from_millis(300));
    let mut later = raw(b"/x/y/later", b"v");
    later.expires = Some(Instant::now() + MIN_SERVED_TTL + Duration::from_secs(5));
    RecordStore::put(&mut store, soon.clone()).unwrap();
    RecordStore::put(&mut store, later.clone()).unwrap();
    assert!(
        RecordStore::get(&store, &soon.key).is_none(),
        "not served with under 2 s left"
    );
    assert!(RecordStore::get(&store, &later.key).is_some());
    // The node's own reads still see it until it expires.
    assert!(store.get_local(&soon.key).unwrap().is_some());
}

#[test]
fn put_resolves_conflicts_through_the_registry() {
    let mut store = memory_store();
    let newer = doc("a", 300, "aaa").to_record().unwrap();
    let older = doc("a", 200, "zzz").to_record().unwrap();
    RecordStore::put(&mut store, newer.clone()).unwrap();
    RecordStore::put(&mut store, older).unwrap();
    assert_eq!(
        RecordStore::get(&store, &newer.key).unwrap().value,
        newer.value,
        "the older version is not stored"
    );
    // Unknown schemas resolve by byte order.
    RecordStore::put(&mut store, raw(b"/unknown/S/1", b"b")).unwrap();
    RecordStore::put(&mut store, raw(b"/unknown/S/1", b"a")).unwrap();
    assert_eq!(
        RecordStore::get(&store, &RecordKey::new(b"/unknown/S/1"))
            .unwrap()
            .value,
        b"b"
    );
    RecordStore::put(&mut store, raw(b"/unknown/S/1", b"c")).unwrap();
    assert_eq!(
        RecordStore::get(&store, &RecordKey::new(b"/unknown/S/1"))
            .unwrap()
            .value,
        b"c"
    );
}

#[test]
fn equal_values_keep_the_later_expiry() {
    let mut store = memory_store();
    let now = Instant::now();
    let mut record = user(1, "a").to_record().unwrap();
    record.expires = Some(now + Duration::from_secs(10));
    RecordStore::put(&mut store, record.clone()).unwrap();
    record.expires = Some(now + Duration::from_secs(100));
    RecordStore::put(&mut store, record.clone()).unwrap();
    let expires = RecordStore::get(&store, &record.key)
        .unwrap()
        .expires
        .unwrap();
    assert!(
        expires > now + Duration::from_secs(99),
        "a republish refreshes the expiry"
    );
    record.expires = Some(now + Duration::from_secs(5));
    RecordStore::put(&mut store, record.clone()).unwrap();
    let expires = RecordStore::get(&store, &record.key)
        .unwrap()
        .expires
        .unwrap();
    assert!(
        expires > now + Duration::from_secs(99),
        "an older copy does not shorten it"
    );
}

#[test]
fn records_that_do_not_decode_as_their_schema_are_refused() {
    let mut store = memory_store();
    let mut record = user(1, "a").to_record().unwrap();
    record.value = vec![0xff, 0xff];
    RecordStore::put(&mut store, record.clone()).unwrap();
    assert!(RecordStore::get(&store, &record.key).is_none());
    assert_eq!(store.rejected_record_count(), 1);
    // Unknown prefixes are stored raw, as kad needs.
    RecordStore::put(&mut store, raw(b"no-schema-at-all", b"x")).unwrap();
    assert!(RecordStore::get(&store, &RecordKey::new(b"no-schema-at-all")).is_some());
}

fn provider(key: &[u8], seed: u8) -> ProviderRecord {
    ProviderRecord::new(
        key.to_vec(),
        peer(seed),
        vec!["/ip4/127.0.0.1/tcp/1".parse().unwrap()],
    )
}

#[test]
fn providers_and_provided() {
    let mut store = memory_store();
    store.add_provider(provider(b"k1", 0)).unwrap();
    store.add_provider(provider(b"k1", 1)).unwrap();
    store.add_provider(provider(b"k2", 2)).unwrap();
    let mut with_expiry = provider(b"k3", 0);
    with_expiry.expires = Some(Instant::now() + Duration::from_secs(60));
    store.add_provider(with_expiry).unwrap();

    let providers: HashSet<_> = store
        .providers(&RecordKey::new(b"k1"))
        .into_iter()
        .map(|p| p.provider)
        .collect();
    assert_eq!(providers, HashSet::from([peer(0), peer(1)]));
    let got = store.providers(&RecordKey::new(b"k1"));
    assert_eq!(got[0].addresses, provider(b"k1", 0).addresses);
    let provided: Vec<ProviderRecord> = store.provided().map(|p| p.into_owned()).collect();
    assert_eq!(provided.len(), 2, "only the local peer's records");
    assert!(provided.iter().all(|p| p.provider == peer(0)));
    assert!(provided.iter().any(|p| p.expires.is_some()));

    store.remove_provider(&RecordKey::new(b"k1"), &peer(0));
    assert_eq!(store.providers(&RecordKey::new(b"k1")).len(), 1);
    assert_eq!(store.provided().count(), 1);
    store.remove_provider(&RecordKey::new(b"k1"), &peer(1));
    assert!(store.providers(&RecordKey::new(b"k1")).is_empty());
}

#[test]
fn provider_limits_follow_memory_store() {
    let mut store = builder()
        .set_max_provided_keys(2)
        .set_max_providers_per_key(2)
        .in_memory()
        .unwrap();
    store.add_provider(provider(b"a", 1)).unwrap();
    store.add_provider(provider(b"a", 2)).unwrap();
    store.add_provider(provider(b"a", 3)).unwrap();
    assert_eq!(
        store.providers(&RecordKey::new(b"a")).len(),
        2,
        "a full key ignores new providers"
    );
    let mut updated = provider(b"a", 2);
    updated.addresses = vec![];
    store.add_provider(updated).unwrap();
    let two = store
        .providers(&RecordKey::new(b"a"))
        .into_iter()
        .find(|p| p.provider == peer(2))
        .unwrap();
    assert!(
        two.addresses.is_empty(),
        "an existing provider is updated in place"
    );
    store.add_provider(provider(b"b", 1)).unwrap();
    assert!(matches!(
        store.add_provider(provider(b"c", 1)),
        Err(Error::MaxProvidedKeys)
    ));
    store.add_provider(provider(b"b", 2)).unwrap();
}

#[test]
fn provided_is_empty_without_a_local_peer_id() {
    let mut store = RedbStore::in_memory().unwrap();
    store.add_provider(provider(b"a", 0)).unwrap();
    assert_eq!(store.provided().count(), 0);
    store.set_local_peer_id(peer(0));
    store.add_provider(provider(b"b", 0)).unwrap();
    assert_eq!(store.provided().count(), 1);
}

#[test]
fn the_swarm_and_the_application_share_one_store() {
    let store = memory_store();
    let mut kad_side = store.clone();
    RecordStore::put(&mut kad_side, user(5, "from kad").to_record().unwrap()).unwrap();
    assert_eq!(
        store.get_value::<User>(&user_key(5)).unwrap(),
        Some(user(5, "from kad"))
    );
    let record: Record = RecordStore::get(&kad_side, &User::record_key(&user_key(5)).unwrap())
        .unwrap()
        .into_owned();
    assert_eq!(User::from_record(&record).unwrap(), user(5, "from kad"));
}

#[test]
fn damaged_entries_are_reported_and_counted_never_returned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let mut store = builder().create(&path).unwrap();
        RecordStore::put(&mut store, raw(b"/a/B/1", b"fine")).unwrap();
        RecordStore::put(&mut store, raw(b"/a/B/3", b"fine")).unwrap();
    }
    {
        // Write an entry with unknown header flags behind the store's back.
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(redb::TableDefinition::<&[u8], &[u8]>::new("records"))
            .unwrap()
            .insert(&b"/a/B/2"[..], &[0x80, 1, 2][..])
            .unwrap();
        txn.commit().unwrap();
    }
    let store = builder().open(&path).unwrap();
    assert!(RecordStore::get(&store, &RecordKey::new(b"/a/B/2")).is_none());
    assert_eq!(
        store.storage_error_count(),
        1,
        "kad's get cannot return the error: it is counted"
    );
    let listed: Vec<RecordKey> = store.records().map(|r| r.key.clone()).collect();
    assert_eq!(
        listed,
        vec![RecordKey::new(b"/a/B/1"), RecordKey::new(b"/a/B/3")],
        "the walk goes on"
    );
    assert_eq!(store.storage_error_count(), 2);
    assert_eq!(netabase_store::NodeStore::storage_errors(&store), 2);
    let scanned: Vec<_> = store.scan(b"/a/".to_vec()).collect();
    assert_eq!(scanned.len(), 3);
    let error = scanned[1].as_ref().unwrap_err();
    let netabase_store::DatabaseError::Storage(source) = error else {
        panic!("{error}")
    };
    let store_error = source
        .downcast_ref::<netabase_store::StoreError>()
        .expect("a StoreError");
    assert!(
        matches!(
            store_error,
            netabase_store::StoreError::CorruptEntry {
                table: "records",
                ..
            }
        ),
        "{store_error}"
    );
    assert!(error.to_string().contains("/a/B/2"), "{error}");
}
