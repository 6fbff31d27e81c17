//! The node's keypair: generated, given, or kept in a file beside the store.

use std::fs;
use std::io::Write;
use std::path::Path;

use libp2p::identity::Keypair;

use super::config::Identity;
use super::error::IdentityError;

/// Resolves the configured identity to a keypair, creating the identity file on first run.
pub(crate) fn load_identity(identity: &Identity) -> Result<Keypair, IdentityError> {
    match identity {
        Identity::Generate => Ok(Keypair::generate_ed25519()),
        Identity::Keypair(keypair) => Ok(keypair.clone()),
        Identity::File(path) => load_or_create(path),
    }
}

/// Reads the protobuf-encoded keypair at `path`, or generates an ed25519 keypair and writes it there
/// (atomically: a temporary file renamed into place, readable only by the owner on Unix).
pub fn load_or_create(path: &Path) -> Result<Keypair, IdentityError> {
    match fs::read(path) {
        Ok(bytes) => {
            Keypair::from_protobuf_encoding(&bytes).map_err(|error| IdentityError::Decode {
                path: path.to_path_buf(),
                reason: error.to_string(),
            })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let keypair = Keypair::generate_ed25519();
            write_new(path, &keypair)?;
            tracing::info!(path = %path.display(), peer = %keypair.public().to_peer_id(), "created a new node identity");
            Ok(keypair)
        }
        Err(source) => Err(IdentityError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn write_new(path: &Path, keypair: &Keypair) -> Result<(), IdentityError> {
    let bytes = keypair
        .to_protobuf_encoding()
        .map_err(|error| IdentityError::Encode(error.to_string()))?;
    let io = |action: &'static str| {
        move |source| IdentityError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io("create the directory of"))?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = std::path::PathBuf::from(temporary);
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary).map_err(io("create"))?;
    file.write_all(&bytes).map_err(io("write"))?;
    file.sync_all().map_err(io("sync"))?;
    drop(file);
    fs::rename(&temporary, path).map_err(io("rename into place"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "netabase-identity-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn identity_file_is_created_once_and_reused() {
        let dir = temp_dir("reuse");
        let path = dir.join("node.key");
        let first = load_or_create(&path).unwrap();
        let second = load_or_create(&path).unwrap();
        assert_eq!(first.public().to_peer_id(), second.public().to_peer_id());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_identity_file_is_a_clear_error() {
        let dir = temp_dir("corrupt");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("node.key");
        fs::write(&path, b"not a key").unwrap();
        let error = load_or_create(&path).unwrap_err();
        assert!(matches!(error, IdentityError::Decode { .. }), "{error}");
        assert!(error.to_string().contains("delete it"), "{error}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
