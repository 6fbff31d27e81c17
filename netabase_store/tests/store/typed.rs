//! The typed database traits on `RedbStore`: every method, several schemas in one file, batch
//! writes, conflicts, and typed writes and record writes reading each other's bytes.

use std::time::{Duration, Instant};

use crate::common::*;
use netabase_store::kad::{Record, RecordKey};
use netabase_store::{
    DatabaseError, NetabaseDatabase, NetabaseDatabaseExt, NetabaseSchema, RedbStore,
};

#[test]
fn typed_put_and_get_round_trip() {
    let store = memory_store();
    block_on(async {
        let alice = user(1, "alice");
        store.put(alice.key(), alice.clone()).await.unwrap();
        let got: Option<User> = store.get(&user_key(1)).await.unwrap();
        assert_eq!(got, Some(alice));
        let missing: Option<User> = store.get(&user_key(2)).await.unwrap();
        assert_eq!(missing, None);
    });
}

#[test]
fn the_seeds_typed_calls_mean_the_typed_path_with_kads_record_store_in_scope() {
    // Both `NetabaseDatabase` and kad's `RecordStore` have a `put` and a `get`; the inherent
    // typed methods win, so the seed's calls compile (with two traits alone: E0034).
    use netabase_store::kad::store::RecordStore;
    let mut store = memory_store();
    block_on(async {
        store.put(user_key(3), user(3, "carol")).await.unwrap();
        let got: Option<User> = store.get(&user_key(3)).await.unwrap();
        assert_eq!(got, Some(user(3, "carol")));
    });
    // kad's methods, spelled as trait calls, see the same bytes.
    let key = User::record_key(&user_key(3)).unwrap();
    let record = RecordStore::get(&store, &key).expect("stored").into_owned();
    assert_eq!(record.value, user(3, "carol").to_bytes().unwrap());
    RecordStore::put(&mut store, user(3, "dorothy").to_record().unwrap()).unwrap();
    let got: Option<User> = block_on(store.get(&user_key(3))).unwrap();
    assert_eq!(
        got,
        Some(user(3, "dorothy")),
        "byte order: the longer name wins"
    );
}

#[test]
fn typed_put_overwrites() {
    let store = memory_store();
    block_on(async {
        store.put(user_key(1), user(1, "zed")).await.unwrap();
        store.put(user_key(1), user(1, "alice")).await.unwrap();
        let got: Option<User> = store.get(&user_key(1)).await.unwrap();
        assert_eq!(got, Some(user(1, "alice")), "a typed put is authoritative");
    });
}

#[test]
fn typed_put_rejects_a_key_that_is_not_the_values() {
    let store = memory_store();
    let error = block_on(store.put(user_key(2), user(1, "alice"))).unwrap_err();
    assert!(
        matches!(error, DatabaseError::KeyMismatch { schema: "User", .. }),
        "{error}"
    );
}

#[test]
fn typed_put_is_readable_as_a_record_and_the_other_way_round() {
    let mut store = memory_store();
    block_on(async {
        let alice = user(1, "alice");
        store.put(alice.key(), alice.clone()).await.unwrap();
        let record = NetabaseDatabase::<_, User>::get_record(
            &store,
            &User::record_key(&alice.key()).unwrap(),
        )
        .await
        .unwrap()
        .expect("typed write is a record");
        assert_eq!(record.value, alice.to_bytes().unwrap());
        assert_eq!(record.key, alice.to_record().unwrap().key);
        assert_eq!(
            record.publisher,
            Some(peer(0)),
            "typed writes name the local peer"
        );
        let from_kad = netabase_store::kad::store::RecordStore::get(&store, &record.key)
            .expect("kad sees typed writes");
        assert_eq!(from_kad.value, alice.to_bytes().unwrap());

        let bob = user(2, "bob");
        NetabaseDatabase::<_, User>::put_record(&mut store, bob.to_record().unwrap())
            .await
            .unwrap();
        let got: Option<User> = store.get(&bob.key()).await.unwrap();
        assert_eq!(got, Some(bob.clone()));
        let mut kad_store = store.clone();
        let carol = user(3, "carol");
        netabase_store::kad::store::RecordStore::put(&mut kad_store, carol.to_record().unwrap())
            .unwrap();
        assert_eq!(store.get_value::<User>(&carol.key()).unwrap(), Some(carol));
    });
}

#[test]
fn put_record_checks_the_schema() {
    let mut store = memory_store();
    block_on(async {
        let mut record = user(1, "alice").to_record().unwrap();
        record.value.push(0);
        let error = NetabaseDatabase::<_, User>::put_record(&mut store, record)
            .await
            .unwrap_err();
        assert!(
            matches!(error, DatabaseError::TrailingBytes { schema: "User", .. }),
            "{error}"
        );
        let foreign = doc("a", 1, "x").to_record().unwrap();
        let error = NetabaseDatabase::<_, User>::put_record(&mut store, foreign)
            .await
            .unwrap_err();
        assert!(
            matches!(error, DatabaseError::WrongSchema { schema: "User", .. }),
            "{error}"
        );
        assert_eq!(store.record_count().unwrap(), 0);
    });
}

#[test]
fn a_raw_record_under_a_schema_prefix_is_a_decode_error_naming_the_schema() {
    let store = RedbStore::in_memory().unwrap();
    let mut kad = store.clone();
    let key = User::record_key(&user_key(1)).unwrap();
    netabase_store::kad::store::RecordStore::put(&mut kad, Record::new(key, vec![0xff; 3]))
        .unwrap();
    let error = store.get_value::<User>(&user_key(1)).unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::Decode { schema: "User", .. }
                | DatabaseError::TrailingBytes { schema: "User", .. }
        ),
        "{error}"
    );
}

#[test]
fn to_and_from_record_and_key_conversions() {
    let store = memory_store();
    block_on(async {
        let alice = user(1, "alice");
        let record = store.to_record(alice.key(), alice.clone()).await.unwrap();
        assert_eq!(record, alice.to_record().unwrap());
        let (key, value): (_, User) = store.from_record(record.clone()).await.unwrap();
        assert_eq!((key, value), (alice.key(), alice.clone()));
        let kad_key =
            NetabaseDatabase::<_, User>::schema_key_to_kad_key(&store, &alice.key()).unwrap();
        assert_eq!(kad_key, record.key);
        let back = NetabaseDatabase::<_, User>::kad_key_to_schema_key(&store, &kad_key).unwrap();
        assert_eq!(back, alice.key());
    });
}

#[test]
fn put_record_resolves_conflicts_by_the_schema_rule() {
    let mut store = memory_store();
    block_on(async {
        let newer = doc("a", 300, "aaa");
        let older = doc("a", 200, "zzz");
        NetabaseDatabase::<_, Doc>::put_record(&mut store, newer.to_record().unwrap())
            .await
            .unwrap();
        NetabaseDatabase::<_, Doc>::put_record(&mut store, older.to_record().unwrap())
            .await
            .unwrap();
        assert_eq!(
            store.get_value::<Doc>(&newer.key()).unwrap(),
            Some(newer.clone()),
            "loser not stored"
        );
        let newest = doc("a", 301, "");
        NetabaseDatabase::<_, Doc>::put_record(&mut store, newest.to_record().unwrap())
            .await
            .unwrap();
        assert_eq!(store.get_value::<Doc>(&newer.key()).unwrap(), Some(newest));
    });
}

#[test]
fn custom_resolver_decides_put_record() {
    let mut store = memory_store();
    block_on(async {
        let long = Note {
            id: 1,
            text: "a long text".into(),
        };
        let short = Note {
            id: 1,
            text: "zz".into(),
        };
        NetabaseDatabase::<_, Note>::put_record(&mut store, long.to_record().unwrap())
            .await
            .unwrap();
        NetabaseDatabase::<_, Note>::put_record(&mut store, short.to_record().unwrap())
            .await
            .unwrap();
        assert_eq!(store.get_value::<Note>(&1).unwrap(), Some(long));
    });
}

#[test]
fn sync_from_network_resolves_conflicts_and_is_all_or_nothing() {
    let mut store = memory_store();
    block_on(async {
        store
            .put(doc("a", 0, "").key(), doc("a", 5, "stored"))
            .await
            .unwrap();
        let incoming = vec![
            doc("a", 4, "older").to_record().unwrap(),
            doc("b", 1, "new").to_record().unwrap(),
        ];
        NetabaseDatabaseExt::<_, Doc>::sync_from_network(&mut store, incoming)
            .await
            .unwrap();
        assert_eq!(
            store.get_value::<Doc>(&doc("a", 0, "").key()).unwrap(),
            Some(doc("a", 5, "stored"))
        );
        assert_eq!(
            store.get_value::<Doc>(&doc("b", 0, "").key()).unwrap(),
            Some(doc("b", 1, "new"))
        );

        let mut bad = doc("d", 1, "x").to_record().unwrap();
        bad.value = vec![0xff];
        let batch = vec![doc("c", 1, "fine").to_record().unwrap(), bad];
        assert!(
            NetabaseDatabaseExt::<_, Doc>::sync_from_network(&mut store, batch)
                .await
                .is_err()
        );
        assert_eq!(
            store.get_value::<Doc>(&doc("c", 0, "").key()).unwrap(),
            None,
            "nothing stored"
        );
    });
}

#[test]
fn sync_from_network_in_any_order_converges() {
    let records: Vec<Record> = (0..6)
        .map(|i| doc("k", i % 3, &format!("body {i}")).to_record().unwrap())
        .collect();
    let mut forward = memory_store();
    let mut backward = memory_store();
    block_on(async {
        for record in &records {
            NetabaseDatabaseExt::<_, Doc>::sync_from_network(&mut forward, vec![record.clone()])
                .await
                .unwrap();
        }
        let reversed: Vec<Record> = records.iter().rev().cloned().collect();
        NetabaseDatabaseExt::<_, Doc>::sync_from_network(&mut backward, reversed)
            .await
            .unwrap();
    });
    let key = doc("k", 0, "").key();
    let a = forward.get_value::<Doc>(&key).unwrap();
    assert_eq!(a, backward.get_value::<Doc>(&key).unwrap());
    assert_eq!(a, Some(doc("k", 2, "body 5")));
}

#[test]
fn put_records_batch_stores_all_in_one_transaction() {
    let mut store = memory_store();
    block_on(async {
        let records: Vec<Record> = (0..1000)
            .map(|i| user(i, "x").to_record().unwrap())
            .collect();
        NetabaseDatabaseExt::<_, User>::put_records_batch(&mut store, records)
            .await
            .unwrap();
        assert_eq!(store.record_count().unwrap(), 1000);
        assert_eq!(
            store.get_value::<User>(&user_key(999)).unwrap(),
            Some(user(999, "x"))
        );
        // The batch resolves like put_record: the greater value wins, the lesser is not stored.
        NetabaseDatabaseExt::<_, User>::put_records_batch(
            &mut store,
            vec![
                user(1, "a").to_record().unwrap(),
                user(2, "z").to_record().unwrap(),
            ],
        )
        .await
        .unwrap();
        assert_eq!(
            store.get_value::<User>(&user_key(1)).unwrap(),
            Some(user(1, "x"))
        );
        assert_eq!(
            store.get_value::<User>(&user_key(2)).unwrap(),
            Some(user(2, "z"))
        );
        let mut invalid = user(5000, "x").to_record().unwrap();
        invalid.key = User::record_key(&user_key(5001)).unwrap();
        let error = NetabaseDatabaseExt::<_, User>::put_records_batch(
            &mut store,
            vec![user(4000, "x").to_record().unwrap(), invalid],
        )
        .await
        .unwrap_err();
        assert!(
            matches!(error, DatabaseError::KeyMismatch { .. }),
            "{error}"
        );
        assert_eq!(store.get_value::<User>(&user_key(4000)).unwrap(), None);
    });
}

#[test]
fn put_values_writes_a_batch() {
    let store = memory_store();
    let users: Vec<User> = (0..100).map(|i| user(i, "batch")).collect();
    store.put_values(&users).unwrap();
    assert_eq!(store.record_count().unwrap(), 100);
    assert_eq!(
        store.get_value::<User>(&user_key(42)).unwrap(),
        Some(user(42, "batch"))
    );
}

#[test]
fn prefix_listing_keeps_schemas_apart() {
    let mut store = memory_store();
    block_on(async {
        for i in 0..20 {
            store.put_value(&user(i, "u")).unwrap();
            store
                .put_value(&OtherUser {
                    id: i,
                    email: "e".into(),
                })
                .unwrap();
            store.put_value(&doc(&format!("d{i}"), 1, "b")).unwrap();
        }
        let users = NetabaseDatabaseExt::<_, User>::sync_to_network(&mut store)
            .await
            .unwrap();
        assert_eq!(users.len(), 20);
        assert!(users.iter().all(|r| User::from_record(r).is_ok()));
        let others = NetabaseDatabaseExt::<_, OtherUser>::sync_to_network(&mut store)
            .await
            .unwrap();
        assert_eq!(others.len(), 20);
        let docs = NetabaseDatabaseExt::<_, Doc>::get_records_by_prefix(&store, b"/netabase/Doc/")
            .await
            .unwrap();
        assert_eq!(docs.len(), 20);
        // A prefix narrower than the schema's.
        let mut narrow = Doc::record_prefix();
        // postcard writes a string's length first: the three-byte slugs d10..d19.
        narrow.extend_from_slice(&[3, b'd', b'1']);
        let narrowed = NetabaseDatabaseExt::<_, Doc>::get_records_by_prefix(&store, &narrow)
            .await
            .unwrap();
        assert_eq!(narrowed.len(), 10, "d10..d19");
        // A prefix wider than the schema's lists only the schema.
        let wide = NetabaseDatabaseExt::<_, User>::get_records_by_prefix(&store, b"/")
            .await
            .unwrap();
        assert_eq!(wide.len(), 20);
        // A prefix of another schema lists nothing.
        let none = NetabaseDatabaseExt::<_, User>::get_records_by_prefix(&store, b"/other/")
            .await
            .unwrap();
        assert!(none.is_empty());
        assert_eq!(store.scan(Vec::new()).count(), 60);
    });
}

#[test]
fn scans_walk_in_pages_and_in_key_order() {
    let store = builder().set_page_size(7).in_memory().unwrap();
    let users: Vec<User> = (0..100).map(|i| user(i, "p")).collect();
    store.put_values(&users).unwrap();
    let keys: Vec<RecordKey> = store
        .scan_schema::<User>()
        .map(|r| r.unwrap().key)
        .collect();
    assert_eq!(keys.len(), 100);
    assert!(keys.windows(2).all(|w| w[0].as_ref() < w[1].as_ref()));
    let mut scan = store.scan_schema::<User>();
    let mut pages = 0;
    while let Some(page) = scan.next_page() {
        assert!(page.unwrap().len() <= 7);
        pages += 1;
    }
    assert_eq!(pages, 15);
}

#[test]
fn republish_marks_and_expiring_records() {
    let mut store = memory_store();
    block_on(async {
        for i in 0..5 {
            store.put_value(&user(i, "r")).unwrap();
        }
        store.put_value(&doc("d", 1, "b")).unwrap();
        NetabaseDatabaseExt::<_, User>::mark_for_republish(
            &mut store,
            &[user_key(1), user_key(3), user_key(99)],
        )
        .await
        .unwrap();
        NetabaseDatabaseExt::<_, Doc>::mark_for_republish(&mut store, &[doc("d", 0, "").key()])
            .await
            .unwrap();
        let marked = NetabaseDatabaseExt::<_, User>::get_republish_records(&store)
            .await
            .unwrap();
        let marked: Vec<User> = marked
            .iter()
            .map(|r| User::from_record(r).unwrap())
            .collect();
        assert_eq!(marked, vec![user(1, "r"), user(3, "r")]);
        let due =
            netabase_store::NodeStore::due_for_republish(&store, std::time::SystemTime::now(), 10)
                .unwrap();
        assert_eq!(due.len(), 3, "both schemas are due");

        let now = Instant::now();
        for (id, seconds) in [(2, 30), (4, 10), (0, 3600)] {
            NetabaseDatabaseExt::<_, User>::update_record_expiry(
                &mut store,
                &user_key(id),
                Some(now + Duration::from_secs(seconds)),
            )
            .await
            .unwrap();
        }
        let expiring =
            NetabaseDatabaseExt::<_, User>::get_expiring_records(&store, Duration::from_secs(60))
                .await
                .unwrap();
        let ids: Vec<u64> = expiring
            .iter()
            .map(|r| User::from_record(r).unwrap().id)
            .collect();
        assert_eq!(ids, vec![4, 2], "soonest first, only within the window");
        let record = &expiring[0];
        let expires = record.expires.expect("has an expiry");
        assert!(expires > now + Duration::from_secs(9) && expires <= now + Duration::from_secs(11));

        NetabaseDatabaseExt::<_, User>::update_record_expiry(&mut store, &user_key(4), None)
            .await
            .unwrap();
        let expiring =
            NetabaseDatabaseExt::<_, User>::get_expiring_records(&store, Duration::from_secs(60))
                .await
                .unwrap();
        assert_eq!(expiring.len(), 1);
        let record = NetabaseDatabase::<_, User>::get_record(
            &store,
            &User::record_key(&user_key(4)).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(record.expires, None);
    });
}

#[test]
fn expired_records_are_never_returned() {
    let mut store = memory_store();
    block_on(async {
        store.put_value(&user(1, "short")).unwrap();
        NetabaseDatabaseExt::<_, User>::update_record_expiry(
            &mut store,
            &user_key(1),
            Some(Instant::now()),
        )
        .await
        .unwrap();
        assert_eq!(store.get_value::<User>(&user_key(1)).unwrap(), None);
        assert!(
            netabase_store::kad::store::RecordStore::get(
                &store,
                &User::record_key(&user_key(1)).unwrap()
            )
            .is_none()
        );
        assert_eq!(store.scan(Vec::new()).count(), 0);
        let mut expired = user(2, "old").to_record().unwrap();
        expired.expires = Some(Instant::now());
        NetabaseDatabase::<_, User>::put_record(&mut store, expired)
            .await
            .unwrap();
        assert_eq!(store.get_value::<User>(&user_key(2)).unwrap(), None);
    });
}

#[test]
fn resolve_record_conflict_uses_the_rule() {
    let mut store = memory_store();
    block_on(async {
        let a = doc("x", 1, "zzz").to_record().unwrap();
        let b = doc("x", 2, "aaa").to_record().unwrap();
        let winner = NetabaseDatabaseExt::<_, Doc>::resolve_record_conflict(
            &mut store,
            a.clone(),
            b.clone(),
        )
        .await
        .unwrap();
        assert_eq!(winner, b);
    });
}

#[test]
fn limits_give_clear_errors() {
    let store = builder()
        .set_max_records(3)
        .set_max_value_bytes(16)
        .in_memory()
        .unwrap();
    let error = store.put_value(&user(1, &"x".repeat(20))).unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::ValueTooLarge {
                schema: "User",
                max: 16,
                ..
            }
        ),
        "{error}"
    );
    for i in 0..3 {
        store.put_value(&user(i, "ok")).unwrap();
    }
    let error = store.put_value(&user(3, "ok")).unwrap_err();
    assert!(
        matches!(error, DatabaseError::MaxRecords { max: 3 }),
        "{error}"
    );
    store.put_value(&user(2, "replaced")).unwrap();
    assert_eq!(store.record_count().unwrap(), 3);
}
