//! Owned records: values only their owner, or a writer the owner authorised, can change.
//!
//! A schema opts in with `#[netabase(owned)]`; its first `#[key]` field is an [`Owner`], so every
//! record key `/<namespace>/<name>/<owner><rest of key>` names the ed25519 key that owns it (it is
//! self-certifying, as an IPNS name is). The record value is an envelope around the postcard
//! value: a header (format version, generation, sequence, signed expiry, flags), an optional
//! [`Delegation`] when a writer signed, the payload, and the signer's signature over the record
//! key and everything before the signature. It is still a plain `kad::Record`, which any Kademlia
//! peer stores and serves; `docs/record-format.md` gives the bytes.
//!
//! Every check that makes a record a valid record of its schema verifies owned records too, so
//! inbound puts, lookup answers, `put_record`, batches, `sync_from_network` and repairs all refuse
//! a value that is not signed by the owner or an authorised writer ([`OwnershipProblem`] says
//! why). The highest (generation, sequence) wins, and since those lead the value big-endian,
//! nodes that do not know the schema keep the newest write by plain byte order. What a hostile
//! peer can and cannot do is in `docs/security.md`.

mod delegation;
mod envelope;
mod keys;
mod sign;
mod verify;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use delegation::{DELEGATION_DOMAIN, DELEGATION_LEN, Delegation, Scope};
pub use envelope::{
    FLAG_DELEGATED, FLAG_DELETED, FORMAT_VERSION, HEADER_LEN, Header, RECORD_DOMAIN, SIGNATURE_LEN,
    header,
};
pub use keys::{Author, Owner};
pub use sign::OwnedWrite;
pub(crate) use verify::{Signatures, check_expiry, decode_owned};

use crate::error::{DatabaseError, DatabaseResult, escape_bytes};
use crate::schema::NetabaseSchema;

/// How far ahead of a verifying node's clock a sequence number (a write's time) or a delegation
/// deadline may be: clocks of honest peers differ, but not by more (iroh-docs uses the same bound).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(10 * 60);

/// How far after its sequence (its write time) a signed expiry may be: a signature binds a value
/// for at most this long, so a leaked old value cannot be made to outlive its owner's intent.
pub const MAX_SIGNED_LIFETIME: Duration = Duration::from_secs(366 * 86_400);

/// Why an owned record was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OwnershipProblem {
    /// The bytes are not an owned value's layout (or the key names no owner).
    #[error("not an owned record: {0}")]
    Malformed(&'static str),
    /// The signature does not verify for the key that must have signed.
    #[error("the signature does not verify")]
    BadSignature,
    /// A writer signed, but the owner did not authorise it for this record.
    #[error("signed by a key the owner did not authorise for this record")]
    NotAWriter,
    /// The writer's delegation passed its deadline, or is for a generation the owner has left.
    #[error("the writer's authorisation was revoked or has expired")]
    Revoked,
    /// The write is not newer than one this node already accepted for the key.
    #[error("an older write than one already accepted for this key (a replay or rollback)")]
    Replayed,
    /// The sequence (write time) or signed expiry is too far in the future.
    #[error("the write's time or expiry is too far in the future")]
    FutureTimestamp,
    /// The record's Kademlia expiry is later than the owner signed.
    #[error("the record's expiry is later than its signed expiry")]
    ExpiryExtended,
    /// The signed expiry has passed.
    #[error("the signed expiry has passed")]
    Expired,
    /// The value is a signed delete, asked for as a live value.
    #[error("the owner deleted this record")]
    Deleted,
}

/// Milliseconds since the Unix epoch, 0 for earlier times, saturating far in the future.
pub(crate) fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

/// The owner a record key of `V` names: the 32 bytes after the schema prefix.
pub(crate) fn owner_of<V: NetabaseSchema>(record_key: &[u8]) -> Option<Owner> {
    let prefix_len = crate::schema::prefix_len::<V>();
    let owner = record_key.get(prefix_len..prefix_len + 32)?;
    Some(Owner(owner.try_into().ok()?))
}

/// Fails with [`DatabaseError::NotOwner`] unless `record_key` is owned by `author`.
pub(crate) fn check_owner<V: NetabaseSchema>(
    record_key: &[u8],
    author: &Owner,
) -> DatabaseResult<()> {
    match owner_of::<V>(record_key) {
        Some(owner) if owner == *author => Ok(()),
        owner => Err(DatabaseError::NotOwner {
            schema: V::NAME,
            record_key: escape_bytes(record_key),
            owner: owner.map_or_else(|| "no owner".to_owned(), |owner| owner.to_string()),
            author: author.to_string(),
        }),
    }
}

/// The error for an owned record of `V` under `record_key` refused for `problem`.
pub(crate) fn refused<V: NetabaseSchema>(
    record_key: &[u8],
    problem: OwnershipProblem,
) -> DatabaseError {
    DatabaseError::Ownership {
        schema: V::NAME,
        record_key: escape_bytes(record_key),
        problem,
    }
}
