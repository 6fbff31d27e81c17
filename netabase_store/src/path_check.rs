//! What a store path must be before anything opens it: absent (for `create`) or a regular file.
//!
//! Opening a FIFO blocks until another process writes to it, and a directory or device is never a
//! store, so both `RedbStore` and `StoreReader` look at the path's metadata first and refuse
//! anything else with [`OpenError::NotAFile`] instead of handing it to redb.

use std::fs::FileType;
use std::io;
use std::path::Path;

use crate::error::OpenError;

/// Whether `path` holds a regular file (following symlinks): `Ok(true)` when it does, `Ok(false)`
/// when nothing is there, [`OpenError::NotAFile`] for a directory, FIFO, socket or device.
pub(crate) fn regular_file_exists(path: &Path) -> Result<bool, OpenError> {
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => Ok(true),
        Ok(metadata) => Err(OpenError::NotAFile {
            path: path.to_path_buf(),
            kind: kind_of(metadata.file_type()),
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(OpenError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A word for a file type that is not a regular file.
fn kind_of(file_type: FileType) -> &'static str {
    if file_type.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "a device";
        }
    }
    "not a regular file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_directories_and_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        assert!(regular_file_exists(&file).unwrap());
        assert!(!regular_file_exists(&dir.path().join("missing")).unwrap());
        let error = regular_file_exists(dir.path()).unwrap_err();
        assert!(
            matches!(
                error,
                OpenError::NotAFile {
                    kind: "a directory",
                    ..
                }
            ),
            "{error}"
        );
    }
}
