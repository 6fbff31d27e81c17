//! Property test: random sequences of `RecordStore` operations run on `RedbStore` and on libp2p's
//! `MemoryStore` give the same answers, except for the documented differences, which the model
//! applies to `MemoryStore` before comparing:
//!
//! 1. `max_value_bytes` is inclusive in `RedbStore` and exclusive in `MemoryStore`, so the
//!    `MemoryStore` runs with a limit one byte higher.
//! 2. `RedbStore::put` resolves conflicts (byte order for keys of no registered schema): when the
//!    stored value is greater, the incoming record is not stored; when the values are equal the
//!    two copies merge into the later expiry and the greater publisher (any beats none), whatever
//!    their order. `MemoryStore` always replaces.
//! 3. Deadlines are stored as wall-clock milliseconds, so an expiry read back may differ from the
//!    one written by up to a millisecond (compared with a tolerance).
//! 4. `providers` and `records` come in a different order (compared as sets).
//!
//! All expiries are in the future: expired records, which `RedbStore` never returns and
//! `MemoryStore` does, are covered by the restart and kad_store tests.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::peer;
use libp2p::PeerId;
use libp2p::kad::store::{MemoryStore, MemoryStoreConfig, RecordStore};
use libp2p::kad::{ProviderRecord, Record, RecordKey};
use netabase_store::RedbStore;
use proptest::prelude::*;

const MAX_RECORDS: usize = 5;
const MAX_VALUE_BYTES: usize = 4;
const MAX_PROVIDERS_PER_KEY: usize = 3;
const MAX_PROVIDED_KEYS: usize = 4;
const LOCAL: u8 = 0;

#[derive(Debug, Clone)]
enum Op {
    Put {
        key: u8,
        value: Vec<u8>,
        publisher: Option<u8>,
        expires_in_s: Option<u8>,
    },
    Get(u8),
    Remove(u8),
    Records,
    AddProvider {
        key: u8,
        provider: u8,
        expires_in_s: Option<u8>,
        addresses: u8,
    },
    Providers(u8),
    Provided,
    RemoveProvider(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..8u8, prop::collection::vec(0..3u8, 0..6), prop::option::of(1..4u8), prop::option::of(0..3u8))
            .prop_map(|(key, value, publisher, expires_in_s)| Op::Put { key, value, publisher, expires_in_s }),
        2 => (0..8u8).prop_map(Op::Get),
        1 => (0..8u8).prop_map(Op::Remove),
        1 => Just(Op::Records),
        3 => (0..6u8, 0..4u8, prop::option::of(0..3u8), 0..3u8)
            .prop_map(|(key, provider, expires_in_s, addresses)| Op::AddProvider { key, provider, expires_in_s, addresses }),
        2 => (0..6u8).prop_map(Op::Providers),
        1 => Just(Op::Provided),
        1 => (0..6u8, 0..4u8).prop_map(|(key, provider)| Op::RemoveProvider(key, provider)),
    ]
}

fn key(i: u8) -> RecordKey {
    RecordKey::new(&[b'/', b't', b'/', b'S', b'/', i])
}

fn provider_key(i: u8) -> RecordKey {
    RecordKey::new(&[b'p', i])
}

/// A comparable view of a record: expiries rounded away by the tolerance check separately.
fn same_record(a: &Record, b: &Record) -> bool {
    a.key == b.key
        && a.value == b.value
        && a.publisher == b.publisher
        && same_expiry(a.expires, b.expires)
}

fn same_expiry(a: Option<Instant>, b: Option<Instant>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let diff = if a > b { a - b } else { b - a };
            diff <= Duration::from_millis(2)
        }
        _ => false,
    }
}

fn same_providers(mut a: Vec<ProviderRecord>, mut b: Vec<ProviderRecord>) -> bool {
    a.sort_by_key(|p| (p.key.to_vec(), p.provider.to_bytes()));
    b.sort_by_key(|p| (p.key.to_vec(), p.provider.to_bytes()));
    a.len() == b.len()
        && a.iter().zip(&b).all(|(a, b)| {
            a.key == b.key
                && a.provider == b.provider
                && a.addresses == b.addresses
                && same_expiry(a.expires, b.expires)
        })
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let local: PeerId = peer(LOCAL);
    let mut ours = RedbStore::builder()
        .set_local_peer_id(local)
        .set_max_records(MAX_RECORDS)
        .set_max_value_bytes(MAX_VALUE_BYTES)
        .set_max_providers_per_key(MAX_PROVIDERS_PER_KEY)
        .set_max_provided_keys(MAX_PROVIDED_KEYS)
        .in_memory()
        .expect("in-memory store");
    let mut theirs = MemoryStore::with_config(
        local,
        MemoryStoreConfig {
            max_records: MAX_RECORDS,
            // Difference 1: MemoryStore refuses a value of exactly `max_value_bytes`.
            max_value_bytes: MAX_VALUE_BYTES + 1,
            max_providers_per_key: MAX_PROVIDERS_PER_KEY,
            max_provided_keys: MAX_PROVIDED_KEYS,
        },
    );
    let base = Instant::now() + Duration::from_secs(3600);
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Put {
                key: k,
                value,
                publisher,
                expires_in_s,
            } => {
                let mut record = Record::new(key(k), value);
                record.publisher = publisher.map(peer);
                record.expires = expires_in_s.map(|s| base + Duration::from_secs(u64::from(s)));
                let existing = theirs.get(&record.key).map(|r| r.into_owned());
                let ours_result = RecordStore::put(&mut ours, record.clone());
                // Difference 2: conflict resolution decides what MemoryStore is given.
                let expected = match existing {
                    Some(existing)
                        if record.value.len() <= MAX_VALUE_BYTES
                            && existing.value > record.value =>
                    {
                        None
                    }
                    Some(existing)
                        if record.value.len() <= MAX_VALUE_BYTES
                            && existing.value == record.value =>
                    {
                        let expires = match (existing.expires, record.expires) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            _ => None,
                        };
                        // Any publisher beats none; between two, the greater peer id bytes.
                        let publisher = existing
                            .publisher
                            .map(|p| p.to_bytes())
                            .max(record.publisher.map(|p| p.to_bytes()))
                            .map(|bytes| PeerId::from_bytes(&bytes).expect("a peer id"));
                        Some(Record {
                            expires,
                            publisher,
                            ..existing
                        })
                    }
                    _ => Some(record),
                };
                let theirs_result = match expected {
                    Some(record) => theirs.put(record),
                    None => Ok(()),
                };
                prop_assert_eq!(
                    format!("{ours_result:?}"),
                    format!("{theirs_result:?}"),
                    "step {}: put results differ",
                    step
                );
            }
            Op::Get(k) => {
                let a = RecordStore::get(&ours, &key(k)).map(|r| r.into_owned());
                let b = theirs.get(&key(k)).map(|r| r.into_owned());
                let same = match (&a, &b) {
                    (Some(a), Some(b)) => same_record(a, b),
                    (None, None) => true,
                    _ => false,
                };
                prop_assert!(same, "step {}: get differs: {:?} vs {:?}", step, a, b);
            }
            Op::Remove(k) => {
                ours.remove(&key(k));
                theirs.remove(&key(k));
            }
            Op::Records => {
                let a: BTreeMap<Vec<u8>, Record> = ours
                    .records()
                    .map(|r| (r.key.to_vec(), r.into_owned()))
                    .collect();
                let b: BTreeMap<Vec<u8>, Record> = theirs
                    .records()
                    .map(|r| (r.key.to_vec(), r.into_owned()))
                    .collect();
                prop_assert_eq!(a.len(), b.len(), "step {}: record counts differ", step);
                for (k, record) in &a {
                    let same = b.get(k).is_some_and(|other| same_record(record, other));
                    prop_assert!(same, "step {}: records differ at {:?}", step, k);
                }
            }
            Op::AddProvider {
                key: k,
                provider,
                expires_in_s,
                addresses,
            } => {
                let mut record = ProviderRecord::new(
                    provider_key(k),
                    peer(provider),
                    (0..addresses)
                        .map(|port| {
                            format!("/ip4/127.0.0.1/tcp/{}", 4000 + u16::from(port))
                                .parse()
                                .unwrap()
                        })
                        .collect(),
                );
                record.expires = expires_in_s.map(|s| base + Duration::from_secs(u64::from(s)));
                let a = ours.add_provider(record.clone());
                let b = theirs.add_provider(record);
                prop_assert_eq!(
                    format!("{a:?}"),
                    format!("{b:?}"),
                    "step {}: add_provider differs",
                    step
                );
            }
            Op::Providers(k) => {
                let a = ours.providers(&provider_key(k));
                let b = theirs.providers(&provider_key(k));
                prop_assert!(
                    same_providers(a.clone(), b.clone()),
                    "step {}: providers differ: {:?} vs {:?}",
                    step,
                    a,
                    b
                );
            }
            Op::Provided => {
                let a: Vec<ProviderRecord> = ours.provided().map(|p| p.into_owned()).collect();
                let b: Vec<ProviderRecord> = theirs.provided().map(|p| p.into_owned()).collect();
                prop_assert!(
                    same_providers(a.clone(), b.clone()),
                    "step {}: provided differs: {:?} vs {:?}",
                    step,
                    a,
                    b
                );
            }
            Op::RemoveProvider(k, provider) => {
                ours.remove_provider(&provider_key(k), &peer(provider));
                theirs.remove_provider(&provider_key(k), &peer(provider));
            }
        }
    }
    prop_assert_eq!(ours.storage_error_count(), 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn redb_store_answers_like_memory_store(ops in prop::collection::vec(op(), 1..80)) {
        run(ops)?;
    }
}
