//! Two nodes on loopback, each with its own redb file: a value put on one is read on the other
//! through the Kademlia DHT. This file is the README's "A first program", verbatim (a test checks).
//!
//! Run it with `cargo run --example two_nodes`.

use std::time::Duration;

use netabase_store::kad::Quorum;
use netabase_store::prelude::*;
use netabase_store::{Node, NodeConfig, RedbStore};
use serde::{Deserialize, Serialize};

// Record keys are `/two_nodes/Message/<key>`: an application names its own namespace, so its
// `Message` never meets another application's on shared nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "two_nodes")]
struct Message {
    #[key]
    board: String,
    #[key]
    number: u32,
    text: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut config = NodeConfig::new();
    config
        .set_listen_addrs(vec!["/ip4/127.0.0.1/tcp/0".parse()?])
        .register::<Message>();

    // Alice listens on loopback; one redb file per node.
    let alice_store = RedbStore::builder()
        .register::<Message>()
        .create(dir.path().join("alice.redb"))?;
    let (alice, alice_task) = Node::spawn(config.clone(), alice_store).await?;

    // Bob joins through her address.
    let alice_addr = alice.listeners().await?.remove(0);
    config.add_bootstrap_peer(alice.peer_id(), alice_addr);
    let bob_store = RedbStore::builder()
        .register::<Message>()
        .create(dir.path().join("bob.redb"))?;
    let (bob, bob_task) = Node::spawn(config, bob_store).await?;

    // Wait until each can reach the other, so a put has a peer to go to.
    bob.wait_for_peers(1, Duration::from_secs(10)).await?;
    alice.wait_for_peers(1, Duration::from_secs(10)).await?;

    // Durable in alice's file, then validated and stored by the closest peers (bob).
    let hello = Message {
        board: "general".into(),
        number: 1,
        text: "hello".into(),
    };
    let report = alice.put(&hello, Quorum::One).await?;
    println!(
        "stored by {} peer(s): {:?}",
        report.reached(),
        report.stored
    );

    // Bob reads it: from his own store if he holds a copy, else from the network.
    assert_eq!(bob.get::<Message>(&hello.key()).await?, hello);

    // Shutting down commits each store and closes its file.
    alice.shutdown().await?;
    bob.shutdown().await?;
    alice_task.await?;
    bob_task.await?;
    Ok(())
}
