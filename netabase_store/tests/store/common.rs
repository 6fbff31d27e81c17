//! Schemas and helpers shared by the store test modules.

use std::cmp::Ordering;

use libp2p::PeerId;
use libp2p::multihash::Multihash;
use netabase_store::kad::Record;
use netabase_store::{NetabaseSchema, RedbStore};
use serde::{Deserialize, Serialize};

/// A schema with the default byte-order conflict rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
pub struct User {
    #[key]
    pub id: u64,
    pub name: String,
}

/// A schema whose `#[version]` field decides conflicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
pub struct Doc {
    #[key]
    pub slug: String,
    #[version]
    pub version: u64,
    pub body: String,
}

/// A schema in another namespace whose name shares a prefix with `User`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "other", name = "Users")]
pub struct OtherUser {
    #[key]
    pub id: u64,
    pub email: String,
}

/// A schema implemented by hand, with a custom conflict order: the longer text wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub id: u32,
    pub text: String,
}

impl NetabaseSchema for Note {
    type Key = u32;
    const NAMESPACE: &'static str = "netabase";
    const NAME: &'static str = "Note";
    const CONFLICT_RULE: netabase_store::ConflictRule = netabase_store::ConflictRule::Custom;

    fn key(&self) -> u32 {
        self.id
    }

    fn conflict_order(a: &Self, b: &Self) -> Ordering {
        a.text.len().cmp(&b.text.len())
    }
}

pub fn user(id: u64, name: &str) -> User {
    User {
        id,
        name: name.to_string(),
    }
}

pub fn user_key(id: u64) -> <User as NetabaseSchema>::Key {
    user(id, "").key()
}

pub fn doc(slug: &str, version: u64, body: &str) -> Doc {
    Doc {
        slug: slug.to_string(),
        version,
        body: body.to_string(),
    }
}

/// A deterministic peer id from a seed.
pub fn peer(seed: u8) -> PeerId {
    PeerId::from_multihash(Multihash::wrap(0x12, &[seed; 32]).expect("32-byte digest"))
        .expect("sha2-256 multihash is a peer id")
}

/// An in-memory store knowing every test schema.
pub fn memory_store() -> RedbStore {
    RedbStore::builder()
        .register::<User>()
        .register::<Doc>()
        .register::<OtherUser>()
        .register::<Note>()
        .set_local_peer_id(peer(0))
        .in_memory()
        .expect("in-memory store opens")
}

/// A builder knowing every test schema, with peer 0 as the local peer.
pub fn builder() -> netabase_store::RedbStoreBuilder {
    let mut builder = RedbStore::builder();
    builder
        .register::<User>()
        .register::<Doc>()
        .register::<OtherUser>()
        .register::<Note>()
        .set_local_peer_id(peer(0));
    builder
}

pub fn raw(key: &[u8], value: &[u8]) -> Record {
    Record::new(key.to_vec(), value.to_vec())
}

/// Runs a future to completion on a current-thread runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime builds")
        .block_on(future)
}

/// Writes a store of 2000 users at `path`, then overwrites 8 KiB in the middle of its data pages,
/// so that opening it must report corruption.
pub fn write_damaged_store(path: &std::path::Path) {
    use std::io::{Seek, SeekFrom, Write};

    {
        let store = RedbStore::create(path).unwrap();
        let users: Vec<User> = (0..2000)
            .map(|i| user(i, "some text to fill pages"))
            .collect();
        store.put_values(&users).unwrap();
    }
    let len = std::fs::metadata(path).unwrap().len();
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(len / 2)).unwrap();
    file.write_all(&[0xA5; 8192]).unwrap();
}
