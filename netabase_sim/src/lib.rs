//! Simulated Netabase networks: N real [`Node`](netabase_store::Node)s, each with a real redb store
//! (redb's in-memory backend), in one process over libp2p's in-process memory transport, driven
//! by a workload whose every choice comes from a seed.
//!
//! A [`Scenario`] says what runs: how many nodes, how many of them write and how many records,
//! how fast simulated time passes ([`TimeScale`]), how long the run lasts, whether writers
//! republish, and how nodes churn ([`Churn`]). [`run`] forms the network, puts the records, lets
//! simulated time pass while servers leave and join, and samples the survival of the records;
//! the [`Report`] gives put and get success, latency and peers asked, and the survival over time,
//! and [`plot_holders`] draws it. Servers can be [hostile](Role::Hostile), and the network's
//! [`Faults`] split it and lose traffic. The same scenario runs on plain rust-libp2p kad nodes with
//! kad's `MemoryStore` ([`Scenario::plain_kad`]), for comparison. `docs/simulation.md` describes
//! the model, its limits and the figures.

mod faults;
mod hostile;
mod kad_peer;
mod memory;
mod network;
mod plain;
mod plot;
mod report;
mod run;
mod scenario;
mod time;
mod workload;

pub use faults::{FaultCounts, Faults};
pub use hostile::HostileCounts;
pub use network::{Departure, Holders, Role, SimError, SimNetwork};
pub use plot::{PlotError, plot_holders};
pub use report::{ChurnCounts, Operations, Report, Sample};
pub use run::run;
pub use scenario::{Churn, Scenario};
pub use time::{BadSpeedup, TimeScale};
pub use workload::{OwnedSimRecord, OwnedSimRecordKey, SimRecord, SimRecordKey};
