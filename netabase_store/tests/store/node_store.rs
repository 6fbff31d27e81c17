//! `netabase::NodeStore` on `RedbStore`: durable local writes, sweeps, republish schedule, group
//! commit and the storage error counter.

use std::time::{Duration, Instant, SystemTime};

use crate::common::*;
use netabase_store::kad::RecordKey;
use netabase_store::kad::store::RecordStore;
use netabase_store::{DatabaseError, Durability, GroupCommit, NetabaseSchema, NodeStore};

#[test]
fn put_local_overwrites_and_get_local_reads() {
    let mut store = memory_store();
    let winner = doc("a", 9, "newer").to_record().unwrap();
    let local = doc("a", 1, "mine").to_record().unwrap();
    store.put_local(winner).unwrap();
    store.put_local(local.clone()).unwrap();
    let got = store.get_local(&local.key).unwrap().unwrap();
    assert_eq!(
        got.value, local.value,
        "the user's own write is authoritative"
    );
    assert_eq!(
        NodeStore::registry(&store)
            .schema_of(local.key.as_ref())
            .map(|s| s.name()),
        Some("Doc")
    );
}

#[test]
fn put_local_checks_registered_schemas_and_limits() {
    let mut store = builder().set_max_value_bytes(8).in_memory().unwrap();
    let mut bad = user(1, "a").to_record().unwrap();
    bad.value = vec![0xff; 3];
    assert!(store.put_local(bad).is_err());
    let error = store.put_local(raw(b"/x/y/z", &[0; 9])).unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::ValueTooLarge {
                schema: "<raw record>",
                size: 9,
                max: 8
            }
        ),
        "{error}"
    );
}

#[test]
fn remove_local_removes_the_record_and_its_schedule() {
    let mut store = memory_store();
    let record = user(1, "a").to_record().unwrap();
    store.put_local(record.clone()).unwrap();
    store
        .schedule_republish(&record.key, SystemTime::now())
        .unwrap();
    store.remove_local(&record.key).unwrap();
    assert!(store.get_local(&record.key).unwrap().is_none());
    assert!(
        store
            .due_for_republish(SystemTime::now(), 10)
            .unwrap()
            .is_empty()
    );
}

/// The republish job reschedules a whole run in one commit: every stored key gets its time, a
/// key with no record gets none.
#[test]
fn a_batch_of_republish_times_is_one_commit() {
    let mut store = memory_store();
    let keys: Vec<RecordKey> = (0..5)
        .map(|i| {
            let record = user(i, "a").to_record().unwrap();
            store.put_local(record.clone()).unwrap();
            record.key
        })
        .collect();
    let mut all = keys.clone();
    all.push(user(99, "never stored").to_record().unwrap().key);
    let (commits, _) = store.commit_counts();
    let soon = SystemTime::now() - Duration::from_secs(1);
    store.schedule_republish_all(&all, soon).unwrap();
    assert_eq!(store.commit_counts().0, commits + 1);
    let mut due: Vec<Vec<u8>> = store
        .due_for_republish(SystemTime::now(), 100)
        .unwrap()
        .into_iter()
        .map(|record| record.key.to_vec())
        .collect();
    due.sort();
    let mut expected: Vec<Vec<u8>> = keys.iter().map(|key| key.to_vec()).collect();
    expected.sort();
    assert_eq!(due, expected);
}

#[test]
fn remove_expired_sweeps_records_and_providers() {
    let mut store = memory_store();
    let now = Instant::now();
    for i in 0..10u64 {
        let mut record = user(i, "x").to_record().unwrap();
        record.expires = Some(now + Duration::from_secs(i + 1));
        RecordStore::put(&mut store, record).unwrap();
    }
    let mut forever = user(100, "forever").to_record().unwrap();
    forever.expires = None;
    RecordStore::put(&mut store, forever).unwrap();
    let mut provider = netabase_store::kad::ProviderRecord::new(b"p".to_vec(), peer(0), vec![]);
    provider.expires = Some(now + Duration::from_millis(2500));
    store.add_provider(provider).unwrap();

    // Deadlines are stored as wall-clock milliseconds, converted from `Instant`s at slightly
    // different moments, so the sweep time stays clear of any deadline (3 s) by half a second.
    let removed = store
        .remove_expired(now + Duration::from_millis(3500))
        .unwrap();
    assert_eq!(removed, 4, "three records and one provider record");
    assert_eq!(store.record_count().unwrap(), 8);
    assert!(store.providers(&RecordKey::new(b"p")).is_empty());
    assert_eq!(store.provided().count(), 0);
    assert_eq!(
        store
            .remove_expired(now + Duration::from_millis(3500))
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .remove_expired(now + Duration::from_secs(1000))
            .unwrap(),
        7
    );
    assert_eq!(store.record_count().unwrap(), 1);
}

#[test]
fn republish_schedule_is_ordered_and_bounded() {
    let mut store = memory_store();
    let base = SystemTime::now();
    for i in 0..10u64 {
        let record = user(i, "x").to_record().unwrap();
        store.put_local(record.clone()).unwrap();
        store
            .schedule_republish(&record.key, base + Duration::from_secs(10 - i))
            .unwrap();
    }
    store
        .schedule_republish(&RecordKey::new(b"/not/stored/"), base)
        .unwrap();
    let due = store
        .due_for_republish(base + Duration::from_secs(5), 100)
        .unwrap();
    let ids: Vec<u64> = due
        .iter()
        .map(|r| User::from_record(r).unwrap().id)
        .collect();
    assert_eq!(ids, vec![9, 8, 7, 6, 5], "soonest first");
    let due = store
        .due_for_republish(base + Duration::from_secs(5), 2)
        .unwrap();
    assert_eq!(due.len(), 2);
    // Rescheduling moves a record.
    let nine = user(9, "x").to_record().unwrap();
    store
        .schedule_republish(&nine.key, base + Duration::from_secs(60))
        .unwrap();
    let due = store
        .due_for_republish(base + Duration::from_secs(5), 100)
        .unwrap();
    assert_eq!(due.len(), 4);
}

/// A store file in `dir` whose grouped writes wait for `max_writes` of them, or a flush: no
/// background thread, and a window longer than any test.
fn grouped_store(dir: &tempfile::TempDir, max_writes: usize) -> netabase_store::RedbStore {
    builder()
        .set_background_flush(false)
        .set_group_commit(GroupCommit::new(Duration::from_secs(3600), max_writes))
        .create(dir.path().join("s.redb"))
        .unwrap()
}

#[test]
fn grouped_writes_are_visible_at_once_and_flush_makes_them_durable() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = grouped_store(&dir, 1000);
    for i in 0..10 {
        RecordStore::put(&mut store, user(i, "g").to_record().unwrap()).unwrap();
    }
    assert_eq!(store.pending_writes(), 10);
    assert_eq!(
        store
            .get_local(&User::record_key(&user_key(3)).unwrap())
            .unwrap()
            .map(|r| r.value),
        Some(user(3, "g").to_bytes().unwrap())
    );
    assert_eq!(store.records().count(), 10);
    NodeStore::flush(&mut store).unwrap();
    assert_eq!(store.pending_writes(), 0);
    // A user write is durable, and so makes everything before it durable.
    RecordStore::put(&mut store, user(20, "g").to_record().unwrap()).unwrap();
    store
        .put_local(user(21, "mine").to_record().unwrap())
        .unwrap();
    assert_eq!(store.pending_writes(), 0);
}

#[test]
fn a_deferred_flush_leaves_the_commit_to_its_job() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = grouped_store(&dir, 1000);
    assert!(store.flush_deferred().unwrap().is_done(), "nothing pending");
    RecordStore::put(&mut store, user(1, "g").to_record().unwrap()).unwrap();
    let job = store.flush_deferred().unwrap();
    assert!(!job.is_done());
    assert_eq!(store.pending_writes(), 1, "the job has not run yet");
    // The node runs the job on a blocking thread.
    std::thread::spawn(move || job.wait())
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(store.pending_writes(), 0, "the job committed the group");
    assert!(store.flush_deferred().unwrap().is_done());
}

#[test]
fn the_group_is_committed_when_full() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = grouped_store(&dir, 4);
    for i in 0..3 {
        RecordStore::put(&mut store, user(i, "g").to_record().unwrap()).unwrap();
    }
    assert_eq!(store.pending_writes(), 3);
    RecordStore::put(&mut store, user(3, "g").to_record().unwrap()).unwrap();
    assert_eq!(
        store.pending_writes(),
        0,
        "the fourth write committed the group"
    );
}

#[test]
fn the_background_thread_commits_after_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = builder()
        .set_group_commit(GroupCommit::new(Duration::from_millis(20), 1000))
        .create(dir.path().join("s.redb"))
        .unwrap();
    RecordStore::put(&mut store, user(1, "g").to_record().unwrap()).unwrap();
    // Bounded wait for the flush thread; the assertion is on what happened, not on timing.
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.pending_writes() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(store.pending_writes(), 0);
}

#[test]
fn immediate_network_durability_commits_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = builder()
        .set_network_durability(Durability::Immediate)
        .create(dir.path().join("s.redb"))
        .unwrap();
    RecordStore::put(&mut store, user(1, "g").to_record().unwrap()).unwrap();
    assert_eq!(store.pending_writes(), 0);
    assert_eq!(store.storage_errors(), 0);
}

#[test]
fn records_page_walks_one_prefix_in_key_order_from_a_cursor() {
    let mut store = memory_store();
    for id in 0..10 {
        store.put_local(user(id, "u").to_record().unwrap()).unwrap();
    }
    store.put_local(raw(b"/a/before/1", b"x")).unwrap();
    store.put_local(raw(b"/z/after/1", b"x")).unwrap();
    let prefix = user(0, "u").to_record().unwrap().key.as_ref()[..].to_vec();
    let prefix = &prefix[..prefix.len() - 1];

    let mut walked = Vec::new();
    let mut after: Option<RecordKey> = None;
    loop {
        let page = store.records_page(after.as_ref(), prefix, 3).unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.key.clone());
        walked.extend(page.into_iter().map(|record| record.key.to_vec()));
    }
    let mut expected: Vec<Vec<u8>> = (0..10)
        .map(|id| user(id, "u").to_record().unwrap().key.to_vec())
        .collect();
    expected.sort();
    assert_eq!(walked, expected);

    // A cursor that sorts below the prefix starts the walk at the prefix.
    let below = RecordKey::new(&b"/a/before/1");
    assert_eq!(
        store.records_page(Some(&below), prefix, 100).unwrap().len(),
        10
    );
}

#[test]
fn the_node_tells_the_store_its_peer_id_for_provided_records() {
    let mut store = memory_store();
    let provider = |key: &[u8]| {
        netabase_store::kad::ProviderRecord::new(RecordKey::new(&key), peer(7), vec![])
    };
    store.add_provider(provider(b"/x/y/before")).unwrap();
    assert_eq!(store.provided().count(), 0, "no local peer id yet");
    NodeStore::set_local_peer(&mut store, peer(7));
    store.add_provider(provider(b"/x/y/after")).unwrap();
    let provided: Vec<_> = store.clone().provided().map(|p| p.key.to_vec()).collect();
    assert_eq!(
        provided,
        vec![b"/x/y/after".to_vec()],
        "clones share the peer id"
    );
}
