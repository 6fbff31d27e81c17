//! shared_notes: a small notes application shared by three people, each running a node.
//!
//! This is the shape of a real application: domain types derive `NetabaseSchema`, and an app
//! struct wraps a `NodeHandle` with the operations the application needs. Copy it as a start.
//!
//! - `Note` is keyed by (author, number); anyone may edit any note, and the highest `revision`
//!   wins when two edits meet.
//! - `NoteIndex` tells how many notes an author wrote. Kademlia cannot list keys, so readers find
//!   an author's notes through this index; only its author writes it, and the larger count wins.
//!
//! Run it with `cargo run --example shared_notes`.

use std::path::Path;
use std::time::Duration;

use netabase_store::kad::Quorum;
use netabase_store::prelude::*;
use netabase_store::{Identity, Multiaddr, Node, NodeConfig, NodeHandle, RedbStore};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

type Error = Box<dyn std::error::Error>;

/// One note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "notes")]
struct Note {
    #[key]
    author: String,
    #[key]
    number: u32,
    text: String,
    edited_by: String,
    #[version]
    revision: u32,
}

/// How many notes an author has written: their notes are numbered 1 to `count`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "notes")]
struct NoteIndex {
    #[key]
    author: String,
    #[version]
    count: u32,
}

/// The application: one user's view of the shared notes, backed by their node.
struct NotesApp {
    user: String,
    node: NodeHandle,
    task: JoinHandle<()>,
    written: u32,
}

impl NotesApp {
    /// Starts `user`'s node on a store file in `dir` (keeping its identity beside it), joining the
    /// network through `join` if given.
    async fn start(user: &str, dir: &Path, join: Option<&NotesApp>) -> Result<Self, Error> {
        let store_path = dir.join(format!("{user}.redb"));
        let store = RedbStore::builder()
            .register::<Note>()
            .register::<NoteIndex>()
            .create(&store_path)?;
        let mut config = NodeConfig::new();
        config
            .set_listen_addrs(vec!["/ip4/127.0.0.1/tcp/0".parse()?])
            .set_identity(Identity::File(store_path.with_extension("key")))
            .set_operation_timeout(Duration::from_secs(20))
            .register::<Note>()
            .register::<NoteIndex>();
        if let Some(peer) = join {
            config.add_bootstrap_peer(peer.node.peer_id(), peer.address().await?);
        }
        let (node, task) = Node::spawn(config, store).await?;
        Ok(NotesApp {
            user: user.to_owned(),
            node,
            task,
            written: 0,
        })
    }

    async fn address(&self) -> Result<Multiaddr, Error> {
        Ok(self.node.listeners().await?.remove(0))
    }

    /// Waits (at most 10 s) until the node knows `peers` other nodes.
    async fn wait_for_peers(&self, peers: usize) -> Result<(), Error> {
        for _ in 0..200 {
            if self.node.stats().await?.routing_table_size >= peers {
                return Ok(());
            }
            let _ = self.node.bootstrap().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("{} did not find {peers} peers within 10 s", self.user).into())
    }

    /// Writes a new note and publishes the updated index.
    async fn write(&mut self, text: &str) -> Result<Note, Error> {
        self.written += 1;
        let note = Note {
            author: self.user.clone(),
            number: self.written,
            text: text.to_owned(),
            edited_by: self.user.clone(),
            revision: 1,
        };
        self.node.put(&note, Quorum::One).await?;
        let index = NoteIndex {
            author: self.user.clone(),
            count: self.written,
        };
        self.node.put(&index, Quorum::One).await?;
        Ok(note)
    }

    /// Every note of `author`, as the network holds them now.
    async fn notes_of(&self, author: &str) -> Result<Vec<Note>, Error> {
        // `get_from_network` asks the peers even if this node holds a copy, so it sees edits
        // made elsewhere; `get` would answer from the local copy first.
        let index = self
            .node
            .get_from_network::<NoteIndex>(&NoteIndexKey(author.to_owned()))
            .await?;
        let mut notes = Vec::with_capacity(index.count as usize);
        for number in 1..=index.count {
            let key = NoteKey {
                author: author.to_owned(),
                number,
            };
            notes.push(self.node.get_from_network::<Note>(&key).await?);
        }
        Ok(notes)
    }

    /// Replaces the text of someone's note with a new revision.
    async fn edit(&self, author: &str, number: u32, text: &str) -> Result<Note, Error> {
        let key = NoteKey {
            author: author.to_owned(),
            number,
        };
        let current = self.node.get_from_network::<Note>(&key).await?;
        let edited = Note {
            text: text.to_owned(),
            edited_by: self.user.clone(),
            revision: current.revision + 1,
            ..current
        };
        self.node.put(&edited, Quorum::One).await?;
        Ok(edited)
    }

    /// Stops the node; its store is committed and closed.
    async fn stop(self) -> Result<(), Error> {
        self.node.shutdown().await?;
        self.task.await?;
        Ok(())
    }
}

fn show(reader: &str, author: &str, notes: &[Note]) {
    println!("{reader} reads {author}'s notes:");
    for note in notes {
        println!(
            "  #{} r{} {:?} (last edited by {})",
            note.number, note.revision, note.text, note.edited_by
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let mut alice = NotesApp::start("alice", dir.path(), None).await?;
    let mut bob = NotesApp::start("bob", dir.path(), Some(&alice)).await?;
    let carol = NotesApp::start("carol", dir.path(), Some(&alice)).await?;
    for app in [&alice, &bob, &carol] {
        app.wait_for_peers(2).await?;
    }

    alice.write("buy milk").await?;
    alice.write("call the plumber").await?;
    alice.write("book the train").await?;
    bob.write("review the pull request").await?;
    bob.write("water the plants").await?;

    let notes = carol.notes_of("alice").await?;
    show("carol", "alice", &notes);
    assert_eq!(notes.len(), 3);
    assert_eq!(notes[1].text, "call the plumber");
    show("carol", "bob", &carol.notes_of("bob").await?);

    // Bob edits one of alice's notes; everyone reading it afterwards sees his revision.
    bob.edit("alice", 2, "call the plumber (done, Tuesday 9am)")
        .await?;
    let notes = carol.notes_of("alice").await?;
    show("carol", "alice", &notes);
    assert_eq!(notes[1].revision, 2);
    assert_eq!(notes[1].edited_by, "bob");

    for app in [alice, bob, carol] {
        app.stop().await?;
    }
    Ok(())
}
