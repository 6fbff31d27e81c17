//! Input the store did not create never panics it: empty, huge and nested keys, values at the
//! limit, deadlines far in the future or the past, and extreme settings.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::*;
use netabase_store::kad::store::{Error, RecordStore};
use netabase_store::kad::{ProviderRecord, RecordKey};
use netabase_store::{NetabaseDatabaseExt, NetabaseSchema, NodeStore, RedbStore};

/// An `Instant` about 300 years ahead: far past any real deadline, but representable.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(300 * 365 * 86_400)
}

/// An `Instant` long before the store was opened, when the platform can represent one.
fn far_past() -> Option<Instant> {
    Instant::now().checked_sub(Duration::from_secs(300 * 365 * 86_400))
}

#[test]
fn empty_huge_and_nested_keys_are_plain_keys() {
    let mut store = memory_store();
    let huge = vec![0xAB; 1 << 20];
    for key in [&b""[..], &huge, b"/a", b"/a/", b"/a/b", b"/a/b/"] {
        RecordStore::put(&mut store, raw(key, key.get(..4).unwrap_or(key))).unwrap();
    }
    assert_eq!(store.records().count(), 6);
    assert_eq!(
        store.scan(b"/a/".to_vec()).count(),
        3,
        "`/a` is not under `/a/`"
    );
    assert_eq!(
        RecordStore::get(&store, &RecordKey::new(&b"")).map(|r| r.value.clone()),
        Some(Vec::new())
    );
    store.remove(&RecordKey::new(&b"/a"));
    assert!(RecordStore::get(&store, &RecordKey::new(&b"/a")).is_none());
    assert!(
        RecordStore::get(&store, &RecordKey::new(&b"/a/")).is_some(),
        "a key is not removed with its prefix"
    );
    assert_eq!(
        RecordStore::get(&store, &RecordKey::new(&huge))
            .unwrap()
            .value,
        &huge[..4]
    );
    assert_eq!(store.storage_error_count(), 0);
}

#[test]
fn a_value_of_exactly_the_limit_is_stored_on_every_path() {
    let mut store = builder().set_max_value_bytes(64).in_memory().unwrap();
    RecordStore::put(&mut store, raw(b"/x/y/1", &[7; 64])).unwrap();
    assert!(matches!(
        RecordStore::put(&mut store, raw(b"/x/y/2", &[7; 65])),
        Err(Error::ValueTooLarge)
    ));
    let fits = user(1, &"n".repeat(62));
    assert_eq!(fits.to_bytes().unwrap().len(), 64);
    store.put_value(&fits).unwrap();
    store.put_local(fits.to_record().unwrap()).unwrap();
    block_on(NetabaseDatabaseExt::<_, User>::put_records_batch(
        &mut store,
        vec![fits.to_record().unwrap()],
    ))
    .unwrap();
    assert!(store.put_value(&user(1, &"n".repeat(63))).is_err());
}

#[test]
fn deadlines_far_ahead_and_far_behind_do_not_overflow() {
    let mut store = memory_store();
    let mut far = raw(b"/x/y/far", b"v");
    far.expires = Some(far_future());
    RecordStore::put(&mut store, far.clone()).unwrap();
    let read = RecordStore::get(&store, &far.key)
        .expect("a far deadline is alive")
        .into_owned();
    assert!(read.expires.expect("kept") > Instant::now() + Duration::from_secs(86_400));

    if let Some(past) = far_past() {
        let mut old = raw(b"/x/y/old", b"v");
        old.expires = Some(past);
        RecordStore::put(&mut store, old.clone()).unwrap();
        assert!(
            RecordStore::get(&store, &old.key).is_none(),
            "already expired"
        );
        assert_eq!(store.remove_expired(past).unwrap(), 0);
        let mut provider = ProviderRecord::new(b"p".to_vec(), peer(0), Vec::new());
        provider.expires = Some(past);
        store.add_provider(provider).unwrap();
        assert!(store.providers(&RecordKey::new(&b"p")).is_empty());
    }
    let mut provider = ProviderRecord::new(b"p".to_vec(), peer(0), Vec::new());
    provider.expires = Some(far_future());
    store.add_provider(provider).unwrap();
    assert_eq!(store.providers(&RecordKey::new(&b"p")).len(), 1);
    assert_eq!(store.provided().count(), 1);

    store.put_value(&user(1, "u")).unwrap();
    block_on(NetabaseDatabaseExt::<_, User>::update_record_expiry(
        &mut store,
        &user_key(1),
        Some(far_future()),
    ))
    .unwrap();
    assert!(store.get_value::<User>(&user_key(1)).unwrap().is_some());
    // A sweep at a far instant removes everything with a deadline, and no more.
    assert_eq!(
        store
            .remove_expired(far_future() + Duration::from_secs(1))
            .unwrap(),
        3
    );
    assert_eq!(store.records().count(), 0);
    assert_eq!(store.storage_error_count(), 0);
}

#[test]
fn any_expiring_window_is_answered() {
    let mut store = memory_store();
    store.put_value(&user(1, "u")).unwrap();
    block_on(async {
        NetabaseDatabaseExt::<_, User>::update_record_expiry(
            &mut store,
            &user_key(1),
            Some(Instant::now() + Duration::from_secs(60)),
        )
        .await
        .unwrap();
        for within in [
            Duration::ZERO,
            Duration::from_secs(u64::MAX / 2),
            Duration::MAX,
        ] {
            let expiring =
                NetabaseDatabaseExt::<_, User>::get_expiring_records(&store, within).await;
            let expected = usize::from(within > Duration::ZERO);
            assert_eq!(expiring.unwrap().len(), expected, "within {within:?}");
        }
    });
}

#[test]
fn republish_times_far_ahead_and_before_1970_are_kept() {
    let mut store = memory_store();
    store.put_value(&user(1, "u")).unwrap();
    let key = User::record_key(&user_key(1)).unwrap();
    let far = UNIX_EPOCH + Duration::from_secs(1 << 40);
    store.schedule_republish(&key, far).unwrap();
    assert_eq!(store.republish_time(&key).unwrap(), Some(far));
    assert!(
        store
            .due_for_republish(SystemTime::now(), 10)
            .unwrap()
            .is_empty()
    );
    store
        .schedule_republish(&key, UNIX_EPOCH - Duration::from_secs(10))
        .unwrap();
    assert_eq!(store.republish_time(&key).unwrap(), Some(UNIX_EPOCH));
    assert_eq!(
        store
            .due_for_republish(UNIX_EPOCH, usize::MAX)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn extreme_settings_do_not_overflow() {
    let mut store = RedbStore::builder()
        .set_page_size(usize::MAX)
        .set_max_records(usize::MAX)
        .set_max_value_bytes(usize::MAX)
        .set_max_providers_per_key(usize::MAX)
        .set_max_provided_keys(usize::MAX)
        .set_local_peer_id(peer(0))
        .in_memory()
        .unwrap();
    for i in 0..3u8 {
        RecordStore::put(&mut store, raw(&[b'k', i], b"v")).unwrap();
        store
            .add_provider(ProviderRecord::new(vec![b'p', i], peer(0), Vec::new()))
            .unwrap();
    }
    assert_eq!(store.records().count(), 3);
    assert_eq!(store.provided().count(), 3);
    assert_eq!(store.records_page(None, b"k", usize::MAX).unwrap().len(), 3);

    let mut none = RedbStore::builder()
        .set_max_records(0)
        .set_max_value_bytes(0)
        .set_max_providers_per_key(0)
        .set_max_provided_keys(0)
        .in_memory()
        .unwrap();
    assert!(matches!(
        RecordStore::put(&mut none, raw(b"k", b"")),
        Err(Error::MaxRecords)
    ));
    assert!(matches!(
        none.add_provider(ProviderRecord::new(b"p".to_vec(), peer(1), Vec::new())),
        Err(Error::MaxProvidedKeys)
    ));
    assert_eq!(none.records().count(), 0);
}

/// A store full of expired records (say, after a long downtime) makes room for an inbound record
/// by sweeping a bounded batch, soonest deadlines first, not every expired record at once on the
/// swarm's task.
#[test]
fn a_full_store_sweeps_a_bounded_batch_to_make_room() {
    const FULL: usize = 3000;
    let mut store = builder().set_max_records(FULL).in_memory().unwrap();
    let deadline = Instant::now() + Duration::from_millis(300);
    let records = (0..FULL as u64)
        .map(|id| {
            let mut record = user(id, "short-lived").to_record().unwrap();
            record.expires = Some(deadline);
            record
        })
        .collect();
    block_on(NetabaseDatabaseExt::<_, User>::put_records_batch(
        &mut store, records,
    ))
    .unwrap();
    assert_eq!(store.record_count().unwrap(), FULL as u64);
    while Instant::now() <= deadline + Duration::from_millis(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    RecordStore::put(&mut store, raw(b"/x/y/new", b"v")).unwrap();
    let left = store.record_count().unwrap();
    assert!(
        left > 1 && left < FULL as u64,
        "swept a bounded batch, not everything: {left} records left"
    );
    // The rest goes with the node's sweep.
    assert_eq!(
        store.remove_expired(Instant::now()).unwrap() as u64,
        left - 1
    );
}
