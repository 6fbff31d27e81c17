//! Property test: for random sequences of local puts, expiring puts, compare-and-swaps, removes,
//! records from peers (same-key conflicts and unique-index contests included), expiry sweeps,
//! group commits and reopenings of the file, every index query answers exactly what a model
//! computed from the stored values answers.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::indexes::Person;
use netabase_store::kad::store::RecordStore;
use netabase_store::{DatabaseError, NetabaseSchema, NodeStore, RedbStore};
use proptest::prelude::*;

const IDS: u64 = 8;
const EMAILS: u8 = 4;
const AGES: u32 = 5;

fn value(id: u64, email: u8, age: u32) -> Person {
    Person {
        id,
        email: format!("e{email}"),
        age,
        city_year: (
            if id < 4 { "oslo" } else { "rome" }.into(),
            2020 + age as u16,
        ),
    }
}

#[derive(Debug, Clone)]
enum Op {
    Put(u64, u8, u32),
    PutExpiring(u64, u8, u32),
    Swap(u64, u8, u32),
    Remove(u64),
    FromPeer(u64, u8, u32),
    Sweep,
    Flush,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let fields = || (0..IDS, 0..EMAILS, 0..AGES);
    prop_oneof![
        4 => fields().prop_map(|(id, email, age)| Op::Put(id, email, age)),
        2 => fields().prop_map(|(id, email, age)| Op::PutExpiring(id, email, age)),
        1 => fields().prop_map(|(id, email, age)| Op::Swap(id, email, age)),
        2 => (0..IDS).prop_map(Op::Remove),
        4 => fields().prop_map(|(id, email, age)| Op::FromPeer(id, email, age)),
        1 => Just(Op::Sweep),
        1 => Just(Op::Flush),
        1 => Just(Op::Reopen),
    ]
}

/// What the store should hold: each value, and whether it expires (in an hour; a sweep two hours
/// ahead removes it).
#[derive(Default)]
struct Model {
    values: BTreeMap<u64, (Person, bool)>,
}

impl Model {
    /// The other record that holds `email`, if any.
    fn holders(&self, id: u64, email: &str) -> Vec<u64> {
        self.values
            .iter()
            .filter(|(other, (value, _))| **other != id && value.email == email)
            .map(|(other, _)| *other)
            .collect()
    }

    /// A local write: refused when another record holds the email.
    fn local(&mut self, value: Person, expiring: bool) -> bool {
        if !self.holders(value.id, &value.email).is_empty() {
            return false;
        }
        self.values.insert(value.id, (value, expiring));
        true
    }

    /// A record from a peer: the byte-order conflict rule against the stored value, then the
    /// unique index, where the lowest record key holds the value.
    fn receive(&mut self, value: Person) {
        if let Some((stored, expiring)) = self.values.get_mut(&value.id) {
            let (stored_bytes, incoming) = (stored.to_bytes().unwrap(), value.to_bytes().unwrap());
            if incoming == stored_bytes {
                // Equal values merge: the later expiry (never) wins.
                *expiring = false;
                return;
            }
            if incoming < stored_bytes {
                return;
            }
        }
        let holders = self.holders(value.id, &value.email);
        if holders.iter().any(|holder| *holder < value.id) {
            return;
        }
        for holder in holders {
            self.values.remove(&holder);
        }
        self.values.insert(value.id, (value, false));
    }

    fn ids(&self, keep: impl Fn(&Person) -> bool) -> Vec<u64> {
        let mut found: Vec<(u32, u64)> = self
            .values
            .values()
            .filter(|(value, _)| keep(value))
            .map(|(value, _)| (value.age, value.id))
            .collect();
        found.sort();
        found.into_iter().map(|(_, id)| id).collect()
    }
}

fn open(path: &Path) -> RedbStore {
    builder().register::<Person>().create(path).unwrap()
}

fn ids(scan: impl Iterator<Item = Result<Person, DatabaseError>>) -> Vec<u64> {
    scan.map(|value| value.unwrap().id).collect()
}

/// Every query against the model.
fn check(store: &RedbStore, model: &Model) {
    for age in 0..AGES {
        assert_eq!(
            ids(store.find(Person::by_age(), &age).unwrap()),
            model.ids(|value| value.age == age),
            "age {age}"
        );
    }
    assert_eq!(
        ids(store.find_range(Person::by_age(), 1..4).unwrap()),
        model.ids(|value| (1..4).contains(&value.age)),
        "ages 1 to 3"
    );
    for email in 0..EMAILS {
        let email = format!("e{email}");
        let expected = model
            .values
            .values()
            .find(|(value, _)| value.email == email)
            .map(|(value, _)| value.clone());
        assert_eq!(
            store.find_unique(Person::by_email(), &email).unwrap(),
            expected,
            "{email}"
        );
    }
    // In oslo, ordered by year (the age's) then id, as the model orders by age then id.
    assert_eq!(
        ids(store
            .find_prefix(Person::by_city_year(), &("oslo",))
            .unwrap()),
        model.ids(|value| value.id < 4),
        "oslo"
    );
}

fn run(ops: &[Op]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("people.redb");
    let mut store = open(&path);
    let mut model = Model::default();
    for op in ops {
        match *op {
            Op::Put(id, email, age) => {
                let value = value(id, email, age);
                let expected = model.local(value.clone(), false);
                assert_eq!(store.put_value(&value).is_ok(), expected, "{op:?}");
            }
            Op::PutExpiring(id, email, age) => {
                let value = value(id, email, age);
                let expected = model.local(value.clone(), true);
                let written = store.put_value_expiring(&value, Duration::from_secs(3600));
                assert_eq!(written.is_ok(), expected, "{op:?}");
            }
            Op::Swap(id, email, age) => {
                let new = value(id, email, age);
                let current = model.values.get(&id).map(|(value, _)| value.clone());
                let expected = model.local(new.clone(), false);
                let swapped = store.compare_and_swap(&new.key(), current.as_ref(), Some(&new));
                match swapped {
                    Ok(result) => {
                        assert!(expected, "{op:?}");
                        assert_eq!(result, Ok(()), "{op:?}");
                    }
                    Err(error) => {
                        assert!(!expected, "{op:?}: {error}");
                        assert!(
                            matches!(error, DatabaseError::UniqueViolation { .. }),
                            "{error}"
                        );
                    }
                }
            }
            Op::Remove(id) => {
                model.values.remove(&id);
                store
                    .remove_value::<Person>(&crate::indexes::PersonKey(id))
                    .unwrap();
            }
            Op::FromPeer(id, email, age) => {
                let value = value(id, email, age);
                model.receive(value.clone());
                RecordStore::put(&mut store, value.to_record().unwrap()).unwrap();
            }
            Op::Sweep => {
                model.values.retain(|_, (_, expiring)| !*expiring);
                store
                    .remove_expired(Instant::now() + Duration::from_secs(7200))
                    .unwrap();
            }
            Op::Flush => NodeStore::flush(&mut store).unwrap(),
            Op::Reopen => {
                NodeStore::flush(&mut store).unwrap();
                drop(store);
                store = open(&path);
            }
        }
        check(&store, &model);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn index_queries_answer_what_the_model_of_the_stored_values_answers(
        ops in proptest::collection::vec(op(), 1..30)
    ) {
        run(&ops);
    }
}
