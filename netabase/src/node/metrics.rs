//! Prometheus metrics of a node, in a `prometheus-client` registry: libp2p's own
//! (`libp2p-metrics`: swarm, Kademlia, identify and ping, under the `libp2p_` prefix), recorded
//! from every swarm event by the event loop, and Netabase's (under `netabase_`), set from the
//! node's [`NodeStats`] each time they are computed: by [`NodeHandle::stats`], so a scrape that
//! asks for the stats first is up to date. `docs/operations.md` lists the families.
//!
//! [`NodeHandle::stats`]: crate::NodeHandle::stats

use std::sync::{Arc, Mutex, PoisonError};

use libp2p::metrics::Recorder;
use libp2p::swarm::SwarmEvent;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::behaviour::BehaviourEvent;
use super::events::{NodeStats, RejectionCounts};
use crate::node_store::NodeStore;

/// The label of a rejection counter: why records were refused.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: String,
}

/// A node's metrics. Create one with [`NodeMetrics::new`] on the registry you serve, and give it
/// to the node with [`NodeConfig::set_metrics`](crate::NodeConfig::set_metrics). Cloning is
/// cheap: clones share the same metrics.
#[derive(Clone)]
pub struct NodeMetrics {
    inner: Arc<Inner>,
}

struct Inner {
    libp2p: libp2p::metrics::Metrics,
    records_stored: Counter,
    records_rejected: Family<Reason, Counter>,
    providers_stored: Counter,
    providers_rejected: Family<Reason, Counter>,
    records_expired: Counter,
    republished: Counter,
    republish_failed: Counter,
    handed_off: Counter,
    handoff_failed: Counter,
    storage_errors: Counter,
    connected_peers: Gauge,
    routing_table_size: Gauge,
    connected_routable_peers: Gauge,
    republish_backlog: Gauge,
    background_queries: Gauge,
    /// The stats last turned into counters, so each update adds what changed since.
    last: Mutex<NodeStats>,
}

impl std::fmt::Debug for NodeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeMetrics").finish_non_exhaustive()
    }
}

impl NodeMetrics {
    /// Registers libp2p's metrics under `libp2p_` and the node's under `netabase_` in `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let libp2p = libp2p::metrics::Metrics::new(registry);
        let registry = registry.sub_registry_with_prefix("netabase");
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let counter = Counter::default();
            registry.register(name, help, counter.clone());
            counter
        };
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let family = |registry: &mut Registry, name: &str, help: &str| {
            let family = Family::<Reason, Counter>::default();
            registry.register(name, help, family.clone());
            family
        };
        let inner = Inner {
            libp2p,
            records_stored: counter(
                registry,
                "records_stored",
                "Records received from peers (puts and get answers) that were validated and stored",
            ),
            records_rejected: family(
                registry,
                "records_rejected",
                "Records received from peers that were refused, by reason",
            ),
            providers_stored: counter(
                registry,
                "providers_stored",
                "Provider records received and stored",
            ),
            providers_rejected: family(
                registry,
                "providers_rejected",
                "Provider records received and refused, by reason",
            ),
            records_expired: counter(
                registry,
                "records_expired",
                "Records removed by expiry sweeps",
            ),
            republished: counter(
                registry,
                "republished",
                "Republications that reached their quorum",
            ),
            republish_failed: counter(
                registry,
                "republish_failed",
                "Republications that did not reach their quorum",
            ),
            handed_off: counter(
                registry,
                "handed_off",
                "Records handed to peers that joined among their closest, stored by one at least",
            ),
            handoff_failed: counter(
                registry,
                "handoff_failed",
                "Records handed to newcomers that none of them stored",
            ),
            storage_errors: counter(
                registry,
                "storage_errors",
                "Storage failures of the node and of its store's RecordStore methods",
            ),
            connected_peers: gauge(registry, "connected_peers", "Peers with an open connection"),
            routing_table_size: gauge(
                registry,
                "routing_table_size",
                "Peers in the Kademlia routing table",
            ),
            connected_routable_peers: gauge(
                registry,
                "connected_routable_peers",
                "Peers in the routing table with an open connection",
            ),
            republish_backlog: gauge(
                registry,
                "republish_backlog",
                "1 while the republish job has more due records than it could start, else 0",
            ),
            background_queries: gauge(
                registry,
                "background_queries",
                "Republications and repairs in flight",
            ),
            last: Mutex::new(NodeStats::default()),
        };
        NodeMetrics {
            inner: Arc::new(inner),
        }
    }

    /// Records one swarm event in libp2p's metrics.
    pub(crate) fn record<S: NodeStore>(&self, event: &SwarmEvent<BehaviourEvent<S>>) {
        let libp2p = &self.inner.libp2p;
        libp2p.record(event);
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => libp2p.record(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => libp2p.record(event),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(event)) => libp2p.record(event),
            _ => {}
        }
    }

    /// Sets the node's families from `stats` (with the loop's republish backlog and background
    /// queries).
    pub(crate) fn update(&self, stats: &NodeStats, republish_backlog: bool, background: usize) {
        let inner = &self.inner;
        let mut last = inner.last.lock().unwrap_or_else(PoisonError::into_inner);
        let add = |counter: &Counter, now: u64, before: u64| {
            counter.inc_by(now.saturating_sub(before));
        };
        add(
            &inner.records_stored,
            stats.records_stored,
            last.records_stored,
        );
        add(
            &inner.providers_stored,
            stats.providers_stored,
            last.providers_stored,
        );
        add(
            &inner.records_expired,
            stats.records_expired,
            last.records_expired,
        );
        add(&inner.republished, stats.republished, last.republished);
        add(
            &inner.republish_failed,
            stats.republish_failed,
            last.republish_failed,
        );
        add(&inner.handed_off, stats.handed_off, last.handed_off);
        add(
            &inner.handoff_failed,
            stats.handoff_failed,
            last.handoff_failed,
        );
        add(
            &inner.storage_errors,
            stats.storage_errors,
            last.storage_errors,
        );
        add_reasons(
            &inner.records_rejected,
            &stats.records_rejected,
            &last.records_rejected,
        );
        add_reasons(
            &inner.providers_rejected,
            &stats.providers_rejected,
            &last.providers_rejected,
        );
        let set = |gauge: &Gauge, value: usize| {
            gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
        };
        set(&inner.connected_peers, stats.connected_peers);
        set(&inner.routing_table_size, stats.routing_table_size);
        set(
            &inner.connected_routable_peers,
            stats.connected_routable_peers,
        );
        set(&inner.republish_backlog, usize::from(republish_backlog));
        set(&inner.background_queries, background);
        *last = stats.clone();
    }
}

/// Adds to each reason's counter what it gained from `before` to `now`. Every reason gets a
/// series, zero or not, so a dashboard sees each one from the start.
fn add_reasons(family: &Family<Reason, Counter>, now: &RejectionCounts, before: &RejectionCounts) {
    for ((name, count), (_, previous)) in now.by_reason().into_iter().zip(before.by_reason()) {
        let reason = Reason {
            reason: name.replace(' ', "_"),
        };
        family
            .get_or_create(&reason)
            .inc_by(count.saturating_sub(previous));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn updates_add_what_changed_and_every_family_is_encoded() {
        let mut registry = Registry::default();
        let metrics = NodeMetrics::new(&mut registry);
        let mut stats = NodeStats {
            records_stored: 3,
            handed_off: 8,
            connected_peers: 2,
            ..NodeStats::default()
        };
        stats.records_rejected.bad_signature = 4;
        metrics.update(&stats, false, 0);
        stats.records_stored = 5;
        stats.records_rejected.bad_signature = 6;
        metrics.update(&stats, true, 7);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        for line in [
            "netabase_records_stored_total 5",
            "netabase_records_rejected_total{reason=\"bad_signature\"} 6",
            "netabase_records_rejected_total{reason=\"unknown_schema\"} 0",
            "netabase_connected_peers 2",
            "netabase_handed_off_total 8",
            "netabase_handoff_failed_total 0",
            "netabase_republish_backlog 1",
            "netabase_background_queries 7",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        assert!(
            text.contains("# TYPE libp2p_kad_query_result_get_closest_peers_ok histogram"),
            "{text}"
        );
    }
}
