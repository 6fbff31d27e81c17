//! Verifying owned values: the checks every entry point applies, through
//! [`decode_stored_under`](crate::tombstone::decode_stored_under) and
//! [`decode_record`](crate::tombstone::decode_record).

use std::time::{Instant, SystemTime};

use super::envelope::{Envelope, signed_message};
use super::keys::verify;
use super::{MAX_CLOCK_SKEW, MAX_SIGNED_LIFETIME, OwnershipProblem, owner_of, refused, unix_ms};
use crate::error::DatabaseResult;
use crate::schema::{NetabaseSchema, value_under};
use crate::tombstone::Stored;

/// How far [`decode_owned`] goes with the signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signatures {
    /// Verify the delegation and the value's signature: bytes from a peer, a caller or a file.
    Verify,
    /// Skip both: bytes a store verified when it wrote them, or that this node's gate verified
    /// on their way in. Everything else is still checked.
    Trust,
}

/// Decodes and verifies the owned value `value` stored under `key`: the layout, the write time
/// and signed expiry against this node's clock, the payload (canonical, and the value of this
/// key), the delegation (signed by the key's owner for this key or its collection, not past its
/// deadline) and, unless `signatures` is [`Signatures::Trust`], the signatures of the delegation
/// and of the owner or the delegated writer.
pub(crate) fn decode_owned<V: NetabaseSchema>(
    key: &[u8],
    value: &[u8],
    signatures: Signatures,
) -> DatabaseResult<Stored<V>> {
    let fail = |problem| refused::<V>(key, problem);
    let envelope =
        Envelope::parse(value).map_err(|reason| fail(OwnershipProblem::Malformed(reason)))?;
    let owner = owner_of::<V>(key)
        .ok_or_else(|| fail(OwnershipProblem::Malformed("the record key names no owner")))?;
    let header = envelope.header;
    let now = unix_ms(SystemTime::now());
    let skew = MAX_CLOCK_SKEW.as_millis() as u64;
    if header.sequence > now.saturating_add(skew) {
        return Err(fail(OwnershipProblem::FutureTimestamp));
    }
    if let Some(expires) = header.expires_ms
        && expires
            > header
                .sequence
                .saturating_add(MAX_SIGNED_LIFETIME.as_millis() as u64)
    {
        return Err(fail(OwnershipProblem::FutureTimestamp));
    }
    // The payload is checked before any signature: decoding is cheaper than verifying.
    let decoded = value_under::<V>(key, envelope.payload)?;
    let verify_signatures = signatures == Signatures::Verify;
    if let Some(delegation) = envelope.delegation {
        let prefix_len = crate::schema::prefix_len::<V>();
        if verify_signatures && !delegation.is_signed_by(&owner, key, prefix_len) {
            return Err(fail(OwnershipProblem::NotAWriter));
        }
        if now > delegation.not_after_ms.saturating_add(skew) {
            return Err(fail(OwnershipProblem::Revoked));
        }
    }
    if verify_signatures
        && !verify(
            &envelope.signer(&owner),
            &signed_message(key, envelope.signed),
            envelope.signature,
        )
    {
        return Err(fail(OwnershipProblem::BadSignature));
    }
    Ok(if header.deleted {
        Stored::Deleted(decoded)
    } else {
        Stored::Value(decoded)
    })
}

/// Checks a verified owned record's Kademlia expiry against its signed one: a record whose signed
/// expiry passed is refused, and so is a copy that claims to live longer than the owner signed
/// (no expiry, or a later one, beyond the clock skew allowed), which a relayer could otherwise
/// use to keep an old value alive.
pub(crate) fn check_expiry<V: NetabaseSchema>(
    key: &[u8],
    value: &[u8],
    kad_expires: Option<Instant>,
) -> DatabaseResult<()> {
    let Some(signed) = Envelope::parse(value)
        .ok()
        .and_then(|envelope| envelope.header.expires_ms)
    else {
        return Ok(());
    };
    let now = unix_ms(SystemTime::now());
    if signed <= now {
        return Err(refused::<V>(key, OwnershipProblem::Expired));
    }
    let allowed = signed.saturating_add(MAX_CLOCK_SKEW.as_millis() as u64);
    let claimed = kad_expires.map(|expires| {
        let left = expires.saturating_duration_since(Instant::now());
        now.saturating_add(left.as_millis() as u64)
    });
    match claimed {
        Some(claimed) if claimed <= allowed => Ok(()),
        _ => Err(refused::<V>(key, OwnershipProblem::ExpiryExtended)),
    }
}
