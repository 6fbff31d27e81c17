//! The clean-close stamp: what lets a store open without reading its whole file.
//!
//! redb verifies every page of a file that was not closed cleanly (its crash recovery), but trusts
//! the pages of one that was, and can fail or panic later on a page damaged after that close. So a
//! store verifies a file on open unless it finds, beside the file, the stamp its own clean close
//! wrote: `<file>.closed`, holding the file's length, modification time and (on Unix) device and
//! inode as they were once the file was closed. A file changed since (by another program, a
//! restored backup, a copy, a repair) no longer matches its stamp and is verified. An open removes
//! the stamp before redb writes to the file; the last handle's drop writes it again once redb has
//! closed the file. Damage that changes none of these (a disk corrupting a sector in place) is
//! found only by a verifying open ([`crate::RedbStoreBuilder::set_verify_on_open`]); see
//! `docs/durability.md`.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// The first line of a stamp file, naming its format.
const HEADER: &str = "netabase clean close 1";

/// The stamp file of the store file `path`.
pub(crate) fn stamp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".closed");
    PathBuf::from(name)
}

/// Whether the file at `path` is, as far as its metadata tells, the file its last clean close left:
/// its stamp exists and matches. Any failure to read either is `false` (verify).
pub(crate) fn closed_cleanly(path: &Path) -> bool {
    let Ok(stamp) = std::fs::read_to_string(stamp_path(path)) else {
        return false;
    };
    fingerprint(path).is_some_and(|now| stamp == now)
}

/// Removes the stamp of `path` before the file is opened for writing. A stamp that cannot be
/// removed is harmless: the first write changes the file, so it no longer matches.
pub(crate) fn remove_stamp(path: &Path) {
    match std::fs::remove_file(stamp_path(path)) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::debug!(%error, path = %path.display(), "could not remove the clean-close stamp");
        }
    }
}

/// Writes the stamp of the store file `path` when dropped: a field of the store declared after
/// the redb database, so it runs once redb has closed the file.
#[derive(Debug)]
pub(crate) struct StampOnDrop {
    path: Option<PathBuf>,
}

impl StampOnDrop {
    /// Stamps the file at `path` on drop.
    pub(crate) fn file(path: &Path) -> Self {
        StampOnDrop {
            path: Some(path.to_path_buf()),
        }
    }

    /// Stamps nothing: a store in memory.
    pub(crate) fn none() -> Self {
        StampOnDrop { path: None }
    }
}

impl Drop for StampOnDrop {
    fn drop(&mut self) {
        let Some(path) = &self.path else {
            return;
        };
        // Without a stamp the next open verifies the file: slower, never wrong.
        let written = fingerprint(path)
            .ok_or_else(|| std::io::Error::other("cannot read the file's metadata"))
            .and_then(|stamp| std::fs::write(stamp_path(path), stamp));
        if let Err(error) = written {
            tracing::warn!(
                %error,
                path = %path.display(),
                "could not write the clean-close stamp; the next open verifies the whole file"
            );
        }
    }
}

/// The stamp text of the file at `path` as it is now.
fn fingerprint(path: &Path) -> Option<String> {
    let metadata = std::fs::metadata(path).ok()?;
    let modified = metadata
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    let (device, inode) = file_identity(&metadata);
    Some(format!(
        "{HEADER}\nlength {}\nmodified_ns {modified}\ndevice {device}\ninode {inode}\n",
        metadata.len()
    ))
}

#[cfg(unix)]
fn file_identity(metadata: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

#[cfg(not(unix))]
fn file_identity(_metadata: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_matches_only_the_file_it_was_written_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        std::fs::write(&path, b"closed").unwrap();
        assert!(!closed_cleanly(&path), "no stamp yet");
        drop(StampOnDrop::file(&path));
        assert!(closed_cleanly(&path));
        // A copy is another file, even with the same bytes and stamp.
        let copy = dir.path().join("copy.redb");
        std::fs::copy(&path, &copy).unwrap();
        std::fs::copy(stamp_path(&path), stamp_path(&copy)).unwrap();
        assert!(!closed_cleanly(&copy));
        // Any write changes the file's length or modification time.
        std::fs::write(&path, b"changed").unwrap();
        assert!(!closed_cleanly(&path));
        drop(StampOnDrop::file(&path));
        assert!(closed_cleanly(&path));
        remove_stamp(&path);
        assert!(!closed_cleanly(&path));
        remove_stamp(&path);
        drop(StampOnDrop::none());
    }

    #[test]
    fn a_stamp_that_is_not_one_never_matches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        std::fs::write(&path, b"closed").unwrap();
        std::fs::write(stamp_path(&path), b"\xff\x00 not a stamp").unwrap();
        assert!(!closed_cleanly(&path));
    }
}
