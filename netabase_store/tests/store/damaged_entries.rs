//! Entries damaged behind the store's back (written by another program, or by a bug) never stop
//! the store from serving the undamaged ones: each is reported and counted, and every walk, page
//! and schedule goes past it.

use std::path::Path;
use std::time::SystemTime;

use crate::common::*;
use netabase_store::kad::store::RecordStore;
use netabase_store::kad::{ProviderRecord, RecordKey};
use netabase_store::{NetabaseSchema, NodeStore, RedbStore};

const RECORDS: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("records");
const PROVIDERS: redb::TableDefinition<(&[u8], &[u8]), &[u8]> =
    redb::TableDefinition::new("providers");

/// Replaces the `records` entry under `key` with bytes that are not an entry (unknown flags).
fn damage_record(path: &Path, key: &[u8]) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(RECORDS)
        .unwrap()
        .insert(key, &[0x80, 1, 2][..])
        .unwrap();
    txn.commit().unwrap();
}

/// Replaces the provider entry of (`key`, `provider`) with a truncated one.
fn damage_provider(path: &Path, key: &[u8], provider: &[u8]) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(PROVIDERS)
        .unwrap()
        .insert((key, provider), &[0, 5][..])
        .unwrap();
    txn.commit().unwrap();
}

fn user_record_key(id: u64) -> RecordKey {
    User::record_key(&user_key(id)).unwrap()
}

/// A store of users 0..10, all scheduled for republishing, with user 3 damaged.
fn store_with_damaged_user(dir: &Path) -> RedbStore {
    let path = dir.join("s.redb");
    {
        let mut store = builder().set_page_size(4).create(&path).unwrap();
        for id in 0..10 {
            store.put_value(&user(id, "u")).unwrap();
            store
                .schedule_republish(&user_record_key(id), SystemTime::UNIX_EPOCH)
                .unwrap();
        }
    }
    damage_record(&path, user_record_key(3).as_ref());
    builder().set_page_size(4).open(&path).unwrap()
}

#[test]
fn the_node_pages_past_a_damaged_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_damaged_user(dir.path());
    let prefix = User::record_prefix();
    let mut seen = Vec::new();
    let mut after: Option<RecordKey> = None;
    for _ in 0..20 {
        let page = store.records_page(after.as_ref(), &prefix, 3).unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.key.clone());
        seen.extend(page.iter().map(|r| User::from_record(r).unwrap().id));
    }
    assert_eq!(seen, vec![0, 1, 2, 4, 5, 6, 7, 8, 9]);
    assert!(
        store.storage_error_count() >= 1,
        "the damaged entry is counted"
    );
}

#[test]
fn republishing_goes_on_past_a_damaged_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_damaged_user(dir.path());
    let due = store.due_for_republish(SystemTime::now(), 100).unwrap();
    let ids: Vec<u64> = due
        .iter()
        .map(|r| User::from_record(r).unwrap().id)
        .collect();
    assert_eq!(ids, vec![0, 1, 2, 4, 5, 6, 7, 8, 9]);
    assert_eq!(store.storage_error_count(), 1);
}

#[test]
fn a_page_with_a_damaged_record_keeps_its_other_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_damaged_user(dir.path());
    let mut scan = store.scan_schema::<User>();
    let mut ids = Vec::new();
    let mut errors = 0;
    while let Some(page) = scan.next_page() {
        match page {
            Ok(records) => ids.extend(records.iter().map(|r| User::from_record(r).unwrap().id)),
            Err(error) => {
                assert!(error.to_string().contains("corrupt entry"), "{error}");
                errors += 1;
            }
        }
    }
    assert_eq!(errors, 1);
    assert_eq!(ids, vec![0, 1, 2, 4, 5, 6, 7, 8, 9]);
}

#[test]
fn a_damaged_provider_entry_hides_no_other_provider() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let mut store = builder().create(&path).unwrap();
        for key in [&b"a"[..], b"b", b"c"] {
            for seed in 0..3 {
                store
                    .add_provider(ProviderRecord::new(key.to_vec(), peer(seed), Vec::new()))
                    .unwrap();
            }
        }
    }
    damage_provider(&path, b"a", &peer(1).to_bytes());
    damage_provider(&path, b"b", &peer(0).to_bytes());
    let store = builder().open(&path).unwrap();
    let providers: Vec<_> = store
        .providers(&RecordKey::new(&b"a"))
        .into_iter()
        .map(|p| p.provider)
        .collect();
    assert_eq!(providers.len(), 2, "peers 0 and 2 still provide `a`");
    assert!(!providers.contains(&peer(1)));
    let provided: Vec<_> = store.provided().map(|p| p.key.to_vec()).collect();
    assert_eq!(
        provided,
        vec![b"a".to_vec(), b"c".to_vec()],
        "the local peer's damaged entry for `b` is skipped, not the end of the walk"
    );
    assert_eq!(store.storage_error_count(), 2);
}
