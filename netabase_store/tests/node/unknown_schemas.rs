//! A generic storage node (no schemas) next to an application node with a `#[version]` schema:
//! under `UnknownSchemas::AcceptReplacing` the application's updates reach the generic node also
//! when their bytes sort lower; under byte order (`Accept`) they lose there. Memory transport only.

use std::time::Duration;

use crate::support::*;
use netabase_store::kad::Quorum;
use netabase_store::{NetabaseSchema, Node, RedbStore, SpawnError, UnknownSchemas};

/// A revision of the one page these tests update.
fn page(version: u64, body: &str) -> Page {
    Page {
        slug: "home".into(),
        version,
        body: body.into(),
    }
}

/// The stored and the newer revision, the newer one's bytes sorting lower: postcard writes version
/// 200 as `[0xc8, 0x01]` and 300 as `[0xac, 0x02]`.
fn revisions() -> (Page, Page) {
    let (older, newer) = (page(200, "old"), page(300, "new"));
    assert!(newer.to_bytes().unwrap() < older.to_bytes().unwrap());
    (older, newer)
}

/// Starts a generic node with `policy` and an application node knowing `Page`, connected; the
/// application puts `older`, then `newer`. Returns the nodes (generic first), the generic node's
/// counters once it has handled the second put, and whether that put reached its quorum.
async fn update_through(
    policy: UnknownSchemas,
) -> (Vec<TestNode>, netabase_store::NodeStats, bool) {
    let (config, store) = generic_node_parts(policy);
    let generic = start_node(config, store, None).await;
    let app = start_node(fast_config(Net::Memory), memory_store(), Some(&generic)).await;
    let nodes = vec![generic, app];
    connect_all(&nodes).await;
    let (generic, app) = (&nodes[0].handle, &nodes[1].handle);
    let (older, newer) = revisions();
    let key = Page::record_key(&PageKey("home".into())).unwrap();

    within("put the older page", app.put(&older, Quorum::One))
        .await
        .expect("older page stored on the generic node");
    eventually("the generic node holds the older page", || async {
        let held = generic.get_local_record(&key).await.unwrap()?;
        (held.value == older.to_bytes().unwrap()).then_some(())
    })
    .await;
    let before = generic.stats().await.unwrap();
    let put = within("put the newer page", app.put(&newer, Quorum::One)).await;
    let stats = eventually("the generic node handles the newer page", || async {
        let stats = generic.stats().await.unwrap();
        let handled = stats.records_stored + stats.records_rejected.total();
        (handled > before.records_stored + before.records_rejected.total()).then_some(stats)
    })
    .await;
    (nodes, stats, put.is_ok())
}

#[tokio::test]
async fn accept_replacing_lets_a_newer_version_with_lower_bytes_replace_the_stale_value() {
    let (nodes, stats, put_reached_quorum) = update_through(UnknownSchemas::AcceptReplacing).await;
    assert!(put_reached_quorum);
    let (_, newer) = revisions();
    let key = Page::record_key(&PageKey("home".into())).unwrap();
    let held = nodes[0].handle.get_local_record(&key).await.unwrap();
    assert_eq!(
        held.map(|record| record.value),
        Some(newer.to_bytes().unwrap())
    );
    assert_eq!(stats.records_rejected.lost_conflict, 0);
    stop_all(nodes).await;
}

#[tokio::test]
async fn byte_order_refuses_a_newer_version_with_lower_bytes_as_a_lost_conflict() {
    let (nodes, stats, _) = update_through(UnknownSchemas::Accept).await;
    let (older, _) = revisions();
    let key = Page::record_key(&PageKey("home".into())).unwrap();
    let held = nodes[0].handle.get_local_record(&key).await.unwrap();
    assert_eq!(
        held.map(|record| record.value),
        Some(older.to_bytes().unwrap())
    );
    assert_eq!(stats.records_rejected.lost_conflict, 1);
    // The application node's repair (a get finds the generic node's stale copy and pushes the
    // winner back) is refused the same way.
    within(
        "get from the network",
        nodes[1]
            .handle
            .get_from_network::<Page>(&PageKey("home".into())),
    )
    .await
    .expect("the application reads its newer page");
    eventually("the repair is refused as a lost conflict", || async {
        let stats = nodes[0].handle.stats().await.unwrap();
        (stats.records_rejected.lost_conflict >= 2).then_some(())
    })
    .await;
    let held = nodes[0].handle.get_local_record(&key).await.unwrap();
    assert_eq!(
        held.map(|record| record.value),
        Some(older.to_bytes().unwrap())
    );
    stop_all(nodes).await;
}

#[tokio::test]
async fn a_replacing_node_needs_a_replacing_store() {
    let (config, _) = generic_node_parts(UnknownSchemas::AcceptReplacing);
    let byte_order_store = RedbStore::in_memory().expect("in-memory store opens");
    let spawned = within("spawn", Node::spawn(config, byte_order_store)).await;
    assert!(matches!(
        spawned,
        Err(SpawnError::UnknownSchemasNotInStore {
            store: UnknownSchemas::Accept
        })
    ));
}

#[tokio::test]
async fn a_node_that_does_not_know_the_schema_does_not_repair_peers_holding_another_value() {
    use netabase_store::NodeStore;

    let (older, newer) = revisions();
    let key = Page::record_key(&PageKey("home".into())).unwrap();
    // Two replacing generic nodes hold different revisions; a third generic node reads the key.
    let mut holders = Vec::new();
    for revision in [&newer, &older] {
        let (config, mut store) = generic_node_parts(UnknownSchemas::AcceptReplacing);
        store
            .put_local(revision.to_record().unwrap())
            .expect("revision stored");
        holders.push(start_node(config, store, holders.first()).await);
    }
    let (config, store) = generic_node_parts(UnknownSchemas::AcceptReplacing);
    let reader = start_node(config, store, holders.first()).await;
    let mut nodes = holders;
    nodes.push(reader);
    connect_all(&nodes).await;

    let fetched = within(
        "get from the network",
        nodes[2].handle.get_record_from_network(&key),
    )
    .await
    .expect("the reader finds a revision");
    // Without the schema the reader can only pick by byte order, which picks the older revision
    // here; pushing that pick to the node holding the newer one would replace it there.
    assert_eq!(fetched.record.value, older.to_bytes().unwrap());
    // Give a repair, were one sent, time to land (memory transport: well under a second), then
    // check the newer revision is still where it was.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = nodes[0].handle.get_local_record(&key).await.unwrap();
    assert_eq!(
        held.map(|record| record.value),
        Some(newer.to_bytes().unwrap())
    );
    assert_eq!(nodes[0].handle.stats().await.unwrap().records_stored, 0);
    stop_all(nodes).await;
}

/// Another application's type that kept the default namespace and took the name `Profile`.
#[derive(Debug, serde::Serialize, serde::Deserialize, NetabaseSchema)]
#[netabase(name = "Profile")]
struct OtherAppProfile {
    #[key]
    handle: String,
}

#[tokio::test]
async fn a_node_refuses_two_types_under_one_prefix() {
    let mut config = fast_config(Net::Memory);
    config.register::<OtherAppProfile>();
    let spawned = within("spawn", Node::spawn(config, memory_store())).await;
    let Err(SpawnError::SchemaClash(clash)) = spawned else {
        panic!("spawned despite the clash");
    };
    assert_eq!(clash.prefix, "/netabase/Profile/");
    assert!(clash.second.ends_with("OtherAppProfile"), "{clash}");
}
