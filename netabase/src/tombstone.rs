//! Tombstones: a delete that travels as a plain `kad::Record`.
//!
//! Kademlia has no delete: a peer that still holds a value serves it, and a node that removed its
//! own copy fetched it back on the next get. So a delete is a record too. The tombstone of a
//! value `V` under key `K` is the record `K -> V ++ TOMBSTONE_MARKER`: the deleted value's exact
//! bytes followed by a fixed marker (`docs/record-format.md` has the bytes).
//!
//! - **It cannot be mistaken for a value.** A valid value decodes exactly, with no trailing bytes,
//!   and postcard decodes from the front, so `V ++ marker` (with `V` valid) leaves the marker
//!   over and is never a valid value; and a valid value that happens to end with the marker is
//!   never mistaken for a tombstone, because its bytes before the marker would be a valid value
//!   that is a strict prefix of another, which postcard's decoding rules out.
//! - **It wins against the value it deletes, and only against what that value beat.** Under
//!   the schema's rule a tombstone sits just above its value: it beats `V` and every value `V`
//!   beats, and loses to every value that beats `V` (a newer `#[version]`, greater bytes). So a
//!   delete is a write like any other: commutative and idempotent, and a later write wins over
//!   it. Under byte order this is the plain byte order of the record values, so nodes that do not
//!   know the schema order tombstones correctly without decoding anything.
//! - **It expires after the value would have**: a tombstone of a value with an expiry expires
//!   just after it; of a value without one, after the node's tombstone TTL
//!   (`NodeConfig::set_tombstone_ttl`), long enough for every copy of the value to have expired
//!   or been replaced.

use std::cmp::Ordering;

use libp2p::kad::Record;

use crate::error::DatabaseResult;
use crate::owned::Signatures;
use crate::schema::{NetabaseSchema, value_under};

/// The bytes a tombstone's value ends with, after the deleted value.
pub const TOMBSTONE_MARKER: &[u8] = b"\x00netabase:deleted";

/// The value of the tombstone of `deleted` (the deleted value's exact bytes).
pub fn tombstone_value(deleted: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(deleted.len() + TOMBSTONE_MARKER.len());
    value.extend_from_slice(deleted);
    value.extend_from_slice(TOMBSTONE_MARKER);
    value
}

/// The bytes before the marker, if `value` ends with it: the deleted value, for a tombstone.
/// This looks at the bytes only; whether they are a tombstone of a schema says
/// [`decode_stored`] (or [`SchemaInfo::is_tombstone`](crate::SchemaInfo::is_tombstone)).
pub fn deleted_value(value: &[u8]) -> Option<&[u8]> {
    value.strip_suffix(TOMBSTONE_MARKER)
}

/// The size that value size limits apply to: the value's length, less the marker for what may be
/// a tombstone (so a value at the size limit can still be deleted).
pub fn payload_len(value: &[u8]) -> usize {
    deleted_value(value).map_or(value.len(), <[u8]>::len)
}

/// A stored value of schema `V`, decoded: a live value, or the tombstone of one.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored<V> {
    /// A value.
    Value(V),
    /// The tombstone of this value: it was deleted.
    Deleted(V),
}

impl<V> Stored<V> {
    /// The value, unless it was deleted.
    pub fn live(self) -> Option<V> {
        match self {
            Stored::Value(value) => Some(value),
            Stored::Deleted(_) => None,
        }
    }
}

/// Decodes the value bytes of a record of `V`: a value, or the tombstone of one. Fails with the
/// value's own decoding error when the bytes are neither. An owned value is verified against its
/// record key, so for an owned schema use [`decode_stored_under`]; this fails for one.
pub fn decode_stored<V: NetabaseSchema>(bytes: &[u8]) -> DatabaseResult<Stored<V>> {
    if V::OWNED {
        return Err(crate::owned::refused::<V>(
            b"",
            crate::owned::OwnershipProblem::Malformed(
                "an owned value is verified with its record key: use decode_stored_under",
            ),
        ));
    }
    match V::from_bytes(bytes) {
        Ok(value) => Ok(Stored::Value(value)),
        Err(error) => match deleted_value(bytes).map(V::from_bytes) {
            Some(Ok(value)) => Ok(Stored::Deleted(value)),
            _ => Err(error),
        },
    }
}

/// Checks and decodes a record of `V` like [`NetabaseSchema::from_record`], accepting the
/// tombstone of a valid record too (its deleted value must be a valid value of the record's key).
/// For an owned schema the record is verified ([`crate::owned`]), and its Kademlia expiry must not
/// be later than its signed expiry.
pub fn decode_record<V: NetabaseSchema>(record: &Record) -> DatabaseResult<Stored<V>> {
    let stored = decode_stored_under(record.key.as_ref(), &record.value)?;
    if V::OWNED {
        crate::owned::check_expiry::<V>(record.key.as_ref(), &record.value, record.expires)?;
    }
    Ok(stored)
}

/// Decodes the value bytes stored under the record key `key` like [`decode_stored`], and checks
/// that the key belongs to `V` and is the decoded value's record key: a typed read never returns
/// the value of another key, whatever the file holds.
pub fn decode_stored_under<V: NetabaseSchema>(
    key: &[u8],
    bytes: &[u8],
) -> DatabaseResult<Stored<V>> {
    decode_under::<V>(key, bytes, Signatures::Verify)
}

/// Decodes value bytes this process verified moments ago, like [`decode_stored_under`] but
/// without verifying an owned value's signatures a second time (about 100 us each on a slow
/// core). Everything else is checked as there. A node's typed get decodes with it the record its
/// event loop checked as the caller's schema; bytes from a peer, a caller or a file never go
/// through it.
pub(crate) fn decode_stored_trusted<V: NetabaseSchema>(
    key: &[u8],
    bytes: &[u8],
) -> DatabaseResult<Stored<V>> {
    decode_under::<V>(key, bytes, Signatures::Trust)
}

fn decode_under<V: NetabaseSchema>(
    key: &[u8],
    bytes: &[u8],
    signatures: Signatures,
) -> DatabaseResult<Stored<V>> {
    if V::OWNED {
        return crate::owned::decode_owned::<V>(key, bytes, signatures);
    }
    match value_under::<V>(key, bytes) {
        Ok(value) => Ok(Stored::Value(value)),
        Err(error) => match deleted_value(bytes).map(|deleted| value_under::<V>(key, deleted)) {
            Some(Ok(value)) => Ok(Stored::Deleted(value)),
            _ => Err(error),
        },
    }
}

/// The tombstone of `record`'s value: same key, the tombstone value, no publisher (the deleting
/// node becomes it), and `expires` as given.
pub fn tombstone_of(record: &Record, expires: Option<std::time::Instant>) -> Record {
    Record {
        key: record.key.clone(),
        value: tombstone_value(&record.value),
        publisher: None,
        expires,
    }
}

/// Orders two stored values of `V` (values or tombstones) given how `V` orders two values: a
/// tombstone sits just above the value it deletes.
pub(crate) fn compare_stored<V: NetabaseSchema>(
    a: &[u8],
    b: &[u8],
    order: impl Fn(&V, &V) -> Ordering,
) -> DatabaseResult<Ordering> {
    let (value_a, deleted_a, bytes_a) = split::<V>(a)?;
    let (value_b, deleted_b, bytes_b) = split::<V>(b)?;
    Ok(order(&value_a, &value_b)
        .then_with(|| bytes_a.cmp(bytes_b))
        .then_with(|| deleted_a.cmp(&deleted_b)))
}

/// The decoded value, whether it is a tombstone, and the value's own bytes.
fn split<V: NetabaseSchema>(bytes: &[u8]) -> DatabaseResult<(V, bool, &[u8])> {
    Ok(match decode_stored::<V>(bytes)? {
        Stored::Value(value) => (value, false, bytes),
        Stored::Deleted(value) => (value, true, &bytes[..bytes.len() - TOMBSTONE_MARKER.len()]),
    })
}
