//! The keys of owned records: [`Owner`], the public key a record key names, and [`Author`], the
//! keypair that signs.

use std::fmt;
use std::path::Path;

use libp2p::identity::{Keypair, ed25519};
use serde::{Deserialize, Serialize};

use crate::node::IdentityError;

/// An ed25519 public key as it appears in an owned record key: 32 bytes, encoded by postcard as
/// exactly those 32 bytes (no length prefix). The first `#[key]` field of an owned schema is an
/// `Owner`, so the record key `/<namespace>/<name>/<owner><rest of key>` names its owner and is
/// self-certifying: only that key (or a writer it authorised) can sign a value for it.
///
/// Any 32 bytes decode as an `Owner`; [`Owner::public_key`] says whether they are a valid key, and
/// a record under bytes that are not is refused by every check.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Owner(pub [u8; 32]);

impl Owner {
    /// The 32 bytes of the key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The key as libp2p's ed25519 public key, or `None` when the bytes are not a valid key.
    pub fn public_key(&self) -> Option<ed25519::PublicKey> {
        ed25519::PublicKey::try_from_bytes(&self.0).ok()
    }

    /// Parses the 64 hexadecimal digits [`Display`](fmt::Display) gives.
    pub fn from_hex(text: &str) -> Option<Owner> {
        let text = text.trim();
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Owner(bytes))
    }
}

impl From<ed25519::PublicKey> for Owner {
    fn from(key: ed25519::PublicKey) -> Self {
        Owner(key.to_bytes())
    }
}

/// Lowercase hexadecimal, 64 digits.
impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Owner({self})")
    }
}

impl crate::NetabaseSchemaKey for Owner {}

/// The ed25519 keypair that signs owned records: an owner's own key, or a writer's key that an
/// owner authorised with a [`Delegation`](super::Delegation).
///
/// Keep it in a file beside the store with [`Author::load_or_create`] (the file format is the
/// node identity's: libp2p's protobuf encoding, written atomically and readable only by its user
/// on Unix), or make one with [`Author::generate`]. The secret key never leaves the process:
/// records carry only the public key and signatures.
#[derive(Clone)]
pub struct Author {
    keypair: ed25519::Keypair,
}

impl Author {
    /// A new random keypair.
    pub fn generate() -> Self {
        Author {
            keypair: ed25519::Keypair::generate(),
        }
    }

    /// Reads the keypair at `path`, or creates one there on first use (like the node identity,
    /// `netabase key create` makes the same file). Fails with [`IdentityError`] when the file
    /// cannot be read or written, or holds no ed25519 keypair.
    pub fn load_or_create(path: &Path) -> Result<Self, IdentityError> {
        let keypair = crate::node::load_or_create_identity(path)?;
        Author::from_keypair(keypair).map_err(|reason| IdentityError::Decode {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Reads the keypair at `path`, which must exist (see [`load_or_create`](Self::load_or_create)).
    /// Fails with [`IdentityError::Io`] when it cannot be read (also when it does not exist) and
    /// [`IdentityError::Decode`] when it holds no ed25519 keypair.
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        let bytes = std::fs::read(path).map_err(|source| IdentityError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
        let decode = |reason: String| IdentityError::Decode {
            path: path.to_path_buf(),
            reason,
        };
        let keypair =
            Keypair::from_protobuf_encoding(&bytes).map_err(|error| decode(error.to_string()))?;
        Author::from_keypair(keypair).map_err(decode)
    }

    /// The author of an ed25519 libp2p keypair (a node's identity can sign as an author too).
    /// Fails for other key types, naming the type.
    pub fn from_keypair(keypair: Keypair) -> Result<Self, String> {
        let key_type = keypair.key_type();
        keypair
            .try_into_ed25519()
            .map(|keypair| Author { keypair })
            .map_err(|_| format!("an author key must be ed25519, this one is {key_type:?}"))
    }

    /// The public key this author signs as.
    pub fn owner(&self) -> Owner {
        Owner::from(self.keypair.public())
    }

    /// An ed25519 signature of `message` by this author.
    pub(crate) fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        let signature = self.keypair.sign(message);
        let mut out = [0u8; 64];
        out.copy_from_slice(&signature);
        out
    }
}

impl fmt::Debug for Author {
    /// Shows the public key only, never the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Author({})", self.owner())
    }
}

/// Whether `signature` is `owner`'s signature of `message`; false for bytes that are no key.
pub(crate) fn verify(owner: &Owner, message: &[u8], signature: &[u8]) -> bool {
    owner
        .public_key()
        .is_some_and(|key| key.verify(message, signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_print_and_parse_as_hex() {
        let owner = Author::generate().owner();
        let text = owner.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(Owner::from_hex(&text), Some(owner));
        assert_eq!(Owner::from_hex("zz"), None);
        assert_eq!(Owner::from_hex(&"é".repeat(32)), None);
    }

    #[test]
    fn an_owner_encodes_as_its_32_bytes() {
        let owner = Owner([7; 32]);
        assert_eq!(postcard::to_allocvec(&owner).unwrap(), [7; 32]);
    }

    #[test]
    fn signatures_verify_only_for_their_key_and_message() {
        let author = Author::generate();
        let signature = author.sign_bytes(b"message");
        assert!(verify(&author.owner(), b"message", &signature));
        assert!(!verify(&author.owner(), b"messagf", &signature));
        assert!(!verify(&Author::generate().owner(), b"message", &signature));
        assert!(!verify(&author.owner(), b"message", &signature[..63]));
    }

    #[test]
    fn the_debug_form_shows_no_secret() {
        let author = Author::generate();
        assert_eq!(format!("{author:?}"), format!("Author({})", author.owner()));
    }
}
