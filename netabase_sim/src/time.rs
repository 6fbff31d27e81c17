//! Compressed time: how simulated durations map onto the real durations nodes run with.
//!
//! Nodes run on the real clock, so compressing time means configuring them with shorter real
//! durations: a record TTL of 48 simulated hours at a speed-up of 720 is a real TTL of 240 s.
//! Everything a schedule is made of (TTLs, the republish interval, churn, samples) is scaled by
//! the same factor; what the network itself takes (a message, a lookup, a timeout) is not, so a
//! larger speed-up makes the network relatively slower, never faster.

use std::fmt;
use std::time::Duration;

/// How many simulated seconds pass in one real second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeScale {
    speedup: f64,
}

/// Why a speed-up was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("a speed-up must be a finite number of at least 1, not {0}")]
pub struct BadSpeedup(pub f64);

impl TimeScale {
    /// A clock on which `speedup` simulated seconds pass per real second (at least 1).
    pub fn new(speedup: f64) -> Result<Self, BadSpeedup> {
        if speedup.is_finite() && speedup >= 1.0 {
            Ok(TimeScale { speedup })
        } else {
            Err(BadSpeedup(speedup))
        }
    }

    /// The speed-up.
    pub fn speedup(&self) -> f64 {
        self.speedup
    }

    /// The real duration a simulated one takes.
    pub fn real(&self, simulated: Duration) -> Duration {
        simulated.div_f64(self.speedup)
    }

    /// The simulated duration a real one stands for.
    pub fn simulated(&self, real: Duration) -> Duration {
        real.mul_f64(self.speedup)
    }
}

impl fmt::Display for TimeScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x", self.speedup)
    }
}

/// A duration in simulated hours, as the report prints them.
pub(crate) fn hours(duration: Duration) -> f64 {
    duration.as_secs_f64() / 3600.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_and_real_durations_convert_both_ways() {
        let scale = TimeScale::new(720.0).expect("a valid speed-up");
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(scale.real(day), Duration::from_secs(120));
        assert_eq!(scale.simulated(Duration::from_secs(120)), day);
    }

    #[test]
    fn a_speedup_below_one_or_not_finite_is_refused() {
        for bad in [0.0, 0.5, -3.0, f64::NAN, f64::INFINITY] {
            assert!(TimeScale::new(bad).is_err(), "{bad}");
        }
        assert!(TimeScale::new(1.0).is_ok());
    }
}
