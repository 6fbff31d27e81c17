//! The harness itself: a small network forms, and every record put is found from other nodes.

use std::num::NonZeroUsize;

use netabase_sim::{Scenario, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_put_is_found_through_the_dht() {
    let scenario = Scenario {
        nodes: 30,
        records: 20,
        seed: 7,
        replication: NonZeroUsize::new(5).expect("non-zero"),
        bootstrap_peers: 2,
    };
    let report = tokio::time::timeout(std::time::Duration::from_secs(120), run(&scenario))
        .await
        .expect("the run ends in time")
        .expect("the run completes");
    println!("{report}");
    assert_eq!((report.puts_ok, report.puts_failed), (20, 0), "{report}");
    assert_eq!((report.gets_ok, report.gets_failed), (20, 0), "{report}");
    // Each put went to its replication factor's worth of closest peers.
    assert_eq!(report.holders, 20 * 5, "{report}");
}
