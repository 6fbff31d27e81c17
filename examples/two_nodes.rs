//! Two nodes on loopback: a value put on one is read on the other through the Kademlia DHT.
//!
//! Each node owns a redb store; the first listens on 127.0.0.1, the second joins through it.
//!
//! Run it with `cargo run --example two_nodes`.

use std::time::Duration;

use netabase_store::kad::Quorum;
use netabase_store::prelude::*;
use netabase_store::{Node, NodeConfig, NodeHandle, RedbStore};
use serde::{Deserialize, Serialize};

/// A message on a board, identified by its board and number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
struct Message {
    #[key]
    board: String,
    #[key]
    number: u32,
    text: String,
}

/// A node configuration for this example: loopback only, short timeouts, the schema registered.
fn config() -> Result<NodeConfig, Box<dyn std::error::Error>> {
    let mut config = NodeConfig::new();
    config
        .set_listen_addrs(vec!["/ip4/127.0.0.1/tcp/0".parse()?])
        .set_operation_timeout(Duration::from_secs(20))
        .register::<Message>();
    Ok(config)
}

/// Waits (at most 10 s) until `node` has a peer in its routing table.
async fn wait_for_a_peer(node: &NodeHandle) -> Result<(), Box<dyn std::error::Error>> {
    for _ in 0..200 {
        if node.stats().await?.routing_table_size > 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("no peer became routable within 10 s".into())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let open = |name: &str| {
        RedbStore::builder()
            .register::<Message>()
            .create(dir.path().join(name))
    };

    // The first node listens; its address and peer id are what others bootstrap from.
    let (alice, alice_task) = Node::spawn(config()?, open("alice.redb")?).await?;
    let alice_addr = alice.listeners().await?.remove(0);
    println!("alice {} listens on {alice_addr}", alice.peer_id());

    // The second node joins through the first.
    let mut bob_config = config()?;
    bob_config.add_bootstrap_peer(alice.peer_id(), alice_addr);
    let (bob, bob_task) = Node::spawn(bob_config, open("bob.redb")?).await?;
    println!("bob   {} joins through alice", bob.peer_id());
    wait_for_a_peer(&bob).await?;
    wait_for_a_peer(&alice).await?;

    // Alice puts: durable in her store first, then stored at the closest peers (bob).
    let hello = Message {
        board: "general".into(),
        number: 1,
        text: "hello from alice".into(),
    };
    alice.put(&hello, Quorum::One).await?;

    // Bob reads it: from his own store if he holds a copy, else from the network.
    let read = bob.get::<Message>(&hello.key()).await?;
    println!("bob read: {read:?}");
    assert_eq!(read, hello);

    // Shutting down commits each store and closes its file.
    alice.shutdown().await?;
    bob.shutdown().await?;
    alice_task.await?;
    bob_task.await?;
    Ok(())
}
