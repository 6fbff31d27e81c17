//! Typed listing: every value of a schema, and the values whose key starts with given leading
//! fields, in the documented record-key order.

use std::time::Duration;

use crate::common::*;
use netabase_store::kad::store::RecordStore;
use netabase_store::{DatabaseError, NetabaseSchema, RedbStore};
use serde::{Deserialize, Serialize};

/// A schema with a composite key: whose bookmark, and of which page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
struct Bookmark {
    #[key]
    user: String,
    #[key]
    url: String,
    title: String,
}

fn bookmark(user: &str, url: &str) -> Bookmark {
    Bookmark {
        user: user.into(),
        url: url.into(),
        title: format!("{url} for {user}"),
    }
}

fn store_with_bookmarks() -> RedbStore {
    builder().register::<Bookmark>().in_memory().unwrap()
}

#[test]
fn values_lists_one_schema_in_record_key_order() {
    let store = memory_store();
    for (id, name) in [(2, "two"), (256, "bigger"), (129, "big")] {
        store.put_value(&user(id, name)).unwrap();
    }
    store
        .put_value(&OtherUser {
            id: 1,
            email: "not a User".into(),
        })
        .unwrap();
    let values: Vec<User> = store.values::<User>().collect::<Result<_, _>>().unwrap();
    // Postcard varints, low 7 bits first: 2 = [2], 129 = [0x81, 1], 256 = [0x80, 2].
    let ids: Vec<u64> = values.iter().map(|user| user.id).collect();
    assert_eq!(ids, [2, 256, 129]);
}

#[test]
fn values_skips_removed_and_expired_values() {
    let store = memory_store();
    store.put_value(&user(1, "stays")).unwrap();
    store.put_value(&user(2, "removed")).unwrap();
    store
        .put_value_expiring(&user(3, "brief"), Duration::from_millis(50))
        .unwrap();
    store.remove_value::<User>(&user_key(2)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let values: Vec<User> = store.values::<User>().collect::<Result<_, _>>().unwrap();
    assert_eq!(values, [user(1, "stays")]);
}

#[test]
fn leading_key_fields_list_their_values_and_no_others() {
    let store = store_with_bookmarks();
    let marks = [
        bookmark("alice", "a.example"),
        bookmark("alice", "b.example"),
        bookmark("al", "c.example"),
        bookmark("alicea", "d.example"),
        bookmark("bob", "a.example"),
    ];
    store.put_values(&marks).unwrap();
    let alice: Vec<Bookmark> = store
        .values_with_key_prefix::<Bookmark>(&"alice")
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // Not "al" nor "alicea": the length prefix of a string keeps fields apart.
    assert_eq!(alice, [marks[0].clone(), marks[1].clone()]);
    // Both fields: exactly one.
    let one: Vec<Bookmark> = store
        .values_with_key_prefix::<Bookmark>(&("bob", "a.example"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(one, [marks[4].clone()]);
    let nobody = store
        .values_with_key_prefix::<Bookmark>(&"carol")
        .unwrap()
        .count();
    assert_eq!(nobody, 0);
}

#[test]
fn a_value_that_does_not_decode_is_an_error_in_its_place_and_the_walk_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    {
        // A store that does not know `User` accepts any bytes under its prefix.
        let mut raw_store = RedbStore::builder().create(&path).unwrap();
        RecordStore::put(&mut raw_store, user(1, "one").to_record().unwrap()).unwrap();
        let mut bad = user(2, "two").to_record().unwrap();
        bad.value = vec![0xff; 3];
        RecordStore::put(&mut raw_store, bad).unwrap();
        RecordStore::put(&mut raw_store, user(3, "three").to_record().unwrap()).unwrap();
    }
    let store = builder().create(&path).unwrap();
    let results: Vec<_> = store.values::<User>().collect();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap(), &user(1, "one"));
    assert!(
        matches!(
            &results[1],
            Err(DatabaseError::Decode { schema: "User", .. })
        ),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2].as_ref().unwrap(), &user(3, "three"));
}
