//! Deterministic conflict resolution between two records stored under the same key.

use std::cmp::Ordering;

use libp2p::kad::Record;

use crate::error::{DatabaseError, DatabaseResult, escape_bytes};
use crate::schema::NetabaseSchema;

/// Which of two records holding values of the same key wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Winner {
    /// The record already held (the first argument) wins, or the two values are identical.
    Existing,
    /// The incoming record (the second argument) wins.
    Incoming,
}

/// Orders two encoded values of schema `V`: the schema's rule first, then byte order.
///
/// Both byte strings must decode as `V`; an error names the one that does not.
pub fn compare_values<V: NetabaseSchema>(a: &[u8], b: &[u8]) -> DatabaseResult<Ordering> {
    if a == b {
        return Ok(Ordering::Equal);
    }
    let order = match V::CONFLICT_RULE {
        crate::ConflictRule::ByteOrder => Ordering::Equal,
        _ => V::conflict_order(&V::from_bytes(a)?, &V::from_bytes(b)?),
    };
    Ok(order.then_with(|| a.cmp(b)))
}

/// Orders two encoded values of no known schema: plain byte order.
pub fn compare_raw_values(a: &[u8], b: &[u8]) -> Ordering {
    a.cmp(b)
}

/// Decides between the record a store holds and an incoming one under the same key, by schema
/// `V`'s rule. Identical values keep the existing record, so resolving is idempotent.
pub fn pick_winner<V: NetabaseSchema>(existing: &[u8], incoming: &[u8]) -> DatabaseResult<Winner> {
    Ok(winner_from(compare_values::<V>(existing, incoming)?))
}

/// Turns `compare(existing, incoming)` into the winner: only a strictly greater incoming value
/// replaces what is stored.
pub fn winner_from(order: Ordering) -> Winner {
    if order == Ordering::Less {
        Winner::Incoming
    } else {
        Winner::Existing
    }
}

/// Resolves two records of schema `V`, returning the winner: the record with the greater value under
/// `V`'s rule. Commutative in the value and idempotent; when values are equal `local` is returned.
pub fn resolve_records<V: NetabaseSchema>(
    local: Record,
    network: Record,
) -> DatabaseResult<Record> {
    if local.key != network.key {
        return Err(DatabaseError::DifferentKeys {
            schema: V::NAME,
            local: escape_bytes(local.key.as_ref()),
            network: escape_bytes(network.key.as_ref()),
        });
    }
    V::from_record(&local)?;
    V::from_record(&network)?;
    Ok(match pick_winner::<V>(&local.value, &network.value)? {
        Winner::Existing => local,
        Winner::Incoming => network,
    })
}
