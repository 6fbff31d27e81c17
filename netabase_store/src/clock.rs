//! Conversion between kad's monotonic `Instant` deadlines and the wall-clock unix milliseconds the
//! store persists: an `Instant` means nothing after a restart, a wall-clock deadline does.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One reading of both clocks, taken together, to convert deadlines between them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    instant: Instant,
    unix_ms: u64,
}

impl Now {
    /// Reads both clocks.
    pub(crate) fn read() -> Self {
        Now {
            instant: Instant::now(),
            unix_ms: system_time_to_unix_ms(SystemTime::now()),
        }
    }

    /// The reading at monotonic time `instant` (in the past or the future of now).
    pub(crate) fn at(instant: Instant) -> Self {
        let now = Now::read();
        Now {
            instant,
            unix_ms: now.instant_to_unix_ms(instant),
        }
    }

    /// The monotonic time of this reading.
    pub(crate) fn instant(&self) -> Instant {
        self.instant
    }

    /// Wall-clock unix milliseconds of this reading.
    pub(crate) fn unix_ms(&self) -> u64 {
        self.unix_ms
    }

    /// The wall-clock deadline of `deadline`, rounded up to the next millisecond so a record is
    /// never considered alive past its deadline.
    pub(crate) fn instant_to_unix_ms(&self, deadline: Instant) -> u64 {
        match deadline.checked_duration_since(self.instant) {
            Some(ahead) => self.unix_ms.saturating_add(ceil_ms(ahead)),
            None => self
                .unix_ms
                .saturating_sub(floor_ms(self.instant.duration_since(deadline))),
        }
    }

    /// The `Instant` of a wall-clock deadline, or `None` when it is at or before this reading
    /// (the record has expired).
    pub(crate) fn unix_ms_to_instant(&self, deadline_ms: u64) -> Option<Instant> {
        if deadline_ms <= self.unix_ms {
            return None;
        }
        self.instant
            .checked_add(Duration::from_millis(deadline_ms - self.unix_ms))
            // A deadline too far ahead for this platform's `Instant` never expires in practice.
            .or_else(|| {
                self.instant
                    .checked_add(Duration::from_secs(100 * 365 * 86_400))
            })
    }

    /// Whether a wall-clock deadline has passed.
    pub(crate) fn is_expired(&self, deadline_ms: Option<u64>) -> bool {
        deadline_ms.is_some_and(|deadline| deadline <= self.unix_ms)
    }
}

/// Unix milliseconds of a `SystemTime`; times before 1970 are 0.
pub(crate) fn system_time_to_unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map(floor_ms).unwrap_or(0)
}

/// The `SystemTime` of unix milliseconds.
pub(crate) fn unix_ms_to_system_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn floor_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn ceil_ms(duration: Duration) -> u64 {
    let ms = floor_ms(duration);
    if Duration::from_millis(ms) < duration {
        ms.saturating_add(1)
    } else {
        ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_trip_within_a_millisecond() {
        let now = Now::read();
        let deadline = now.instant + Duration::from_micros(12_345_678);
        let ms = now.instant_to_unix_ms(deadline);
        assert_eq!(ms, now.unix_ms + 12_346);
        let back = now
            .unix_ms_to_instant(ms)
            .expect("deadline is in the future");
        assert!(back >= deadline);
        assert!(back - deadline < Duration::from_millis(1));
    }

    #[test]
    fn past_deadlines_are_expired() {
        let now = Now::read();
        let past = now.instant_to_unix_ms(now.instant - Duration::from_millis(5));
        assert!(past < now.unix_ms);
        assert!(now.is_expired(Some(past)));
        assert!(now.is_expired(Some(now.unix_ms)));
        assert!(!now.is_expired(Some(now.unix_ms + 1)));
        assert!(!now.is_expired(None));
        assert_eq!(now.unix_ms_to_instant(now.unix_ms), None);
    }
}
