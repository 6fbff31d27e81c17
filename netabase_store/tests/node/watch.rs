//! Watching a node's store: an application keeps a clone of the store it gives the node and
//! hears what peers publish, as peer events.

use netabase_store::kad::Quorum;
use netabase_store::{Change, ChangeEvent, NetabaseSchema, Origin, WatchEvent};

use crate::support::*;

#[tokio::test]
async fn a_watch_on_a_nodes_store_hears_a_peers_put_as_a_peer_event() {
    let publisher = start_node(fast_config(Net::Memory), memory_store(), None).await;
    let store = memory_store();
    let mut watch = store.watch::<Profile>();
    let listener = start_node(fast_config(Net::Memory), store.clone(), Some(&publisher)).await;
    let nodes = vec![publisher, listener];
    connect_all(&nodes).await;
    let value = Profile {
        id: 7,
        name: "from the other node".into(),
    };
    within("put", nodes[0].handle.put(&value, Quorum::One))
        .await
        .expect("put");
    // The listener commits what it received within its flush interval; the watch then hears it.
    let event = within("the watch hears the put", watch.recv())
        .await
        .expect("the store is open")
        .expect("decodes");
    assert_eq!(
        event,
        WatchEvent::Change(ChangeEvent {
            key: value.key(),
            change: Change::Inserted(value.clone()),
            origin: Origin::Peer,
        })
    );
    stop_all(nodes).await;
}
