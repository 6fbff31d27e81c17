//! Running a scenario: forming the network, putting the records, then letting simulated time pass
//! with churn while the survival of the records is sampled.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::network::{Departure, Role, SimError, SimNetwork};
use crate::report::{ChurnCounts, Report, Sample};
use crate::scenario::Scenario;
use crate::workload::{Writers, get_sample, put_all};

/// How many sampled gets run at once.
const GETS_AT_ONCE: usize = 16;

/// Runs `scenario` and reports what it measured.
///
/// 1. The network forms: node 0 starts alone, then the others join `joins_at_once` at a time,
///    each starting with the addresses of up to `bootstrap_peers` random online nodes and
///    bootstrapping.
/// 2. Simulated time starts, and the writers put the records.
/// 3. Until `duration` has passed in simulated time, servers leave at the churn rate (replaced
///    at once by empty nodes, or back with their stores after their downtime), from the first
///    put on, while the writers put too; from the end of the puts, every `sample_every` the
///    survival of the records is measured: how many online nodes hold each (read from their
///    stores; a writer's copy only where the DHT placed it, not its own records nor those its
///    gets stored), and whether a random sample of them can be got through the DHT (each by a
///    writer other than its own).
pub async fn run(scenario: &Scenario) -> Result<Report, SimError> {
    scenario.check().map_err(SimError::Scenario)?;
    let mut rng = StdRng::seed_from_u64(scenario.seed);
    let started = Instant::now();
    let mut network = SimNetwork::new(scenario);
    let mut writers = Vec::with_capacity(scenario.writers);
    for index in 0..scenario.nodes {
        let role = scenario.role(index);
        network.add(role, &mut rng)?;
        if role == Role::Writer {
            writers.push(index);
        }
    }
    let mut writers = Writers::new(writers);
    let result = drive(scenario, &mut network, &mut writers, &mut rng, started).await;
    network.stop_all().await;
    result
}

async fn drive(
    scenario: &Scenario,
    network: &mut SimNetwork,
    writers: &mut Writers,
    rng: &mut StdRng,
    started: Instant,
) -> Result<Report, SimError> {
    network.start(0, rng).await?;
    let joining: Vec<usize> = (1..scenario.nodes).collect();
    // Progress at every tenth of the network.
    let tenth = (scenario.nodes / 10).max(1);
    for wave in joining.chunks(scenario.joins_at_once) {
        for &index in wave {
            network.start(index, rng).await?;
        }
        network.settle().await;
        let online = network.online_count();
        if wave.iter().any(|&index| (index + 1) % tenth == 0) {
            tracing::info!(
                "{online} of {} nodes joined in {:.1} s ({} connections dialled)",
                scenario.nodes,
                started.elapsed().as_secs_f64(),
                network.faults().counts().dials,
            );
        }
    }
    let mut report = Report::new(scenario, started.elapsed());
    report.failed_bootstraps = network.failed_bootstraps();

    let clock = Clock {
        zero: Instant::now(),
        scenario,
    };
    // Churn runs on its schedule from the first put, also while the writers put.
    let mut churn = ChurnSchedule::new(scenario);
    let mut putting = tokio::spawn(put_all(
        network,
        writers.indices(),
        scenario.records,
        scenario.puts_at_once,
        scenario.owned,
    ));
    let put = loop {
        let next_churn = churn.next_event().filter(|at| *at < scenario.duration);
        let due = next_churn.unwrap_or(scenario.duration);
        tokio::select! {
            put = &mut putting => break put,
            () = clock.sleep_until(due), if next_churn.is_some() => {
                let now = clock.now();
                report.lag = report.lag.max(now.saturating_sub(due));
                if let Err(error) = churn.step(network, &mut report.churn, rng, now).await {
                    putting.abort();
                    return Err(error);
                }
            }
        }
    };
    let (puts, sent_to) =
        put.map_err(|error| SimError::Scenario(format!("the puts did not finish: {error}")))?;
    report.puts = puts;
    report.put_sent_to = sent_to;
    report.put_phase = clock.now();
    tracing::info!(
        "{} records put in {:.1} s ({:.1} simulated hours)",
        scenario.records,
        clock.zero.elapsed().as_secs_f64(),
        crate::time::hours(report.put_phase)
    );

    // Events run in their order as soon as the machine gets to them; when it falls behind, a
    // sample is taken once, late, and the lag is reported. The run ends at `duration` on the
    // clock whatever was left to do. The first sample is due when the puts are done (how long
    // they took is not lag), and at the latest at the end.
    let mut next_sample = clock.now().min(scenario.duration);
    loop {
        let next_churn = churn.next_event();
        let next = next_churn.map_or(next_sample, |at| at.min(next_sample));
        if next > scenario.duration {
            break;
        }
        clock.sleep_until(next).await;
        let now = clock.now();
        report.lag = report
            .lag
            .max(now.saturating_sub(next.max(report.put_phase)));
        let last = now >= scenario.duration;
        if next_churn == Some(next) && !last {
            churn.step(network, &mut report.churn, rng, now).await?;
            continue;
        }
        let taken = sample(scenario, network, writers, rng, now).await?;
        tracing::info!(
            "at {:.1} simulated hours: {} online, {:.1}% of the records held, {:.1} holders on \
             average, {} of {} gets found",
            crate::time::hours(now),
            taken.online,
            100.0 * taken.held(),
            taken.holders_mean,
            taken.gets.ok,
            taken.gets.ok + taken.gets.failed,
        );
        report.samples.push(taken);
        if last {
            break;
        }
        // The next multiple of the interval still ahead (those the machine was too late for
        // are skipped), and last of all the end.
        let every = scenario.sample_every;
        let passed = clock.now().as_nanos() / every.as_nanos().max(1);
        next_sample = every
            .checked_mul(u32::try_from(passed + 1).unwrap_or(u32::MAX))
            .unwrap_or(Duration::MAX)
            .min(scenario.duration);
    }
    network.settle().await;
    report.failed_bootstraps = network.failed_bootstraps();
    report.hostile = network.hostile_counts();
    let mut honest = network.stats(Role::Writer).await;
    honest.extend(network.stats(Role::Server).await);
    report.rejected = honest
        .iter()
        .map(|stats| stats.records_rejected.total())
        .sum();
    report.ran_for = started.elapsed();
    Ok(report)
}

/// Measures the survival of the records now.
async fn sample(
    scenario: &Scenario,
    network: &SimNetwork,
    writers: &mut Writers,
    rng: &mut StdRng,
    at: Duration,
) -> Result<Sample, SimError> {
    // Counted before this sample's gets, which store what they find at their readers.
    let holders = network
        .holders(scenario.records, |writer, id| {
            writers.placed_by_dht(writer, id)
        })
        .await?;
    let gets = get_sample(
        network,
        writers,
        scenario.records,
        scenario.owned,
        scenario.gets_per_sample,
        GETS_AT_ONCE,
        rng,
    )
    .await;
    let republications = network.republished().await;
    let mut sample = Sample::new(
        at,
        network.online_count(),
        (&holders.all, &holders.servers),
        gets,
        republications,
        crate::memory::resident_bytes(),
    );
    (sample.handed_off, sample.handoff_failed) = network.handoffs().await;
    Ok(sample)
}

/// The simulated clock: simulated time since the first put.
struct Clock<'a> {
    zero: Instant,
    scenario: &'a Scenario,
}

impl Clock<'_> {
    fn now(&self) -> Duration {
        self.scenario.time.simulated(self.zero.elapsed())
    }

    async fn sleep_until(&self, simulated: Duration) {
        let at = self.zero + self.scenario.time.real(simulated);
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
    }
}

/// When servers leave and come back.
struct ChurnSchedule {
    /// Simulated time between two departures; `None` without churn.
    every: Option<Duration>,
    next_leave: Duration,
    returns_after: Option<Duration>,
    /// Nodes offline, with when they come back, soonest first (every downtime is the same).
    returning: VecDeque<(Duration, usize)>,
}

const DAY: Duration = Duration::from_secs(24 * 3600);

impl ChurnSchedule {
    fn new(scenario: &Scenario) -> Self {
        let per_day = scenario
            .churn
            .map_or(0.0, |churn| churn.per_day * scenario.servers() as f64);
        let every = (per_day > 0.0).then(|| DAY.div_f64(per_day));
        ChurnSchedule {
            every,
            next_leave: every.unwrap_or(Duration::MAX),
            returns_after: scenario.churn.and_then(|churn| churn.returns_after),
            returning: VecDeque::new(),
        }
    }

    /// When the next departure or return is due.
    fn next_event(&self) -> Option<Duration> {
        let leave = self.every.map(|_| self.next_leave);
        let back = self.returning.front().map(|(at, _)| *at);
        match (leave, back) {
            (Some(leave), Some(back)) => Some(leave.min(back)),
            (leave, back) => leave.or(back),
        }
    }

    /// Runs the event due at `now`.
    async fn step(
        &mut self,
        network: &mut SimNetwork,
        counts: &mut ChurnCounts,
        rng: &mut StdRng,
        now: Duration,
    ) -> Result<(), SimError> {
        if let Some(&(at, index)) = self.returning.front()
            && at <= now
        {
            self.returning.pop_front();
            network.start(index, rng).await?;
            counts.returned += 1;
            return Ok(());
        }
        if let Some(every) = self.every {
            self.next_leave += every;
        }
        let servers = network.online(Role::Server);
        if servers.is_empty() {
            return Ok(());
        }
        let leaving = servers[rng.random_range(0..servers.len())];
        counts.left += 1;
        match self.returns_after {
            Some(downtime) => {
                network.stop(leaving, Departure::Offline).await?;
                self.returning.push_back((now + downtime, leaving));
            }
            None => {
                network.stop(leaving, Departure::Gone).await?;
                let fresh = network.add(Role::Server, rng)?;
                network.start(fresh, rng).await?;
                counts.joined += 1;
            }
        }
        Ok(())
    }
}
