//! `RecordStore::put` of records whose schema the store does not know, under each
//! `UnknownSchemas` policy: a newer `#[version]` value whose bytes sort lower than the stored one.

use std::time::{Duration, Instant};

use crate::common::*;
use netabase_store::kad::Record;
use netabase_store::kad::store::RecordStore;
use netabase_store::{NetabaseSchema, RedbStore, SchemaRegistry, UnknownSchemas};

/// The stored (older) and incoming (newer) revision of one document, the newer one's bytes sorting
/// lower: postcard writes version 200 as `[0xc8, 0x01]` and 300 as `[0xac, 0x02]`.
fn revisions() -> (Record, Record) {
    let doc = |version, body: &str| {
        Doc {
            slug: "home".into(),
            version,
            body: body.into(),
        }
        .to_record()
        .expect("encodes")
    };
    let (older, newer) = (doc(200, "old"), doc(300, "new"));
    assert!(newer.value < older.value, "the newer value sorts lower");
    (older, newer)
}

/// An in-memory store that knows no schema, with `policy` for the records it does not know.
fn generic_store(policy: UnknownSchemas) -> RedbStore {
    let mut registry = SchemaRegistry::new();
    registry.set_unknown_schemas(policy);
    RedbStore::builder()
        .set_registry(registry)
        .in_memory()
        .expect("in-memory store opens")
}

/// Puts `older`, then `newer`, and returns the value the store holds afterwards.
fn after_update(store: &mut RedbStore, older: &Record, newer: &Record) -> Vec<u8> {
    RecordStore::put(store, older.clone()).expect("older stored");
    RecordStore::put(store, newer.clone()).expect("newer handled");
    RecordStore::get(store, &newer.key)
        .expect("a record")
        .into_owned()
        .value
}

#[test]
fn byte_order_keeps_a_stale_value_whose_bytes_sort_higher() {
    let (older, newer) = revisions();
    let mut store = generic_store(UnknownSchemas::Accept);
    assert_eq!(after_update(&mut store, &older, &newer), older.value);
}

#[test]
fn reject_resolves_what_its_store_holds_by_byte_order() {
    // A node with `Reject` refuses these records before they reach its store; a store given them
    // directly resolves like `Accept`.
    let (older, newer) = revisions();
    let mut store = generic_store(UnknownSchemas::Reject);
    assert_eq!(after_update(&mut store, &older, &newer), older.value);
}

#[test]
fn accept_replacing_stores_the_newer_value_with_lower_bytes() {
    let (older, newer) = revisions();
    let mut store = generic_store(UnknownSchemas::AcceptReplacing);
    assert_eq!(after_update(&mut store, &older, &newer), newer.value);
    // Whichever different value arrives last is held: the store cannot tell which is right, so
    // the nodes that know the schema decide and their repairs land.
    assert_eq!(after_update(&mut store, &newer, &older), older.value);
}

#[test]
fn accept_replacing_leaves_a_registered_schema_to_its_rule() {
    let (older, newer) = revisions();
    let mut registry = SchemaRegistry::new();
    registry
        .register::<Doc>()
        .set_unknown_schemas(UnknownSchemas::AcceptReplacing);
    let mut store = RedbStore::builder()
        .set_registry(registry)
        .in_memory()
        .expect("in-memory store opens");
    assert_eq!(after_update(&mut store, &older, &newer), newer.value);
    RecordStore::put(&mut store, older.clone()).expect("older handled");
    let held = RecordStore::get(&store, &newer.key)
        .expect("a record")
        .into_owned();
    assert_eq!(held.value, newer.value, "the higher version stays");
}

#[test]
fn accept_replacing_still_merges_expiry_and_publisher_of_an_identical_value() {
    let (_, newer) = revisions();
    let mut store = generic_store(UnknownSchemas::AcceptReplacing);
    let soon = Instant::now() + Duration::from_secs(60);
    let later = Instant::now() + Duration::from_secs(600);

    let mut first = newer.clone();
    first.expires = Some(later);
    first.publisher = Some(peer(9));
    RecordStore::put(&mut store, first).expect("stored");
    let mut again = newer.clone();
    again.expires = Some(soon);
    again.publisher = Some(peer(1));
    RecordStore::put(&mut store, again).expect("handled");

    let held = RecordStore::get(&store, &newer.key)
        .expect("a record")
        .into_owned();
    assert_eq!(held.value, newer.value);
    let expires = held.expires.expect("an expiry");
    assert!(
        expires + Duration::from_secs(1) > later,
        "the later expiry is kept, not replaced by the sooner one"
    );
    assert_eq!(held.publisher, Some(peer(9).max(peer(1))));
}
