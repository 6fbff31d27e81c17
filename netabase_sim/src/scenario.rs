//! What a simulation runs: the network, the records, the simulated time and the churn.

use std::num::NonZeroUsize;
use std::time::Duration;

use crate::time::TimeScale;

/// Nodes leaving and joining while the simulation runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Churn {
    /// The share of the server nodes that leaves per simulated day (0.5: half the network is
    /// replaced per day). Leaving nodes are chosen at random; writers never leave.
    pub per_day: f64,
    /// What happens to a node that leaves: `None`, it is gone with its store and a new node with
    /// an empty store joins in its place at once; `Some(downtime)`, it comes back with its store
    /// and identity after that simulated downtime.
    pub returns_after: Option<Duration>,
}

/// What a simulation runs. [`Default`] is a small run of a few seconds; the fields say what each
/// part of the scenario sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// How many nodes, writers included.
    pub nodes: usize,
    /// How many of them put the records and republish them. Writers stay online for the whole
    /// run, as the publisher in probe-lab's survival measurements does: a record whose publisher
    /// leaves for good is left to expire by design.
    pub writers: usize,
    /// How many of them are hostile: plain kad nodes that route honestly but acknowledge and drop
    /// every record sent to them and answer every lookup with junk. They join spread evenly
    /// among the servers and never leave.
    pub hostile: usize,
    /// How many records are put, spread evenly over the writers.
    pub records: u64,
    /// Whether the records are owned: each signed by its writer's node identity, so every holder
    /// checks the signature and only the writer can change it. Plain records otherwise.
    pub owned: bool,
    /// Every random choice of the run (identities, so the DHT's layout; who joins through whom;
    /// who leaves; which records are sampled and who reads them) comes from this seed.
    pub seed: u64,
    /// The nodes' replication factor (kad's `k`).
    pub replication: NonZeroUsize,
    /// How many online nodes' addresses each joining node starts with (in its routing table,
    /// not dialled) before it bootstraps. Fewer than kad's bucket size (20) makes each join two
    /// bootstraps: kad starts a second on its own after a bootstrap during which peers entered a
    /// table of fewer than 20.
    pub bootstrap_peers: usize,
    /// How many nodes join at once while the network forms.
    pub joins_at_once: usize,
    /// How many puts run at once.
    pub puts_at_once: usize,
    /// How simulated time maps onto real time.
    pub time: TimeScale,
    /// How long the run lasts in simulated time, from the first put.
    pub duration: Duration,
    /// The record TTL, simulated (each node's record TTL; tombstones live twice as long).
    pub record_ttl: Duration,
    /// How often writers republish their records, simulated; `None` turns republishing off.
    pub republish_interval: Option<Duration>,
    /// Nodes leaving and joining, if any.
    pub churn: Option<Churn>,
    /// How often the survival of the records is measured, simulated.
    pub sample_every: Duration,
    /// How many records each sample gets through the DHT, each read by a random writer other than
    /// its own.
    pub gets_per_sample: usize,
    /// How long a connection with no traffic stays open, in real time (not scaled: it is about
    /// what the machine can hold, not about the schedule).
    pub idle_connection_timeout: Duration,
    /// How long the bytes each side of a connection receives are held back, in real time (not
    /// scaled: it is the network's): a one-way delay, so each round trip is twice that longer.
    /// Zero by default.
    pub delay: Duration,
    /// How often each node refreshes its routing table on its own (kad's periodic bootstrap),
    /// simulated; `None` turns it off. Off by default: kad's default of 5 real minutes is 60
    /// simulated hours at 720x, and a refresh scaled to a real interval would be hundreds of
    /// bootstraps a second at a thousand nodes, more than the machine runs. Tables stay current
    /// through the lookups of puts, gets and republishing, and a peer that left leaves them when
    /// a request to it fails.
    pub routing_refresh: Option<Duration>,
    /// Whether the in-process connections run noise, as on a network (`true`), or libp2p's
    /// plaintext protocol, which exchanges the peers' public keys and encrypts nothing. Noise's
    /// key exchanges are about a third of the work of forming a large network; what the DHT
    /// does is the same either way.
    pub noise: bool,
    /// Whether the writers and servers are plain rust-libp2p kad nodes with kad's `MemoryStore`
    /// (no Netabase code: kad's own put, get and publication job under the same schedule), the
    /// reference Netabase's network is compared with. Netabase nodes otherwise.
    pub plain_kad: bool,
    /// Whether Netabase nodes hand records to peers that join among their closest
    /// (`NodeConfig::set_handoff_interval`, checked every simulated 10 s, at most once a real
    /// second). On by default, as in Netabase nodes; plain kad nodes have no such thing.
    pub handoff: bool,
}

const HOUR: Duration = Duration::from_secs(3600);

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            nodes: 50,
            writers: 5,
            hostile: 0,
            records: 100,
            owned: false,
            seed: 1,
            replication: NonZeroUsize::new(20).expect("non-zero"),
            bootstrap_peers: 20,
            joins_at_once: 8,
            puts_at_once: 32,
            time: TimeScale::new(3600.0).expect("a valid speed-up"),
            duration: Duration::ZERO,
            record_ttl: 48 * HOUR,
            republish_interval: Some(22 * HOUR),
            churn: None,
            sample_every: 4 * HOUR,
            gets_per_sample: 100,
            idle_connection_timeout: Duration::from_secs(10),
            delay: Duration::ZERO,
            routing_refresh: None,
            noise: true,
            plain_kad: false,
            handoff: true,
        }
    }
}

impl Scenario {
    /// Checks that the scenario can run: at least one writer and one server, a replication
    /// factor the servers can meet, a positive sample interval and a churn rate that is a share.
    pub fn check(&self) -> Result<(), String> {
        if self.writers == 0 {
            return Err("at least one writer is needed to put the records".into());
        }
        if self.writers.saturating_add(self.hostile) >= self.nodes {
            return Err(format!(
                "{} writers and {} hostile nodes leave no server among {} nodes; use fewer \
                 writers or hostile nodes, or more nodes",
                self.writers, self.hostile, self.nodes
            ));
        }
        if self.sample_every.is_zero() {
            return Err("the sample interval must be longer than zero".into());
        }
        if self.joins_at_once == 0 || self.puts_at_once == 0 {
            return Err("joins and puts at once must be at least one each".into());
        }
        if self.plain_kad && self.owned {
            return Err(
                "owned records need Netabase nodes: plain kad nodes cannot sign or check \
                 them; drop --owned or --plain-kad"
                    .into(),
            );
        }
        if let Some(churn) = &self.churn
            && !(churn.per_day.is_finite() && churn.per_day >= 0.0)
        {
            return Err(format!(
                "a churn rate is a share of the servers per day, not {}",
                churn.per_day
            ));
        }
        Ok(())
    }

    /// How many nodes are servers.
    pub fn servers(&self) -> usize {
        self.nodes
            .saturating_sub(self.writers)
            .saturating_sub(self.hostile)
    }

    /// The role of node `index` of the formed network: the writers first (node 0, which the
    /// others join through, is one), then the servers with the hostile nodes spread evenly
    /// among them.
    pub fn role(&self, index: usize) -> crate::Role {
        if index < self.writers {
            return crate::Role::Writer;
        }
        let rest = self.nodes.saturating_sub(self.writers).max(1);
        let position = index - self.writers;
        // The hostile count steps up by one at evenly spaced positions.
        if (position + 1) * self.hostile / rest > position * self.hostile / rest {
            crate::Role::Hostile
        } else {
            crate::Role::Server
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scenario_runs() {
        assert_eq!(Scenario::default().check(), Ok(()));
    }

    #[test]
    fn a_scenario_without_writers_or_servers_is_refused() {
        let no_writer = Scenario {
            writers: 0,
            ..Scenario::default()
        };
        assert!(no_writer.check().is_err());
        let no_server = Scenario {
            writers: 50,
            ..Scenario::default()
        };
        assert!(no_server.check().unwrap_err().contains("no server"));
    }

    #[test]
    fn hostile_nodes_are_spread_evenly_among_the_servers() {
        let scenario = Scenario {
            nodes: 12,
            writers: 2,
            hostile: 2,
            ..Scenario::default()
        };
        let roles: Vec<crate::Role> = (0..scenario.nodes).map(|i| scenario.role(i)).collect();
        let hostile: Vec<usize> = (0..scenario.nodes)
            .filter(|&i| roles[i] == crate::Role::Hostile)
            .collect();
        assert_eq!(&roles[..2], &[crate::Role::Writer, crate::Role::Writer]);
        assert_eq!(hostile, vec![6, 11]);
        let servers = roles.iter().filter(|&&r| r == crate::Role::Server).count();
        assert_eq!(servers, scenario.servers());
    }

    #[test]
    fn hostile_nodes_leave_room_for_a_server() {
        let scenario = Scenario {
            nodes: 4,
            writers: 2,
            hostile: 2,
            ..Scenario::default()
        };
        assert!(scenario.check().unwrap_err().contains("no server"));
    }

    #[test]
    fn owned_records_need_netabase_nodes() {
        let scenario = Scenario {
            owned: true,
            plain_kad: true,
            ..Scenario::default()
        };
        assert!(scenario.check().unwrap_err().contains("owned records"));
    }

    #[test]
    fn a_churn_rate_that_is_not_a_share_is_refused() {
        let scenario = Scenario {
            churn: Some(Churn {
                per_day: f64::NAN,
                returns_after: None,
            }),
            ..Scenario::default()
        };
        assert!(scenario.check().is_err());
    }
}
