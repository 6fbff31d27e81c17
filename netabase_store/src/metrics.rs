//! Prometheus metrics of a store, beside a node's [`NodeMetrics`](netabase::NodeMetrics) in the
//! same registry (under `netabase_store_`): set from the store each time
//! [`StoreMetrics::update`] runs, which a scrape does first.

use netabase::prometheus_client::metrics::gauge::Gauge;
use netabase::prometheus_client::registry::Registry;

use crate::RedbStore;

/// A store's figures as Prometheus gauges.
#[derive(Debug, Clone)]
pub struct StoreMetrics {
    records: Gauge,
    provider_records: Gauge,
    file_bytes: Gauge,
    pending_writes: Gauge,
    commits: Gauge,
    durable_commits: Gauge,
    storage_errors: Gauge,
    rejected_records: Gauge,
    max_records: Gauge,
}

impl StoreMetrics {
    /// Registers the store's gauges under `netabase_store_` in `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let registry = registry.sub_registry_with_prefix("netabase_store");
        let mut gauge = |name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        StoreMetrics {
            records: gauge(
                "records",
                "Records in the store, expired ones not yet swept included",
            ),
            provider_records: gauge(
                "provider_records",
                "Provider records in the store, expired ones not yet swept included",
            ),
            file_bytes: gauge("file_bytes", "Size of the store file in bytes"),
            pending_writes: gauge(
                "pending_writes",
                "Grouped writes not yet durable (the inbox of records from peers among them)",
            ),
            commits: gauge(
                "commits",
                "Write transactions committed since the store opened",
            ),
            durable_commits: gauge(
                "durable_commits",
                "Durable commits (one fsync each) since the store opened",
            ),
            storage_errors: gauge(
                "storage_errors",
                "Storage failures of RecordStore methods since the store opened",
            ),
            rejected_records: gauge(
                "rejected_records",
                "Records RecordStore::put refused since the store opened",
            ),
            max_records: gauge("max_records", "The most records the store holds"),
        }
    }

    /// Sets every gauge from `store`. A count the store cannot read now keeps its last value,
    /// and the failure is logged.
    pub fn update(&self, store: &RedbStore) {
        let set = |gauge: &Gauge, value: u64| gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
        match (store.record_count(), store.provider_record_count()) {
            (Ok(records), Ok(providers)) => {
                set(&self.records, records);
                set(&self.provider_records, providers);
            }
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "cannot count the store's records for its metrics");
            }
        }
        let (commits, durable) = store.commit_counts();
        set(&self.file_bytes, store.file_bytes());
        set(&self.pending_writes, store.pending_writes() as u64);
        set(&self.commits, commits);
        set(&self.durable_commits, durable);
        set(&self.storage_errors, store.storage_error_count());
        set(&self.rejected_records, store.rejected_record_count());
        set(&self.max_records, store.limits().max_records as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netabase::prometheus_client::encoding::text::encode;

    #[test]
    fn gauges_follow_the_store() {
        let mut registry = Registry::default();
        let metrics = StoreMetrics::new(&mut registry);
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::create(dir.path().join("store.redb")).unwrap();
        let record = libp2p::kad::Record::new(b"/other/Blob/\x01".to_vec(), vec![1, 2]);
        crate::NodeStore::put_local(&mut store.clone(), record).unwrap();
        metrics.update(&store);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        for line in [
            "netabase_store_records 1",
            "netabase_store_max_records 1000000",
            "netabase_store_durable_commits 1",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        assert!(!text.contains("netabase_store_file_bytes 0\n"), "{text}");
    }
}
