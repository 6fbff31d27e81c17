//! Property tests of conflict resolution: for every rule (byte order, `#[version]`, resolver) the
//! comparison is antisymmetric, resolving is commutative and idempotent, and the winner of a set of
//! records is the same whatever order they arrive in, so replicas converge; tombstones take part
//! and sit just above the value they delete.

mod common;

use std::cmp::Ordering;

use common::*;
use netabase::prelude::*;
use netabase::tombstone::{Stored, decode_record, tombstone_of};
use netabase::{SchemaRegistry, Winner, compare_values, pick_winner, resolve_records};
use proptest::collection::vec;
use proptest::prelude::*;

fn fail(error: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(error.to_string())
}

/// Every ordering of `items` (Heap's algorithm); `items` is small.
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    fn heap<T: Clone>(k: usize, items: &mut Vec<T>, out: &mut Vec<Vec<T>>) {
        if k <= 1 {
            out.push(items.clone());
            return;
        }
        for i in 0..k - 1 {
            heap(k - 1, items, out);
            let j = if k.is_multiple_of(2) { i } else { 0 };
            items.swap(j, k - 1);
        }
        heap(k - 1, items, out);
    }
    let mut items = items.to_vec();
    let mut out = Vec::new();
    heap(items.len(), &mut items, &mut out);
    out
}

fn registry() -> SchemaRegistry {
    let mut registry = SchemaRegistry::new();
    registry
        .register::<Profile>()
        .register::<Tile>()
        .register::<Draft>();
    registry
}

/// Checks every conflict property of schema `T` on `values`, which share one key, and on the
/// tombstone of the first of them.
fn assert_converges<T: NetabaseSchema + PartialEq + std::fmt::Debug>(
    values: &[T],
) -> Result<(), TestCaseError> {
    let mut records: Vec<kad::Record> = values
        .iter()
        .map(|value| value.to_record().map_err(fail))
        .collect::<Result<_, _>>()?;
    let deleted = records[0].clone();
    let tombstone = tombstone_of(&deleted, None);
    prop_assert_eq!(
        decode_record::<T>(&tombstone).map_err(fail)?,
        Stored::Deleted(T::from_record(&deleted).map_err(fail)?)
    );
    for value in &records {
        // A tombstone sits just above the value it deletes: it beats that value and whatever
        // that value beats, and loses to whatever beats it.
        let against_value = compare_values::<T>(&value.value, &deleted.value).map_err(fail)?;
        let against_tombstone =
            compare_values::<T>(&value.value, &tombstone.value).map_err(fail)?;
        let expected = if against_value == Ordering::Greater {
            Ordering::Greater
        } else {
            Ordering::Less
        };
        prop_assert_eq!(against_tombstone, expected);
    }
    records.push(tombstone);
    let registry = registry();
    let key = records[0].key.as_ref();

    for a in &records {
        // Idempotent: a value resolved with itself is itself.
        prop_assert_eq!(
            compare_values::<T>(&a.value, &a.value).map_err(fail)?,
            Ordering::Equal
        );
        prop_assert_eq!(
            pick_winner::<T>(&a.value, &a.value).map_err(fail)?,
            Winner::Existing
        );
        let same = resolve_records::<T>(a.clone(), a.clone()).map_err(fail)?;
        prop_assert_eq!(&same.value, &a.value);

        for b in &records {
            // Antisymmetric, and only identical values compare equal (a total order).
            let ab = compare_values::<T>(&a.value, &b.value).map_err(fail)?;
            let ba = compare_values::<T>(&b.value, &a.value).map_err(fail)?;
            prop_assert_eq!(ab, ba.reverse());
            prop_assert_eq!(ab == Ordering::Equal, a.value == b.value);
            // Commutative: the winner does not depend on which record was held first.
            let one = resolve_records::<T>(a.clone(), b.clone()).map_err(fail)?;
            let other = resolve_records::<T>(b.clone(), a.clone()).map_err(fail)?;
            prop_assert_eq!(&one.value, &other.value);
            // The registry applies the schema's rule to raw bytes, as a store does.
            let by_registry = registry
                .pick_winner(key, &a.value, &b.value)
                .map_err(fail)?;
            prop_assert_eq!(
                by_registry,
                pick_winner::<T>(&a.value, &b.value).map_err(fail)?
            );
        }
    }

    // Converge: folding the records in every order gives one winner, the greatest value.
    let greatest = records
        .iter()
        .map(|record| record.value.clone())
        .reduce(|held, next| match compare_values::<T>(&held, &next) {
            Ok(Ordering::Less) => next,
            _ => held,
        })
        .unwrap_or_default();
    for order in permutations(&records) {
        let mut rest = order.into_iter();
        let Some(first) = rest.next() else { continue };
        let mut held = first.clone();
        let mut held_bytes = first.value;
        for incoming in rest {
            held = resolve_records::<T>(held, incoming.clone()).map_err(fail)?;
            if registry
                .pick_winner(key, &held_bytes, &incoming.value)
                .map_err(fail)?
                == Winner::Incoming
            {
                held_bytes = incoming.value;
            }
        }
        prop_assert_eq!(&held.value, &greatest);
        prop_assert_eq!(&held_bytes, &greatest);
    }
    Ok(())
}

/// Up to five values of one key; fields drawn from small sets so that ties happen.
fn same_key<T: std::fmt::Debug>(
    values: impl Strategy<Value = T>,
    set_key: fn(&mut T, &T),
) -> impl Strategy<Value = Vec<T>> {
    // At most four values: with the tombstone, every one of the 5! orders is folded.
    vec(values, 1..=4).prop_map(move |mut values| {
        let (first, rest) = values.split_at_mut(1);
        for value in rest {
            set_key(value, &first[0]);
        }
        values
    })
}

fn small_text() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["", "a", "b", "ab", "ba", "abc", "zz"]).prop_map(String::from)
}

proptest! {
    #[test]
    fn byte_order_converges(values in same_key(profile(), |v, first| v.handle.clone_from(&first.handle))) {
        assert_converges(&values)?;
    }

    #[test]
    fn versions_converge(values in same_key(
        (0..3u8, small_text()).prop_map(|(revision, terrain)| Tile { x: 1, y: -1, revision, terrain }),
        |_, _| {},
    )) {
        assert_converges(&values)?;
    }

    #[test]
    fn resolvers_converge(values in same_key(
        (small_text(), 0..2u8).prop_map(|(text, priority)| Draft { id: 7, text, priority }),
        |_, _| {},
    )) {
        assert_converges(&values)?;
    }

    #[test]
    fn the_higher_version_always_wins(a in tile(), b in tile()) {
        let b = Tile { x: a.x, y: a.y, ..b };
        let winner = resolve_records::<Tile>(a.to_record().map_err(fail)?, b.to_record().map_err(fail)?)
            .map_err(fail)?;
        let winner = Tile::from_record(&winner).map_err(fail)?;
        prop_assert_eq!(winner.revision, a.revision.max(b.revision));
    }
}

#[test]
fn permutations_cover_every_order() {
    let all = permutations(&[1, 2, 3, 4]);
    assert_eq!(all.len(), 24);
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 24);
}
