//! Simulated Netabase networks: N real [`Node`](netabase_store::Node)s, each with a real redb store
//! (redb's in-memory backend), in one process over libp2p's in-process memory transport, driven
//! by a workload whose every choice (which node writes, which reads) comes from a seed.
//!
//! This first part of the harness builds a network and runs writers and readers against it:
//! [`Scenario`] says how, [`run`] runs it, and the [`Report`] gives put and get success and
//! latency. `docs/simulation.md` describes the model and its limits.

mod network;
mod report;
mod workload;

pub use network::{SimError, SimNetwork};
pub use report::{Latencies, Report};
pub use workload::{Scenario, SimRecord, run};
