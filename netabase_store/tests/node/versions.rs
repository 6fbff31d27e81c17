//! Two nodes on two versions of one schema: the newer node accepts and upgrades the older node's
//! records; the older node refuses the newer node's, and the publisher hears why.

use netabase_store::kad::Quorum;
use netabase_store::{NetabaseSchema, NodeError};
use serde::{Deserialize, Serialize};

use crate::support::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "versions", name = "Card")]
struct CardV1 {
    #[key]
    id: u64,
    title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "versions", name = "Card", version = 2, from = CardV1)]
struct Card {
    #[key]
    id: u64,
    title: String,
    done: bool,
}

impl From<CardV1> for Card {
    fn from(old: CardV1) -> Self {
        Card {
            id: old.id,
            title: old.title,
            done: false,
        }
    }
}

#[tokio::test]
async fn a_version_one_node_and_a_version_two_node_exchange_what_each_can_read() {
    let mut old_config = fast_config(Net::Memory);
    old_config.register::<CardV1>();
    let old_store = memory_store_with::<CardV1>();
    let old = start_node(old_config, old_store, None).await;
    let mut new_config = fast_config(Net::Memory);
    new_config.register::<Card>();
    let new_store = memory_store_with::<Card>();
    let new = start_node(new_config, new_store, Some(&old)).await;
    let nodes = vec![old, new];
    connect_all(&nodes).await;
    let (old, new) = (&nodes[0], &nodes[1]);

    // Version 1 to version 2: stored, and read upgraded.
    let first = CardV1 {
        id: 1,
        title: "written by version 1".into(),
    };
    let report = within("old put", old.handle.put(&first, Quorum::One))
        .await
        .expect("put");
    assert_eq!(report.stored, [new.handle.peer_id()], "{report:?}");
    let upgraded = within("new reads", new.handle.get_local::<Card>(&CardKey(1)))
        .await
        .expect("read");
    assert_eq!(upgraded, Some(Card::from(first)));

    // Version 2 to version 1: refused by its gate, which names the newer version.
    let second = Card {
        id: 2,
        title: "written by version 2".into(),
        done: true,
    };
    let error = within("new put", new.handle.put(&second, Quorum::One))
        .await
        .expect_err("the only peer refuses it");
    assert!(error.to_string().contains("version of it"), "{error}");
    let NodeError::QuorumFailed { report, .. } = error else {
        panic!("not a quorum failure: {error}");
    };
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert_eq!(report.refused[0].peer, old.handle.peer_id());
    let stats = old.handle.stats().await.unwrap();
    assert_eq!(stats.records_rejected.invalid, 1);
    assert_eq!(
        within("old reads", old.handle.get_local::<CardV1>(&CardV1Key(2)))
            .await
            .expect("read"),
        None,
        "nothing stored"
    );
    stop_all(nodes).await;
}
