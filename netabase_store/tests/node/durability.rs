//! "Durable locally, then published": a user's put may look up the closest peers while its local
//! write becomes durable, but the record never reaches a peer before the write is durable, a write
//! that cannot be made durable is never published, and shutdown waits for writes in flight.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::support::*;
use netabase_store::kad::store::{RecordStore, Result as StoreResult};
use netabase_store::kad::{ProviderRecord, Quorum, Record, RecordKey};
use netabase_store::{
    DatabaseError, DatabaseResult, NetabaseSchema, Node, NodeConfig, NodeError, NodeStore, PeerId,
    PendingDurability, RedbStore, SchemaRegistry,
};

/// What the stores saw, in the order they saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// A publisher's deferred write became durable.
    Durable(RecordKey),
    /// A record arrived at a receiver through kad.
    Received(RecordKey),
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// A `RedbStore` that logs records arriving through kad, and whose deferred writes become durable
/// only after `delay` (or fail, when `fail` is set), logging when they did.
struct Observed {
    inner: RedbStore,
    log: Log,
    delay: Duration,
    fail: Arc<AtomicBool>,
}

impl Observed {
    fn new(inner: RedbStore, log: &Log, delay: Duration) -> Self {
        Observed {
            inner,
            log: log.clone(),
            delay,
            fail: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl RecordStore for Observed {
    type RecordsIter<'a> = <RedbStore as RecordStore>::RecordsIter<'a>;
    type ProvidedIter<'a> = <RedbStore as RecordStore>::ProvidedIter<'a>;

    fn get(&self, key: &RecordKey) -> Option<Cow<'_, Record>> {
        RecordStore::get(&self.inner, key)
    }

    fn put(&mut self, record: Record) -> StoreResult<()> {
        self.log
            .lock()
            .unwrap()
            .push(Seen::Received(record.key.clone()));
        RecordStore::put(&mut self.inner, record)
    }

    fn remove(&mut self, key: &RecordKey) {
        RecordStore::remove(&mut self.inner, key)
    }

    fn records(&self) -> Self::RecordsIter<'_> {
        self.inner.records()
    }

    fn add_provider(&mut self, record: ProviderRecord) -> StoreResult<()> {
        self.inner.add_provider(record)
    }

    fn providers(&self, key: &RecordKey) -> Vec<ProviderRecord> {
        self.inner.providers(key)
    }

    fn provided(&self) -> Self::ProvidedIter<'_> {
        self.inner.provided()
    }

    fn remove_provider(&mut self, key: &RecordKey, provider: &PeerId) {
        self.inner.remove_provider(key, provider)
    }
}

impl NodeStore for Observed {
    fn registry(&self) -> &SchemaRegistry {
        NodeStore::registry(&self.inner)
    }

    fn put_local(&mut self, record: Record) -> DatabaseResult<()> {
        self.inner.put_local(record)
    }

    fn put_local_deferred(
        &mut self,
        record: Record,
        republish_at: Option<SystemTime>,
    ) -> DatabaseResult<PendingDurability> {
        let key = record.key.clone();
        let job = self.inner.put_local_deferred(record, republish_at)?;
        let (log, delay, fail) = (self.log.clone(), self.delay, self.fail.clone());
        Ok(PendingDurability::new(move || {
            std::thread::sleep(delay);
            if fail.load(Ordering::SeqCst) {
                return Err(DatabaseError::Storage("injected fsync failure".into()));
            }
            job.wait()?;
            log.lock().unwrap().push(Seen::Durable(key));
            Ok(())
        }))
    }

    fn get_local(&self, key: &RecordKey) -> DatabaseResult<Option<Record>> {
        self.inner.get_local(key)
    }

    fn remove_local(&mut self, key: &RecordKey) -> DatabaseResult<()> {
        self.inner.remove_local(key)
    }

    fn flush(&mut self) -> DatabaseResult<()> {
        NodeStore::flush(&mut self.inner)
    }

    fn remove_expired(&mut self, now: Instant) -> DatabaseResult<usize> {
        self.inner.remove_expired(now)
    }

    fn schedule_republish(&mut self, key: &RecordKey, at: SystemTime) -> DatabaseResult<()> {
        self.inner.schedule_republish(key, at)
    }

    fn due_for_republish(&self, now: SystemTime, limit: usize) -> DatabaseResult<Vec<Record>> {
        self.inner.due_for_republish(now, limit)
    }

    fn scheduled_for_republish(&self) -> DatabaseResult<u64> {
        self.inner.scheduled_for_republish()
    }

    fn storage_errors(&self) -> u64 {
        self.inner.storage_errors()
    }
}

fn profile(id: u64) -> Profile {
    Profile {
        id,
        name: format!("profile {id}"),
    }
}

fn key_of(value: &Profile) -> RecordKey {
    Profile::record_key(&value.key()).expect("record key")
}

/// A publisher whose puts become durable `delay` after their write, and a receiver, both on
/// memory stores sharing one log.
async fn publisher_and_receiver(delay: Duration) -> (Log, Arc<AtomicBool>, Running, Running) {
    let log: Log = Arc::default();
    let receiver_store = Observed::new(memory_store(), &log, Duration::ZERO);
    let (receiver, receiver_task) = within(
        "spawn",
        Node::spawn(fast_config(Net::Memory), receiver_store),
    )
    .await
    .expect("receiver starts");
    let receiver_addr = within("listeners", receiver.listeners())
        .await
        .unwrap()
        .remove(0);
    let publisher_store = Observed::new(memory_store(), &log, delay);
    let fail = publisher_store.fail.clone();
    let mut config = fast_config(Net::Memory);
    config.add_bootstrap_peer(receiver.peer_id(), receiver_addr);
    let (publisher, publisher_task) = within("spawn", Node::spawn(config, publisher_store))
        .await
        .expect("publisher starts");
    let receiver_id = receiver.peer_id();
    eventually("the publisher knows the receiver", || async {
        let peers = publisher.connected_peers().await.unwrap();
        peers.contains(&receiver_id).then_some(())
    })
    .await;
    (
        log,
        fail,
        Running(publisher, publisher_task),
        Running(receiver, receiver_task),
    )
}

/// A handle and its task.
struct Running(netabase_store::NodeHandle, tokio::task::JoinHandle<()>);

impl Running {
    async fn stop(self) {
        within("shutdown", self.0.shutdown())
            .await
            .expect("shutdown");
        within("task", self.1).await.expect("task");
    }
}

fn position(log: &Log, seen: &Seen) -> Option<usize> {
    log.lock().unwrap().iter().position(|entry| entry == seen)
}

#[tokio::test]
async fn a_put_reaches_peers_only_after_its_local_write_is_durable() {
    // The durable step takes far longer than the lookup and the put to the peer, so a node that
    // published without waiting for it would be caught.
    let (log, _, publisher, receiver) = publisher_and_receiver(Duration::from_millis(300)).await;
    let value = profile(1);
    within("put", publisher.0.put(&value, Quorum::One))
        .await
        .expect("put");
    let key = key_of(&value);
    let received = eventually("the receiver gets the record", || async {
        position(&log, &Seen::Received(key.clone()))
    })
    .await;
    let durable = position(&log, &Seen::Durable(key.clone()))
        .expect("the put returned, so its write is durable");
    assert!(
        durable < received,
        "published before durable: {:?}",
        log.lock().unwrap()
    );
    assert_eq!(
        within("get", receiver.0.get::<Profile>(&value.key()))
            .await
            .unwrap(),
        value
    );
    publisher.stop().await;
    receiver.stop().await;
}

#[tokio::test]
async fn a_write_that_cannot_be_made_durable_is_not_published() {
    let (log, fail, publisher, receiver) = publisher_and_receiver(Duration::from_millis(50)).await;
    fail.store(true, Ordering::SeqCst);
    let lost = profile(2);
    let put = within("put", publisher.0.put(&lost, Quorum::One)).await;
    assert!(
        matches!(put, Err(NodeError::Database(DatabaseError::Storage(_)))),
        "{put:?}"
    );
    // A later put goes through; by the time it arrives, the failed one would have too.
    fail.store(false, Ordering::SeqCst);
    let kept = profile(3);
    within("put", publisher.0.put(&kept, Quorum::One))
        .await
        .expect("put");
    eventually("the receiver gets the second record", || async {
        position(&log, &Seen::Received(key_of(&kept)))
    })
    .await;
    assert_eq!(position(&log, &Seen::Received(key_of(&lost))), None);
    assert_eq!(
        receiver.0.get_local_record(&key_of(&lost)).await.unwrap(),
        None
    );
    publisher.stop().await;
    receiver.stop().await;
}

#[tokio::test]
async fn a_put_returns_with_its_republish_schedule_durable() {
    // No sweeps and no flush job, so nothing but the put writes to the publisher's store.
    let configure = |config: &mut NodeConfig| {
        config
            .set_expiry_sweep_interval(Duration::MAX)
            .set_flush_interval(Duration::MAX);
    };
    let mut config = fast_config(Net::Memory);
    configure(&mut config);
    let receiver = start_node(config, memory_store(), None).await;
    let store = memory_store();
    let mut config = fast_config(Net::Memory);
    configure(&mut config);
    let publisher = start_node(config, store.clone(), Some(&receiver)).await;
    // `connect_all` bootstraps every node but the first, which has no peer to start from.
    let nodes = vec![receiver, publisher];
    connect_all(&nodes).await;
    let value = profile(4);
    within("put", nodes[1].handle.put(&value, Quorum::One))
        .await
        .expect("put");
    assert_eq!(
        store.pending_writes(),
        0,
        "the record and its republish schedule are durable when the put returns"
    );
    assert!(store.republish_time(&key_of(&value)).unwrap().is_some());
    drop(store);
    stop_all(nodes).await;
}

#[tokio::test]
async fn a_local_remove_returns_once_durable_without_the_swarm_waiting_for_it() {
    // Nothing but the node's own calls makes the file's writes durable: no background thread,
    // no group commit window within the test, no flush job, no sweeps.
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::builder()
        .register::<Profile>()
        .register::<Page>()
        .set_background_flush(false)
        .set_group_commit(netabase_store::GroupCommit::new(
            Duration::from_secs(3600),
            1000,
        ))
        .create(dir.path().join("node.redb"))
        .unwrap();
    let mut config = fast_config(Net::Memory);
    config
        .set_expiry_sweep_interval(Duration::MAX)
        .set_flush_interval(Duration::MAX);
    let node = start_node(config, store.clone(), None).await;
    let value = profile(8);
    // Alone, the put reaches no quorum, but it is stored (and durable) first.
    let _ = within("put", node.handle.put(&value, Quorum::One)).await;
    assert!(store.get_local(&key_of(&value)).unwrap().is_some());
    within("remove", node.handle.remove_local::<Profile>(&value.key()))
        .await
        .expect("remove");
    assert_eq!(store.get_local(&key_of(&value)).unwrap(), None);
    assert_eq!(
        store.pending_writes(),
        0,
        "the removal is durable when the call returns"
    );
    drop(store);
    node.stop().await;
}

#[tokio::test]
async fn shutdown_waits_for_a_write_becoming_durable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    let log: Log = Arc::default();
    let store = Observed::new(file_store(&path), &log, Duration::from_millis(500));
    let (handle, task) = within("spawn", Node::spawn(fast_config(Net::Memory), store))
        .await
        .expect("spawn");
    let value = profile(5);
    let putter = handle.clone();
    let put_value = value.clone();
    let put = tokio::spawn(async move { putter.put(&put_value, Quorum::One).await });
    eventually("the write is visible", || async {
        handle.get_local_record(&key_of(&value)).await.unwrap()
    })
    .await;
    within("shutdown", handle.shutdown())
        .await
        .expect("shutdown");
    // The durability job was done, and had let go of the store, before shutdown returned.
    assert_eq!(position(&log, &Seen::Durable(key_of(&value))), Some(0));
    let reopened = file_store(&path);
    assert!(
        reopened.get_local(&key_of(&value)).unwrap().is_some(),
        "the write is durable"
    );
    let put = within("put", put).await.expect("put task");
    assert!(matches!(put, Err(NodeError::Stopped)), "{put:?}");
    within("task", task).await.expect("task");
}

#[test]
fn redb_store_defers_only_the_durable_step_of_a_users_write() {
    let builder = || {
        let mut builder = RedbStore::builder();
        builder.register::<Profile>();
        builder
    };
    let dir = tempfile::tempdir().unwrap();
    let mut store = builder().create(dir.path().join("s.redb")).unwrap();
    let record = profile(6).to_record().unwrap();
    let republish_at = SystemTime::UNIX_EPOCH + Duration::from_secs(4_000_000_000);
    let job = store
        .put_local_deferred(record.clone(), Some(republish_at))
        .unwrap();
    assert!(!job.is_done());
    assert_eq!(
        store.republish_time(&record.key).unwrap(),
        Some(republish_at),
        "scheduled with the write"
    );
    assert_eq!(
        store
            .get_local(&record.key)
            .unwrap()
            .map(|found| found.value),
        Some(record.value.clone()),
        "visible at once"
    );
    assert_eq!(
        store.pending_writes(),
        1,
        "record and schedule are one write, not durable yet"
    );
    job.wait().unwrap();
    assert_eq!(store.pending_writes(), 0, "durable once the job ran");

    // A removal is deferred the same way: gone from reads at once, durable once its job ran.
    let job = store.remove_local_deferred(&record.key).unwrap();
    assert!(!job.is_done());
    assert_eq!(store.get_local(&record.key).unwrap(), None, "gone at once");
    assert_eq!(store.republish_time(&record.key).unwrap(), None);
    assert_eq!(store.pending_writes(), 1, "not durable yet");
    job.wait().unwrap();
    assert_eq!(store.pending_writes(), 0, "durable once the job ran");

    // A store whose user writes are grouped leaves the write to the group commit, as put_local.
    let mut grouped = builder()
        .set_user_durability(netabase_store::Durability::Grouped)
        .create(dir.path().join("grouped.redb"))
        .unwrap();
    let job = grouped.put_local_deferred(record.clone(), None).unwrap();
    assert!(job.is_done());
    assert_eq!(grouped.pending_writes(), 1);

    // In memory there is no fsync to overlap: one commit, as put_local, and no job.
    let mut memory = builder().in_memory().unwrap();
    let job = memory
        .put_local_deferred(record.clone(), Some(republish_at))
        .unwrap();
    assert!(job.is_done());
    assert_eq!(memory.pending_writes(), 0);
    assert!(memory.get_local(&record.key).unwrap().is_some());
    assert_eq!(
        memory.republish_time(&record.key).unwrap(),
        Some(republish_at)
    );
    assert!(memory.remove_local_deferred(&record.key).unwrap().is_done());
    assert_eq!(memory.get_local(&record.key).unwrap(), None);
}
