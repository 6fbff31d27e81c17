//! Interoperability with plain rust-libp2p: a Kademlia node with `MemoryStore`, configured only with
//! Netabase's protocol name, reads what a Netabase node put, and Netabase nodes read what it put.

use crate::support::*;
use netabase_store::kad::{Quorum, Record};
use netabase_store::{NetabaseSchema, RecordSource};

#[tokio::test]
async fn plain_kad_nodes_and_netabase_nodes_read_each_others_records() {
    let nodes = start_network(2, Net::Tcp, |_| {}).await;
    let (first, second) = (&nodes[0].handle, &nodes[1].handle);

    // Netabase -> plain: a typed put, read back as a plain record by a node that joined after it,
    // so the answer must come over the wire from a Netabase node.
    let value = Profile {
        id: 11,
        name: "typed on netabase".into(),
    };
    within("netabase put", first.put(&value, Quorum::All))
        .await
        .expect("put");
    let plain = PlainNode::start(PlainOptions::default()).await;
    plain.add_peer(first.peer_id(), nodes[0].addr.clone()).await;
    within("plain bootstrap", plain.bootstrap()).await;
    let key = Profile::record_key(&value.key()).unwrap();
    let (record, from) = within("plain get", plain.get(key.clone()))
        .await
        .expect("the plain node finds the record");
    assert!(
        from == Some(first.peer_id()) || from == Some(second.peer_id()),
        "answered by a Netabase node, got {from:?}"
    );
    assert_eq!(record.value, value.to_bytes().unwrap());
    assert_eq!(Profile::from_record(&record).unwrap(), value);

    // Plain -> Netabase: kad's own put_record reaches the Netabase nodes, which validate and keep
    // it (unknown schema, accepted as a raw record by default)...
    let raw = Record::new(b"/interop/Blob/1".to_vec(), b"put by plain kad".to_vec());
    within(
        "plain put",
        plain.put(
            raw.clone(),
            Quorum::N(std::num::NonZeroUsize::new(2).unwrap()),
        ),
    )
    .await
    .expect("both Netabase nodes acknowledge");
    let held = eventually("a Netabase node stores it", || async {
        first.get_local_record(&raw.key).await.unwrap()
    })
    .await;
    assert_eq!(held.value, raw.value);
    // ...and a Netabase node that joins later gets it through the raw record API.
    let late = start_node(fast_config(Net::Tcp), memory_store(), Some(&nodes[1])).await;
    within("bootstrap", late.handle.bootstrap())
        .await
        .expect("bootstrap");
    let fetched = within("netabase raw get", late.handle.get_record(&raw.key))
        .await
        .expect("found");
    assert_eq!(fetched.record.value, raw.value);
    assert!(matches!(fetched.source, RecordSource::Peer(_)));
    // A typed schema record put by the plain node reads through the typed API.
    let typed = Profile {
        id: 12,
        name: "typed on plain kad".into(),
    };
    within(
        "plain typed put",
        plain.put(typed.to_record().unwrap(), Quorum::One),
    )
    .await
    .expect("put");
    assert_eq!(
        within("typed get", late.handle.get::<Profile>(&typed.key()))
            .await
            .unwrap(),
        typed
    );
    late.stop().await;
    stop_all(nodes).await;
}

#[tokio::test]
async fn no_record_leaves_a_node_with_a_lifetime_that_means_never() {
    // kad sends a record's lifetime in whole seconds and reads 0 as "never expires". A plain kad
    // peer asks a Netabase node for a record over and over as it runs out: every answer must
    // carry an expiry, until the node stops serving it.
    let nodes = start_network(1, Net::Tcp, |_| {}).await;
    let node = &nodes[0].handle;
    let value = Profile {
        id: 21,
        name: "running out".into(),
    };
    let lifetime = std::time::Duration::from_secs(4);
    let mut record = value.to_record().unwrap();
    record.expires = Some(std::time::Instant::now() + lifetime);
    within("local put", node.put_record(record, Quorum::One))
        .await
        .expect_err("no peer to reach: the record is only local");
    let plain = PlainNode::start(PlainOptions::default()).await;
    plain.add_peer(node.peer_id(), nodes[0].addr.clone()).await;
    let key = Profile::record_key(&value.key()).unwrap();
    let deadline = std::time::Instant::now() + lifetime + std::time::Duration::from_secs(1);
    let (mut served, mut refused) = (0, 0);
    while std::time::Instant::now() < deadline {
        match within("plain get", plain.get(key.clone())).await {
            Ok((record, _)) => {
                assert!(
                    record.expires.is_some(),
                    "a record was served as never expiring"
                );
                served += 1;
            }
            Err(_) => refused += 1,
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        served > 0 && refused > 0,
        "served {served}, refused {refused}"
    );
    stop_all(nodes).await;
}
