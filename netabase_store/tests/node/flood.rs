//! One peer floods a node with records of schemas it does not know while an honest peer writes
//! registered records: every honest record is stored, the node keeps serving, and the strangers'
//! records stay within their quotas. (`netabase_store/examples/flood.rs` runs the same with the
//! default limits and 100 000 records.)

use futures::stream::{FuturesUnordered, StreamExt};

use crate::support::*;
use netabase_store::RedbStore;
use netabase_store::kad::{Quorum, Record};

const FLOOD: usize = 3_000;
const HONEST: u64 = 100;
const MAX_UNKNOWN: usize = 1_000;
const PER_NAMESPACE: usize = 400;
/// Less than the namespace's share, so the flooder alone hits its own limit first.
const PER_PEER: usize = 700;

#[tokio::test]
async fn a_flood_of_strangers_records_never_crowds_out_registered_ones() {
    let store = RedbStore::builder()
        .register::<Profile>()
        .register::<Page>()
        // Room for the flood's quota and every honest record, no more.
        .set_max_records(MAX_UNKNOWN + HONEST as usize)
        .set_max_unknown_records(MAX_UNKNOWN)
        .set_max_unknown_per_namespace(PER_NAMESPACE)
        .set_max_unknown_per_peer(PER_PEER)
        .in_memory()
        .expect("store");
    let probe = store.clone();
    let target = start_node(fast_config(Net::Tcp), store, None).await;
    let honest = start_node(fast_config(Net::Tcp), memory_store(), Some(&target)).await;
    let nodes = vec![target, honest];
    connect_all(&nodes).await;
    let (node, honest) = (&nodes[0].handle, &nodes[1].handle);
    let flooder = PlainNode::start(PlainOptions::default()).await;
    within("node dials", node.dial(flooder.dial_addr()))
        .await
        .expect("the node reaches the flooder");

    // The flood, 200 puts at a time, across five namespaces; the honest writes run meanwhile.
    let flood = async {
        let records: Vec<Record> = (0..FLOOD)
            .map(|i| {
                let key = format!("/flood{}/Junk/{i}", i % 5);
                Record::new(key.into_bytes(), vec![0xAB; 64])
            })
            .collect();
        for chunk in records.chunks(200) {
            let mut puts: FuturesUnordered<_> = chunk
                .iter()
                .map(|record| flooder.put_to(record.clone(), vec![node.peer_id()]))
                .collect();
            while puts.next().await.is_some() {}
        }
    };
    let writes = async {
        for id in 0..HONEST {
            let value = Profile {
                id,
                name: format!("honest {id}"),
            };
            honest
                .put(&value, Quorum::One)
                .await
                .unwrap_or_else(|error| panic!("honest put {id}: {error}"));
        }
    };
    within("flood and honest writes", async {
        tokio::join!(flood, writes)
    })
    .await;
    within("flush", node.flush()).await.expect("flush");

    for id in 0..HONEST {
        let stored = node.get_local::<Profile>(&ProfileKey(id)).await.unwrap();
        assert!(stored.is_some(), "honest record {id} was stored");
    }
    let strangers: usize = (0..5)
        .map(|n| {
            let in_namespace = probe.scan(format!("/flood{n}/").into_bytes()).count();
            assert!(
                in_namespace <= PER_NAMESPACE,
                "namespace {n}: {in_namespace}"
            );
            in_namespace
        })
        .sum();
    assert!(strangers <= MAX_UNKNOWN, "{strangers} strangers' records");
    assert!(
        strangers >= MAX_UNKNOWN / 2,
        "the quota was used: {strangers}"
    );
    let stats = node.stats().await.unwrap();
    assert!(stats.records_rejected.refused > 0, "{stats:?}");

    // The node still serves.
    let read = within("get", honest.get_from_network::<Profile>(&ProfileKey(7))).await;
    assert_eq!(read.expect("served").name, "honest 7");
    stop_all(nodes).await;
}
