//! Owned records: a profile only its owner can change. Alice's key signs her profile; a node
//! that is not hers stores and serves it, refuses mallory's forgery, and takes alice's update and
//! her delete. Bob writes to alice's guest book with a delegation she signed.
//!
//! Run it with `cargo run --example owned_profiles`.

use std::time::{Duration, SystemTime};

use netabase_store::kad::Quorum;
use netabase_store::owned::{Author, Owner};
use netabase_store::prelude::*;
use netabase_store::{Node, NodeConfig, NodeError, RedbStore};
use serde::{Deserialize, Serialize};

/// One profile per key: the record key is `/owned_profiles/Profile/<owner's public key>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "owned_profiles", owned)]
struct Profile {
    #[key]
    owner: Owner,
    display_name: String,
}

/// Entries of an owner's guest book, which the owner lets others write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "owned_profiles", owned)]
struct GuestEntry {
    #[key]
    book: Owner,
    #[key]
    number: u32,
    text: String,
}

fn store(dir: &std::path::Path, name: &str) -> Result<RedbStore, netabase_store::OpenError> {
    RedbStore::builder()
        .register::<Profile>()
        .register::<GuestEntry>()
        .create(dir.join(format!("{name}.redb")))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut config = NodeConfig::new();
    config
        .set_listen_addrs(vec!["/ip4/127.0.0.1/tcp/0".parse()?])
        .register::<Profile>()
        .register::<GuestEntry>();
    let (home, home_task) = Node::spawn(config.clone(), store(dir.path(), "home")?).await?;
    config.add_bootstrap_peer(home.peer_id(), home.listeners().await?.remove(0));
    let (other, other_task) = Node::spawn(config, store(dir.path(), "other")?).await?;
    other.wait_for_peers(1, Duration::from_secs(10)).await?;
    home.wait_for_peers(1, Duration::from_secs(10)).await?;

    // Alice's key lives in a file beside her store (`netabase key create` makes the same file).
    let alice = Author::load_or_create(&dir.path().join("alice.author"))?;
    let profile = Profile {
        owner: alice.owner(),
        display_name: "Alice".into(),
    };
    home.put_owned(&alice, &profile, Quorum::One).await?;
    assert_eq!(other.get::<Profile>(&profile.key()).await?, profile);
    println!("alice ({}) published her profile", alice.owner());

    // Mallory cannot sign for alice's key, and unsigned writes of an owned schema are refused.
    let mallory = Author::generate();
    let forged = Profile {
        owner: alice.owner(),
        display_name: "Alice (send me money)".into(),
    };
    let refused = other.put_owned(&mallory, &forged, Quorum::One).await;
    println!(
        "mallory's forgery: {}",
        refused.expect_err("only alice signs")
    );
    assert!(other.put(&forged, Quorum::One).await.is_err());

    // Alice updates from any node: the newest signed write wins everywhere.
    let renamed = Profile {
        display_name: "Alice Liddell".into(),
        ..profile.clone()
    };
    other.put_owned(&alice, &renamed, Quorum::One).await?;
    assert_eq!(
        home.get_from_network::<Profile>(&profile.key()).await?,
        renamed
    );
    println!("alice renamed herself: {}", renamed.display_name);

    // Bob may write alice's guest book for a day, because she signed a delegation for him.
    let bob = Author::generate();
    let delegation = alice.delegate_collection::<GuestEntry>(
        bob.owner(),
        0,
        SystemTime::now() + Duration::from_secs(86_400),
    );
    let entry = GuestEntry {
        book: alice.owner(),
        number: 1,
        text: "lovely profile! -- bob".into(),
    };
    other
        .put_delegated(&bob, &delegation, &entry, Quorum::One)
        .await?;
    assert_eq!(home.get::<GuestEntry>(&entry.key()).await?, entry);
    println!("bob signed alice's guest book: {:?}", entry.text);

    // Alice deletes her profile with a signed delete; every node then answers "deleted".
    home.remove_owned::<Profile>(&alice, &profile.key(), Quorum::One)
        .await?;
    match other.get_from_network::<Profile>(&profile.key()).await {
        Err(NodeError::NotFound { deleted: true, .. }) => println!("alice deleted her profile"),
        other => panic!("expected a delete, got {other:?}"),
    }

    home.shutdown().await?;
    other.shutdown().await?;
    home_task.await?;
    other_task.await?;
    Ok(())
}
