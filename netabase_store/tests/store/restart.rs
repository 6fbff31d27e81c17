//! A store dropped and reopened from its file holds what it held: records with their publisher
//! and expiry, provider records, the provided keys and the republish schedule; records whose
//! deadline passed while the store was closed are gone.

use std::time::{Duration, Instant, SystemTime};

use crate::common::*;
use netabase_store::kad::store::RecordStore;
use netabase_store::kad::{ProviderRecord, RecordKey};
use netabase_store::{NetabaseDatabaseExt, NetabaseSchema, NodeStore, RedbStore};

fn within(actual: Instant, wanted: Instant, tolerance: Duration) -> bool {
    let diff = if actual > wanted {
        actual - wanted
    } else {
        wanted - actual
    };
    diff <= tolerance
}

#[test]
fn everything_comes_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    let now = Instant::now();
    let deadline = now + Duration::from_secs(3600);
    let republish_at = SystemTime::now() + Duration::from_secs(600);
    let mut inbound = user(2, "from a peer").to_record().unwrap();
    inbound.publisher = Some(peer(9));
    inbound.expires = Some(deadline);
    {
        let mut store = builder().create(&path).unwrap();
        store.put_value(&user(1, "typed")).unwrap();
        RecordStore::put(&mut store, inbound.clone()).unwrap();
        RecordStore::put(&mut store, raw(b"/unknown/Thing/1", b"raw bytes")).unwrap();
        store
            .schedule_republish(&inbound.key, republish_at)
            .unwrap();
        let mut mine = ProviderRecord::new(
            b"provided".to_vec(),
            peer(0),
            vec!["/ip4/127.0.0.1/tcp/9".parse().unwrap()],
        );
        mine.expires = Some(deadline);
        store.add_provider(mine).unwrap();
        store
            .add_provider(ProviderRecord::new(b"provided".to_vec(), peer(3), vec![]))
            .unwrap();
        // Dropped without flush: grouped writes are made durable on close.
    }
    let store = builder().open(&path).unwrap();
    assert_eq!(
        store.get_value::<User>(&user_key(1)).unwrap(),
        Some(user(1, "typed"))
    );
    let got = store
        .get_local(&inbound.key)
        .unwrap()
        .expect("inbound record kept");
    assert_eq!(got.value, inbound.value);
    assert_eq!(got.publisher, Some(peer(9)));
    assert!(
        within(got.expires.unwrap(), deadline, Duration::from_millis(5)),
        "deadline rebuilt"
    );
    assert_eq!(
        RecordStore::get(&store, &RecordKey::new(b"/unknown/Thing/1"))
            .unwrap()
            .value,
        b"raw bytes"
    );
    assert_eq!(
        store.republish_time(&inbound.key).unwrap(),
        Some(
            SystemTime::UNIX_EPOCH
                + Duration::from_millis(
                    republish_at
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .unwrap()
                        .as_millis() as u64
                )
        )
    );
    let due = store.due_for_republish(republish_at, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].key, inbound.key);
    let providers = store.providers(&RecordKey::new(b"provided"));
    assert_eq!(providers.len(), 2);
    let provided: Vec<ProviderRecord> = store.provided().map(|p| p.into_owned()).collect();
    assert_eq!(provided.len(), 1);
    assert_eq!(provided[0].addresses.len(), 1);
    assert!(within(
        provided[0].expires.unwrap(),
        deadline,
        Duration::from_millis(5)
    ));
    let expiring = block_on(NetabaseDatabaseExt::<_, User>::get_expiring_records(
        &store,
        Duration::from_secs(7200),
    ))
    .unwrap();
    assert_eq!(expiring.len(), 1, "the expiry index came back");
    assert_eq!(expiring[0].key, inbound.key);
}

#[test]
fn records_past_their_deadline_at_reopen_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    let short = Instant::now() + Duration::from_millis(150);
    {
        let mut store = builder().create(&path).unwrap();
        for i in 0..10 {
            let mut record = user(i, "short-lived").to_record().unwrap();
            record.expires = Some(short);
            RecordStore::put(&mut store, record).unwrap();
        }
        let mut provider = ProviderRecord::new(b"p".to_vec(), peer(0), vec![]);
        provider.expires = Some(short);
        store.add_provider(provider).unwrap();
        RecordStore::put(&mut store, user(100, "long-lived").to_record().unwrap()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut store = builder().open(&path).unwrap();
    for i in 0..10 {
        assert_eq!(store.get_value::<User>(&user_key(i)).unwrap(), None);
        assert!(RecordStore::get(&store, &User::record_key(&user_key(i)).unwrap()).is_none());
    }
    assert_eq!(store.records().count(), 1);
    assert!(store.providers(&RecordKey::new(b"p")).is_empty());
    assert_eq!(store.provided().count(), 0);
    assert_eq!(store.remove_expired(Instant::now()).unwrap(), 11);
    assert_eq!(store.record_count().unwrap(), 1);
}

#[test]
fn a_store_reopens_many_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    drop(RedbStore::create(&path).unwrap());
    for round in 0..20u64 {
        let mut store = builder().open(&path).unwrap();
        RecordStore::put(&mut store, user(round, "r").to_record().unwrap()).unwrap();
        assert_eq!(store.record_count().unwrap(), round + 1);
    }
}

/// The handles of one store live on many threads and the last one to go may be a walk: whichever
/// drops last stops and joins the group commit thread and commits pending writes, so the file
/// can be reopened at once and holds every grouped write.
#[test]
fn the_last_handle_anywhere_closes_the_file_with_its_pending_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    for round in 0..5u64 {
        let store = builder()
            .set_group_commit(netabase_store::GroupCommit::new(
                Duration::from_secs(3600),
                1000,
            ))
            .create(&path)
            .unwrap();
        let scan = store.scan(Vec::new());
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let mut store = store.clone();
                std::thread::spawn(move || {
                    let id = round * 100 + t;
                    RecordStore::put(&mut store, user(id, "grouped").to_record().unwrap()).unwrap();
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(
            store.pending_writes() > 0,
            "round {round}: writes still pending"
        );
        drop(store);
        // The walk is the last handle; it is dropped on another thread.
        std::thread::spawn(move || drop(scan)).join().unwrap();
        let store = builder().open(&path).unwrap();
        assert_eq!(store.pending_writes(), 0);
        for t in 0..4 {
            let id = round * 100 + t;
            assert!(
                store.get_value::<User>(&user_key(id)).unwrap().is_some(),
                "round {round}: grouped write {id} lost at close"
            );
        }
        assert_eq!(store.storage_error_count(), 0);
    }
}
