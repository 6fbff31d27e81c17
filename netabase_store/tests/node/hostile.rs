//! A hostile peer: a plain rust-libp2p Kademlia node (no Netabase code) speaking our protocol name
//! pushes records with unknown prefixes, undecodable values, mismatched keys, oversized values,
//! expired deadlines and conflict losers straight at a Netabase node, and answers its lookups with
//! garbage. None of it reaches the typed API, every rejection is counted and reported, and the
//! node keeps serving honest peers.

use std::time::{Duration, Instant};

use crate::support::*;
use netabase_store::kad::{Quorum, Record, RecordKey};
use netabase_store::{NetabaseSchema, NodeError, NodeEvent, Rejection, UnknownSchemas};

fn profile(id: u64, name: &str) -> Profile {
    Profile {
        id,
        name: name.into(),
    }
}

#[tokio::test]
async fn hostile_records_never_reach_the_typed_api() {
    let mut config = fast_config(Net::Tcp);
    config
        .set_unknown_schemas(UnknownSchemas::Reject)
        .set_max_value_size(1024);
    let target = start_node(config, memory_store(), None).await;
    // An honest node with the default policy (unknown schemas kept as raw records).
    let honest = start_node(fast_config(Net::Tcp), memory_store(), Some(&target)).await;
    let nodes = vec![target, honest];
    connect_all(&nodes).await;
    let (node, honest) = (&nodes[0].handle, &nodes[1].handle);

    let hostile = PlainNode::start(PlainOptions::default()).await;
    // The node dials the hostile peer (say it was a bootstrap peer), so the hostile peer is in its
    // routing table and is asked in lookups; the hostile peer pushes over that connection.
    let hostile_id = within("node dials", node.dial(hostile.dial_addr()))
        .await
        .expect("the node reaches the hostile peer");
    assert_eq!(hostile_id, hostile.peer_id);

    let stored_page = Page {
        slug: "x".into(),
        version: 5,
        body: "the real page".into(),
    };
    within("put", node.put(&stored_page, Quorum::One))
        .await
        .expect("put");
    let honest_profile = profile(12, "a");
    within("put", node.put(&honest_profile, Quorum::One))
        .await
        .expect("put");
    let mut events = node.subscribe();

    let garbage_key = Profile::record_key(&ProfileKey(7)).unwrap();
    let mut mismatched = profile(2, "claims to be 1").to_record().unwrap();
    mismatched.key = Profile::record_key(&ProfileKey(1)).unwrap();
    let mut expired = profile(9, "expired").to_record().unwrap();
    expired.expires = Instant::now().checked_sub(Duration::from_secs(5));
    let hostile_records = vec![
        Record::new(b"/evil/Thing/1".to_vec(), b"anything".to_vec()),
        Record::new(garbage_key.clone(), vec![0xff; 12]),
        mismatched,
        profile(8, &"x".repeat(4000)).to_record().unwrap(),
        expired,
        Page {
            slug: "x".into(),
            version: 1,
            body: "older, loses".into(),
        }
        .to_record()
        .unwrap(),
        // Profile 12 with its id as the padded varint `8c 00`: decodes to the same value, sorts
        // above the stored bytes.
        Record::new(
            honest_profile.to_record().unwrap().key,
            vec![0x8c, 0x00, 1, b'a'],
        ),
        // The same value under the padded key.
        Record::new(b"/netabase/Profile/\x8c\x00".to_vec(), vec![12, 1, b'a']),
    ];
    for record in hostile_records {
        within("hostile put", hostile.put_to(record, vec![node.peer_id()]))
            .await
            .expect("kad acknowledges every put before validation");
    }

    let stats = eventually("every hostile record is rejected", || async {
        let stats = node.stats().await.unwrap();
        (stats.records_rejected.total() >= 8).then_some(stats)
    })
    .await;
    let rejected = stats.records_rejected;
    assert_eq!(rejected.unknown_schema, 1, "{rejected:?}");
    assert_eq!(
        rejected.invalid, 2,
        "undecodable and mismatched: {rejected:?}"
    );
    assert_eq!(
        rejected.non_canonical, 2,
        "padded value and key: {rejected:?}"
    );
    assert_eq!(rejected.too_large, 1, "{rejected:?}");
    assert_eq!(rejected.expired, 1, "{rejected:?}");
    assert_eq!(rejected.lost_conflict, 1, "{rejected:?}");
    assert_eq!(
        stats.records_stored, 0,
        "nothing from the hostile peer was stored"
    );

    // Each rejection was reported as an event naming the hostile peer and the reason.
    let mut reasons = Vec::new();
    while reasons.len() < 8 {
        match within("rejection events", events.recv()).await {
            Ok(NodeEvent::RecordRejected { from, reason, .. }) => {
                assert_eq!(from, hostile.peer_id);
                reasons.push(reason);
            }
            Ok(_) => {}
            Err(error) => panic!("event stream: {error}"),
        }
    }
    assert!(
        reasons
            .iter()
            .any(|reason| matches!(**reason, Rejection::LostConflict))
    );

    // Nothing reached the typed API or the store.
    for id in [1, 7, 8, 9] {
        assert_eq!(
            node.get_local::<Profile>(&ProfileKey(id)).await.unwrap(),
            None
        );
    }
    assert_eq!(
        node.get_local_record(&RecordKey::new(&b"/evil/Thing/1"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        node.get::<Page>(&PageKey("x".into())).await.unwrap(),
        stored_page
    );
    assert_eq!(
        node.get_local_record(&Profile::record_key(&ProfileKey(12)).unwrap())
            .await
            .unwrap()
            .map(|record| record.value),
        Some(honest_profile.to_bytes().unwrap()),
        "the stored bytes were not replaced by the padded ones"
    );

    // Garbage served by the hostile peer in answer to a lookup is rejected as well.
    hostile
        .store_local(Record::new(garbage_key, vec![0xff; 12]))
        .await;
    let fetched = within(
        "lookup answered with garbage",
        node.get_from_network::<Profile>(&ProfileKey(7)),
    )
    .await;
    // The error says that an answer came and was refused, not just that nothing was found.
    match &fetched {
        Err(NodeError::NotFound {
            refused,
            deleted: false,
            ..
        }) => assert_eq!(refused.invalid, 1, "{refused:?}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    let message = fetched.expect_err("not found").to_string();
    assert!(
        message.contains("1 answer(s) were refused (invalid: 1)"),
        "{message}"
    );
    let after = node.stats().await.unwrap();
    assert_eq!(
        after.records_rejected.invalid, 3,
        "{:?}",
        after.records_rejected
    );

    // Honest peers are still served, in both directions.
    let honest_value = profile(1, "honest");
    within("honest put", honest.put(&honest_value, Quorum::All))
        .await
        .expect("honest put");
    eventually("the node stores the honest record", || async {
        node.get_local::<Profile>(&ProfileKey(1)).await.unwrap()
    })
    .await;
    assert_eq!(node.stats().await.unwrap().records_stored, 1);
    assert_eq!(
        within(
            "honest read",
            honest.get_from_network::<Page>(&PageKey("x".into()))
        )
        .await
        .unwrap(),
        stored_page
    );
    stop_all(nodes).await;
}

#[tokio::test]
async fn records_of_unknown_schemas_are_kept_raw_by_default_but_never_typed() {
    let nodes = start_network(1, Net::Tcp, |_| {}).await;
    let node = &nodes[0].handle;
    let other_app = PlainNode::start(PlainOptions::default()).await;
    within("dial", other_app.dial(nodes[0].dial_addr()))
        .await
        .expect("dial");
    let foreign = Record::new(
        b"/chat/Message/42".to_vec(),
        b"hello from another app".to_vec(),
    );
    within(
        "put",
        other_app.put_to(foreign.clone(), vec![node.peer_id()]),
    )
    .await
    .expect("put");
    let kept = eventually("the raw record is kept", || async {
        node.get_local_record(&foreign.key).await.unwrap()
    })
    .await;
    assert_eq!(kept.value, foreign.value);
    // Under a registered schema's prefix the same bytes would have been refused: only records
    // that decode as a known schema carry its prefix.
    let typed = Record::new(
        Profile::record_key(&ProfileKey(42)).unwrap(),
        foreign.value.clone(),
    );
    within("put", other_app.put_to(typed.clone(), vec![node.peer_id()]))
        .await
        .expect("put");
    eventually("the typed impostor is rejected", || async {
        let stats = node.stats().await.unwrap();
        (stats.records_rejected.invalid == 1).then_some(())
    })
    .await;
    assert_eq!(node.get_local_record(&typed.key).await.unwrap(), None);
    stop_all(nodes).await;
}

#[tokio::test]
async fn provider_records_are_validated_before_they_are_stored() {
    let mut config = fast_config(Net::Tcp);
    config.set_unknown_schemas(UnknownSchemas::Reject);
    let nodes = vec![start_node(config, memory_store(), None).await];
    let node = &nodes[0].handle;
    let mut events = node.subscribe();
    let provider = PlainNode::start(PlainOptions::default()).await;
    provider
        .add_peer(node.peer_id(), nodes[0].addr.clone())
        .await;

    let known = Profile::record_key(&ProfileKey(3)).unwrap();
    within("provide a known schema", provider.provide(known.clone()))
        .await
        .expect("the node acknowledges");
    within(
        "provide an unknown schema",
        provider.provide(RecordKey::new(&b"/evil/Thing/2")),
    )
    .await
    .expect("the node acknowledges");
    let stats = eventually("both announcements are handled", || async {
        let stats = node.stats().await.unwrap();
        (stats.providers_stored + stats.providers_rejected.total() >= 2).then_some(stats)
    })
    .await;
    assert_eq!(stats.providers_stored, 1);
    assert_eq!(stats.providers_rejected.unknown_schema, 1);
    let mut seen = (false, false);
    while seen != (true, true) {
        match within("provider events", events.recv()).await {
            Ok(NodeEvent::ProviderStored { key, provider: who }) => {
                assert_eq!((key, who), (known.clone(), provider.peer_id));
                seen.0 = true;
            }
            Ok(NodeEvent::ProviderRejected { reason, .. }) => {
                assert!(matches!(*reason, Rejection::UnknownSchema));
                seen.1 = true;
            }
            Ok(_) => {}
            Err(error) => panic!("event stream: {error}"),
        }
    }
    stop_all(nodes).await;
}

/// Whether `peer` falls in `target`'s farthest bucket (half of all ids do).
fn in_farthest_bucket(target: netabase_store::PeerId, peer: netabase_store::PeerId) -> bool {
    use netabase_store::kad::KBucketKey;
    KBucketKey::from(peer)
        .distance(&KBucketKey::from(target))
        .ilog2()
        == Some(255)
}

/// A node on loopback TCP with an identity in `target`'s farthest bucket and a one-second idle
/// connection timeout.
async fn start_in_farthest_bucket(target: netabase_store::PeerId) -> TestNode {
    let keypair = loop {
        let keypair = netabase_store::Keypair::generate_ed25519();
        if in_farthest_bucket(target, keypair.public().to_peer_id()) {
            break keypair;
        }
    };
    let mut config = fast_config(Net::Tcp);
    config
        .set_identity(netabase_store::Identity::Keypair(keypair))
        .set_idle_connection_timeout(Duration::from_secs(1));
    start_node(config, memory_store(), None).await
}

#[tokio::test]
async fn a_peer_that_connects_cannot_make_the_node_dial_others() {
    // Kad, handed a peer for a full bucket, dials the bucket's least recently seen entry to see
    // whether it is still there. Were every peer that connects handed to kad, each could make
    // the node dial another. The node fills free room with the peers that connect, and no more.
    let mut config = fast_config(Net::Tcp);
    config.set_idle_connection_timeout(Duration::from_secs(1));
    let target = start_node(config, memory_store(), None).await;
    let target_id = target.handle.peer_id();
    // 19 plain kad peers in the target's farthest bucket, which never dial anyone themselves.
    let mut entries = Vec::new();
    while entries.len() < 19 {
        let plain = PlainNode::start(PlainOptions::default()).await;
        if in_farthest_bucket(target_id, plain.peer_id) {
            entries.push(plain);
        }
    }
    for plain in &entries {
        let added = target
            .handle
            .add_address(plain.peer_id, plain.addr.clone())
            .await
            .expect("add address");
        assert!(added, "the bucket has room");
    }
    let wrong = entries[1].dial_addr();
    let added = target
        .handle
        .add_address(entries[0].peer_id, wrong)
        .await
        .expect("add address");
    assert!(!added, "an address naming another peer id is not taken");

    // A node that connects takes the last place.
    let filler = start_in_farthest_bucket(target_id).await;
    within("the filler dials", filler.handle.dial(target.dial_addr()))
        .await
        .expect("the target answers");
    eventually("the filler enters the target's table", || async {
        let stats = target.handle.stats().await.expect("stats");
        (stats.routing_table_size == 20).then_some(())
    })
    .await;
    // Let the target's own lookups (the bootstrap kad starts while a table is small) finish
    // and their connections close.
    within("bootstrap", target.handle.bootstrap())
        .await
        .expect("bootstrap");
    eventually("the target's connections close", || async {
        let connected = target.handle.connected_peers().await.expect("peers");
        connected.is_empty().then_some(())
    })
    .await;

    // The bucket is full. A newcomer connects; the target learns its addresses through identify
    // and must not check (dial) any entry.
    let newcomer = start_in_farthest_bucket(target_id).await;
    within(
        "the newcomer dials",
        newcomer.handle.dial(target.dial_addr()),
    )
    .await
    .expect("the target answers");
    eventually("the newcomer knows the target", || async {
        let stats = newcomer.handle.stats().await.expect("stats");
        (stats.routing_table_size >= 1).then_some(())
    })
    .await;
    // kad's check would dial within milliseconds of identify; give it a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let connected = target.handle.connected_peers().await.expect("peers");
    for plain in &entries {
        assert!(
            !connected.contains(&plain.peer_id),
            "the target dialled an entry because a peer connected"
        );
    }
    let stats = target.handle.stats().await.expect("stats");
    assert_eq!(
        stats.routing_table_size, 20,
        "a full bucket keeps its entries"
    );

    stop_all(vec![target, filler, newcomer]).await;
}
