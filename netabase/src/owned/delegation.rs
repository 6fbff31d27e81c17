//! Delegations: an owner's signed statement that another key may write one record, or every record
//! of the owner in one schema, for one generation and until a deadline.
//!
//! A writer's value carries the delegation after the header; nodes verify the owner's signature on
//! it and the writer's on the value. The owner revokes writers by writing with a higher
//! generation: (generation, sequence) order means a write of the old generation never wins again,
//! and nodes refuse delegated writes whose generation is below the highest they have accepted
//! from the owner (`docs/security.md`).

use std::time::SystemTime;

use super::envelope::{push_len_prefixed, scope_byte};
use super::keys::{Author, Owner, verify};
use super::unix_ms;
use crate::error::{DatabaseError, DatabaseResult};
use crate::schema::NetabaseSchema;

/// Bytes of a delegation inside an owned value: writer, scope, deadline, owner's signature.
pub const DELEGATION_LEN: usize = 32 + 1 + 8 + 64;
/// What the owner signs first in a delegation, so it is never taken for a record signature.
pub const DELEGATION_DOMAIN: &[u8] = b"netabase delegation v1\0";

/// What a delegation lets its writer write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The one record key the delegation was made for.
    Record,
    /// Every record of the owner in the schema (`/<namespace>/<name>/<owner>...`).
    Collection,
}

/// An owner's authorisation of a writer: made with [`Author::delegate_record`] or
/// [`Author::delegate_collection`], handed to the writer (as [`to_bytes`](Self::to_bytes)), and
/// given to the writer's signing calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delegation {
    /// The key allowed to write.
    pub writer: Owner,
    /// What it may write.
    pub scope: Scope,
    /// The owner's generation the delegation is for; writes under it carry this generation.
    pub generation: u64,
    /// The Unix time in milliseconds after which nodes refuse writes under this delegation.
    pub not_after_ms: u64,
    signature: [u8; 64],
}

impl Delegation {
    /// Reads the delegation inside an owned value, whose header gives the generation.
    pub(crate) fn parse(bytes: &[u8], generation: u64) -> Result<Self, &'static str> {
        let writer = Owner(bytes[..32].try_into().map_err(|_| "bad writer key")?);
        let scope = match bytes[32] {
            0 => Scope::Record,
            1 => Scope::Collection,
            _ => return Err("unknown delegation scope"),
        };
        let not_after_ms =
            u64::from_be_bytes(bytes[33..41].try_into().map_err(|_| "bad deadline")?);
        let signature = bytes[41..DELEGATION_LEN]
            .try_into()
            .map_err(|_| "bad delegation signature")?;
        Ok(Delegation {
            writer,
            scope,
            generation,
            not_after_ms,
            signature,
        })
    }

    /// Appends the delegation as it sits inside an owned value.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.writer.0);
        out.push(scope_byte(self.scope));
        out.extend_from_slice(&self.not_after_ms.to_be_bytes());
        out.extend_from_slice(&self.signature);
    }

    /// The delegation as bytes to hand to its writer: the generation, then the in-value layout.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.generation.to_be_bytes().to_vec();
        self.write(&mut out);
        out
    }

    /// Reads what [`to_bytes`](Self::to_bytes) gave. The owner's signature is checked when a
    /// value signed under it is verified, not here.
    pub fn from_bytes(bytes: &[u8]) -> DatabaseResult<Self> {
        let malformed = |reason: &'static str| DatabaseError::MalformedDelegation { reason };
        if bytes.len() != 8 + DELEGATION_LEN {
            return Err(malformed("a delegation is 113 bytes"));
        }
        let (generation, rest) = bytes.split_at(8);
        let generation = u64::from_be_bytes(generation.try_into().map_err(|_| malformed(""))?);
        Delegation::parse(rest, generation).map_err(malformed)
    }

    /// Whether the owner whose record key `record_key` is (with `prefix_len` bytes of schema
    /// prefix) signed this delegation for that key, or for its collection.
    pub(crate) fn is_signed_by(&self, owner: &Owner, record_key: &[u8], prefix_len: usize) -> bool {
        let target = self.target(record_key, prefix_len);
        verify(owner, &self.message(target), &self.signature)
    }

    /// The bytes the delegation names: the record key, or the collection prefix (schema prefix and
    /// owner).
    fn target<'k>(&self, record_key: &'k [u8], prefix_len: usize) -> &'k [u8] {
        match self.scope {
            Scope::Record => record_key,
            Scope::Collection => &record_key[..(prefix_len + 32).min(record_key.len())],
        }
    }

    fn message(&self, target: &[u8]) -> Vec<u8> {
        delegation_message(
            target,
            &self.writer,
            self.scope,
            self.generation,
            self.not_after_ms,
        )
    }
}

fn delegation_message(
    target: &[u8],
    writer: &Owner,
    scope: Scope,
    generation: u64,
    not_after_ms: u64,
) -> Vec<u8> {
    let mut message = Vec::with_capacity(DELEGATION_DOMAIN.len() + 4 + target.len() + 49);
    message.extend_from_slice(DELEGATION_DOMAIN);
    push_len_prefixed(&mut message, target);
    message.extend_from_slice(&writer.0);
    message.push(scope_byte(scope));
    message.extend_from_slice(&generation.to_be_bytes());
    message.extend_from_slice(&not_after_ms.to_be_bytes());
    message
}

impl Author {
    /// Lets `writer` write the record of `key` (whose owner must be this author) under
    /// `generation` until `not_after`.
    pub fn delegate_record<V: NetabaseSchema>(
        &self,
        key: &V::Key,
        writer: Owner,
        generation: u64,
        not_after: SystemTime,
    ) -> DatabaseResult<Delegation> {
        let record_key = V::record_key(key)?;
        super::check_owner::<V>(record_key.as_ref(), &self.owner())?;
        Ok(self.delegate(
            record_key.as_ref(),
            Scope::Record,
            writer,
            generation,
            not_after,
        ))
    }

    /// Lets `writer` write every record of this author in schema `V` under `generation` until
    /// `not_after`.
    pub fn delegate_collection<V: NetabaseSchema>(
        &self,
        writer: Owner,
        generation: u64,
        not_after: SystemTime,
    ) -> Delegation {
        let mut target = V::record_prefix();
        target.extend_from_slice(&self.owner().0);
        self.delegate(&target, Scope::Collection, writer, generation, not_after)
    }

    fn delegate(
        &self,
        target: &[u8],
        scope: Scope,
        writer: Owner,
        generation: u64,
        not_after: SystemTime,
    ) -> Delegation {
        let not_after_ms = unix_ms(not_after);
        let message = delegation_message(target, &writer, scope, generation, not_after_ms);
        Delegation {
            writer,
            scope,
            generation,
            not_after_ms,
            signature: self.sign_bytes(&message),
        }
    }
}
