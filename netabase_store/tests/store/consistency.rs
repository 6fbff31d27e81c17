//! The side tables follow the records table on every path, and the outcome of a write does not
//! depend on whether an expiry sweep ran before it, nor on the order in which records arrive.

use std::time::{Duration, Instant, SystemTime};

use crate::common::*;
use netabase_store::kad::store::RecordStore;
use netabase_store::kad::{Record, RecordKey};
use netabase_store::{NetabaseDatabase, NetabaseDatabaseExt, NetabaseSchema, NodeStore, RedbStore};

fn key_of(id: u64) -> RecordKey {
    User::record_key(&user_key(id)).unwrap()
}

/// A store holding user 1, marked for republishing, whose deadline has just passed but which no
/// sweep has removed yet.
fn expired_marked_user() -> RedbStore {
    let mut store = memory_store();
    store.put_value(&user(1, "old")).unwrap();
    block_on(async {
        NetabaseDatabaseExt::<_, User>::mark_for_republish(&mut store, &[user_key(1)])
            .await
            .unwrap();
        NetabaseDatabaseExt::<_, User>::update_record_expiry(
            &mut store,
            &user_key(1),
            Some(Instant::now() - Duration::from_millis(5)),
        )
        .await
        .unwrap();
    });
    assert_eq!(store.record_count().unwrap(), 1, "not swept yet");
    assert!(store.get_value::<User>(&user_key(1)).unwrap().is_none());
    store
}

fn republish_state(store: &RedbStore) -> (Option<SystemTime>, usize, usize) {
    let marked = block_on(NetabaseDatabaseExt::<_, User>::get_republish_records(store)).unwrap();
    let due = store
        .due_for_republish(SystemTime::now() + Duration::from_secs(3600), 100)
        .unwrap();
    (
        store.republish_time(&key_of(1)).unwrap(),
        marked.len(),
        due.len(),
    )
}

#[test]
fn an_expired_record_is_gone_with_its_schedule_before_the_sweep() {
    let store = expired_marked_user();
    assert_eq!(
        store.republish_time(&key_of(1)).unwrap(),
        None,
        "an expired record has no schedule"
    );
}

#[test]
fn a_write_over_an_expired_record_does_not_inherit_its_republish_schedule() {
    type Write = fn(&mut RedbStore);
    let writes: [(&str, Write); 4] = [
        ("typed put", |store| {
            store.put_value(&user(1, "new")).unwrap()
        }),
        ("put_local", |store| {
            store
                .put_local(user(1, "new").to_record().unwrap())
                .unwrap()
        }),
        ("put_record", |store| {
            block_on(NetabaseDatabase::<_, User>::put_record(
                store,
                user(1, "new").to_record().unwrap(),
            ))
            .unwrap()
        }),
        ("RecordStore::put", |store| {
            RecordStore::put(store, user(1, "new").to_record().unwrap()).unwrap()
        }),
    ];
    for (path, write) in writes {
        let mut swept_first = expired_marked_user();
        swept_first.remove_expired(Instant::now()).unwrap();
        write(&mut swept_first);
        let mut not_swept = expired_marked_user();
        write(&mut not_swept);
        assert_eq!(
            not_swept.get_value::<User>(&user_key(1)).unwrap(),
            Some(user(1, "new")),
            "{path}"
        );
        assert_eq!(republish_state(&swept_first), (None, 0, 0), "{path}");
        assert_eq!(
            republish_state(&not_swept),
            republish_state(&swept_first),
            "{path}: the sweep's timing changed the outcome"
        );
    }
}

#[test]
fn an_expired_record_is_not_scheduled() {
    let mut store = expired_marked_user();
    store.remove_expired(Instant::now()).unwrap();
    store.put_value(&user(1, "new")).unwrap();
    block_on(NetabaseDatabaseExt::<_, User>::update_record_expiry(
        &mut store,
        &user_key(1),
        Some(Instant::now() - Duration::from_millis(5)),
    ))
    .unwrap();
    store
        .schedule_republish(&key_of(1), SystemTime::UNIX_EPOCH)
        .unwrap();
    store.put_value(&user(1, "newer")).unwrap();
    assert_eq!(republish_state(&store), (None, 0, 0));
}

/// Copies of one value that differ only in publisher and expiry.
fn copies() -> Vec<Record> {
    let later = Instant::now() + Duration::from_secs(600);
    let earlier = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    for (publisher, expires) in [
        (None, Some(earlier)),
        (Some(peer(1)), Some(later)),
        (Some(peer(2)), Some(earlier)),
        (Some(peer(3)), Some(later)),
    ] {
        let mut record = user(1, "same").to_record().unwrap();
        record.publisher = publisher;
        record.expires = expires;
        out.push(record);
    }
    out
}

/// Every order of `items` (there are few).
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            out.push(tail);
        }
    }
    out
}

fn stored(store: &RedbStore) -> (Option<Vec<u8>>, Option<u128>) {
    let record = RecordStore::get(store, &key_of(1)).unwrap().into_owned();
    let expires = record
        .expires
        .map(|at| at.saturating_duration_since(Instant::now()).as_secs() as u128);
    (record.publisher.map(|p| p.to_bytes()), expires)
}

#[test]
fn equal_values_merge_the_same_way_in_any_order_on_every_path() {
    let records = copies();
    let mut outcomes = std::collections::BTreeSet::new();
    for order in permutations(&records) {
        let mut batch = memory_store();
        block_on(NetabaseDatabaseExt::<_, User>::put_records_batch(
            &mut batch,
            order.clone(),
        ))
        .unwrap();
        outcomes.insert(stored(&batch));

        let mut one_by_one = memory_store();
        for record in &order {
            block_on(NetabaseDatabase::<_, User>::put_record(
                &mut one_by_one,
                record.clone(),
            ))
            .unwrap();
        }
        outcomes.insert(stored(&one_by_one));

        let mut kad = memory_store();
        for record in order {
            RecordStore::put(&mut kad, record).unwrap();
        }
        outcomes.insert(stored(&kad));
    }
    assert_eq!(outcomes.len(), 1, "outcomes differ: {outcomes:?}");
    let (publisher, expires) = outcomes.into_iter().next().unwrap();
    assert_eq!(
        publisher,
        Some(peer(3).to_bytes()),
        "the greatest publisher"
    );
    assert!(expires.unwrap() >= 598, "the later expiry");
}

/// Walks with a small page over a store where expired, unswept records sit between live ones,
/// in runs longer than a page: each walk returns exactly the live records, once, in key order.
#[test]
fn walks_skip_expired_rows_at_every_page_boundary() {
    let mut store = builder().set_page_size(2).in_memory().unwrap();
    let past = Instant::now() - Duration::from_secs(1);
    let mut live = Vec::new();
    for id in 0..40u64 {
        store.put_value(&user(id, "u")).unwrap();
        // Ids 5..=25 expire in one long run; elsewhere every third id.
        if (5..=25).contains(&id) || id % 3 == 0 {
            block_on(NetabaseDatabaseExt::<_, User>::update_record_expiry(
                &mut store,
                &user_key(id),
                Some(past),
            ))
            .unwrap();
        } else {
            live.push(User::record_key(&user_key(id)).unwrap().to_vec());
        }
    }
    live.sort();
    assert_eq!(store.record_count().unwrap(), 40, "nothing swept");

    let walked: Vec<Vec<u8>> = store.records().map(|r| r.key.to_vec()).collect();
    assert_eq!(walked, live, "records()");
    let scanned: Vec<Vec<u8>> = store
        .scan_schema::<User>()
        .map(|r| r.unwrap().key.to_vec())
        .collect();
    assert_eq!(scanned, live, "scan");
    let mut paged = Vec::new();
    let mut scan = store.scan_schema::<User>();
    while let Some(page) = scan.next_page() {
        let page = page.unwrap();
        assert!(!page.is_empty() && page.len() <= 2, "{}", page.len());
        paged.extend(page.into_iter().map(|r| r.key.to_vec()));
    }
    assert_eq!(paged, live, "next_page");
    // The node's cursor, from every key (expired ones included) and from before the prefix.
    let all: Vec<RecordKey> = (0..40u64)
        .map(|id| User::record_key(&user_key(id)).unwrap())
        .collect();
    for after in all.iter().map(Some).chain([None]) {
        let page = store
            .records_page(after, &User::record_prefix(), 3)
            .unwrap();
        let expected: Vec<&Vec<u8>> = live
            .iter()
            .filter(|k| after.is_none_or(|a| k.as_slice() > a.as_ref()))
            .take(3)
            .collect();
        let got: Vec<Vec<u8>> = page.iter().map(|r| r.key.to_vec()).collect();
        assert_eq!(got.iter().collect::<Vec<_>>(), expected);
    }
    let before = RecordKey::new(&b"/a");
    assert_eq!(
        store
            .records_page(Some(&before), &User::record_prefix(), 100)
            .unwrap()
            .len(),
        live.len()
    );
    assert_eq!(store.storage_error_count(), 0);
}

/// Expired provider records, never returned, do not hold the places of live ones: a key full of
/// expired providers takes a new one, and a store whose provided keys have all expired takes a
/// new key, before any sweep has run.
#[test]
fn expired_provider_records_make_room_for_live_ones() {
    use netabase_store::kad::ProviderRecord;
    let mut store = builder()
        .set_max_providers_per_key(2)
        .set_max_provided_keys(2)
        .in_memory()
        .unwrap();
    let soon = Instant::now() + Duration::from_millis(100);
    for (key, seed) in [(&b"a"[..], 1), (b"a", 2), (b"b", 1)] {
        let mut record = ProviderRecord::new(key.to_vec(), peer(seed), Vec::new());
        record.expires = Some(soon);
        store.add_provider(record).unwrap();
    }
    while Instant::now() <= soon + Duration::from_millis(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(store.providers(&RecordKey::new(&b"a")).is_empty());

    store
        .add_provider(ProviderRecord::new(b"a".to_vec(), peer(3), Vec::new()))
        .unwrap();
    let providers = store.providers(&RecordKey::new(&b"a"));
    assert_eq!(providers.len(), 1, "the full key took a live provider");
    assert_eq!(providers[0].provider, peer(3));

    store
        .add_provider(ProviderRecord::new(b"c".to_vec(), peer(0), Vec::new()))
        .expect("the provided keys were full of expired records only");
    assert_eq!(store.providers(&RecordKey::new(&b"c")).len(), 1);
    assert_eq!(store.provided().count(), 1);
    assert_eq!(
        store.remove_expired(Instant::now()).unwrap(),
        0,
        "the writes swept what they met"
    );
}
