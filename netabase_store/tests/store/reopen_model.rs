//! Property test: a random interleaving of every write path (typed puts, `put_local`,
//! `put_record`, `put_records_batch`, `RecordStore::put`), removes, expiry updates, sweeps,
//! republish marks and schedules, and reopenings of the file leaves the store answering exactly
//! like a plain in-memory model: the records (value, publisher, expiry), the expiry index (through
//! `get_expiring_records`), the republish schedule (`republish_time`, `get_republish_records`,
//! `due_for_republish`) and the record limit.
//!
//! The model knows nothing of sweeps: a record whose deadline has passed is simply gone, with its
//! schedule. The store must answer the same whether or not a sweep has run.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::*;
use libp2p::PeerId;
use netabase_store::kad::store::{Error as KadError, RecordStore};
use netabase_store::kad::{Record, RecordKey};
use netabase_store::{
    DatabaseError, Durability, NetabaseDatabase, NetabaseDatabaseExt, NetabaseSchema, NodeStore,
    RedbStore,
};
use proptest::prelude::*;

const MAX_RECORDS: usize = 5;
const IDS: u8 = 7;
const NAMES: [&str; 3] = ["a", "b", "c"];

/// A deadline, relative to a base one hour ahead so nothing expires while a case runs.
#[derive(Debug, Clone, Copy)]
enum Expiry {
    Never,
    /// An hour ago: already expired.
    Past,
    /// `base + s` seconds.
    In(u8),
}

/// One record of user `id` with name `NAMES[name]`, as a peer or the application sends it.
#[derive(Debug, Clone, Copy)]
struct Incoming {
    id: u8,
    name: u8,
    publisher: Option<u8>,
    expiry: Expiry,
}

#[derive(Debug, Clone)]
enum Op {
    TypedPut { id: u8, name: u8 },
    PutLocal { id: u8, name: u8 },
    PutRecord(Incoming),
    KadPut(Incoming),
    Batch(Vec<Incoming>),
    Remove(u8),
    RemoveLocal(u8),
    UpdateExpiry { id: u8, expiry: Expiry },
    Sweep,
    Mark(u8),
    Schedule { id: u8, at: u8 },
    Reopen,
}

fn expiry() -> impl Strategy<Value = Expiry> {
    prop_oneof![
        2 => Just(Expiry::Never),
        1 => Just(Expiry::Past),
        4 => (0..3u8).prop_map(Expiry::In),
    ]
}

fn incoming() -> impl Strategy<Value = Incoming> {
    (0..IDS, 0..3u8, prop::option::of(1..4u8), expiry()).prop_map(
        |(id, name, publisher, expiry)| Incoming {
            id,
            name,
            publisher,
            expiry,
        },
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..IDS, 0..3u8).prop_map(|(id, name)| Op::TypedPut { id, name }),
        1 => (0..IDS, 0..3u8).prop_map(|(id, name)| Op::PutLocal { id, name }),
        3 => incoming().prop_map(Op::PutRecord),
        4 => incoming().prop_map(Op::KadPut),
        2 => prop::collection::vec(incoming(), 0..4).prop_map(Op::Batch),
        1 => (0..IDS).prop_map(Op::Remove),
        1 => (0..IDS).prop_map(Op::RemoveLocal),
        3 => (0..IDS, expiry()).prop_map(|(id, expiry)| Op::UpdateExpiry { id, expiry }),
        1 => Just(Op::Sweep),
        2 => (0..IDS).prop_map(Op::Mark),
        2 => (0..IDS, 0..4u8).prop_map(|(id, at)| Op::Schedule { id, at }),
        1 => Just(Op::Reopen),
    ]
}

/// When a record is scheduled for republishing.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Schedule {
    /// `mark_for_republish`: now, at the wall-clock time of the call.
    Marked,
    At(SystemTime),
}

#[derive(Debug, Clone)]
struct Model {
    value: Vec<u8>,
    publisher: Option<PeerId>,
    expires: Option<Instant>,
    schedule: Option<Schedule>,
}

struct Case {
    /// Deadlines `Expiry::In(s)` are `base + s` seconds.
    base: Instant,
    local: PeerId,
    model: BTreeMap<u8, Model>,
}

fn key_of(id: u8) -> RecordKey {
    User::record_key(&user_key(u64::from(id))).unwrap()
}

fn value_of(id: u8, name: u8) -> User {
    user(u64::from(id), NAMES[usize::from(name)])
}

impl Case {
    fn instant(&self, expiry: Expiry) -> Option<Instant> {
        match expiry {
            Expiry::Never => None,
            Expiry::Past => Some(Instant::now() - Duration::from_secs(3600)),
            Expiry::In(s) => Some(self.base + Duration::from_secs(u64::from(s))),
        }
    }

    fn record(&self, incoming: Incoming) -> Record {
        let mut record = value_of(incoming.id, incoming.name).to_record().unwrap();
        record.publisher = incoming.publisher.map(peer);
        record.expires = self.instant(incoming.expiry);
        record
    }

    /// Whether a write of a key the model does not hold is refused for the record limit.
    fn full(&self, id: u8) -> bool {
        !self.model.contains_key(&id) && self.model.len() >= MAX_RECORDS
    }

    /// The user's own write: replaces the value; a live record keeps its schedule.
    fn overwrite(&mut self, id: u8, value: Vec<u8>, publisher: Option<PeerId>) {
        let schedule = self.model.get(&id).and_then(|m| m.schedule);
        self.model.insert(
            id,
            Model {
                value,
                publisher,
                expires: None,
                schedule,
            },
        );
    }

    /// Conflict resolution of an incoming record against the model: greater value wins (byte
    /// order, `User` has no version), equal values merge. Returns `Err(())` when the record limit
    /// refuses it.
    fn resolve(&mut self, incoming: Incoming) -> Result<(), ()> {
        let record = self.record(incoming);
        if matches!(incoming.expiry, Expiry::Past) {
            return Ok(());
        }
        match self.model.get_mut(&incoming.id) {
            None => {
                if self.full(incoming.id) {
                    return Err(());
                }
                self.model.insert(
                    incoming.id,
                    Model {
                        value: record.value,
                        publisher: record.publisher,
                        expires: record.expires,
                        schedule: None,
                    },
                );
            }
            Some(stored) if stored.value < record.value => {
                stored.value = record.value;
                stored.publisher = record.publisher;
                stored.expires = record.expires;
            }
            Some(stored) if stored.value == record.value => {
                stored.expires = match (stored.expires, record.expires) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
                stored.publisher = stored
                    .publisher
                    .map(|p| p.to_bytes())
                    .max(record.publisher.map(|p| p.to_bytes()))
                    .map(|bytes| PeerId::from_bytes(&bytes).unwrap());
            }
            Some(_) => {}
        }
        Ok(())
    }
}

fn open(path: &Path, create: bool) -> RedbStore {
    let mut builder = builder();
    builder
        .set_max_records(MAX_RECORDS)
        // Pending grouped writes must survive the reopen (the last handle's drop commits them).
        .set_user_durability(Durability::Grouped)
        .set_background_flush(false);
    if create {
        builder.create(path).unwrap()
    } else {
        builder.open(path).unwrap()
    }
}

fn is_max_records(result: &Result<(), DatabaseError>) -> bool {
    matches!(result, Err(DatabaseError::MaxRecords { max: MAX_RECORDS }))
}

fn apply(
    store: &mut RedbStore,
    case: &mut Case,
    op: &Op,
    path: &Path,
) -> Result<(), TestCaseError> {
    match op {
        Op::TypedPut { id, name } => {
            let value = value_of(*id, *name);
            let result = store.put_value(&value);
            if case.full(*id) {
                prop_assert!(is_max_records(&result), "{:?}", result);
            } else {
                prop_assert!(result.is_ok(), "{:?}", result);
                case.overwrite(*id, value.to_bytes().unwrap(), Some(case.local));
            }
        }
        Op::PutLocal { id, name } => {
            let record = value_of(*id, *name).to_record().unwrap();
            let result = store.put_local(record.clone());
            if case.full(*id) {
                prop_assert!(is_max_records(&result), "{:?}", result);
            } else {
                prop_assert!(result.is_ok(), "{:?}", result);
                case.overwrite(*id, record.value, None);
            }
        }
        Op::PutRecord(incoming) => {
            let record = case.record(*incoming);
            let result = block_on(NetabaseDatabase::<_, User>::put_record(store, record));
            match case.resolve(*incoming) {
                Ok(()) => prop_assert!(result.is_ok(), "{:?}", result),
                Err(()) => prop_assert!(is_max_records(&result), "{:?}", result),
            }
        }
        Op::KadPut(incoming) => {
            let result = RecordStore::put(store, case.record(*incoming));
            match case.resolve(*incoming) {
                Ok(()) => prop_assert!(result.is_ok(), "{:?}", result),
                Err(()) => {
                    prop_assert!(matches!(result, Err(KadError::MaxRecords)), "{:?}", result)
                }
            }
        }
        Op::Batch(batch) => {
            let records = batch.iter().map(|i| case.record(*i)).collect();
            let result = block_on(NetabaseDatabaseExt::<_, User>::put_records_batch(
                store, records,
            ));
            // All or nothing: resolve on a copy of the model, keep it only if all fit.
            let before = case.model.clone();
            let fits = batch.iter().all(|incoming| case.resolve(*incoming).is_ok());
            if fits {
                prop_assert!(result.is_ok(), "{:?}", result);
            } else {
                prop_assert!(is_max_records(&result), "{:?}", result);
                case.model = before;
            }
        }
        Op::Remove(id) => {
            RecordStore::remove(store, &key_of(*id));
            case.model.remove(id);
        }
        Op::RemoveLocal(id) => {
            store.remove_local(&key_of(*id)).unwrap();
            case.model.remove(id);
        }
        Op::UpdateExpiry { id, expiry } => {
            let at = case.instant(*expiry);
            block_on(NetabaseDatabaseExt::<_, User>::update_record_expiry(
                store,
                &user_key(u64::from(*id)),
                at,
            ))
            .unwrap();
            if matches!(expiry, Expiry::Past) {
                case.model.remove(id);
            } else if let Some(stored) = case.model.get_mut(id) {
                stored.expires = at;
            }
        }
        Op::Sweep => {
            store.remove_expired(Instant::now()).unwrap();
        }
        Op::Mark(id) => {
            block_on(NetabaseDatabaseExt::<_, User>::mark_for_republish(
                store,
                &[user_key(u64::from(*id))],
            ))
            .unwrap();
            if let Some(stored) = case.model.get_mut(id) {
                stored.schedule = Some(Schedule::Marked);
            }
        }
        Op::Schedule { id, at } => {
            let at = UNIX_EPOCH + Duration::from_secs(1_000_000 + u64::from(*at));
            store.schedule_republish(&key_of(*id), at).unwrap();
            if let Some(stored) = case.model.get_mut(id) {
                stored.schedule = Some(Schedule::At(at));
            }
        }
        Op::Reopen => {
            let placeholder = RedbStore::in_memory().unwrap();
            drop(std::mem::replace(store, placeholder));
            *store = open(path, false);
        }
    }
    Ok(())
}

fn same_expiry(a: Option<Instant>, b: Option<Instant>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.max(b) - a.min(b) <= Duration::from_millis(2),
        _ => false,
    }
}

fn check(store: &RedbStore, case: &Case) -> Result<(), TestCaseError> {
    for id in 0..IDS {
        let key = key_of(id);
        let stored = RecordStore::get(store, &key).map(|r| r.into_owned());
        let typed = store.get_value::<User>(&user_key(u64::from(id))).unwrap();
        let republish = store.republish_time(&key).unwrap();
        match case.model.get(&id) {
            None => {
                prop_assert!(stored.is_none(), "id {}: {:?}", id, stored);
                prop_assert!(typed.is_none());
                prop_assert_eq!(republish, None, "id {}: schedule of a record gone", id);
            }
            Some(model) => {
                let Some(stored) = stored else {
                    return Err(TestCaseError::fail(format!("id {id} is missing")));
                };
                prop_assert_eq!(&stored.value, &model.value, "id {}", id);
                prop_assert_eq!(stored.publisher, model.publisher, "id {}", id);
                prop_assert!(
                    same_expiry(stored.expires, model.expires),
                    "id {}: expiry {:?} vs {:?}",
                    id,
                    stored.expires,
                    model.expires
                );
                prop_assert_eq!(
                    typed.map(|u| u.to_bytes().unwrap()),
                    Some(model.value.clone())
                );
                match model.schedule {
                    None => prop_assert_eq!(republish, None, "id {}", id),
                    Some(Schedule::Marked) => prop_assert!(republish.is_some(), "id {}", id),
                    Some(Schedule::At(at)) => prop_assert_eq!(republish, Some(at), "id {}", id),
                }
            }
        }
    }

    let keys = |ids: &mut dyn Iterator<Item = u8>| {
        let mut keys: Vec<Vec<u8>> = ids.map(|id| key_of(id).to_vec()).collect();
        keys.sort();
        keys
    };
    let sorted = |records: &[Record]| {
        let mut keys: Vec<Vec<u8>> = records.iter().map(|r| r.key.to_vec()).collect();
        keys.sort();
        keys
    };

    let listed: Vec<Record> = store.records().map(|r| r.into_owned()).collect();
    prop_assert_eq!(sorted(&listed), keys(&mut case.model.keys().copied()));

    // The expiry index: every live record with a deadline exactly once, soonest first.
    let expiring = block_on(NetabaseDatabaseExt::<_, User>::get_expiring_records(
        store,
        Duration::from_secs(10 * 86_400),
    ))
    .unwrap();
    let with_deadline = case
        .model
        .iter()
        .filter(|(_, m)| m.expires.is_some())
        .map(|(id, _)| *id);
    prop_assert_eq!(sorted(&expiring), keys(&mut with_deadline.into_iter()));
    prop_assert!(
        expiring.windows(2).all(|w| w[0].expires <= w[1].expires),
        "soonest first: {:?}",
        expiring
    );
    let soon = block_on(NetabaseDatabaseExt::<_, User>::get_expiring_records(
        store,
        Duration::from_secs(60),
    ))
    .unwrap();
    prop_assert!(
        soon.is_empty(),
        "nothing live expires within a minute: {:?}",
        soon
    );

    // The republish schedule.
    let scheduled = case
        .model
        .iter()
        .filter(|(_, m)| m.schedule.is_some())
        .map(|(id, _)| *id);
    let scheduled = keys(&mut scheduled.into_iter());
    let marked = block_on(NetabaseDatabaseExt::<_, User>::get_republish_records(store)).unwrap();
    prop_assert_eq!(sorted(&marked), scheduled.clone());
    let due = store
        .due_for_republish(SystemTime::now() + Duration::from_secs(3600), usize::MAX)
        .unwrap();
    prop_assert_eq!(sorted(&due), scheduled);
    let times: Vec<_> = due
        .iter()
        .map(|r| store.republish_time(&r.key).unwrap())
        .collect();
    prop_assert!(times.windows(2).all(|w| w[0] <= w[1]), "due in time order");

    prop_assert_eq!(store.storage_error_count(), 0);
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.redb");
    let mut store = open(&path, true);
    let mut case = Case {
        base: Instant::now() + Duration::from_secs(3600),
        local: peer(0),
        model: BTreeMap::new(),
    };
    for (step, op) in ops.iter().enumerate() {
        apply(&mut store, &mut case, op, &path)
            .map_err(|e| TestCaseError::fail(format!("step {step} {op:?}: {e}")))?;
        check(&store, &case)
            .map_err(|e| TestCaseError::fail(format!("after step {step} {op:?}: {e}")))?;
    }
    drop(store);
    let store = open(&path, false);
    check(&store, &case).map_err(|e| TestCaseError::fail(format!("after the final reopen: {e}")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_store_answers_like_a_model_across_reopens(ops in prop::collection::vec(op(), 1..48)) {
        run(ops)?;
    }
}
