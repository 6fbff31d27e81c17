//! Netabase nodes in one process over loopback TCP and the memory transport: put and get across
//! nodes, restarts from the redb file, conflicts, expiry and nodes leaving.

use std::num::NonZeroUsize;
use std::time::Duration;

use crate::support::*;
use libp2p::multiaddr::Protocol;
use netabase_store::NetabaseSchema;
use netabase_store::kad::Quorum;
use netabase_store::{
    Identity, Node, NodeError, NodeEvent, RecordSource, RefusalReason, SyncOptions,
    identity_path_beside,
};

fn profile(id: u64, name: &str) -> Profile {
    Profile {
        id,
        name: name.into(),
    }
}

async fn two_nodes_put_get(net: Net) {
    let nodes = start_network(2, net, |_| {}).await;
    // The second node joined through the first's address on the transport under test.
    let joined_over = nodes[0].addr.iter().find_map(|protocol| match protocol {
        Protocol::Tcp(_) => Some(Net::Tcp),
        Protocol::Memory(_) => Some(Net::Memory),
        Protocol::QuicV1 => Some(Net::Quic),
        _ => None,
    });
    assert_eq!(joined_over, Some(net), "{}", nodes[0].addr);
    let (a, b) = (&nodes[0].handle, &nodes[1].handle);
    let alice = profile(1, "alice");
    within("put", a.put(&alice, Quorum::One))
        .await
        .expect("put reaches one peer");

    // The typed value arrives on the other node, and a complete lookup finds it too.
    assert_eq!(
        within("get", b.get::<Profile>(&ProfileKey(1)))
            .await
            .unwrap(),
        alice
    );
    assert_eq!(
        within(
            "get from network",
            b.get_from_network::<Profile>(&ProfileKey(1))
        )
        .await
        .unwrap(),
        alice
    );
    // A key nobody wrote is NotFound, not an empty value.
    let missing = within("get missing", b.get::<Profile>(&ProfileKey(99))).await;
    assert!(
        matches!(missing, Err(NodeError::NotFound { .. })),
        "{missing:?}"
    );
    stop_all(nodes).await;
}

#[tokio::test]
async fn two_nodes_put_and_get_over_loopback_tcp() {
    two_nodes_put_get(Net::Tcp).await;
}

#[tokio::test]
async fn two_nodes_put_and_get_over_the_memory_transport() {
    two_nodes_put_get(Net::Memory).await;
}

#[tokio::test]
async fn two_nodes_put_and_get_over_loopback_quic() {
    two_nodes_put_get(Net::Quic).await;
}

#[tokio::test]
async fn a_value_put_on_node_0_is_read_on_node_9() {
    // Nine nodes hold the network; node 9 joins afterwards, so it holds no replica and must fetch
    // the value through the DHT.
    let mut nodes = start_network(9, Net::Tcp, |_| {}).await;
    let value = profile(42, "the answer");
    within("put", nodes[0].handle.put(&value, Quorum::All))
        .await
        .expect("every closest peer stores it");

    let late = start_node(fast_config(Net::Tcp), memory_store(), Some(&nodes[4])).await;
    nodes.push(late);
    connect_all(&nodes).await;
    let node9 = &nodes[9].handle;
    assert_eq!(
        within(
            "local read on node 9",
            node9.get_local::<Profile>(&ProfileKey(42))
        )
        .await
        .unwrap(),
        None,
        "node 9 joined after the put and holds no replica"
    );
    assert_eq!(
        within("get on node 9", node9.get::<Profile>(&ProfileKey(42)))
            .await
            .unwrap(),
        value
    );
    // The value came from a peer and is now stored locally.
    let record_key =
        <Profile as netabase_store::NetabaseSchema>::record_key(&ProfileKey(42)).unwrap();
    let local = within("local record", node9.get_local_record(&record_key))
        .await
        .unwrap();
    assert!(local.is_some(), "the fetched value is kept locally");
    // Every other node answers too.
    for node in &nodes[1..9] {
        assert_eq!(
            within("get", node.handle.get::<Profile>(&ProfileKey(42)))
                .await
                .unwrap(),
            value
        );
    }
    stop_all(nodes).await;
}

#[tokio::test]
async fn a_restarted_node_serves_its_records_and_keeps_its_peer_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    let mut config = fast_config(Net::Tcp);
    config.set_identity(Identity::File(identity_path_beside(&path)));

    let first = start_node(config.clone(), file_store(&path), None).await;
    let peer_id = first.handle.peer_id();
    let helper = start_node(fast_config(Net::Tcp), memory_store(), Some(&first)).await;
    let nodes = vec![first, helper];
    connect_all(&nodes).await;
    let values: Vec<Profile> = (0..3).map(|id| profile(id, "kept")).collect();
    for value in &values {
        within("put", nodes[0].handle.put(value, Quorum::One))
            .await
            .expect("put");
    }
    stop_all(nodes).await;

    // Only the file and the identity beside it survive; the helper and its replicas are gone.
    let restarted = start_node(config, file_store(&path), None).await;
    assert_eq!(
        restarted.handle.peer_id(),
        peer_id,
        "same identity file, same peer id"
    );
    let fresh = start_node(fast_config(Net::Tcp), memory_store(), Some(&restarted)).await;
    let nodes = vec![restarted, fresh];
    connect_all(&nodes).await;
    for value in &values {
        let key = <Profile as netabase_store::NetabaseSchema>::record_key(&value.key()).unwrap();
        let fetched = within("get", nodes[1].handle.get_record(&key))
            .await
            .expect("the restarted node serves its record");
        assert_eq!(fetched.source, RecordSource::Peer(peer_id));
        assert!(
            fetched.queried_peers >= 1,
            "the lookup counts the peer it asked"
        );
        // The answer was stored: the next get is answered locally, asking no one.
        let again = within("get", nodes[1].handle.get_record(&key))
            .await
            .expect("stored locally");
        assert_eq!(
            (again.source, again.queried_peers),
            (RecordSource::Local, 0)
        );
        assert_eq!(
            within("typed get", nodes[1].handle.get::<Profile>(&value.key()))
                .await
                .unwrap(),
            *value
        );
    }
    stop_all(nodes).await;
}

#[tokio::test]
async fn conflicting_writes_converge_on_every_node_after_sync() {
    let nodes = start_network(4, Net::Tcp, |_| {}).await;
    let (n1, n2) = (&nodes[1].handle, &nodes[2].handle);
    let page = |slug: &str, version, body: &str| Page {
        slug: slug.into(),
        version,
        body: body.into(),
    };
    // Version rule: the higher version wins whoever writes it and in whatever order.
    let a_winner = page("a", 2, "node 1");
    let a_loser = page("a", 1, "node 2");
    let b_loser = page("b", 1, "node 1");
    let b_winner = page("b", 3, "node 2");
    // Byte-order rule: the greater encoding wins.
    let (p1, p2) = (profile(7, "apple"), profile(7, "banana"));
    let p_winner = if p1.to_bytes().unwrap() > p2.to_bytes().unwrap() {
        p1.clone()
    } else {
        p2.clone()
    };
    // A losing write is refused honestly: by its writer if the winner arrived there first, or
    // by the peers holding the winner. Either way it must say that it lost.
    let lost_or_stored = |result: Result<_, NodeError>| match result {
        Ok(_) | Err(NodeError::StaleWrite { .. }) => {}
        Err(NodeError::QuorumFailed { report, .. })
            if report
                .refused
                .iter()
                .all(|refusal| refusal.reason == RefusalReason::LostConflict) => {}
        Err(other) => panic!("a conflicting put failed for another reason: {other}"),
    };
    within("conflicting puts", async {
        tokio::join!(
            async {
                lost_or_stored(n1.put(&a_winner, Quorum::One).await);
                lost_or_stored(n1.put(&b_loser, Quorum::One).await);
                lost_or_stored(n1.put(&p1, Quorum::One).await);
            },
            async {
                lost_or_stored(n2.put(&a_loser, Quorum::One).await);
                lost_or_stored(n2.put(&b_winner, Quorum::One).await);
                lost_or_stored(n2.put(&p2, Quorum::One).await);
            }
        )
    })
    .await;

    let options = SyncOptions::new();
    for node in &nodes {
        within("sync to network", node.handle.sync_to_network(&options))
            .await
            .expect("sync to network");
    }
    for node in &nodes {
        let report = within("sync from network", node.handle.sync_from_network(&options))
            .await
            .expect("sync from network");
        assert_eq!(report.failed, 0, "{report:?}");
    }
    for node in &nodes {
        let h = &node.handle;
        assert_eq!(
            h.get_local::<Page>(&PageKey("a".into())).await.unwrap(),
            Some(a_winner.clone())
        );
        assert_eq!(
            h.get_local::<Page>(&PageKey("b".into())).await.unwrap(),
            Some(b_winner.clone())
        );
        assert_eq!(
            h.get_local::<Profile>(&ProfileKey(7)).await.unwrap(),
            Some(p_winner.clone())
        );
    }
    stop_all(nodes).await;
}

#[tokio::test]
async fn an_expired_record_disappears_from_every_node() {
    let nodes = start_network(4, Net::Memory, |_| {}).await;
    let mut events = nodes[3].handle.subscribe();
    let value = profile(5, "short-lived");
    within(
        "put",
        nodes[0]
            .handle
            .put_expiring(&value, Quorum::All, Duration::from_secs(4)),
    )
    .await
    .expect("put");
    for node in &nodes {
        eventually("the replica arrives", || async {
            node.handle
                .get_local::<Profile>(&ProfileKey(5))
                .await
                .unwrap()
                .map(drop)
        })
        .await;
    }
    for node in &nodes {
        eventually("the record expires everywhere", || async {
            match node.handle.get::<Profile>(&ProfileKey(5)).await {
                Err(NodeError::NotFound { .. }) => Some(()),
                Ok(_) => None,
                Err(error) => panic!("unexpected error: {error}"),
            }
        })
        .await;
    }
    for node in &nodes {
        eventually("the sweep removes it from the store", || async {
            let stats = node.handle.stats().await.unwrap();
            (stats.records_expired >= 1).then_some(())
        })
        .await;
    }
    let swept = within("expiry event", async {
        loop {
            if let Ok(NodeEvent::RecordsExpired { count }) = events.recv().await {
                return count;
            }
        }
    })
    .await;
    assert!(swept >= 1);
    stop_all(nodes).await;
}

#[tokio::test]
async fn records_stay_reachable_when_their_publisher_leaves() {
    let mut nodes = start_network(5, Net::Memory, |config| {
        config.set_replication_factor(NonZeroUsize::new(3).unwrap());
    })
    .await;
    let value = profile(9, "replicated");
    within("put", nodes[0].handle.put(&value, Quorum::All))
        .await
        .expect("put");
    let leaver = nodes.remove(0);
    leaver.stop().await;

    // A node that joins now holds nothing and must find a remaining replica.
    let late = start_node(fast_config(Net::Memory), memory_store(), Some(&nodes[0])).await;
    nodes.push(late);
    let late = &nodes.last().unwrap().handle;
    within("bootstrap", late.bootstrap())
        .await
        .expect("bootstrap");
    assert_eq!(
        late.get_local::<Profile>(&ProfileKey(9)).await.unwrap(),
        None
    );
    assert_eq!(
        within("get", late.get::<Profile>(&ProfileKey(9)))
            .await
            .unwrap(),
        value
    );
    stop_all(nodes).await;
}

#[tokio::test]
async fn operations_fail_with_errors_that_say_what_happened() {
    let nodes = start_network(1, Net::Tcp, |_| {}).await;
    let node = &nodes[0].handle;
    let value = profile(1, "alone");

    // With no peer, a put is still durable locally but reports the missed quorum.
    let put = within("put", node.put(&value, Quorum::One)).await;
    match &put {
        Err(NodeError::QuorumUnreachable { needed: 1, report }) => {
            assert_eq!((report.peers_found, report.reached()), (0, 0));
        }
        other => panic!("expected QuorumUnreachable, got {other:?}"),
    }
    assert_eq!(
        node.get_local::<Profile>(&value.key()).await.unwrap(),
        Some(value)
    );
    let bootstrap = within("bootstrap", node.bootstrap()).await;
    assert!(
        matches!(bootstrap, Err(NodeError::NoKnownPeers)),
        "{bootstrap:?}"
    );

    // A port nobody listens on: a socket bound to it but not listening refuses connections, and
    // holds the port so that no other test's listener can take it meanwhile.
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = closed.local_addr().unwrap().port();
    let dial = within(
        "dial",
        node.dial(format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()),
    )
    .await;
    assert!(matches!(dial, Err(NodeError::Dial { .. })), "{dial:?}");

    // Values over the node's limit are refused before anything is stored.
    let big = profile(2, &"x".repeat(netabase_store::DEFAULT_MAX_VALUE_SIZE + 1));
    let put = within("put", node.put(&big, Quorum::One)).await;
    assert!(
        matches!(put, Err(NodeError::ValueTooLarge { .. })),
        "{put:?}"
    );
    assert_eq!(node.get_local::<Profile>(&big.key()).await.unwrap(), None);
    // A record expiring before peers would accept it is refused too.
    let put = within(
        "put",
        node.put_expiring(
            &profile(3, "brief"),
            Quorum::One,
            Duration::from_millis(500),
        ),
    )
    .await;
    assert!(
        matches!(put, Err(NodeError::ExpiresTooSoon { .. })),
        "{put:?}"
    );

    let handle = node.clone();
    stop_all(nodes).await;
    // After shutdown every handle says the node stopped.
    let after = handle.stats().await;
    assert!(matches!(after, Err(NodeError::Stopped)), "{after:?}");
}

#[tokio::test]
async fn syncs_walk_the_store_in_pages_and_report_progress() {
    let mut nodes = start_network(2, Net::Memory, |_| {}).await;
    let values: Vec<Profile> = (0..25).map(|id| profile(id, "paged")).collect();
    for value in &values {
        within("put", nodes[0].handle.put(value, Quorum::One))
            .await
            .expect("put");
    }
    let mut options = SyncOptions::new();
    options
        .set_batch_size(4)
        .set_concurrency(3)
        .set_schema::<Profile>();
    let report = within("sync to network", nodes[0].handle.sync_to_network(&options))
        .await
        .expect("sync");
    assert_eq!(
        (report.processed, report.published, report.failed),
        (25, 25, 0)
    );

    // A node that joins later pulls the keys it is told about.
    let late = start_node(fast_config(Net::Memory), memory_store(), Some(&nodes[0])).await;
    nodes.push(late);
    connect_all(&nodes).await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let progress = seen.clone();
    let keys = values
        .iter()
        .map(|value| Profile::record_key(&value.key()).unwrap())
        .collect();
    options
        .set_keys(keys)
        .set_progress(move |p| progress.lock().unwrap().push(p));
    let report = within(
        "sync from network",
        nodes[2].handle.sync_from_network(&options),
    )
    .await
    .expect("sync");
    assert_eq!(
        (report.processed, report.updated, report.failed),
        (25, 25, 0)
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 25);
    assert_eq!(
        seen.last().map(|p| (p.processed, p.total)),
        Some((25, Some(25)))
    );
    for value in &values {
        assert_eq!(
            nodes[2]
                .handle
                .get_local::<Profile>(&value.key())
                .await
                .unwrap()
                .as_ref(),
            Some(value)
        );
    }
    // Run again: everything is already the winner.
    let report = within(
        "sync again",
        nodes[2].handle.sync_from_network(&SyncOptions::new()),
    )
    .await
    .expect("sync");
    assert_eq!((report.processed, report.unchanged), (25, 25));
    stop_all(nodes).await;
}

#[tokio::test]
async fn the_republish_job_reaches_peers_that_joined_later() {
    let no_handoff = |config: &mut netabase_store::NodeConfig| {
        config
            .set_republish_interval(Some(Duration::from_secs(1)))
            .set_handoff_interval(None);
    };
    let mut nodes = start_network(2, Net::Memory, no_handoff).await;
    let mut events = nodes[0].handle.subscribe();
    let value = profile(21, "republished");
    within("put", nodes[0].handle.put(&value, Quorum::One))
        .await
        .expect("put");

    // The late node is told nothing; only the publisher's republication brings it the record.
    let mut config = fast_config(Net::Memory);
    no_handoff(&mut config);
    let late = start_node(config, memory_store(), Some(&nodes[1])).await;
    nodes.push(late);
    connect_all(&nodes).await;
    eventually("the republication reaches the late node", || async {
        nodes[2]
            .handle
            .get_local::<Profile>(&value.key())
            .await
            .unwrap()
    })
    .await;
    let key = within("republished event", async {
        loop {
            if let Ok(NodeEvent::Republished { key, ok: true }) = events.recv().await {
                return key;
            }
        }
    })
    .await;
    assert_eq!(key, Profile::record_key(&value.key()).unwrap());
    assert!(nodes[0].handle.stats().await.unwrap().republished >= 1);
    stop_all(nodes).await;
}

#[tokio::test]
async fn dropping_every_handle_stops_the_node() {
    let (handle, task) = Node::spawn(fast_config(Net::Memory), memory_store())
        .await
        .expect("spawn");
    let clone = handle.clone();
    drop(handle);
    assert!(
        clone.stats().await.is_ok(),
        "a clone keeps the node running"
    );
    drop(clone);
    within("node task ends", task).await.expect("clean exit");
}
