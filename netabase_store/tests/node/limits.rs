//! A node under conditions that are unusual but legal: peers that connect and never speak, lookups
//! that outlast a record's lifetime, nodes without a record TTL, durations of "forever", and a
//! store full of expired records.

use std::io::Read;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use crate::support::*;
use netabase_store::kad::{Quorum, RecordKey};
use netabase_store::{
    NetabaseSchema, Node, NodeError, NodeEvent, NodeStore, PeerId, RedbStore, SyncOptions,
};

fn profile(id: u64, name: &str) -> Profile {
    Profile {
        id,
        name: name.into(),
    }
}

fn key_of(value: &Profile) -> RecordKey {
    Profile::record_key(&value.key()).expect("record key")
}

#[tokio::test]
async fn peers_that_never_finish_a_handshake_are_dropped() {
    let mut config = fast_config(Net::Tcp);
    config
        .set_connection_timeout(Duration::from_millis(500))
        .set_operation_timeout(Duration::from_secs(10));
    let node = start_node(config, memory_store(), None).await;

    // Outbound: a dial to a peer that accepts TCP and then stays silent fails once the connection
    // timeout has passed, rather than staying pending (and unanswered) forever.
    let silent = SilentListener::start();
    let dial = within("dial a silent peer", node.handle.dial(silent.addr.clone())).await;
    assert!(matches!(dial, Err(NodeError::Dial { .. })), "{dial:?}");

    // Inbound: a client that connects and never speaks is disconnected by the node.
    let port = tcp_port(&node.addr);
    let closed = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut buffer = [0u8; 256];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => return Ok(()),
                Ok(_) => continue,
                Err(error) => return Err(error),
            }
        }
    });
    let closed = within("the node closes a silent connection", closed)
        .await
        .expect("reader thread");
    match closed {
        Ok(()) => {}
        Err(error) => assert!(
            !matches!(
                error.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "the node kept a silent connection open: {error}"
        ),
    }
    // The node still serves.
    assert!(within("stats", node.handle.stats()).await.is_ok());
    node.stop().await;
}

#[tokio::test]
async fn replicas_keep_a_records_expiry_on_nodes_without_a_record_ttl() {
    let nodes = start_network(3, Net::Memory, |config| {
        config.set_record_ttl(None);
    })
    .await;
    let value = profile(31, "expires in a minute");
    let ttl = Duration::from_secs(60);
    within(
        "put",
        nodes[0].handle.put_expiring(&value, Quorum::All, ttl),
    )
    .await
    .expect("put");
    let deadline = Instant::now() + ttl;
    for node in &nodes[1..] {
        let replica = eventually("the replica arrives", || async {
            node.handle.get_local_record(&key_of(&value)).await.unwrap()
        })
        .await;
        let expires = replica
            .expires
            .expect("a replica keeps the expiry its publisher gave it");
        assert!(expires <= deadline, "{expires:?} is after {deadline:?}");
    }
    stop_all(nodes).await;
}

#[tokio::test]
async fn a_record_that_expires_during_the_lookup_is_not_sent() {
    let honest = start_node(fast_config(Net::Tcp), memory_store(), None).await;
    // A routing table entry that never answers holds the closest-peers lookup until the query
    // timeout, so the lookup is sure to take 1.6 s.
    let silent = SilentListener::start();
    let mut config = fast_config(Net::Tcp);
    config
        .set_query_timeout(Duration::from_millis(1600))
        .set_connection_timeout(Duration::from_secs(30))
        .add_bootstrap_peer(PeerId::random(), silent.addr.clone());
    let node = start_node(config, memory_store(), Some(&honest)).await;
    let honest_id = honest.handle.peer_id();
    eventually("connected to the honest peer", || async {
        let peers = node.handle.connected_peers().await.unwrap();
        peers.contains(&honest_id).then_some(())
    })
    .await;

    // 2.5 s is enough to start publishing (2 s are needed), but 0.9 s are left when the lookup
    // ends: kad would send that as a TTL of 0 s, which peers read as "never expires".
    let value = profile(32, "brief");
    let put = within(
        "put",
        node.handle
            .put_expiring(&value, Quorum::One, Duration::from_millis(2500)),
    )
    .await;
    assert!(
        matches!(put, Err(NodeError::ExpiresTooSoon { .. })),
        "{put:?}"
    );
    within("flush", honest.handle.flush()).await.unwrap();
    let stats = honest.handle.stats().await.unwrap();
    assert_eq!(
        (stats.records_stored, stats.records_rejected.total()),
        (0, 0),
        "nothing was sent to the honest peer"
    );
    assert_eq!(
        honest
            .handle
            .get_local_record(&key_of(&value))
            .await
            .unwrap(),
        None
    );
    node.stop().await;
    honest.stop().await;
}

#[tokio::test]
async fn durations_of_forever_are_capped_not_a_panic() {
    let nodes = start_network(2, Net::Memory, |config| {
        config
            .set_record_ttl(Some(Duration::MAX))
            .set_republish_interval(Some(Duration::MAX))
            .set_republish_check_interval(Duration::MAX)
            .set_expiry_sweep_interval(Duration::MAX)
            .set_flush_interval(Duration::MAX)
            .set_idle_connection_timeout(Duration::MAX);
    })
    .await;
    let (first, second) = (&nodes[0].handle, &nodes[1].handle);
    let kept = profile(41, "kept for ever");
    within("put", first.put(&kept, Quorum::All))
        .await
        .expect("put");
    let forever = profile(42, "expires never");
    within(
        "put_expiring",
        first.put_expiring(&forever, Quorum::All, Duration::MAX),
    )
    .await
    .expect("put_expiring");
    for value in [&kept, &forever] {
        assert_eq!(
            within("get", second.get::<Profile>(&value.key()))
                .await
                .unwrap(),
            *value
        );
    }
    let report = within("sync", first.sync_to_network(&SyncOptions::new()))
        .await
        .expect("sync");
    assert_eq!(report.failed, 0, "{report:?}");
    stop_all(nodes).await;
}

#[tokio::test]
async fn the_expiry_sweep_removes_a_backlog_in_batches() {
    // Fifty records that expire a second from now, as a store holds after a long downtime.
    let mut store = memory_store();
    let expires = Instant::now() + Duration::from_secs(1);
    for id in 0..50 {
        let mut record = profile(id, "stale").to_record().unwrap();
        record.expires = Some(expires);
        store.put_local(record).expect("put_local");
    }
    let mut config = fast_config(Net::Memory);
    config
        .set_expiry_sweep_interval(Duration::from_millis(1500))
        .set_expiry_sweep_batch(10);
    let (handle, task) = within("spawn", Node::spawn(config, store))
        .await
        .expect("spawn");
    let mut events = handle.subscribe();
    let mut batches = Vec::new();
    within("every expired record is swept", async {
        while batches.iter().sum::<usize>() < 50 {
            if let Ok(NodeEvent::RecordsExpired { count }) = events.recv().await {
                batches.push(count);
            }
        }
    })
    .await;
    assert!(
        batches.iter().all(|&count| count <= 10),
        "each sweep removes at most one batch: {batches:?}"
    );
    assert_eq!(handle.stats().await.unwrap().records_expired, 50);
    within("shutdown", handle.shutdown()).await.unwrap();
    within("task", task).await.unwrap();
}

#[test]
fn the_store_sweeps_at_most_a_batch() {
    let mut store: RedbStore = memory_store();
    let expires = Instant::now() + Duration::from_millis(20);
    for id in 0..25 {
        let mut record = profile(id, "stale").to_record().unwrap();
        record.expires = Some(expires);
        store.put_local(record).unwrap();
    }
    let later = expires + Duration::from_millis(1);
    assert_eq!(store.remove_expired_batch(later, 10).unwrap(), 10);
    assert_eq!(store.remove_expired_batch(later, 10).unwrap(), 10);
    assert_eq!(store.remove_expired_batch(later, 10).unwrap(), 5);
    assert_eq!(store.remove_expired_batch(later, 10).unwrap(), 0);
    assert_eq!(store.record_count().unwrap(), 0);
}

#[tokio::test]
async fn a_republish_backlog_is_worked_off_without_waiting_for_the_next_check() {
    // Ten records due now, two republications at a time, and a check interval far longer than
    // the test: the first check takes two, and each one that finishes makes room for the next.
    let mut store = memory_store();
    let now = std::time::SystemTime::now();
    for id in 0..10 {
        let record = profile(id, "due").to_record().unwrap();
        let key = record.key.clone();
        store.put_local(record).unwrap();
        store.schedule_republish(&key, now).unwrap();
    }
    let mut config = fast_config(Net::Memory);
    config
        .set_max_background_queries(2)
        .set_republish_check_interval(Duration::from_secs(600));
    let (handle, task) = within("spawn", Node::spawn(config, store))
        .await
        .expect("spawn");
    // A lone node: every republication fails for want of peers, which still counts as done.
    let stats = eventually("every due record is republished", || async {
        let stats = handle.stats().await.unwrap();
        (stats.republished + stats.republish_failed >= 10).then_some(stats)
    })
    .await;
    assert_eq!((stats.republished, stats.republish_failed), (0, 10));
    within("shutdown", handle.shutdown()).await.unwrap();
    within("task", task).await.unwrap();
}

/// A lone node whose store holds `count` of its own records, all due now.
fn store_with_due_records(count: u64) -> RedbStore {
    let mut store = memory_store();
    let now = std::time::SystemTime::now();
    for id in 0..count {
        let record = profile(id, "due").to_record().unwrap();
        let key = record.key.clone();
        store.put_local(record).unwrap();
        store.schedule_republish(&key, now).unwrap();
    }
    store
}

/// Waits until `handle`'s node has finished `count` republications (failed ones included).
async fn republications_reach(handle: &netabase_store::NodeHandle, count: u64) {
    eventually("every due record is republished", || async {
        let stats = handle.stats().await.unwrap();
        (stats.republished + stats.republish_failed >= count).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_republish_backlog_goes_no_faster_than_the_republish_rate() {
    // Fifty due at 20 per second with room for all in flight: the first second's worth (20) at
    // once, the other 30 over at least 1.5 s. Only a lower bound: a busy machine is slower.
    let mut config = fast_config(Net::Memory);
    config
        .set_max_background_queries(100)
        .set_republish_check_interval(Duration::from_secs(600))
        .set_republish_rate(NonZeroU32::new(20));
    let started = Instant::now();
    let (handle, task) = within("spawn", Node::spawn(config, store_with_due_records(50)))
        .await
        .expect("spawn");
    republications_reach(&handle, 50).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1500),
        "50 republications at 20/s took only {elapsed:?}"
    );
    within("shutdown", handle.shutdown()).await.unwrap();
    within("task", task).await.unwrap();
}

#[tokio::test]
async fn the_republish_rate_rises_to_get_through_the_schedule_in_half_the_interval() {
    // 100 records and a 4 s interval need 50 per second; at the configured one per second they
    // would take 99 s, far beyond the test's step.
    let mut config = fast_config(Net::Memory);
    config
        .set_max_background_queries(100)
        .set_republish_interval(Some(Duration::from_secs(4)))
        .set_republish_check_interval(Duration::from_secs(600))
        .set_republish_rate(NonZeroU32::new(1));
    let (handle, task) = within("spawn", Node::spawn(config, store_with_due_records(100)))
        .await
        .expect("spawn");
    republications_reach(&handle, 100).await;
    within("shutdown", handle.shutdown()).await.unwrap();
    within("task", task).await.unwrap();
}

#[tokio::test]
async fn dialing_a_connected_peer_returns_its_id() {
    let nodes = start_network(2, Net::Tcp, |_| {}).await;
    let (first, second) = (&nodes[0].handle, &nodes[1]);
    let address = second.dial_addr();
    for _ in 0..2 {
        let dialed = within("dial", first.dial(address.clone())).await;
        assert_eq!(dialed.expect("connected"), second.handle.peer_id());
    }
    stop_all(nodes).await;
}
