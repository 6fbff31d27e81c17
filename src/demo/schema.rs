//! The example schemas the demo network stores.

use netabase_store::NetabaseSchema;
use serde::{Deserialize, Serialize};

/// A note of a shared notebook. The higher `revision` wins when two nodes write the same note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "demo")]
pub struct Note {
    /// Which note.
    #[key]
    pub id: u32,
    /// The node that wrote this revision.
    pub author: String,
    /// The note's text.
    pub text: String,
    /// Bumped by every edit; decides conflicts.
    #[version]
    pub revision: u32,
}

/// Whether a user is online: a short-lived record that expires on every node at the same time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "demo")]
pub struct Presence {
    /// Whose presence.
    #[key]
    pub user: String,
    /// What they are doing.
    pub status: String,
}
