//! Signing owned values: [`OwnedWrite`] says what a write is (generation, sequence, expiry,
//! delete), and [`Author::sign`] turns a value into a signed `kad::Record`.

use std::time::{Instant, SystemTime};

use libp2p::kad::Record;

use super::delegation::Delegation;
use super::envelope::{Header, header, signed_message, unsigned_value};
use super::keys::Author;
use super::{check_owner, unix_ms};
use crate::error::{DatabaseError, DatabaseResult};
use crate::schema::NetabaseSchema;

/// What one write of an owned record is, besides its value: start from
/// [`OwnedWrite::after`] (the write that follows the stored one) and adjust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnedWrite {
    /// The owner's generation (0 until the owner revokes writers by raising it).
    pub generation: u64,
    /// The sequence number: must exceed the replaced write's under the same generation.
    pub sequence: u64,
    /// When the record expires, if it does; nodes refuse it after this and refuse copies whose
    /// Kademlia expiry is later.
    pub expires: Option<SystemTime>,
    /// Whether the write deletes the record.
    pub deleted: bool,
}

impl OwnedWrite {
    /// The write after `previous` (the stored value of the record, if any): the same generation,
    /// and as sequence the current Unix time in milliseconds, or one above the previous sequence
    /// if that is higher, so sequences only grow even when clocks go back.
    pub fn after(previous: Option<&[u8]>) -> Self {
        let previous = previous.and_then(header);
        let now = unix_ms(SystemTime::now());
        OwnedWrite {
            generation: previous.map_or(0, |header| header.generation),
            sequence: previous.map_or(now, |header| now.max(header.sequence.saturating_add(1))),
            expires: None,
            deleted: false,
        }
    }

    /// The same write, expiring at `expires`.
    pub fn expiring_at(self, expires: SystemTime) -> Self {
        OwnedWrite {
            expires: Some(expires),
            ..self
        }
    }

    /// The same write as a delete.
    pub fn deleting(self) -> Self {
        OwnedWrite {
            deleted: true,
            ..self
        }
    }

    fn header(&self) -> Header {
        Header {
            generation: self.generation,
            sequence: self.sequence,
            // A signed expiry of 0 would read as "never": the earliest expiry is 1 ms.
            expires_ms: self.expires.map(|time| unix_ms(time).max(1)),
            deleted: self.deleted,
            delegated: false,
        }
    }
}

impl Author {
    /// Signs `value` as its owner: a record under `value`'s record key (whose owner must be this
    /// author, else [`DatabaseError::NotOwner`]) with `write`'s header. Its Kademlia expiry is the
    /// signed expiry.
    pub fn sign<V: NetabaseSchema>(&self, value: &V, write: &OwnedWrite) -> DatabaseResult<Record> {
        let key = V::record_key(&value.key())?;
        check_owner::<V>(key.as_ref(), &self.owner())?;
        self.sign_under(key, value, write.header(), None, write.expires)
    }

    /// Signs `value` as a writer the owner authorised with `delegation` (which must name this
    /// author as its writer). The write takes the delegation's generation.
    pub fn sign_delegated<V: NetabaseSchema>(
        &self,
        value: &V,
        write: &OwnedWrite,
        delegation: &Delegation,
    ) -> DatabaseResult<Record> {
        if delegation.writer != self.owner() {
            return Err(DatabaseError::NotOwner {
                schema: V::NAME,
                record_key: "(a delegation)".to_owned(),
                owner: delegation.writer.to_string(),
                author: self.owner().to_string(),
            });
        }
        let key = V::record_key(&value.key())?;
        let header = Header {
            generation: delegation.generation,
            delegated: true,
            ..write.header()
        };
        self.sign_under(key, value, header, Some(delegation), write.expires)
    }

    fn sign_under<V: NetabaseSchema>(
        &self,
        key: libp2p::kad::RecordKey,
        value: &V,
        header: Header,
        delegation: Option<&Delegation>,
        expires: Option<SystemTime>,
    ) -> DatabaseResult<Record> {
        let payload = value.to_bytes()?;
        let mut bytes = unsigned_value(&header, delegation, &payload);
        let signature = self.sign_bytes(&signed_message(key.as_ref(), &bytes));
        bytes.extend_from_slice(&signature);
        Ok(Record {
            key,
            value: bytes,
            publisher: None,
            expires: expires.map(instant_of),
        })
    }
}

/// The `Instant` of a wall-clock time: now, moved by the difference (a past time saturates at
/// now minus the difference when the platform can represent it, else now).
pub(crate) fn instant_of(time: SystemTime) -> Instant {
    let now = Instant::now();
    match time.duration_since(SystemTime::now()) {
        Ok(ahead) => now.checked_add(ahead).unwrap_or(now),
        Err(behind) => now.checked_sub(behind.duration()).unwrap_or(now),
    }
}
