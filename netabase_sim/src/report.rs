//! What a run measured, and its tables.

use std::fmt;
use std::time::Duration;

use crate::hostile::HostileCounts;
use crate::scenario::Scenario;
use crate::time::hours;

/// The outcomes and latencies of one kind of operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operations {
    /// How many succeeded.
    pub ok: u64,
    /// How many failed.
    pub failed: u64,
    latencies: Vec<Duration>,
    /// How many peers each successful lookup asked, where that is known.
    queried: Vec<u32>,
}

impl Operations {
    pub(crate) fn succeeded(&mut self, latency: Duration) {
        self.ok += 1;
        self.latencies.push(latency);
    }

    /// A success of a lookup that asked `queried` peers.
    pub(crate) fn succeeded_asking(&mut self, latency: Duration, queried: u32) {
        self.succeeded(latency);
        self.queried.push(queried);
    }

    pub(crate) fn failed(&mut self) {
        self.failed += 1;
    }

    /// Adds `other`'s outcomes to these.
    pub fn merge(&mut self, other: &Operations) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.latencies.extend_from_slice(&other.latencies);
        self.queried.extend_from_slice(&other.queried);
    }

    /// The share that succeeded (0 to 1), if there were any.
    pub fn success(&self) -> Option<f64> {
        let total = self.ok + self.failed;
        (total > 0).then(|| self.ok as f64 / total as f64)
    }

    /// The real latency at quantile `q` (0 to 1) of the successful ones, if there are any.
    pub fn latency(&self, q: f64) -> Option<Duration> {
        quantile(&self.latencies, q)
    }

    /// How many peers the successful lookups asked, at quantile `q` (0 to 1), if that is known.
    pub fn queried_peers(&self, q: f64) -> Option<u32> {
        quantile(&self.queried, q)
    }
}

/// The value at quantile `q` (0 to 1, nearest rank) of `values`, if there are any.
fn quantile<T: Ord + Copy>(values: &[T], q: f64) -> Option<T> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let last = sorted.len().checked_sub(1)?;
    let index = ((last as f64) * q.clamp(0.0, 1.0)).round() as usize;
    sorted.get(index).copied()
}

/// One measurement of the records' survival.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// When, in simulated time since the first put.
    pub at: Duration,
    /// How many nodes were online.
    pub online: usize,
    /// How many records at least one online node held (counting a writer's copy only where the
    /// DHT placed it: see [`SimNetwork::holders`](crate::SimNetwork::holders)).
    pub records_held: u64,
    /// How many records there are.
    pub records: u64,
    /// The fewest online nodes holding any one record.
    pub holders_min: u32,
    /// The median number of online nodes holding a record.
    pub holders_median: u32,
    /// The mean number of online nodes holding a record.
    pub holders_mean: f64,
    /// The fewest online servers (writers left out) holding any one record.
    pub servers_min: u32,
    /// The sampled gets through the DHT, read by writers.
    pub gets: Operations,
    /// Republications the writers had run so far that reached their quorum (plain kad: at least
    /// one peer).
    pub republished: u64,
    /// Republications the writers had run so far that did not.
    pub republish_failed: u64,
    /// Records the Netabase nodes had handed to peers that joined among their closest so far,
    /// stored by a newcomer (see [`SimNetwork::handoffs`](crate::SimNetwork::handoffs)); 0 until
    /// set.
    pub handed_off: u64,
    /// Handoffs that no newcomer stored.
    pub handoff_failed: u64,
    /// The process's resident memory, if it could be read.
    pub resident_bytes: Option<u64>,
}

impl Sample {
    /// A sample from the holders of each record (`holders`, by record id) and, of them, the
    /// servers (`servers`).
    pub(crate) fn new(
        at: Duration,
        online: usize,
        (holders, servers): (&[u32], &[u32]),
        gets: Operations,
        (republished, republish_failed): (u64, u64),
        resident_bytes: Option<u64>,
    ) -> Self {
        let mut sorted = holders.to_vec();
        sorted.sort_unstable();
        let total: u64 = sorted.iter().map(|&count| u64::from(count)).sum();
        Sample {
            at,
            online,
            records_held: sorted.iter().filter(|&&count| count > 0).count() as u64,
            records: sorted.len() as u64,
            holders_min: sorted.first().copied().unwrap_or(0),
            holders_median: sorted.get(sorted.len() / 2).copied().unwrap_or(0),
            holders_mean: if sorted.is_empty() {
                0.0
            } else {
                total as f64 / sorted.len() as f64
            },
            gets,
            republished,
            republish_failed,
            servers_min: servers.iter().copied().min().unwrap_or(0),
            handed_off: 0,
            handoff_failed: 0,
            resident_bytes,
        }
    }

    /// The share of the records some online node held (0 to 1); 1 with no records.
    pub fn held(&self) -> f64 {
        if self.records == 0 {
            1.0
        } else {
            self.records_held as f64 / self.records as f64
        }
    }
}

/// How many nodes churn moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChurnCounts {
    /// Servers that left.
    pub left: u64,
    /// Fresh servers that joined in their place.
    pub joined: u64,
    /// Servers back with their stores.
    pub returned: u64,
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The scenario it ran.
    pub scenario: Scenario,
    /// How long the network took to form, in real time.
    pub formed_in: Duration,
    /// Bootstraps that failed, while forming and through churn.
    pub failed_bootstraps: u64,
    /// The puts.
    pub puts: Operations,
    /// How many closest peers each successful put was sent to, summed.
    pub put_sent_to: u64,
    /// How long the put phase took, in simulated time.
    pub put_phase: Duration,
    /// The survival samples, in order.
    pub samples: Vec<Sample>,
    /// What churn did.
    pub churn: ChurnCounts,
    /// What the hostile nodes did.
    pub hostile: HostileCounts,
    /// Records the honest nodes rejected (junk answers among them), counted by the nodes online
    /// at the end.
    pub rejected: u64,
    /// How far behind its schedule the run fell at worst, in simulated time (the machine was
    /// busy when an event or a sample was due).
    pub lag: Duration,
    /// How long the whole run took, in real time.
    pub ran_for: Duration,
}

impl Report {
    pub(crate) fn new(scenario: &Scenario, formed_in: Duration) -> Self {
        Report {
            scenario: scenario.clone(),
            formed_in,
            failed_bootstraps: 0,
            puts: Operations::default(),
            put_sent_to: 0,
            put_phase: Duration::ZERO,
            samples: Vec::new(),
            churn: ChurnCounts::default(),
            hostile: HostileCounts::default(),
            rejected: 0,
            lag: Duration::ZERO,
            ran_for: Duration::ZERO,
        }
    }

    /// The sampled gets of every sample together.
    pub fn gets(&self) -> Operations {
        let mut all = Operations::default();
        for sample in &self.samples {
            all.merge(&sample.gets);
        }
        all
    }

    /// The last sample, if there was one.
    pub fn last(&self) -> Option<&Sample> {
        self.samples.last()
    }
}

fn share(part: Option<f64>) -> String {
    part.map_or_else(|| "-".into(), |part| format!("{:.1}%", 100.0 * part))
}

fn millis(latency: Option<Duration>) -> String {
    latency.map_or_else(
        || "-".into(),
        |latency| format!("{:.1} ms", latency.as_secs_f64() * 1e3),
    )
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scenario = &self.scenario;
        let scale = scenario.time;
        writeln!(
            f,
            "{} {} nodes ({} writers, {} servers, {} hostile), replication {}, {} records, seed \
             {}; connections {}",
            scenario.nodes,
            if scenario.plain_kad {
                "plain rust-libp2p kad (MemoryStore)"
            } else {
                "Netabase"
            },
            scenario.writers,
            scenario.servers(),
            scenario.hostile,
            scenario.replication,
            scenario.records,
            scenario.seed,
            if scenario.noise {
                "secured with noise"
            } else {
                "in plaintext"
            },
        )?;
        if !scenario.delay.is_zero() {
            writeln!(
                f,
                "one-way delay {:.0} ms (real): every round trip {:.0} ms longer",
                scenario.delay.as_secs_f64() * 1e3,
                scenario.delay.as_secs_f64() * 2e3
            )?;
        }
        writeln!(
            f,
            "time: {scale} (1 simulated hour = {:.2} s real); {:.1} simulated hours; record TTL {:.0} h; {}{}",
            scale.real(Duration::from_secs(3600)).as_secs_f64(),
            hours(scenario.duration),
            hours(scenario.record_ttl),
            scenario.republish_interval.map_or_else(
                || "republish off".to_owned(),
                |every| format!("republish every {:.0} h", hours(every))
            ),
            if scenario.plain_kad || scenario.handoff {
                ""
            } else {
                "; handoff to newcomers off"
            },
        )?;
        match &scenario.churn {
            None => writeln!(f, "churn: none")?,
            Some(churn) => writeln!(
                f,
                "churn: {:.0}% of the servers leave per simulated day, {}; {} left, {} joined, {} returned",
                churn.per_day * 100.0,
                churn.returns_after.map_or_else(
                    || "each replaced at once by an empty node".to_owned(),
                    |downtime| format!("each back with its store after {:.1} h", hours(downtime))
                ),
                self.churn.left,
                self.churn.joined,
                self.churn.returned,
            )?,
        }
        writeln!(
            f,
            "formed in {:.1} s real ({} bootstraps failed); puts took {:.1} simulated hours; \
             the whole run {:.1} s real, at worst {:.1} simulated minutes behind schedule",
            self.formed_in.as_secs_f64(),
            self.failed_bootstraps,
            hours(self.put_phase),
            self.ran_for.as_secs_f64(),
            self.lag.as_secs_f64() / 60.0,
        )?;
        if scenario.hostile > 0 {
            writeln!(
                f,
                "hostile nodes dropped {} records sent to them and answered {} lookups with junk; \
                 the honest nodes rejected {} records",
                self.hostile.dropped_records, self.hostile.junk_answers, self.rejected,
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "| operation | success | median | p90 | max | peers asked (median, p90) |"
        )?;
        writeln!(f, "| --- | --- | --- | --- | --- | --- |")?;
        let gets = self.gets();
        for (name, operations) in [
            ("put (quorum 1)", &self.puts),
            ("get from the network (all samples)", &gets),
        ] {
            writeln!(
                f,
                "| {name} | {} ({} of {}) | {} | {} | {} | {} |",
                share(operations.success()),
                operations.ok,
                operations.ok + operations.failed,
                millis(operations.latency(0.5)),
                millis(operations.latency(0.9)),
                millis(operations.latency(1.0)),
                match (operations.queried_peers(0.5), operations.queried_peers(0.9)) {
                    (Some(median), Some(p90)) => format!("{median}, {p90}"),
                    _ => "-".to_owned(),
                },
            )?;
        }
        // Plain kad does not say how many peers a put reached.
        if self.puts.ok > 0 && !scenario.plain_kad {
            writeln!(
                f,
                "\nclosest peers each put was sent to: {:.1} on average",
                self.put_sent_to as f64 / self.puts.ok as f64
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "| simulated h | online | records held | holders min | median | mean | servers min | gets found | republished | handed off | memory per node |"
        )?;
        writeln!(
            f,
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        )?;
        for sample in &self.samples {
            writeln!(
                f,
                "| {:.1} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {} |",
                hours(sample.at),
                sample.online,
                share(Some(sample.held())),
                sample.holders_min,
                sample.holders_median,
                sample.holders_mean,
                sample.servers_min,
                share(sample.gets.success()),
                sample.republished,
                sample.handed_off,
                sample
                    .resident_bytes
                    .filter(|_| sample.online > 0)
                    .map_or_else(
                        || "-".into(),
                        |bytes| megabytes(bytes / sample.online as u64)
                    ),
            )?;
        }
        if let Some(last) = self.last()
            && last.republished + last.republish_failed > 0
        {
            writeln!(
                f,
                "\nrepublications that {}: {}",
                if scenario.plain_kad {
                    "no peer acknowledged before they ended (kad's job, quorum all)"
                } else {
                    "missed their quorum"
                },
                last.republish_failed,
            )?;
        }
        if let Some(last) = self.last()
            && last.handoff_failed > 0
        {
            writeln!(f, "handoffs no newcomer stored: {}", last.handoff_failed)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_counts_holders_and_records_no_node_holds() {
        let sample = Sample::new(
            Duration::ZERO,
            10,
            (&[0, 3, 5, 7], &[0, 2, 4, 7]),
            Operations::default(),
            (0, 0),
            None,
        );
        assert_eq!(
            (
                sample.records_held,
                sample.holders_min,
                sample.holders_median
            ),
            (3, 0, 5)
        );
        assert_eq!(sample.holders_mean, 3.75);
        assert_eq!(sample.held(), 0.75);
        assert_eq!(sample.servers_min, 0);
    }

    #[test]
    fn latency_quantiles_come_from_the_successes_only() {
        let mut operations = Operations::default();
        for millis in [30, 10, 20] {
            operations.succeeded(Duration::from_millis(millis));
        }
        operations.failed();
        assert_eq!(operations.latency(0.5), Some(Duration::from_millis(20)));
        assert_eq!(operations.latency(1.0), Some(Duration::from_millis(30)));
        assert_eq!(operations.success(), Some(0.75));
        assert_eq!(operations.queried_peers(0.5), None);
    }

    #[test]
    fn peers_asked_are_counted_per_successful_lookup() {
        let mut operations = Operations::default();
        for queried in [12, 30, 20, 25] {
            operations.succeeded_asking(Duration::from_millis(1), queried);
        }
        let mut merged = Operations::default();
        merged.merge(&operations);
        assert_eq!(merged.queried_peers(0.5), Some(25));
        assert_eq!(merged.queried_peers(0.0), Some(12));
    }
}
