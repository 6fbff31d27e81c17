//! Deterministic conflict resolution between two records stored under the same key.

use std::cmp::Ordering;

use libp2p::kad::Record;

use crate::error::{DatabaseError, DatabaseResult, escape_bytes};
use crate::schema::NetabaseSchema;
use crate::tombstone::{compare_stored, decode_record};

/// Which of two records holding values of the same key wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Winner {
    /// The record already held (the first argument) wins, or the two values are identical.
    Existing,
    /// The incoming record (the second argument) wins.
    Incoming,
}

/// Orders two encoded values of schema `V`: the schema's rule first, then byte order. Either may be
/// a tombstone ([`crate::tombstone`]), which sits just above the value it deletes.
///
/// Under a `#[version]` or resolver rule both byte strings must decode as `V` (or be tombstones of
/// one); an error names the one that does not. Byte order needs no decoding: it orders
/// tombstones correctly as it is.
pub fn compare_values<V: NetabaseSchema>(a: &[u8], b: &[u8]) -> DatabaseResult<Ordering> {
    if a == b {
        return Ok(Ordering::Equal);
    }
    match V::CONFLICT_RULE {
        // Owned values lead with (generation, sequence) big-endian: byte order is write order.
        _ if V::OWNED => Ok(a.cmp(b)),
        crate::ConflictRule::ByteOrder => Ok(a.cmp(b)),
        _ => compare_stored::<V>(a, b, V::conflict_order),
    }
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
    decode_record::<V>(&local)?;
    decode_record::<V>(&network)?;
    Ok(match pick_winner::<V>(&local.value, &network.value)? {
        Winner::Existing => local,
        Winner::Incoming => network,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConflictRule;
    use serde::{Deserialize, Serialize};

    /// A hand-written schema with a version field, so these tests do not depend on the derive.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Doc {
        id: u8,
        version: u32,
        body: String,
    }

    impl NetabaseSchema for Doc {
        type Key = u8;
        const NAMESPACE: &'static str = "test";
        const NAME: &'static str = "Doc";
        const CONFLICT_RULE: ConflictRule = ConflictRule::Version;

        fn key(&self) -> u8 {
            self.id
        }

        fn conflict_order(a: &Self, b: &Self) -> Ordering {
            a.version.cmp(&b.version)
        }
    }

    fn doc(version: u32, body: &str) -> Record {
        Doc {
            id: 1,
            version,
            body: body.into(),
        }
        .to_record()
        .unwrap()
    }

    #[test]
    fn higher_version_wins_whatever_the_bytes() {
        // Varint bytes: 200 encodes as [0xc8, 0x01], 300 as [0xac, 0x02].
        let old = doc(200, "zzz");
        let new = doc(300, "aaa");
        assert!(
            old.value > new.value,
            "bytes alone would pick the old value"
        );
        let winner = resolve_records::<Doc>(old.clone(), new.clone()).unwrap();
        assert_eq!(winner.value, new.value);
        let winner = resolve_records::<Doc>(new.clone(), old).unwrap();
        assert_eq!(winner.value, new.value);
    }

    #[test]
    fn equal_versions_fall_back_to_byte_order() {
        let a = doc(3, "apple");
        let b = doc(3, "banana");
        assert_eq!(
            pick_winner::<Doc>(&a.value, &b.value).unwrap(),
            Winner::Incoming
        );
        assert_eq!(
            pick_winner::<Doc>(&b.value, &a.value).unwrap(),
            Winner::Existing
        );
        assert_eq!(
            pick_winner::<Doc>(&a.value, &a.value).unwrap(),
            Winner::Existing
        );
    }

    #[test]
    fn records_of_different_keys_do_not_conflict() {
        let a = doc(1, "x");
        let mut b = doc(1, "x");
        b.key = Doc {
            id: 2,
            version: 1,
            body: "x".into(),
        }
        .to_record()
        .unwrap()
        .key;
        assert!(matches!(
            resolve_records::<Doc>(a, b),
            Err(DatabaseError::DifferentKeys { schema: "Doc", .. })
        ));
    }

    #[test]
    fn undecodable_values_are_errors_not_winners() {
        let good = doc(1, "x");
        assert!(matches!(
            compare_values::<Doc>(&good.value, &[0xff, 0xff, 0xff]),
            Err(DatabaseError::Decode { schema: "Doc", .. })
        ));
    }
}
