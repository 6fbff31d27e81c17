//! Owned records on the network: a plain rust-libp2p Kademlia peer (no Netabase code) pushes
//! forged, unauthorised, replayed, stretched, revoked, future-dated and non-canonical owned
//! records at a node. None is stored, each is counted under its reason, and the owner's honest
//! writes still land on every node.

use std::time::{Duration, Instant, SystemTime};

use crate::support::*;
use netabase_store::kad::{Quorum, Record};
use netabase_store::owned::{Author, MAX_CLOCK_SKEW, OwnedWrite, Owner};
use netabase_store::{NetabaseSchema, NodeConfig, RedbStore};
use serde::{Deserialize, Serialize};

/// An owned schema: only `owner` (or its writers) can change a card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "cards", owned)]
pub struct Card {
    #[key]
    owner: Owner,
    #[key]
    slot: u8,
    text: String,
}

fn card(owner: &Author, slot: u8, text: &str) -> Card {
    Card {
        owner: owner.owner(),
        slot,
        text: text.into(),
    }
}

fn at(sequence: u64) -> OwnedWrite {
    OwnedWrite {
        generation: 0,
        sequence,
        expires: None,
        deleted: false,
    }
}

fn owned_config() -> NodeConfig {
    let mut config = fast_config(Net::Tcp);
    config.register::<Card>();
    config
}

fn owned_store() -> RedbStore {
    RedbStore::builder()
        .register::<Profile>()
        .register::<Page>()
        .register::<Card>()
        .in_memory()
        .expect("in-memory store opens")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

#[tokio::test]
async fn hostile_owned_records_are_refused_each_under_its_reason() {
    let target = start_node(owned_config(), owned_store(), None).await;
    let honest = start_node(owned_config(), owned_store(), Some(&target)).await;
    let nodes = vec![target, honest];
    connect_all(&nodes).await;
    let (node, honest) = (&nodes[0].handle, &nodes[1].handle);
    let hostile = PlainNode::start(PlainOptions::default()).await;
    within("node dials", node.dial(hostile.dial_addr()))
        .await
        .expect("the node reaches the hostile peer");

    let (alice, mallory, bob) = (Author::generate(), Author::generate(), Author::generate());
    let base = now_ms() - 60_000;
    // Alice's current card 1 is her second write; the first is what a replayer kept.
    let first = alice.sign(&card(&alice, 1, "first"), &at(base)).unwrap();
    let second = alice
        .sign(&card(&alice, 1, "second"), &at(base + 1))
        .unwrap();
    within(
        "alice's write",
        honest.put_record(second.clone(), Quorum::One),
    )
    .await
    .expect("put");
    eventually("the target holds alice's write", || async {
        let held = node.get_local_record(&second.key).await.unwrap();
        held.filter(|held| held.value == second.value).map(drop)
    })
    .await;
    // Alice moves to generation 1 (on card 8), which revokes bob's generation-0 collection
    // delegation everywhere in her collection.
    let raised = OwnedWrite {
        generation: 1,
        ..at(base + 2)
    };
    let generation_1 = alice.sign(&card(&alice, 8, "new era"), &raised).unwrap();
    within(
        "alice's raise",
        honest.put_record(generation_1.clone(), Quorum::One),
    )
    .await
    .expect("put");
    eventually("the target holds alice's raise", || async {
        node.get_local_record(&generation_1.key)
            .await
            .unwrap()
            .map(drop)
    })
    .await;
    let before = node.stats().await.unwrap().records_rejected;

    // 1. Alice's key, mallory's signature.
    let mut forged = alice.sign(&card(&alice, 2, "forged"), &at(base)).unwrap();
    let theirs = mallory
        .sign(&card(&mallory, 2, "forged"), &at(base))
        .unwrap();
    let at_signature = forged.value.len() - 64;
    forged.value[at_signature..].copy_from_slice(&theirs.value[theirs.value.len() - 64..]);
    // 2. A valid signature by mallory under a delegation she made herself.
    let self_made = mallory.delegate_collection::<Card>(
        mallory.owner(),
        0,
        SystemTime::now() + Duration::from_secs(3600),
    );
    let not_a_writer = mallory
        .sign_delegated(&card(&alice, 3, "mine now"), &at(base), &self_made)
        .unwrap();
    // 3. The replay of alice's first write.
    let replay = first;
    // 4. Alice's record signed to expire in an hour, relayed with 30 days.
    let mut stretched = alice
        .sign(
            &card(&alice, 4, "for an hour"),
            &at(base).expiring_at(SystemTime::now() + Duration::from_secs(3600)),
        )
        .unwrap();
    stretched.expires = Some(Instant::now() + Duration::from_secs(30 * 86_400));
    // 5. Bob, whose delegation ran out.
    let lapsed = alice.delegate_collection::<Card>(
        bob.owner(),
        0,
        SystemTime::now() - MAX_CLOCK_SKEW - Duration::from_secs(60),
    );
    let revoked = bob
        .sign_delegated(&card(&alice, 5, "late"), &at(base), &lapsed)
        .unwrap();
    // 5b. Bob again, within his deadline but under the generation alice has left.
    let generation_0 = alice.delegate_collection::<Card>(
        bob.owner(),
        0,
        SystemTime::now() + Duration::from_secs(3600),
    );
    let left_behind = bob
        .sign_delegated(&card(&alice, 9, "old era"), &at(base), &generation_0)
        .unwrap();
    // 6. A write dated a day ahead, which would beat every honest write for a day.
    let future = alice
        .sign(&card(&alice, 6, "tomorrow"), &at(now_ms() + 86_400_000))
        .unwrap();
    // 7. A value whose text length is the padded varint `81 00`.
    let mut padded = alice.sign(&card(&alice, 7, "a"), &at(base)).unwrap();
    let length_at = padded
        .value
        .windows(2)
        .rposition(|pair| pair == [1, b'a'])
        .expect("the text's length and byte");
    padded.value.splice(length_at..length_at + 1, [0x81, 0x00]);

    let hostile_records: Vec<Record> = vec![
        forged,
        not_a_writer,
        replay,
        stretched,
        revoked,
        left_behind,
        future,
        padded,
    ];
    let count = hostile_records.len() as u64;
    for record in &hostile_records {
        push(&hostile, &nodes[0], record).await;
    }
    let stats = eventually("every hostile record is refused", || async {
        let stats = node.stats().await.unwrap();
        (stats.records_rejected.total() >= before.total() + count).then_some(stats)
    })
    .await;
    let rejected = stats.records_rejected;
    assert_eq!(
        rejected.bad_signature - before.bad_signature,
        1,
        "{rejected:?}"
    );
    assert_eq!(
        rejected.not_a_writer - before.not_a_writer,
        1,
        "{rejected:?}"
    );
    assert_eq!(rejected.replayed - before.replayed, 1, "{rejected:?}");
    assert_eq!(
        rejected.expiry_extended - before.expiry_extended,
        1,
        "{rejected:?}"
    );
    assert_eq!(
        rejected.revoked - before.revoked,
        2,
        "lapsed and left behind: {rejected:?}"
    );
    assert_eq!(
        rejected.future_timestamp - before.future_timestamp,
        1,
        "{rejected:?}"
    );
    assert_eq!(
        rejected.non_canonical - before.non_canonical,
        1,
        "{rejected:?}"
    );
    assert_eq!(rejected.total() - before.total(), count, "{rejected:?}");

    // Nothing of it is stored: alice's second write stands, the other slots are empty.
    let first_slot = CardKey {
        owner: alice.owner(),
        slot: 1,
    };
    let held = node.get_local::<Card>(&first_slot).await.unwrap();
    assert_eq!(held.map(|card| card.text), Some("second".into()));
    for slot in (2..=7).chain([9]) {
        let key = CardKey {
            owner: alice.owner(),
            slot,
        };
        assert_eq!(
            node.get_local::<Card>(&key).await.unwrap(),
            None,
            "slot {slot}"
        );
    }

    // The owner's next write still lands everywhere.
    within(
        "alice's update",
        honest.put_owned(&alice, &card(&alice, 1, "third"), Quorum::All),
    )
    .await
    .expect("put_owned");
    let key = CardKey {
        owner: alice.owner(),
        slot: 1,
    };
    for node in [node, honest] {
        let held = node.get_local::<Card>(&key).await.unwrap();
        assert_eq!(held.map(|card| card.text), Some("third".into()));
    }
    stop_all(nodes).await;
}

#[tokio::test]
async fn an_owner_deletes_and_nobody_else_can_write() {
    let nodes = vec![start_node(owned_config(), owned_store(), None).await];
    let second = start_node(owned_config(), owned_store(), Some(&nodes[0])).await;
    let nodes = vec![nodes.into_iter().next().expect("one"), second];
    connect_all(&nodes).await;
    let (a, b) = (&nodes[0].handle, &nodes[1].handle);
    let (alice, mallory) = (Author::generate(), Author::generate());
    let key = CardKey {
        owner: alice.owner(),
        slot: 1,
    };

    within(
        "put",
        a.put_owned(&alice, &card(&alice, 1, "hello"), Quorum::One),
    )
    .await
    .expect("put_owned");
    assert_eq!(
        within("get", b.get::<Card>(&key)).await.unwrap().text,
        "hello"
    );

    // Mallory cannot sign alice's card, and the unsigned paths refuse owned schemas.
    let error = within(
        "put",
        b.put_owned(&mallory, &card(&alice, 1, "x"), Quorum::One),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("belongs to"), "{error}");
    // A forged record handed to put_record is refused before this node keeps it.
    let mut forged = alice.sign(&card(&alice, 2, "x"), &at(now_ms())).unwrap();
    let last = forged.value.len() - 1;
    forged.value[last] ^= 1;
    let error = within("put", b.put_record(forged.clone(), Quorum::One))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("signature"), "{error}");
    assert_eq!(b.get_local_record(&forged.key).await.unwrap(), None);
    let error = within("put", b.put(&card(&alice, 1, "x"), Quorum::One))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("owned schema"), "{error}");
    let error = within("remove", b.remove::<Card>(&key, Quorum::One))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("owned schema"), "{error}");

    within("remove", b.remove_owned::<Card>(&alice, &key, Quorum::One))
        .await
        .expect("the owner deletes from any node");
    for node in [a, b] {
        let got = within("get", node.get::<Card>(&key)).await;
        assert!(
            matches!(
                got,
                Err(netabase_store::NodeError::NotFound { deleted: true, .. })
            ),
            "{got:?}"
        );
    }
    stop_all(nodes).await;
}

/// A node over the store file at `path`.
async fn file_node(path: &std::path::Path) -> TestNode {
    let store = RedbStore::builder()
        .register::<Profile>()
        .register::<Page>()
        .register::<Card>()
        .create(path)
        .expect("store opens");
    start_node(owned_config(), store, None).await
}

/// Has `hostile` push `record` to `node`, retrying while the new connection settles (a put to a
/// peer the plain node has only just met can fail before its routing table has the peer).
async fn push(hostile: &PlainNode, node: &TestNode, record: &Record) {
    eventually("kad acknowledges the push", || async {
        hostile
            .put_to(record.clone(), vec![node.handle.peer_id()])
            .await
            .ok()
    })
    .await;
}

/// Has `hostile` push `record` to `node` and waits until the node counted one more replay.
async fn replay_is_refused(node: &TestNode, hostile: &PlainNode, record: Record) {
    within("node dials", node.handle.dial(hostile.dial_addr()))
        .await
        .expect("the node reaches the hostile peer");
    let before = node.handle.stats().await.unwrap().records_rejected.replayed;
    push(hostile, node, &record).await;
    eventually("the replay is counted", || async {
        let replayed = node.handle.stats().await.unwrap().records_rejected.replayed;
        (replayed > before).then_some(())
    })
    .await;
    let held = node.handle.get_local_record(&record.key).await.unwrap();
    assert_eq!(held, None, "the replayed write was not stored");
}

#[tokio::test]
async fn a_replay_is_refused_after_the_newer_write_expired_and_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("node.redb");
    let node = file_node(&path).await;
    let hostile = PlainNode::start(PlainOptions::default()).await;
    within("node dials", node.handle.dial(hostile.dial_addr()))
        .await
        .expect("the node reaches the hostile peer");

    let alice = Author::generate();
    let base = now_ms() - 60_000;
    let old = alice.sign(&card(&alice, 1, "old"), &at(base)).unwrap();
    // Kademlia carries lifetimes in whole seconds and the node wants one left on arrival.
    let expiring = at(base + 1).expiring_at(SystemTime::now() + Duration::from_secs(4));
    let newer = alice.sign(&card(&alice, 1, "newer"), &expiring).unwrap();
    // The newer write arrives (relayed by the plain peer, as any copy may be) and then expires.
    push(&hostile, &node, &newer).await;
    eventually("the newer write is stored", || async {
        node.handle
            .get_local_record(&newer.key)
            .await
            .unwrap()
            .map(drop)
    })
    .await;
    eventually("the newer write expires and is swept", || async {
        let held = node.handle.get_local_record(&newer.key).await.unwrap();
        held.is_none().then_some(())
    })
    .await;

    replay_is_refused(&node, &hostile, old.clone()).await;
    node.stop().await;

    let node = file_node(&path).await;
    replay_is_refused(&node, &hostile, old).await;
    node.stop().await;
}
