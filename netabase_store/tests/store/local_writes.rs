//! The typed local writes beyond `put_value`: `remove_value`, `put_value_expiring` and
//! `compare_and_swap`, and what each leaves in the store's other tables.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use netabase_store::kad::store::RecordStore;
use netabase_store::{DatabaseError, NetabaseSchema, NodeStore, SwapConflict};

fn record_key(id: u64) -> netabase_store::kad::RecordKey {
    User::record_key(&user_key(id)).unwrap()
}

#[test]
fn remove_value_removes_the_value_and_says_whether_there_was_one() {
    let store = memory_store();
    store.put_value(&user(1, "alice")).unwrap();
    store.put_value(&user(2, "bob")).unwrap();
    assert!(store.remove_value::<User>(&user_key(1)).unwrap());
    assert!(
        !store.remove_value::<User>(&user_key(1)).unwrap(),
        "gone already"
    );
    assert!(
        !store.remove_value::<User>(&user_key(9)).unwrap(),
        "never stored"
    );
    assert_eq!(store.get_value::<User>(&user_key(1)).unwrap(), None);
    assert!(RecordStore::get(&store, &record_key(1)).is_none());
    assert_eq!(
        store.get_value::<User>(&user_key(2)).unwrap(),
        Some(user(2, "bob")),
        "the other value stays"
    );
    assert_eq!(store.record_count().unwrap(), 1);
}

#[test]
fn remove_value_takes_the_republish_schedule_and_expiry_row_with_it() {
    let mut store = memory_store();
    store
        .put_value_expiring(&user(1, "alice"), Duration::from_secs(3600))
        .unwrap();
    let now = std::time::SystemTime::now();
    store.schedule_republish(&record_key(1), now).unwrap();
    assert!(store.remove_value::<User>(&user_key(1)).unwrap());
    assert_eq!(store.scheduled_for_republish().unwrap(), 0);
    assert!(store.due_for_republish(now, 10).unwrap().is_empty());
    // No expiry row is left behind for the sweep to trip over.
    let later = Instant::now() + Duration::from_secs(7200);
    assert_eq!(store.remove_expired(later).unwrap(), 0);
}

#[test]
fn an_expiring_value_is_read_until_its_deadline_and_swept_after() {
    let mut store = memory_store();
    store
        .put_value_expiring(&user(1, "brief"), Duration::from_millis(300))
        .unwrap();
    store.put_value(&user(2, "lasting")).unwrap();
    assert_eq!(
        store.get_value::<User>(&user_key(1)).unwrap(),
        Some(user(1, "brief"))
    );
    // (`RecordStore::get` serves only records with 2 s left, for kad; the node's own read sees it.)
    let record = store.get_local(&record_key(1)).unwrap().expect("stored");
    let expires = record.expires.expect("an expiry on the record");
    assert!(expires > Instant::now() && expires <= Instant::now() + Duration::from_millis(300));
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(store.get_value::<User>(&user_key(1)).unwrap(), None);
    assert_eq!(store.remove_expired(Instant::now()).unwrap(), 1);
    assert_eq!(store.record_count().unwrap(), 1, "the lasting value stays");
}

#[test]
fn a_zero_ttl_is_refused_and_stores_nothing() {
    let store = memory_store();
    let error = store
        .put_value_expiring(&user(1, "never"), Duration::ZERO)
        .unwrap_err();
    assert!(
        matches!(error, DatabaseError::ZeroTtl { schema: "User" }),
        "{error}"
    );
    assert!(error.to_string().contains("positive TTL"), "{error}");
    assert_eq!(store.record_count().unwrap(), 0);
}

#[test]
fn an_expiring_put_replaces_a_lasting_value_and_back() {
    let mut store = memory_store();
    store.put_value(&user(1, "lasting")).unwrap();
    store
        .put_value_expiring(&user(1, "brief"), Duration::from_secs(60))
        .unwrap();
    assert!(
        RecordStore::get(&store, &record_key(1))
            .unwrap()
            .expires
            .is_some()
    );
    store.put_value(&user(1, "lasting again")).unwrap();
    assert!(
        RecordStore::get(&store, &record_key(1))
            .unwrap()
            .expires
            .is_none()
    );
    // The expiry row of the replaced value went with it.
    let later = Instant::now() + Duration::from_secs(120);
    assert_eq!(store.remove_expired(later).unwrap(), 0);
    assert_eq!(
        store.get_value::<User>(&user_key(1)).unwrap(),
        Some(user(1, "lasting again"))
    );
}

#[test]
fn compare_and_swap_swaps_only_from_the_expected_value() {
    let store = memory_store();
    let (alice, alicia) = (user(1, "alice"), user(1, "alicia"));
    // Insert if absent.
    assert_eq!(
        store
            .compare_and_swap(&user_key(1), None, Some(&alice))
            .unwrap(),
        Ok(())
    );
    // Not absent any more: the conflict carries what is stored, and nothing changes.
    assert_eq!(
        store
            .compare_and_swap(&user_key(1), None, Some(&alicia))
            .unwrap(),
        Err(SwapConflict {
            current: Some(alice.clone())
        })
    );
    let stale = user(1, "someone else");
    assert_eq!(
        store
            .compare_and_swap(&user_key(1), Some(&stale), Some(&alicia))
            .unwrap(),
        Err(SwapConflict {
            current: Some(alice.clone())
        })
    );
    assert_eq!(
        store.get_value::<User>(&user_key(1)).unwrap(),
        Some(alice.clone())
    );
    // From the stored value: swapped.
    assert_eq!(
        store
            .compare_and_swap(&user_key(1), Some(&alice), Some(&alicia))
            .unwrap(),
        Ok(())
    );
    assert_eq!(
        store.get_value::<User>(&user_key(1)).unwrap(),
        Some(alicia.clone())
    );
    // To none: removed.
    assert_eq!(
        store
            .compare_and_swap(&user_key(1), Some(&alicia), None)
            .unwrap(),
        Ok(())
    );
    assert_eq!(store.get_value::<User>(&user_key(1)).unwrap(), None);
    assert_eq!(store.record_count().unwrap(), 0);
    // Expecting a value where there is none.
    assert_eq!(
        store
            .compare_and_swap(&user_key(1), Some(&alicia), Some(&alice))
            .unwrap(),
        Err(SwapConflict { current: None })
    );
}

#[test]
fn an_expired_value_counts_as_none_for_compare_and_swap() {
    let store = memory_store();
    store
        .put_value_expiring(&user(1, "brief"), Duration::from_millis(50))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        store
            .compare_and_swap(&user_key(1), Some(&user(1, "brief")), None)
            .unwrap(),
        Err(SwapConflict { current: None })
    );
    assert_eq!(
        store
            .compare_and_swap(&user_key(1), None, Some(&user(1, "fresh")))
            .unwrap(),
        Ok(())
    );
    let record = RecordStore::get(&store, &record_key(1)).expect("stored");
    assert!(
        record.expires.is_none(),
        "the new value does not inherit the old expiry"
    );
}

#[test]
fn compare_and_swap_refuses_a_value_under_another_key() {
    let store = memory_store();
    let error = store
        .compare_and_swap(&user_key(1), None, Some(&user(2, "bob")))
        .unwrap_err();
    assert!(
        matches!(error, DatabaseError::KeyMismatch { schema: "User", .. }),
        "{error}"
    );
    assert_eq!(store.record_count().unwrap(), 0);
}

#[test]
fn compare_and_swap_sees_records_from_peers_still_in_the_inbox() {
    let mut store = memory_store();
    RecordStore::put(&mut store, user(1, "from a peer").to_record().unwrap()).unwrap();
    assert_eq!(
        store
            .compare_and_swap(&user_key(1), None, Some(&user(1, "mine")))
            .unwrap(),
        Err(SwapConflict {
            current: Some(user(1, "from a peer"))
        })
    );
}

#[test]
fn concurrent_compare_and_swap_increments_lose_no_update() {
    // Two threads increment one counter (the name's length) by retrying from the conflict's
    // current value: every increment lands exactly once.
    let store = Arc::new(memory_store());
    store.put_value(&user(1, "")).unwrap();
    let per_thread = 50;
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut current = store.get_value::<User>(&user_key(1)).unwrap();
                for _ in 0..per_thread {
                    loop {
                        let mut next = current.clone().expect("the counter exists");
                        next.name.push('x');
                        match store
                            .compare_and_swap(&user_key(1), current.as_ref(), Some(&next))
                            .unwrap()
                        {
                            Ok(()) => {
                                current = Some(next);
                                break;
                            }
                            Err(conflict) => current = conflict.current,
                        }
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let counter = store.get_value::<User>(&user_key(1)).unwrap().unwrap();
    assert_eq!(counter.name.len(), 2 * per_thread);
}

#[test]
fn compare_and_swap_refuses_an_oversized_value_before_reading() {
    let store = builder().set_max_value_bytes(8).in_memory().unwrap();
    let error = store
        .compare_and_swap(
            &user_key(1),
            None,
            Some(&user(1, "a name far over eight bytes")),
        )
        .unwrap_err();
    assert!(
        matches!(error, DatabaseError::ValueTooLarge { schema: "User", .. }),
        "{error}"
    );
    assert_eq!(store.record_count().unwrap(), 0);
}
