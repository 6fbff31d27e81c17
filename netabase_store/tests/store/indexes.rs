//! Secondary indexes: queries by exact value, range and prefix; the rows kept in step with every
//! write path; unique indexes, locally and between peers' records; indexes built and dropped at
//! open.

use std::time::{Duration, Instant};

use crate::common::*;
use netabase_store::kad::store::RecordStore;
use netabase_store::{DatabaseError, NetabaseSchema, NodeStore, OpenError, RedbStore};
use serde::{Deserialize, Serialize};

/// A schema with a unique index, a plain one and one on a tuple field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
pub struct Person {
    #[key]
    pub id: u64,
    #[index(unique)]
    pub email: String,
    #[index]
    pub age: u32,
    #[index]
    pub city_year: (String, u16),
}

/// The same records without indexes: what an older program wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(name = "Person")]
pub struct PlainPerson {
    #[key]
    pub id: u64,
    pub email: String,
    pub age: u32,
    pub city_year: (String, u16),
}

pub fn person(id: u64, age: u32) -> Person {
    Person {
        id,
        email: format!("p{id}@example.org"),
        age,
        city_year: (
            if id.is_multiple_of(2) { "oslo" } else { "rome" }.into(),
            2020 + (id % 3) as u16,
        ),
    }
}

fn people_store() -> RedbStore {
    builder().register::<Person>().in_memory().unwrap()
}

fn ids(scan: impl Iterator<Item = Result<Person, DatabaseError>>) -> Vec<u64> {
    scan.map(|person| person.unwrap().id).collect()
}

#[test]
fn exact_range_and_prefix_queries_answer_in_index_order() {
    let store = people_store();
    let people: Vec<Person> = [(1, 40), (2, 9), (3, 129), (4, 40), (5, 256), (6, 18)]
        .into_iter()
        .map(|(id, age)| person(id, age))
        .collect();
    store.put_values(&people).unwrap();
    assert_eq!(ids(store.find(Person::by_age(), &40).unwrap()), [1, 4]);
    // Numeric order, which postcard's byte order is not (256 before 129 there).
    assert_eq!(
        ids(store.find_range(Person::by_age(), 10..=256).unwrap()),
        [6, 1, 4, 3, 5]
    );
    assert_eq!(ids(store.find_range(Person::by_age(), ..18).unwrap()), [2]);
    assert_eq!(
        ids(store
            .find_range(
                Person::by_age(),
                (std::ops::Bound::Excluded(40), std::ops::Bound::Unbounded)
            )
            .unwrap()),
        [3, 5]
    );
    assert_eq!(
        store
            .find_unique(Person::by_email(), &"p3@example.org".to_string())
            .unwrap(),
        Some(people[2].clone())
    );
    assert_eq!(
        store
            .find_unique(Person::by_email(), &"nobody".to_string())
            .unwrap(),
        None
    );
    // Leading elements of a tuple field: everyone in oslo, in year order.
    assert_eq!(
        ids(store
            .find_prefix(Person::by_city_year(), &("oslo",))
            .unwrap()),
        [6, 4, 2]
    );
}

#[test]
fn queries_page_through_many_rows_of_one_value() {
    let store = builder()
        .register::<Person>()
        .set_page_size(7)
        .in_memory()
        .unwrap();
    let people: Vec<Person> = (0..50)
        .map(|id| person(id, if id % 2 == 0 { 30 } else { 31 }))
        .collect();
    store.put_values(&people).unwrap();
    assert_eq!(store.find(Person::by_age(), &30).unwrap().count(), 25);
    let excluded: Vec<u64> = ids(store
        .find_range(
            Person::by_age(),
            (std::ops::Bound::Excluded(30), std::ops::Bound::Unbounded),
        )
        .unwrap());
    assert_eq!(excluded.len(), 25);
    assert!(excluded.iter().all(|id| id % 2 == 1));
}

#[test]
fn the_index_follows_updates_removals_expiry_and_compare_and_swap() {
    let mut store = people_store();
    store.put_value(&person(1, 30)).unwrap();
    store.put_value(&person(2, 30)).unwrap();
    // Update: the row moves.
    store.put_value(&person(1, 31)).unwrap();
    assert_eq!(ids(store.find(Person::by_age(), &30).unwrap()), [2]);
    assert_eq!(ids(store.find(Person::by_age(), &31).unwrap()), [1]);
    // Removal.
    store.remove_value::<Person>(&PersonKey(2)).unwrap();
    assert!(ids(store.find(Person::by_age(), &30).unwrap()).is_empty());
    // Compare-and-swap.
    store
        .compare_and_swap(&PersonKey(1), Some(&person(1, 31)), Some(&person(1, 32)))
        .unwrap()
        .unwrap();
    assert_eq!(ids(store.find(Person::by_age(), &32).unwrap()), [1]);
    // An expiring value, swept: its rows go with it.
    store
        .put_value_expiring(&person(3, 50), Duration::from_secs(60))
        .unwrap();
    assert_eq!(ids(store.find(Person::by_age(), &50).unwrap()), [3]);
    assert_eq!(
        store
            .remove_expired(Instant::now() + Duration::from_secs(120))
            .unwrap(),
        1
    );
    assert!(ids(store.find(Person::by_age(), &50).unwrap()).is_empty());
    // Its unique email is free again.
    let mut taker = person(4, 20);
    taker.email = person(3, 50).email;
    store.put_value(&taker).unwrap();
}

#[test]
fn records_from_peers_are_indexed_through_the_inbox_and_the_group_commit() {
    let mut store = people_store();
    for id in 0..5 {
        RecordStore::put(&mut store, person(id, 60).to_record().unwrap()).unwrap();
    }
    // Still buffered: a query commits the inbox first, so it sees them.
    assert_eq!(
        ids(store.find(Person::by_age(), &60).unwrap()),
        [0, 1, 2, 3, 4]
    );
    NodeStore::flush(&mut store).unwrap();
    assert_eq!(store.find(Person::by_age(), &60).unwrap().count(), 5);
}

#[test]
fn a_local_write_that_takes_a_held_unique_value_is_refused_and_writes_nothing() {
    let store = people_store();
    store.put_value(&person(1, 30)).unwrap();
    let mut thief = person(2, 31);
    thief.email = person(1, 30).email;
    let error = store.put_value(&thief).unwrap_err();
    assert!(
        matches!(
            &error,
            DatabaseError::UniqueViolation {
                schema: "Person",
                index: "email",
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("already holds this value"),
        "{error}"
    );
    // A batch with one such value stores none of them.
    let batch = [person(3, 33), thief.clone()];
    assert!(store.put_values(&batch).is_err());
    assert_eq!(store.get_value::<Person>(&PersonKey(3)).unwrap(), None);
    assert_eq!(store.record_count().unwrap(), 1);
    // Rewriting one's own value keeps its own email.
    store.put_value(&person(1, 35)).unwrap();
}

/// The people a store holds, by id.
fn held(store: &RedbStore) -> Vec<Person> {
    store.values::<Person>().collect::<Result<_, _>>().unwrap()
}

#[test]
fn between_peers_records_the_lowest_key_holds_a_unique_value_whatever_the_order() {
    let shared = "shared@example.org".to_string();
    let claim = |id: u64| {
        let mut claimant = person(id, 40);
        claimant.email = shared.clone();
        claimant.to_record().unwrap()
    };
    let orders: [&[u64]; 3] = [&[7, 3, 5], &[3, 5, 7], &[5, 7, 3]];
    let mut outcomes = Vec::new();
    for order in orders {
        let mut store = people_store();
        for id in order {
            RecordStore::put(&mut store, claim(*id)).unwrap();
            // Commit between arrivals, so each meets the last one stored.
            NodeStore::flush(&mut store).unwrap();
        }
        outcomes.push(held(&store));
    }
    assert_eq!(outcomes[0].len(), 1);
    assert_eq!(outcomes[0][0].id, 3, "the lowest record key holds it");
    assert!(
        outcomes.iter().all(|outcome| *outcome == outcomes[0]),
        "{outcomes:?}"
    );
}

#[test]
fn an_index_is_built_at_open_from_records_written_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("people.redb");
    {
        let old = builder().register::<PlainPerson>().create(&path).unwrap();
        for id in 0..20 {
            let p = person(id, (id % 4) as u32);
            old.put_value(&PlainPerson {
                id: p.id,
                email: p.email,
                age: p.age,
                city_year: p.city_year,
            })
            .unwrap();
        }
    }
    let store = builder().register::<Person>().open(&path).unwrap();
    assert_eq!(
        ids(store.find(Person::by_age(), &3).unwrap()),
        [3, 7, 11, 15, 19]
    );
    assert_eq!(
        store
            .find_unique(Person::by_email(), &"p8@example.org".to_string())
            .unwrap()
            .map(|p| p.id),
        Some(8)
    );
}

#[test]
fn an_index_kept_by_no_opener_is_dropped_and_rebuilt_with_what_changed_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("people.redb");
    {
        let store = builder().register::<Person>().create(&path).unwrap();
        store.put_value(&person(1, 30)).unwrap();
    }
    {
        // A program that does not know `Person` changes its records: it cannot index them.
        let mut generic = RedbStore::builder().create(&path).unwrap();
        RecordStore::put(&mut generic, person(1, 99).to_record().unwrap()).unwrap();
        RecordStore::put(&mut generic, person(2, 30).to_record().unwrap()).unwrap();
        NodeStore::flush(&mut generic).unwrap();
    }
    let store = builder().register::<Person>().open(&path).unwrap();
    assert_eq!(ids(store.find(Person::by_age(), &30).unwrap()), [2]);
    assert_eq!(ids(store.find(Person::by_age(), &99).unwrap()), [1]);
}

#[test]
fn a_unique_index_over_records_that_share_a_value_refuses_the_open_and_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("people.redb");
    {
        let old = builder().register::<PlainPerson>().create(&path).unwrap();
        for id in [4, 9] {
            old.put_value(&PlainPerson {
                id,
                email: "same@example.org".into(),
                age: 1,
                city_year: ("oslo".into(), 2020),
            })
            .unwrap();
        }
    }
    let error = builder().register::<Person>().open(&path).unwrap_err();
    assert!(
        matches!(
            &error,
            OpenError::UniqueIndexConflict {
                schema: "Person",
                index: "email",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("share a value"), "{error}");
    // The file is untouched and still opens without the index.
    let old = builder().register::<PlainPerson>().open(&path).unwrap();
    assert_eq!(old.record_count().unwrap(), 2);
}

#[test]
fn a_store_without_the_schema_refuses_index_queries_with_a_clear_error() {
    let store = memory_store();
    let error = store.find(Person::by_age(), &1).unwrap_err();
    assert!(
        matches!(
            &error,
            DatabaseError::IndexNotKept {
                schema: "Person",
                index: "age"
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("register `Person`"), "{error}");
}

/// A schema with an index on a computed value: the domain of its email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(index(name = "domain", with = Account::domain, of = String))]
pub struct Account {
    #[key]
    pub email: String,
}

impl Account {
    fn domain(&self) -> String {
        self.email.rsplit('@').next().unwrap_or_default().to_owned()
    }
}

#[test]
fn a_computed_index_is_queried_and_kept_like_a_field_index() {
    let store = builder().register::<Account>().in_memory().unwrap();
    let account = |email: &str| Account {
        email: email.into(),
    };
    store
        .put_values(&[
            account("ada@a.org"),
            account("bob@b.org"),
            account("cy@a.org"),
        ])
        .unwrap();
    let emails = |domain: &str| -> Vec<String> {
        store
            .find(Account::by_domain(), &domain.to_string())
            .unwrap()
            .map(|account| account.unwrap().email)
            .collect()
    };
    // Ties in record-key order: the shorter email's key sorts first (postcard's length prefix).
    assert_eq!(emails("a.org"), ["cy@a.org", "ada@a.org"]);
    store
        .remove_value::<Account>(&AccountKey("ada@a.org".into()))
        .unwrap();
    assert_eq!(emails("a.org"), ["cy@a.org"]);
    assert_eq!(emails("b.org"), ["bob@b.org"]);
}
