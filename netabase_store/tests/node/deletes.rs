//! Deletes that stay deleted: `remove` stores and publishes a tombstone, every node then answers
//! `NotFound`, also after the removing node restarts and after a replica that missed the delete
//! publishes its old copy; a newer write still wins over the delete.

use crate::support::*;
use netabase_store::kad::Quorum;
use netabase_store::tombstone::deleted_value;
use netabase_store::{
    Identity, NetabaseSchema, NodeError, PutOptions, SyncOptions, identity_path_beside,
};

fn page(version: u64, body: &str) -> Page {
    Page {
        slug: "notes".into(),
        version,
        body: body.into(),
    }
}

fn key() -> PageKey {
    PageKey("notes".into())
}

fn everyone() -> PutOptions {
    let mut options = PutOptions::new(Quorum::All);
    options.set_wait_for_all(true);
    options
}

/// A get that must answer `NotFound` because the value was deleted.
async fn assert_deleted(node: &TestNode, what: &str) {
    let got = within(what, node.handle.get::<Page>(&key())).await;
    assert!(
        matches!(got, Err(NodeError::NotFound { deleted: true, .. })),
        "{what}: {got:?}"
    );
    let got = within(what, node.handle.get_from_network::<Page>(&key())).await;
    assert!(
        matches!(got, Err(NodeError::NotFound { deleted: true, .. })),
        "{what} (from the network): {got:?}"
    );
    assert_eq!(
        node.handle.get_local::<Page>(&key()).await.expect("local"),
        None,
        "{what}: the local copy reads as absent"
    );
}

#[tokio::test]
async fn a_removed_record_stays_removed_on_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remover.redb");
    let mut remover_config = fast_config(Net::Memory);
    remover_config.set_identity(Identity::File(identity_path_beside(&path)));
    let remover = start_node(remover_config.clone(), file_store(&path), None).await;
    let mut nodes = vec![remover];
    // The last node keeps its store across a stop, to come back as a stale replica.
    let stale_store = memory_store();
    for index in 1..5 {
        let store = if index == 4 {
            stale_store.clone()
        } else {
            memory_store()
        };
        let node = start_node(fast_config(Net::Memory), store, nodes.first()).await;
        nodes.push(node);
    }
    connect_all(&nodes).await;

    // Node 1 writes; every node holds the value.
    within("put", nodes[1].handle.put(&page(1, "draft"), everyone()))
        .await
        .expect("put");
    for node in &nodes {
        let held = node.handle.get_local::<Page>(&key()).await.expect("local");
        assert_eq!(held, Some(page(1, "draft")));
    }

    // The stale replica goes away with its copy; node 0 removes the value meanwhile.
    let stale = nodes.pop().expect("five nodes");
    stale.stop().await;
    let report = within("remove", nodes[0].handle.remove::<Page>(&key(), everyone()))
        .await
        .expect("remove");
    assert_eq!(report.stored.len(), 3, "{report:?}");
    for node in &nodes {
        assert_deleted(node, "after the remove").await;
    }

    // The removing node restarts from its file: the tombstone is still there and still wins.
    let remover = nodes.remove(0);
    remover.stop().await;
    let remover = start_node(remover_config, file_store(&path), Some(&nodes[0])).await;
    nodes.insert(0, remover);
    connect_all(&nodes).await;
    assert_deleted(&nodes[0], "after the remover restarted").await;

    // The stale replica comes back holding the old value and publishes it: every peer refuses
    // it, and it learns the delete.
    let back = start_node(
        fast_config(Net::Memory),
        stale_store.clone(),
        Some(&nodes[1]),
    )
    .await;
    nodes.push(back);
    connect_all(&nodes).await;
    let report = within(
        "stale sync",
        nodes[4].handle.sync_to_network(&SyncOptions::new()),
    )
    .await
    .expect("sync");
    assert_eq!(
        report.published, 0,
        "no peer takes the old value: {report:?}"
    );
    eventually("the stale replica learns the delete", || async {
        let held = nodes[4]
            .handle
            .get_local_record(&Page::record_key(&key()).unwrap())
            .await
            .expect("local");
        held.filter(|record| deleted_value(&record.value).is_some())
    })
    .await;
    for (index, node) in nodes.iter().enumerate() {
        assert_deleted(
            node,
            &format!("node {index} after the stale replica published"),
        )
        .await;
    }

    // Deleting again finds nothing to delete; a newer version wins over the delete.
    let again = within(
        "remove again",
        nodes[2].handle.remove::<Page>(&key(), Quorum::One),
    )
    .await;
    assert!(
        matches!(again, Err(NodeError::NotFound { deleted: true, .. })),
        "{again:?}"
    );
    let stale_put = within(
        "stale put",
        nodes[3].handle.put(&page(1, "draft"), Quorum::One),
    )
    .await;
    assert!(
        matches!(stale_put, Err(NodeError::StaleWrite { .. })),
        "re-putting the deleted value is refused: {stale_put:?}"
    );
    within(
        "newer put",
        nodes[3].handle.put(&page(2, "final"), everyone()),
    )
    .await
    .expect("a newer version wins over the tombstone");
    for node in &nodes {
        let got = within("get", node.handle.get::<Page>(&key())).await;
        assert_eq!(got.expect("found"), page(2, "final"));
    }
    stop_all(nodes).await;
}

#[tokio::test]
async fn removing_what_does_not_exist_says_so() {
    let nodes = start_network(2, Net::Memory, |_| {}).await;
    let missing = within(
        "remove",
        nodes[0].handle.remove::<Page>(&key(), Quorum::One),
    )
    .await;
    assert!(
        matches!(missing, Err(NodeError::NotFound { deleted: false, .. })),
        "{missing:?}"
    );
    stop_all(nodes).await;
}
