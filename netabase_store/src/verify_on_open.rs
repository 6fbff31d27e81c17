//! Whether an open verifies the file, and whether it did: the redb builder of every open.
//!
//! A file is verified (every page's checksum, by redb's integrity check) when the store's builder
//! asks for it on every open, or when the file is not known to be as its last clean close left it
//! ([`crate::clean_close`]); redb's crash recovery verifies a file that was not closed cleanly in
//! any case. Either way redb calls its repair callback, which is how a store learns that its open
//! read the whole file.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::Database;

use crate::clean_close;
use crate::config::StoreConfig;

/// The verification of one open.
#[derive(Debug)]
pub(crate) struct Verification {
    /// Whether the open asks redb to verify the file even if it was closed cleanly.
    requested: bool,
    /// Set by redb's repair callback: the open verified the file (requested, or a crash recovery).
    happened: Arc<AtomicBool>,
}

impl Verification {
    /// For opening the file at `path`: verified if the settings say always, or if the file does
    /// not match its clean-close stamp. Read before the open removes the stamp.
    pub(crate) fn for_file(config: &StoreConfig, path: &Path) -> Self {
        Verification {
            requested: config.verify_on_open || !clean_close::closed_cleanly(path),
            happened: Arc::default(),
        }
    }

    /// For a store in memory, which has nothing to verify.
    pub(crate) fn in_memory() -> Self {
        Verification {
            requested: false,
            happened: Arc::default(),
        }
    }

    /// The redb builder for the open, with the cache size of `config`.
    pub(crate) fn builder(&self, config: &StoreConfig) -> redb::Builder {
        let mut builder = Database::builder();
        builder.set_cache_size(config.cache_size);
        builder.set_check_integrity_on_open(self.requested);
        let happened = self.happened.clone();
        builder.set_repair_callback(move |_| happened.store(true, Ordering::Relaxed));
        builder
    }

    /// Whether the open verified every page of the file.
    pub(crate) fn happened(&self) -> bool {
        self.happened.load(Ordering::Relaxed)
    }
}
