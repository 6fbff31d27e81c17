//! What a put reports is true: who stored the record, who refused it and why, a quorum the
//! network cannot meet, stale local writes, and waiting until a node has peers to ask.

use std::num::NonZeroUsize;
use std::time::Duration;

use crate::support::*;
use netabase_store::kad::Quorum;
use netabase_store::{
    Acknowledgements, NetabaseSchema, Node, NodeError, PutOptions, RefusalReason, UnknownSchemas,
};

fn profile(id: u64, name: &str) -> Profile {
    Profile {
        id,
        name: name.into(),
    }
}

#[tokio::test]
async fn a_put_names_every_peer_that_validated_and_stored_it() {
    let nodes = start_network(5, Net::Memory, |_| {}).await;
    let mut options = PutOptions::new(Quorum::One);
    options.set_wait_for_all(true);
    let report = within("put", nodes[0].handle.put(&profile(1, "everyone"), options))
        .await
        .expect("put");
    assert_eq!(report.peers_found, 4);
    assert!(report.is_complete(), "{report:?}");
    let mut stored = report.stored.clone();
    stored.sort();
    let mut others: Vec<_> = nodes[1..].iter().map(|n| n.handle.peer_id()).collect();
    others.sort();
    assert_eq!(stored, others, "every other node validated and stored it");
    assert!(report.acknowledged.is_empty() && report.refused.is_empty());
    // "Stored" means stored: each of them holds it now, without waiting.
    for node in &nodes[1..] {
        let held = node.handle.get_local::<Profile>(&ProfileKey(1)).await;
        assert_eq!(held.expect("local get"), Some(profile(1, "everyone")));
    }
    stop_all(nodes).await;
}

#[tokio::test]
async fn a_quorum_above_the_closest_peers_fails_and_says_how_many_were_found() {
    let nodes = start_network(3, Net::Memory, |_| {}).await;
    let quorum = Quorum::N(NonZeroUsize::new(20).expect("non-zero"));
    let put = within("put", nodes[0].handle.put(&profile(2, "too few"), quorum)).await;
    match put {
        Err(NodeError::QuorumUnreachable { needed, report }) => {
            assert_eq!((needed, report.peers_found), (20, 2));
            assert_eq!(report.stored.len(), 2, "the peers found still got it");
            let message = NodeError::QuorumUnreachable { needed, report }.to_string();
            assert!(message.contains("found only 2"), "{message}");
        }
        other => panic!("expected QuorumUnreachable, got {other:?}"),
    }
    // The record is stored locally and at both peers all the same.
    for node in &nodes {
        let held = node.handle.get_local::<Profile>(&ProfileKey(2)).await;
        assert_eq!(held.expect("local get"), Some(profile(2, "too few")));
    }
    stop_all(nodes).await;
}

#[tokio::test]
async fn a_put_every_receiver_refused_is_not_reported_as_stored() {
    // Storage nodes that refuse schemas they do not know, and a writer whose schema they lack.
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let (config, store) = generic_node_parts(UnknownSchemas::Reject);
        nodes.push(start_node(config, store, nodes.first()).await);
    }
    let writer = start_node(fast_config(Net::Memory), memory_store(), nodes.first()).await;
    nodes.push(writer);
    connect_all(&nodes).await;
    let writer = &nodes[3].handle;

    let put = within(
        "put",
        writer.put(&profile(3, "nobody wants me"), Quorum::One),
    )
    .await;
    match put {
        Err(NodeError::QuorumFailed { needed: 1, report }) => {
            assert_eq!(report.reached(), 0, "{report:?}");
            assert_eq!(report.refused.len(), 3, "{report:?}");
            assert!(
                report
                    .refused
                    .iter()
                    .all(|r| r.reason == RefusalReason::UnknownSchema)
            );
            let message = NodeError::QuorumFailed { needed: 1, report }.to_string();
            assert!(
                message.contains("3 refused (unknown schema: 3)"),
                "{message}"
            );
        }
        other => panic!("expected QuorumFailed, got {other:?}"),
    }
    stop_all(nodes).await;
}

#[tokio::test]
async fn a_put_that_loses_to_a_newer_replica_reports_the_lost_conflict() {
    let nodes = start_network(3, Net::Memory, |_| {}).await;
    let page = |version, body: &str| Page {
        slug: "home".into(),
        version,
        body: body.into(),
    };
    within(
        "newer put",
        nodes[0].handle.put(&page(5, "newer"), Quorum::All),
    )
    .await
    .expect("put");
    // A node that missed it writes an older version: the peers holding version 5 refuse it.
    let stale = start_node(fast_config(Net::Memory), memory_store(), Some(&nodes[1])).await;
    let mut all: Vec<TestNode> = nodes;
    all.push(stale);
    connect_all(&all).await;
    let mut options = PutOptions::new(Quorum::All);
    options.set_wait_for_all(true);
    let put = within("stale put", all[3].handle.put(&page(1, "older"), options)).await;
    match put {
        Err(NodeError::QuorumFailed { report, .. }) => {
            assert_eq!(report.refused.len(), 3, "{report:?}");
            assert!(
                report
                    .refused
                    .iter()
                    .all(|r| r.reason == RefusalReason::LostConflict)
            );
        }
        other => panic!("expected QuorumFailed, got {other:?}"),
    }
    stop_all(all).await;
}

#[tokio::test]
async fn a_stale_local_put_is_refused_and_changes_nothing() {
    let nodes = start_network(2, Net::Memory, |_| {}).await;
    let node = &nodes[0].handle;
    let page = |version, body: &str| Page {
        slug: "about".into(),
        version,
        body: body.into(),
    };
    within("put v2", node.put(&page(2, "two"), Quorum::One))
        .await
        .expect("put");
    let stale = within("put v1", node.put(&page(1, "one"), Quorum::One)).await;
    assert!(
        matches!(&stale, Err(NodeError::StaleWrite { key }) if *key == Page::record_key(&PageKey("about".into())).unwrap()),
        "{stale:?}"
    );
    assert_eq!(
        node.get_local::<Page>(&PageKey("about".into()))
            .await
            .unwrap(),
        Some(page(2, "two"))
    );
    // The same value again is no conflict, and a newer one wins.
    within("put v2 again", node.put(&page(2, "two"), Quorum::One))
        .await
        .expect("same value");
    within("put v3", node.put(&page(3, "three"), Quorum::One))
        .await
        .expect("newer value");
    stop_all(nodes).await;
}

#[tokio::test]
async fn plain_kad_peers_count_as_kad_acknowledgements() {
    let plain = PlainNode::start(PlainOptions::default()).await;
    let mut config = fast_config(Net::Tcp);
    config.add_bootstrap_peer(plain.peer_id, plain.addr.clone());
    let nodes = vec![start_node(config, memory_store(), None).await];
    within(
        "the plain node is routable",
        nodes[0].handle.wait_for_peers(1, STEP),
    )
    .await
    .expect("routable");
    let mut options = PutOptions::new(Quorum::One);
    options.set_wait_for_all(true);
    let report = within("put", nodes[0].handle.put(&profile(4, "to plain"), options))
        .await
        .expect("put");
    assert_eq!(report.acknowledged, vec![plain.peer_id], "{report:?}");
    assert!(report.stored.is_empty());
    stop_all(nodes).await;
}

#[tokio::test]
async fn waiting_for_peers_returns_once_the_network_is_there_or_says_it_is_not() {
    let alone = start_network(1, Net::Memory, |_| {}).await;
    let wait = alone[0]
        .handle
        .wait_for_peers(1, Duration::from_millis(300))
        .await;
    match wait {
        Err(error @ NodeError::NotEnoughPeers { .. }) => {
            assert!(
                error.to_string().contains("reached 0 of the 1 peers"),
                "{error}"
            );
        }
        other => panic!("expected NotEnoughPeers, got {other:?}"),
    }

    // A second node joins through the first: both see each other without any polling loop.
    let mut config = fast_config(Net::Memory);
    config.add_bootstrap_peer(alone[0].handle.peer_id(), alone[0].addr.clone());
    let (second, task) = within("spawn", Node::spawn(config, memory_store()))
        .await
        .expect("spawn");
    let found = within("second waits", second.wait_for_peers(1, STEP))
        .await
        .expect("the first node is reachable");
    assert!(found >= 1);
    within("first waits", alone[0].handle.wait_for_peers(1, STEP))
        .await
        .expect("the second node is routable");
    within("put", second.put(&profile(5, "joined"), Quorum::One))
        .await
        .expect("a put has a peer to go to");
    second.shutdown().await.expect("shutdown");
    task.await.expect("task");
    stop_all(alone).await;
}

#[tokio::test]
async fn kad_acknowledgements_are_reported_as_such() {
    let nodes = start_network(3, Net::Memory, |config| {
        config.set_acknowledgements(Acknowledgements::Kad);
    })
    .await;
    let mut options = PutOptions::new(Quorum::All);
    options.set_wait_for_all(true);
    let report = within("put", nodes[0].handle.put(&profile(6, "kad"), options))
        .await
        .expect("put");
    assert_eq!(report.acknowledged.len(), 2, "{report:?}");
    assert!(report.stored.is_empty(), "kad acks never claim validation");
    stop_all(nodes).await;
}

#[tokio::test]
async fn a_node_that_listens_nowhere_never_becomes_a_closest_peer() {
    // A storage node, and a client (listens nowhere, as `netabase get` runs) that uses it.
    let storage = start_network(1, Net::Tcp, |_| {}).await;
    let mut client_config = fast_config(Net::Tcp);
    client_config
        .set_listen_addrs(Vec::new())
        .add_bootstrap_peer(storage[0].handle.peer_id(), storage[0].addr.clone());
    let (client, client_task) = within("spawn", Node::spawn(client_config, memory_store()))
        .await
        .expect("client starts");
    within("client waits", client.wait_for_peers(1, STEP))
        .await
        .expect("the storage node is reachable");
    within(
        "client put",
        client.put(&profile(7, "from a client"), Quorum::One),
    )
    .await
    .expect("the storage node stores it");

    // A writer that joins later finds the storage node only: the client was never routable.
    let writer = start_node(fast_config(Net::Tcp), memory_store(), Some(&storage[0])).await;
    within("writer waits", writer.handle.wait_for_peers(1, STEP))
        .await
        .expect("routable");
    let mut options = PutOptions::new(Quorum::All);
    options.set_wait_for_all(true);
    let report = within(
        "writer put",
        writer.handle.put(&profile(8, "honest"), options),
    )
    .await
    .expect("put");
    assert_eq!(
        (report.peers_found, report.stored.clone()),
        (1, vec![storage[0].handle.peer_id()]),
        "{report:?}"
    );
    let stats = storage[0].handle.stats().await.expect("stats");
    assert_eq!(stats.routing_table_size, 1, "only the writer: {stats:?}");
    client.shutdown().await.expect("shutdown");
    client_task.await.expect("task");
    writer.stop().await;
    stop_all(storage).await;
}

#[tokio::test]
async fn a_value_too_large_for_plain_kad_peers_is_reported_as_such() {
    // A plain kad peer reads at most 16 KiB per message; a 20 KiB value cannot reach it.
    let plain = PlainNode::start(PlainOptions::default()).await;
    let mut config = fast_config(Net::Tcp);
    config.add_bootstrap_peer(plain.peer_id, plain.addr.clone());
    let nodes = vec![start_node(config, memory_store(), None).await];
    within("routable", nodes[0].handle.wait_for_peers(1, STEP))
        .await
        .expect("routable");
    let big = profile(9, &"x".repeat(20 * 1024));
    let put = within("put", nodes[0].handle.put(&big, Quorum::One)).await;
    match put {
        Err(error @ NodeError::QuorumFailed { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("too large for some peers") && message.contains("16 KiB"),
                "{message}"
            );
            assert!(!message.contains("connect to more peers"), "{message}");
        }
        other => panic!("expected QuorumFailed, got {other:?}"),
    }
    stop_all(nodes).await;
}
