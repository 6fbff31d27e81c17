//! The heaviest items of a stream in bounded memory: the Space-Saving algorithm (Metwally,
//! Agrawal and El Abbadi, 2005). `inspect` counts records per publisher and per schema prefix
//! with it, so a store whose records came from a million publishers is inspected in the same
//! memory as one with ten.
//!
//! At most `capacity` items are counted. While no more distinct items than that have come, every
//! count is exact. After that, an item that is not counted replaces the one with the smallest
//! count and inherits it, so a count may be too high by at most that inherited amount (reported
//! as `overcount`), never too low, and every item that occurs more than `total / capacity` times
//! is among those counted.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

/// An item's count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted<T> {
    /// The item.
    pub item: T,
    /// How many times it came, possibly too high by `overcount`.
    pub count: u64,
    /// The most `count` may be too high by; 0 while the counts are exact.
    pub overcount: u64,
}

/// A bounded counter of the heaviest items.
#[derive(Debug)]
pub struct TopCounter<T> {
    capacity: usize,
    /// count and overcount by item.
    counts: HashMap<T, (u64, u64)>,
    /// (count, item), to find the smallest count.
    order: BTreeSet<(u64, T)>,
    /// Whether an item was ever replaced: the counts are estimates.
    replaced: bool,
}

impl<T: Clone + Eq + Hash + Ord> TopCounter<T> {
    /// A counter of at most `capacity` items (at least 1).
    pub fn new(capacity: usize) -> Self {
        TopCounter {
            capacity: capacity.max(1),
            counts: HashMap::new(),
            order: BTreeSet::new(),
            replaced: false,
        }
    }

    /// Counts one occurrence of `item`.
    pub fn add(&mut self, item: T) {
        if let Some((count, _)) = self.counts.get_mut(&item) {
            self.order.remove(&(*count, item.clone()));
            *count += 1;
            self.order.insert((*count, item));
            return;
        }
        if self.counts.len() < self.capacity {
            self.counts.insert(item.clone(), (1, 0));
            self.order.insert((1, item));
            return;
        }
        // Full: the smallest count makes room, and the newcomer inherits it.
        let Some((smallest, evicted)) = self.order.pop_first() else {
            return;
        };
        self.counts.remove(&evicted);
        self.replaced = true;
        self.counts.insert(item.clone(), (smallest + 1, smallest));
        self.order.insert((smallest + 1, item));
    }

    /// Whether every count is exact: never more distinct items than the capacity.
    pub fn exact(&self) -> bool {
        !self.replaced
    }

    /// How many distinct items came, when that is known (the counts are exact).
    pub fn distinct(&self) -> Option<usize> {
        self.exact().then_some(self.counts.len())
    }

    /// The `n` items with the highest counts, highest first (ties in item order).
    pub fn top(&self, n: usize) -> Vec<Counted<T>> {
        self.order
            .iter()
            .rev()
            .take(n)
            .map(|(count, item)| Counted {
                item: item.clone(),
                count: *count,
                overcount: self.counts.get(item).map_or(0, |(_, over)| *over),
            })
            .collect()
    }

    /// Every counted item in item order.
    #[cfg(test)]
    pub fn into_sorted(self) -> Vec<Counted<T>> {
        let mut all: Vec<Counted<T>> = self
            .counts
            .into_iter()
            .map(|(item, (count, overcount))| Counted {
                item,
                count,
                overcount,
            })
            .collect();
        all.sort_by(|a, b| a.item.cmp(&b.item));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn below_capacity_the_counts_are_exact() {
        let mut counter = TopCounter::new(4);
        for item in [1, 2, 2, 3, 3, 3] {
            counter.add(item);
        }
        assert!(counter.exact());
        assert_eq!(counter.distinct(), Some(3));
        let top: Vec<(i32, u64)> = counter.top(2).iter().map(|c| (c.item, c.count)).collect();
        assert_eq!(top, [(3, 3), (2, 2)]);
    }

    #[test]
    fn a_heavy_item_is_kept_among_many_light_ones() {
        let mut counter = TopCounter::new(10);
        for i in 0..10_000u32 {
            counter.add(if i % 3 == 0 { 0 } else { i });
        }
        assert!(!counter.exact());
        assert_eq!(counter.distinct(), None);
        let top = &counter.top(1)[0];
        assert_eq!(top.item, 0);
        assert!(top.count - top.overcount <= 3334 && 3334 <= top.count);
    }

    proptest! {
        /// Every count is at least the true count and at most the true count plus its overcount,
        /// and an item occurring more than total / capacity times is counted.
        #[test]
        fn counts_bound_the_truth(items in proptest::collection::vec(0u8..40, 0..400), capacity in 1usize..12) {
            let mut counter = TopCounter::new(capacity);
            let mut truth: HashMap<u8, u64> = HashMap::new();
            for item in &items {
                counter.add(*item);
                *truth.entry(*item).or_default() += 1;
            }
            let counted = counter.into_sorted();
            prop_assert!(counted.len() <= capacity);
            for entry in &counted {
                let real = truth[&entry.item];
                prop_assert!(entry.count >= real && entry.count - entry.overcount <= real);
            }
            let threshold = items.len() as u64 / capacity as u64;
            for (item, real) in truth {
                if real > threshold {
                    prop_assert!(counted.iter().any(|entry| entry.item == item), "{item} with {real}");
                }
            }
        }
    }
}
