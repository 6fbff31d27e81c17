//! What a run measured, and its table.

use std::fmt;
use std::time::Duration;

use crate::workload::Scenario;

/// Latencies of one kind of operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Latencies {
    samples: Vec<Duration>,
}

impl Latencies {
    fn add(&mut self, sample: Duration) {
        self.samples.push(sample);
    }

    /// The latency at quantile `q` (0 to 1) of the samples, if there are any.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let mut sorted = self.samples.clone();
        sorted.sort();
        let last = sorted.len().checked_sub(1)?;
        let index = ((last as f64) * q.clamp(0.0, 1.0)).round() as usize;
        sorted.get(index).copied()
    }
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The scenario it ran.
    pub scenario: Scenario,
    /// How long the network took to form.
    pub formed_in: Duration,
    /// Puts whose quorum was met.
    pub puts_ok: u64,
    /// Puts that failed.
    pub puts_failed: u64,
    /// How many closest peers each successful put was sent to, summed (a put returns once one
    /// stored it; the others receive it in the background).
    pub holders: u64,
    /// Latencies of the successful puts.
    pub put_latency: Latencies,
    /// Gets that found the record.
    pub gets_ok: u64,
    /// Gets that did not.
    pub gets_failed: u64,
    /// Latencies of the successful gets.
    pub get_latency: Latencies,
}

impl Report {
    pub(crate) fn new(scenario: &Scenario, formed_in: Duration) -> Self {
        Report {
            scenario: *scenario,
            formed_in,
            puts_ok: 0,
            puts_failed: 0,
            holders: 0,
            put_latency: Latencies::default(),
            gets_ok: 0,
            gets_failed: 0,
            get_latency: Latencies::default(),
        }
    }

    pub(crate) fn put_succeeded(&mut self, latency: Duration, holders: usize) {
        self.puts_ok += 1;
        self.holders += holders as u64;
        self.put_latency.add(latency);
    }

    pub(crate) fn put_failed(&mut self) {
        self.puts_failed += 1;
    }

    pub(crate) fn get_succeeded(&mut self, latency: Duration) {
        self.gets_ok += 1;
        self.get_latency.add(latency);
    }

    pub(crate) fn get_failed(&mut self) {
        self.gets_failed += 1;
    }
}

/// A percentage of `part` in `part + rest`, or `-` for none.
fn share(part: u64, rest: u64) -> String {
    match part + rest {
        0 => "-".into(),
        total => format!("{:.1}%", 100.0 * part as f64 / total as f64),
    }
}

fn millis(latency: Option<Duration>) -> String {
    latency.map_or_else(
        || "-".into(),
        |latency| format!("{:.1} ms", latency.as_secs_f64() * 1e3),
    )
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scenario = &self.scenario;
        writeln!(
            f,
            "{} nodes (replication {}, {} bootstrap peers each), {} records, seed {}; network formed in {:.2} s",
            scenario.nodes,
            scenario.replication,
            scenario.bootstrap_peers,
            scenario.records,
            scenario.seed,
            self.formed_in.as_secs_f64()
        )?;
        writeln!(f, "| operation | success | median | p90 | max |")?;
        writeln!(f, "| --- | --- | --- | --- | --- |")?;
        let row =
            |f: &mut fmt::Formatter<'_>, name: &str, ok: u64, failed: u64, latency: &Latencies| {
                writeln!(
                    f,
                    "| {name} | {} ({ok} of {}) | {} | {} | {} |",
                    share(ok, failed),
                    ok + failed,
                    millis(latency.quantile(0.5)),
                    millis(latency.quantile(0.9)),
                    millis(latency.quantile(1.0))
                )
            };
        row(
            f,
            "put (quorum 1)",
            self.puts_ok,
            self.puts_failed,
            &self.put_latency,
        )?;
        row(
            f,
            "get from the network",
            self.gets_ok,
            self.gets_failed,
            &self.get_latency,
        )?;
        if self.puts_ok > 0 {
            writeln!(
                f,
                "closest peers each put was sent to: {:.1} on average",
                self.holders as f64 / self.puts_ok as f64
            )?;
        }
        Ok(())
    }
}
