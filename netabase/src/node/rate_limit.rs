//! A token bucket that spreads the republish job's publications over time.
//!
//! Hand-written rather than taken from `governor`: the job needs "how many of these may start
//! now" and "when may the next one start" for the event loop's own timer, which is a few lines
//! over `Instant`, while `governor` answers all-or-nothing for a batch and brings its own clock.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

/// The highest rate a bucket runs at: far above anything a node can start, and finite, so the
/// arithmetic stays exact.
const MAX_PER_SECOND: f64 = 1e9;

/// At most `per_second` starts per second on average, with a burst of one second's worth.
#[derive(Debug)]
pub(crate) struct RateLimit {
    /// The rate the node was configured with, never gone below.
    configured: f64,
    /// The rate in force: the configured one, or more to keep up (see [`Self::keep_up_with`]).
    per_second: f64,
    /// Starts allowed now; refilled at `per_second`, capped at one second's worth.
    tokens: f64,
    refilled: Instant,
}

impl RateLimit {
    /// A bucket that starts full.
    pub(crate) fn new(per_second: NonZeroU32, now: Instant) -> Self {
        let per_second = f64::from(per_second.get());
        RateLimit {
            configured: per_second,
            per_second,
            tokens: per_second,
            refilled: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.per_second);
        self.refilled = self.refilled.max(now);
    }

    /// Runs at the configured rate or at `at_least` per second, whichever is higher.
    pub(crate) fn keep_up_with(&mut self, now: Instant, at_least: f64) {
        self.refill(now);
        self.per_second = self.configured.max(at_least).min(MAX_PER_SECOND);
    }

    /// How many of `wanted` starts may happen now; those are taken from the bucket.
    pub(crate) fn take(&mut self, now: Instant, wanted: usize) -> usize {
        self.refill(now);
        let allowed = (self.tokens.floor() as usize).min(wanted);
        self.tokens -= allowed as f64;
        allowed
    }

    /// Gives back starts taken but not used (the job found fewer records due than it took).
    pub(crate) fn give_back(&mut self, unused: usize) {
        self.tokens = (self.tokens + unused as f64).min(self.per_second);
    }

    /// When the next start is allowed.
    pub(crate) fn next_start(&self) -> Instant {
        let missing = (1.0 - self.tokens).max(0.0);
        self.refilled + Duration::from_secs_f64(missing / self.per_second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(per_second: u32) -> NonZeroU32 {
        NonZeroU32::new(per_second).expect("non-zero")
    }

    #[test]
    fn a_full_bucket_allows_one_seconds_worth_and_no_more() {
        let start = Instant::now();
        let mut limit = RateLimit::new(rate(10), start);
        assert_eq!(limit.take(start, 32), 10);
        assert_eq!(limit.take(start, 32), 0);
        assert_eq!(limit.next_start(), start + Duration::from_millis(100));
    }

    #[test]
    fn tokens_come_back_at_the_rate_and_stop_at_one_second() {
        let start = Instant::now();
        let mut limit = RateLimit::new(rate(10), start);
        assert_eq!(limit.take(start, 10), 10);
        assert_eq!(limit.take(start + Duration::from_millis(250), 10), 2);
        // Idle for a minute: still one second's worth, not sixty.
        assert_eq!(limit.take(start + Duration::from_secs(60), 1000), 10);
    }

    #[test]
    fn fractions_accumulate_across_calls() {
        let start = Instant::now();
        let mut limit = RateLimit::new(rate(10), start);
        limit.take(start, 10);
        let mut started = 0;
        for step in 1..=20 {
            started += limit.take(start + Duration::from_millis(50 * step), 100);
        }
        // One second at ten per second.
        assert_eq!(started, 10);
    }

    #[test]
    fn unused_starts_are_given_back() {
        let start = Instant::now();
        let mut limit = RateLimit::new(rate(5), start);
        assert_eq!(limit.take(start, 5), 5);
        limit.give_back(3);
        assert_eq!(limit.take(start, 5), 3);
        limit.give_back(100);
        assert_eq!(limit.take(start, 100), 5);
    }

    #[test]
    fn keeping_up_raises_the_rate_but_never_lowers_it_below_the_configured_one() {
        let start = Instant::now();
        let mut limit = RateLimit::new(rate(10), start);
        limit.take(start, 10);
        limit.keep_up_with(start, 40.0);
        assert_eq!(limit.take(start + Duration::from_millis(500), 100), 20);
        limit.keep_up_with(start + Duration::from_millis(500), 1.0);
        assert_eq!(limit.take(start + Duration::from_millis(1000), 100), 5);
        // An absurd need stays arithmetic: the bucket holds at most one second at the cap.
        limit.keep_up_with(start + Duration::from_secs(2), f64::INFINITY);
        let taken = limit.take(start + Duration::from_secs(3), usize::MAX);
        assert_eq!(taken, MAX_PER_SECOND as usize);
    }

    #[test]
    fn the_next_start_is_now_when_a_token_is_there() {
        let start = Instant::now();
        let limit = RateLimit::new(rate(1), start);
        assert_eq!(limit.next_start(), start);
    }
}
