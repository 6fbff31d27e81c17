//! Handing records to a peer that joins among their closest: the nodes just behind it send it
//! the records it is now one of the closest peers of, and no others; a newcomer that refuses them
//! is counted and costs the senders nothing.

use std::num::NonZeroUsize;
use std::time::Duration;

use crate::support::*;
use libp2p::PeerId;
use netabase_store::kad::{KBucketKey, Quorum, RecordKey};
use netabase_store::{NetabaseSchema, NodeConfig, UnknownSchemas};

const REPLICATION: usize = 3;

/// Republishing off, so only a handoff can bring a record to a newcomer; a fast handoff check.
fn handing_over(config: &mut NodeConfig) {
    config
        .set_republish_interval(None)
        .set_replication_factor(NonZeroUsize::new(REPLICATION).expect("non-zero"))
        .set_handoff_interval(Some(Duration::from_millis(100)));
}

/// Four nodes configured by `configure`, a replication factor of 3: every node holds each of
/// `count` records. The four
/// also hand records to each other when one learns of another late, which is settled before this
/// returns: the tests count handoffs from [`handoffs`]'s figures at that point.
async fn network_holding_every_record(
    count: u64,
    configure: fn(&mut NodeConfig),
) -> (Vec<TestNode>, Vec<Profile>) {
    let nodes = start_network(4, Net::Memory, configure).await;
    let values: Vec<Profile> = (0..count)
        .map(|id| Profile {
            id,
            name: format!("record {id}"),
        })
        .collect();
    for value in &values {
        within("put", nodes[0].handle.put(value, Quorum::All))
            .await
            .expect("all three peers store it");
    }
    // A peer one of the four learned just before the puts is walked for at the next check; with
    // a small background budget that walk takes a while, so wait until the counts stand still
    // (for half a second, within 20 s).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut counted = handoffs(&nodes).await;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = handoffs(&nodes).await;
        if now == counted {
            break;
        }
        counted = now;
    }
    (nodes, values)
}

/// The handoffs the first four nodes counted: stored by a newcomer, and stored by none.
async fn handoffs(nodes: &[TestNode]) -> (u64, u64) {
    let (mut handed, mut failed) = (0, 0);
    for node in &nodes[..4] {
        let stats = node.handle.stats().await.expect("stats");
        handed += stats.handed_off;
        failed += stats.handoff_failed;
    }
    (handed, failed)
}

fn record_key(value: &Profile) -> RecordKey {
    Profile::record_key(&value.key()).expect("a valid key")
}

/// How many of `all` peers are closer to `value`'s key than `newcomer`.
fn closer_than(value: &Profile, newcomer: PeerId, all: &[PeerId]) -> usize {
    let key = KBucketKey::from(record_key(value));
    let to_newcomer = key.distance(&KBucketKey::from(newcomer));
    all.iter()
        .filter(|peer| key.distance(&KBucketKey::from(**peer)) < to_newcomer)
        .count()
}

/// Whether `newcomer` is one of the `REPLICATION` closest of `all` peers to `value`'s key.
fn among_closest(value: &Profile, newcomer: PeerId, all: &[PeerId]) -> bool {
    closer_than(value, newcomer, all) < REPLICATION
}

/// As [`handing_over`], with room for one background publication at a time, so a walk runs out
/// of budget after every record it sends.
fn one_at_a_time(config: &mut NodeConfig) {
    handing_over(config);
    config.set_max_background_queries(1);
}

#[tokio::test]
async fn a_newcomer_is_handed_exactly_the_records_it_is_among_the_closest_of() {
    newcomer_is_handed_exactly_its_records(24, handing_over).await;
}

#[tokio::test]
async fn a_walk_held_to_one_publication_at_a_time_still_hands_over_each_record_once() {
    newcomer_is_handed_exactly_its_records(40, one_at_a_time).await;
}

/// A newcomer joins four nodes configured by `configure` holding `count` records: it is handed
/// every record it is among the closest of, each by the (up to) three holders just behind it, and
/// no other.
async fn newcomer_is_handed_exactly_its_records(count: u64, configure: fn(&mut NodeConfig)) {
    let (mut nodes, values) = network_holding_every_record(count, configure).await;
    let (before, _) = handoffs(&nodes).await;
    let mut config = fast_config(Net::Memory);
    configure(&mut config);
    let newcomer = start_node(config, memory_store(), Some(&nodes[1])).await;
    nodes.push(newcomer);
    connect_all(&nodes).await;

    let peers: Vec<PeerId> = nodes.iter().map(|node| node.handle.peer_id()).collect();
    let newcomer = &nodes[4].handle;
    let (expected, others): (Vec<&Profile>, Vec<&Profile>) = values
        .iter()
        .partition(|value| among_closest(value, newcomer.peer_id(), &peers));
    assert!(
        !expected.is_empty() && !others.is_empty(),
        "{count} random keys put the newcomer among the closest of some and not of others"
    );
    for value in &expected {
        eventually("the newcomer is handed the record", || async {
            newcomer.get_local::<Profile>(&value.key()).await.unwrap()
        })
        .await;
    }
    // Each record goes from the (up to) three holders just behind the newcomer, not from all.
    let senders: u64 = expected
        .iter()
        .map(|value| {
            let behind = peers.len() - 1 - closer_than(value, newcomer.peer_id(), &peers);
            behind.min(3) as u64
        })
        .sum();
    let handed = eventually("the senders count their handoffs", || async {
        let handed = handoffs(&nodes).await.0 - before;
        (handed >= senders).then_some(handed)
    })
    .await;
    assert_eq!(handed, senders, "{} records handed over", expected.len());
    for value in &others {
        assert_eq!(
            newcomer.get_local::<Profile>(&value.key()).await.unwrap(),
            None,
            "record {} is for the peers closer than the newcomer",
            value.id
        );
    }
    stop_all(nodes).await;
}

#[tokio::test]
async fn a_newcomer_that_refuses_every_record_is_counted_and_the_senders_keep_theirs() {
    let (mut nodes, values) = network_holding_every_record(12, handing_over).await;
    let (handed_before, failed_before) = handoffs(&nodes).await;
    // A node that knows none of the schemas and refuses records of unknown schemas.
    let (mut config, store) = generic_node_parts(UnknownSchemas::Reject);
    handing_over(&mut config);
    let refuser = start_node(config, store, Some(&nodes[1])).await;
    nodes.push(refuser);
    connect_all(&nodes).await;

    let peers: Vec<PeerId> = nodes.iter().map(|node| node.handle.peer_id()).collect();
    let refuser = nodes[4].handle.peer_id();
    let for_it = values
        .iter()
        .filter(|value| among_closest(value, refuser, &peers))
        .count() as u64;
    assert!(
        for_it > 0,
        "12 random keys put the refuser among the closest of some"
    );
    eventually("the senders count the refusals", || async {
        let failed = handoffs(&nodes).await.1 - failed_before;
        (failed >= for_it).then_some(())
    })
    .await;
    assert_eq!(
        handoffs(&nodes).await.0,
        handed_before,
        "the refuser stored none"
    );
    let refused = nodes[4].handle.stats().await.expect("stats");
    assert_eq!(refused.records_stored, 0);
    assert!(refused.records_rejected.unknown_schema >= for_it);
    for node in &nodes[..4] {
        for value in &values {
            assert!(
                node.handle
                    .get_local::<Profile>(&value.key())
                    .await
                    .unwrap()
                    .is_some(),
                "a sender keeps record {}",
                value.id
            );
        }
    }
    stop_all(nodes).await;
}
