//! A unique index between nodes: a peer's record whose unique value a lower record key holds is
//! refused at the gate, as a lost conflict the publisher hears about, not acknowledged and
//! dropped later.

use netabase_store::kad::Quorum;
use netabase_store::{NetabaseSchema, NodeError, RefusalReason};
use serde::{Deserialize, Serialize};

use crate::support::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "unique")]
struct Handle {
    #[key]
    id: u64,
    #[index(unique)]
    name: String,
}

#[tokio::test]
async fn a_peers_record_that_loses_a_unique_value_is_refused_at_the_gate() {
    let config = || {
        let mut config = fast_config(Net::Memory);
        config.register::<Handle>();
        config
    };
    let holder_store = memory_store_with::<Handle>();
    let holder = start_node(config(), holder_store.clone(), None).await;
    let publisher = start_node(config(), memory_store_with::<Handle>(), Some(&holder)).await;
    let nodes = vec![holder, publisher];
    connect_all(&nodes).await;
    // The holder's user took the name under the lower key.
    holder_store
        .put_value(&Handle {
            id: 1,
            name: "ada".into(),
        })
        .unwrap();
    let claim = Handle {
        id: 5,
        name: "ada".into(),
    };
    let error = within("put", nodes[1].handle.put(&claim, Quorum::One))
        .await
        .expect_err("the only peer refuses it");
    let NodeError::QuorumFailed { report, .. } = error else {
        panic!("not a quorum failure: {error}");
    };
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert_eq!(report.refused[0].reason, RefusalReason::LostConflict);
    let stats = nodes[0].handle.stats().await.unwrap();
    assert_eq!(stats.records_rejected.lost_conflict, 1);
    assert_eq!(
        holder_store.get_value::<Handle>(&HandleKey(5)).unwrap(),
        None
    );
    stop_all(nodes).await;
}
