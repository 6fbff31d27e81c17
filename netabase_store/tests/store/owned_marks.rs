//! High-water marks: once the store accepted an owned write, an older write of the same key is
//! refused on every write path, also after the newer one was removed or expired and after the
//! store was reopened, until the mark's time runs out.

use std::time::{Duration, Instant};

use crate::common::*;
use netabase_store::kad::Record;
use netabase_store::kad::store::RecordStore;
use netabase_store::owned::{Author, OwnedWrite, Owner, OwnershipProblem};
use netabase_store::{DatabaseError, NetabaseSchema, NodeStore, RedbStore};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "marks", owned)]
struct Badge {
    #[key]
    owner: Owner,
    label: String,
}

fn badge_store() -> netabase_store::RedbStoreBuilder {
    let mut builder = RedbStore::builder();
    builder.register::<Badge>();
    builder
}

/// Alice's writes of her badge with sequences 1, 2 and 3.
fn writes() -> (Author, [Record; 3]) {
    let alice = Author::generate();
    let write = |sequence, label: &str| {
        let write = OwnedWrite {
            generation: 0,
            sequence,
            expires: None,
            deleted: false,
        };
        let badge = Badge {
            owner: alice.owner(),
            label: label.into(),
        };
        alice.sign(&badge, &write).unwrap()
    };
    let records = [write(1, "one"), write(2, "two"), write(3, "three")];
    (alice, records)
}

fn held(store: &RedbStore, record: &Record) -> Option<Vec<u8>> {
    RecordStore::get(store, &record.key).map(|held| held.value.clone())
}

#[test]
fn an_older_write_is_refused_after_the_newer_one_was_removed() {
    let (_, [one, two, three]) = writes();
    let mut store = badge_store().in_memory().unwrap();
    RecordStore::put(&mut store, two.clone()).unwrap();
    RecordStore::remove(&mut store, &two.key);
    assert_eq!(held(&store, &two), None);

    RecordStore::put(&mut store, one.clone()).unwrap();
    assert_eq!(held(&store, &one), None, "the replay did not come back");
    assert_eq!(store.rejected_record_count(), 1);
    assert_eq!(
        store.stale_owned_write(&one).unwrap(),
        Some(OwnershipProblem::Replayed)
    );
    assert!(
        store.stale_owned_write(&two).unwrap().is_none(),
        "the newest write itself may come back"
    );

    RecordStore::put(&mut store, two.clone()).unwrap();
    assert_eq!(held(&store, &two), Some(two.value.clone()));
    RecordStore::put(&mut store, three.clone()).unwrap();
    assert_eq!(held(&store, &three), Some(three.value.clone()));
}

#[test]
fn every_write_path_refuses_the_replay() {
    let (_, [one, two, _]) = writes();
    let mut store = badge_store().in_memory().unwrap();
    store.put_local(two.clone()).unwrap();
    store.remove_local(&two.key).unwrap();

    let error = store.put_local(one.clone()).unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::Ownership {
                problem: OwnershipProblem::Replayed,
                schema: "Badge",
                ..
            }
        ),
        "{error}"
    );
    let error = block_on(netabase_store::NetabaseDatabase::<_, Badge>::put_record(
        &mut store,
        one.clone(),
    ))
    .unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::Ownership {
                problem: OwnershipProblem::Replayed,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(store.record_count().unwrap(), 0);
}

#[test]
fn marks_survive_a_reopen_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let (_, [one, mut two, _]) = writes();
    {
        let mut store = badge_store().create(&path).unwrap();
        two.expires = Some(Instant::now() + Duration::from_millis(50));
        RecordStore::put(&mut store, two.clone()).unwrap();
        store.flush().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(store.remove_expired(Instant::now()).unwrap() >= 1);
        assert_eq!(held(&store, &two), None);
    }
    let mut store = badge_store().open(&path).unwrap();
    RecordStore::put(&mut store, one.clone()).unwrap();
    store.flush().unwrap();
    assert_eq!(held(&store, &one), None);
    assert_eq!(store.rejected_record_count(), 1);
}

#[test]
fn a_mark_is_forgotten_once_its_time_has_passed() {
    let (_, [one, two, _]) = writes();
    let mut store = badge_store()
        .set_owned_mark_ttl(Duration::ZERO)
        .in_memory()
        .unwrap();
    RecordStore::put(&mut store, two.clone()).unwrap();
    RecordStore::remove(&mut store, &two.key);
    std::thread::sleep(Duration::from_millis(5));
    store.remove_expired(Instant::now()).unwrap();
    RecordStore::put(&mut store, one.clone()).unwrap();
    store.flush().unwrap();
    assert_eq!(
        held(&store, &one),
        Some(one.value.clone()),
        "with no mark left, the older write is the newest the store knows"
    );
}

#[test]
fn a_store_without_owned_schemas_makes_no_mark_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let mut store = builder().create(&path).unwrap();
        store.put_value(&user(1, "a")).unwrap();
        store.remove_expired(Instant::now()).unwrap();
    }
    let db = redb::Database::open(&path).unwrap();
    let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
    let names: Vec<String> = txn
        .list_tables()
        .unwrap()
        .map(|table| redb::TableHandle::name(&table).to_owned())
        .collect();
    assert!(
        !names.iter().any(|name| name.starts_with("owned_marks")),
        "{names:?}"
    );
}

#[test]
fn an_owner_raising_its_generation_revokes_writers_across_the_collection() {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
    #[netabase(namespace = "marks", owned)]
    struct Note {
        #[key]
        owner: Owner,
        #[key]
        id: u32,
        text: String,
    }
    let (alice, bob) = (Author::generate(), Author::generate());
    let note = |id, text: &str| Note {
        owner: alice.owner(),
        id,
        text: text.into(),
    };
    let deadline = std::time::SystemTime::now() + Duration::from_secs(3600);
    let generation_0 = alice.delegate_collection::<Note>(bob.owner(), 0, deadline);
    let write = OwnedWrite::after(None);
    let mut store = RedbStore::builder().register::<Note>().in_memory().unwrap();

    let by_bob = bob
        .sign_delegated(&note(1, "bob"), &write, &generation_0)
        .unwrap();
    store.put_local(by_bob).unwrap();

    // Alice moves to generation 1 on another key: bob's generation-0 writes are over everywhere.
    let raised = OwnedWrite {
        generation: 1,
        ..OwnedWrite::after(None)
    };
    store
        .put_local(alice.sign(&note(2, "alice"), &raised).unwrap())
        .unwrap();
    let late = bob
        .sign_delegated(&note(3, "bob"), &write, &generation_0)
        .unwrap();
    assert_eq!(
        store.stale_owned_write(&late).unwrap(),
        Some(OwnershipProblem::Revoked)
    );
    let error = store.put_local(late).unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::Ownership {
                problem: OwnershipProblem::Revoked,
                ..
            }
        ),
        "{error}"
    );
    // A delegation for the new generation works again.
    let generation_1 = alice.delegate_collection::<Note>(bob.owner(), 1, deadline);
    let renewed = bob
        .sign_delegated(&note(3, "bob"), &write, &generation_1)
        .unwrap();
    store.put_local(renewed).unwrap();
}

#[test]
fn the_store_signs_owned_values_and_refuses_unsigned_ones() {
    let alice = Author::generate();
    let store = badge_store().in_memory().unwrap();
    let badge = |label: &str| Badge {
        owner: alice.owner(),
        label: label.into(),
    };
    store.put_owned(&alice, &badge("first")).unwrap();
    store.put_owned(&alice, &badge("second")).unwrap();
    assert_eq!(
        store.get_value::<Badge>(&badge("").key()).unwrap(),
        Some(badge("second")),
        "each write follows the stored one"
    );
    let error = store
        .put_owned(&Author::generate(), &badge("x"))
        .unwrap_err();
    assert!(matches!(error, DatabaseError::NotOwner { .. }), "{error}");
    let error = store.put_value(&badge("unsigned")).unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::OwnedNeedsSignature { schema: "Badge" }
        ),
        "{error}"
    );
}
