//! The harness itself: a small network forms and serves every record put, its holder counts
//! take in the copies the DHT placed at writers but not a writer's own, a node that comes back
//! without its store is filled again by the writers' republishing, and a new empty node is handed
//! the records it is among the closest of by their holders.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use libp2p::PeerId;
use netabase_sim::{
    Churn, Departure, Role, Scenario, SimNetwork, SimRecord, SimRecordKey, TimeScale, run,
};
use netabase_store::NetabaseSchema;
use netabase_store::kad::{KBucketKey, Quorum};
use rand::SeedableRng;
use rand::rngs::StdRng;

const HOUR: Duration = Duration::from_secs(3600);

/// A network of `writers` writers and `servers` servers joined one at a time, where the first
/// writer has put records `0..records` at every one of their closest peers. Returns it and the
/// writers' indices, the first first.
async fn network_with_records(
    scenario: &Scenario,
    (writers, servers): (usize, usize),
    records: u64,
    rng: &mut StdRng,
) -> (SimNetwork, Vec<usize>) {
    let mut network = SimNetwork::new(scenario);
    let mut indices = Vec::with_capacity(writers);
    for _ in 0..writers {
        let writer = network.add(Role::Writer, rng).expect("a writer");
        network.start(writer, rng).await.expect("the writer starts");
        indices.push(writer);
    }
    let writer = indices[0];
    for _ in 0..servers {
        let server = network.add(Role::Server, rng).expect("a server");
        network.start(server, rng).await.expect("a server starts");
        network.settle().await;
    }
    let handle = network.handle(writer).expect("the writer runs");
    for id in 0..records {
        let record = SimRecord {
            id,
            writer: writer as u64,
        };
        handle
            .put(&record, Quorum::All)
            .await
            .expect("the put reaches every closest peer");
    }
    (network, indices)
}

/// The records node `index` holds once it holds every one of `wanted`, or after 30 s.
async fn held_within_30_s(network: &SimNetwork, index: usize, wanted: &[u64]) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let held = network.held_by(index).await.expect("readable");
        if Instant::now() >= deadline || wanted.iter().all(|id| held.contains(id)) {
            return held;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs `scenario`, which must complete within two minutes, and prints its report.
async fn run_within_two_minutes(scenario: &Scenario) -> netabase_sim::Report {
    let report = tokio::time::timeout(Duration::from_secs(120), run(scenario))
        .await
        .expect("the run ends in time")
        .expect("the run completes");
    println!("{report}");
    report
}

/// The CI-sized run of the whole simulation: 50 nodes on plaintext connections.
fn ci_sized() -> Scenario {
    Scenario {
        nodes: 50,
        writers: 2,
        records: 20,
        seed: 7,
        replication: NonZeroUsize::new(5).expect("non-zero"),
        gets_per_sample: 20,
        noise: false,
        // A quorum-one put returns before the other holders have stored it: the last sample,
        // at least a simulated hour (a real second) after the puts, counts them all.
        duration: 3 * HOUR,
        ..Scenario::default()
    }
}

/// Asserts what every CI-sized run shows: all 20 puts succeeded, and at the last sample every
/// record was held by its 5 closest servers and found through the DHT.
fn assert_every_record_held_and_found(report: &netabase_sim::Report) {
    assert_eq!((report.puts.ok, report.puts.failed), (20, 0), "{report}");
    let sample = report.last().expect("one sample after the puts");
    assert_eq!(sample.records_held, 20, "{report}");
    assert_eq!(sample.holders_median, 5, "{report}");
    assert_eq!((sample.gets.ok, sample.gets.failed), (20, 0), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_put_is_held_by_its_closest_peers_and_found_through_the_dht() {
    let report = run_within_two_minutes(&ci_sized()).await;
    assert_every_record_held_and_found(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holders_count_the_copies_the_dht_placed_at_writers_but_not_a_writers_own() {
    let scenario = Scenario {
        replication: NonZeroUsize::new(5).expect("non-zero"),
        republish_interval: None,
        ..Scenario::default()
    };
    let mut rng = StdRng::seed_from_u64(14);
    let records = 12;
    let (mut network, writers) = network_with_records(&scenario, (2, 6), records, &mut rng).await;
    let other = writers[1];

    // Each record sits at its writer and at the 5 closest of the 7 other nodes, the other writer
    // among them for some.
    let with_other = network
        .holders(records, |index, _| index == other)
        .await
        .expect("readable");
    let servers_only = network
        .holders(records, |_, _| false)
        .await
        .expect("readable");
    let at_other = network.held_by(other).await.expect("readable");
    network.stop_all().await;
    assert_eq!(
        with_other.all,
        vec![5; 12],
        "the writer's own copies left out"
    );
    assert!(
        !at_other.is_empty(),
        "the other writer is among some closest"
    );
    for id in 0..records {
        let expected = 5 - u32::from(at_other.contains(&id));
        assert_eq!(with_other.servers[id as usize], expected, "record {id}");
    }
    assert_eq!(servers_only.all, with_other.servers);
    assert_eq!(servers_only.servers, with_other.servers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_churn_on_schedule_while_the_writers_are_still_putting() {
    // 28 servers, half replaced per simulated day: one leaves every 24 h / 14 = 1.71 h. At
    // 36,000x that is every 0.17 real seconds, and the run lasts 4 simulated hours (0.4 s): the
    // 200 puts outlast it, so departures at 1.71 h and 3.43 h can only happen while they run.
    let scenario = Scenario {
        nodes: 30,
        writers: 2,
        records: 200,
        seed: 11,
        replication: NonZeroUsize::new(5).expect("non-zero"),
        gets_per_sample: 20,
        noise: false,
        time: TimeScale::new(36_000.0).expect("a valid speed-up"),
        duration: 4 * HOUR,
        // Nothing expires or is republished within the run however long the puts take.
        record_ttl: 10_000 * HOUR,
        republish_interval: None,
        churn: Some(Churn {
            per_day: 0.5,
            returns_after: None,
        }),
        ..Scenario::default()
    };
    let report = run_within_two_minutes(&scenario).await;
    assert!(
        report.put_phase > scenario.duration,
        "the puts must outlast the run for this test to say anything: {report}"
    );
    assert_eq!(report.churn.left, 2, "{report}");
    assert_eq!(report.churn.joined, 2, "{report}");
    assert_eq!((report.puts.ok, report.puts.failed), (200, 0), "{report}");
    let sample = report.last().expect("one sample after the puts");
    assert_eq!(sample.online, 30, "{report}");
    assert_eq!((sample.gets.ok, sample.gets.failed), (20, 0), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_back_without_its_store_is_filled_again_by_republishing() {
    // One simulated hour a real second; writers republish every three simulated hours. No
    // handoffs: only republishing may bring the records back.
    let scenario = Scenario {
        replication: NonZeroUsize::new(4).expect("non-zero"),
        time: TimeScale::new(3600.0).expect("a valid speed-up"),
        republish_interval: Some(3 * HOUR),
        handoff: false,
        ..Scenario::default()
    };
    let mut rng = StdRng::seed_from_u64(11);
    let (mut network, _writer) = network_with_records(&scenario, (1, 11), 12, &mut rng).await;
    let servers = network.online(Role::Server);
    let mut holdings = Vec::new();
    for &server in &servers {
        holdings.push((server, network.held_by(server).await.expect("readable")));
    }
    let (wiped, held) = holdings
        .into_iter()
        .max_by_key(|(_, held)| held.len())
        .expect("servers");
    assert!(!held.is_empty(), "some server holds records");

    network
        .stop(wiped, Departure::LosesStore)
        .await
        .expect("it stops");
    network.start(wiped, &mut rng).await.expect("it comes back");
    assert_eq!(
        network.held_by(wiped).await.expect("readable"),
        Vec::<u64>::new()
    );

    // Its peer id is unchanged, so it is among the closest peers of the same records again, and
    // the next republications (within three real seconds) store them at it.
    let now_held = held_within_30_s(&network, wiped, &held).await;
    network.stop_all().await;
    assert!(
        held.iter().all(|id| now_held.contains(id)),
        "held {held:?} before, {now_held:?} after"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_empty_node_is_handed_the_records_it_is_among_the_closest_of() {
    // No republishing: only the holders' handoffs can bring records to the newcomer.
    let scenario = Scenario {
        replication: NonZeroUsize::new(4).expect("non-zero"),
        time: TimeScale::new(3600.0).expect("a valid speed-up"),
        republish_interval: None,
        ..Scenario::default()
    };
    let mut rng = StdRng::seed_from_u64(12);
    let records = 40;
    let (mut network, writers) = network_with_records(&scenario, (1, 11), records, &mut rng).await;
    let writer = writers[0];
    let newcomer = network.add(Role::Server, &mut rng).expect("a server");
    network.start(newcomer, &mut rng).await.expect("it joins");
    network.settle().await;

    // The records whose 4 closest online nodes include the newcomer.
    let peers: Vec<KBucketKey<PeerId>> = network
        .online(Role::Server)
        .into_iter()
        .chain([writer])
        .filter_map(|index| network.handle(index).map(|handle| handle.peer_id().into()))
        .collect();
    let own = KBucketKey::from(network.handle(newcomer).expect("it runs").peer_id());
    let expected: Vec<u64> = (0..records)
        .filter(|&id| {
            let key =
                KBucketKey::from(SimRecord::record_key(&SimRecordKey(id)).expect("a valid key"));
            let closer = peers
                .iter()
                .filter(|peer| key.distance(*peer) < key.distance(&own))
                .count();
            closer < 4
        })
        .collect();
    assert!(
        !expected.is_empty(),
        "40 keys put the newcomer among the closest of some"
    );

    let held = held_within_30_s(&network, newcomer, &expected).await;
    let (handed, _) = network.handoffs().await;
    network.stop_all().await;
    assert!(
        expected.iter().all(|id| held.contains(id)),
        "expected {expected:?}, held {held:?}"
    );
    assert!(handed >= expected.len() as u64, "{handed} handoffs counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_put_before_and_during_a_partition_are_found_across_it_once_it_heals() {
    let scenario = Scenario {
        replication: NonZeroUsize::new(4).expect("non-zero"),
        ..Scenario::default()
    };
    let mut rng = StdRng::seed_from_u64(5);
    let (mut network, writers) = network_with_records(&scenario, (1, 15), 10, &mut rng).await;
    let writer = writers[0];
    let handle = network.handle(writer).expect("the writer runs").clone();

    // The writer and seven servers on one side, eight servers on the other.
    let servers = network.online(Role::Server);
    let (near, far) = servers.split_at(7);
    network.faults().split(near.iter().copied().chain([writer]));
    let across = network.address(near[0]).expect("running").clone();
    let far_handle = network.handle(far[0]).expect("running").clone();
    assert!(
        far_handle.dial(across).await.is_err(),
        "a dial across the partition is refused"
    );
    assert!(network.faults().counts().refused_dials > 0);
    // A record put during the partition lands on the writer's side only: the far side cannot
    // find it until the partition heals.
    let during = SimRecord {
        id: 10,
        writer: writer as u64,
    };
    handle
        .put(&during, Quorum::One)
        .await
        .expect("the near side stores it");
    assert!(
        far_handle
            .get_from_network::<SimRecord>(&netabase_sim::SimRecordKey(10))
            .await
            .is_err(),
        "the far side cannot reach a record put during the partition"
    );

    network.faults().heal();
    let mut missing = Vec::new();
    for &reader in [far[0], far[3], near[2]].iter() {
        let handle = network.handle(reader).expect("running").clone();
        for id in 0..=10 {
            if handle
                .get_from_network::<SimRecord>(&netabase_sim::SimRecordKey(id))
                .await
                .is_err()
            {
                missing.push((reader, id));
            }
        }
    }
    network.stop_all().await;
    assert_eq!(
        missing,
        Vec::new(),
        "(reader, record) pairs not found after the heal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_nodes_cost_holders_but_every_record_is_still_found() {
    // A fifth of the network drops what it is sent and answers every lookup with junk.
    let scenario = Scenario {
        nodes: 25,
        writers: 3,
        hostile: 5,
        records: 20,
        seed: 3,
        replication: NonZeroUsize::new(5).expect("non-zero"),
        gets_per_sample: 20,
        duration: HOUR,
        // Hostile nodes on plaintext connections too.
        noise: false,
        ..Scenario::default()
    };
    let report = run_within_two_minutes(&scenario).await;
    assert_eq!((report.puts.ok, report.puts.failed), (20, 0), "{report}");
    assert!(
        report.hostile.dropped_records > 0,
        "hostile nodes are among the closest peers of some records: {report}"
    );
    assert!(
        report.hostile.junk_answers > 0 && report.rejected > 0,
        "lookups asked hostile nodes and rejected their junk: {report}"
    );
    let sample = report.last().expect("a sample after the puts");
    assert_eq!(sample.records_held, 20, "{report}");
    assert_eq!((sample.gets.ok, sample.gets.failed), (20, 0), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_network_still_serves_every_record_only_slower() {
    // A one-way delay of 100 ms: every round trip 200 ms longer.
    let delay = Duration::from_millis(100);
    let scenario = Scenario {
        nodes: 10,
        writers: 2,
        records: 6,
        seed: 9,
        replication: NonZeroUsize::new(3).expect("non-zero"),
        gets_per_sample: 6,
        delay,
        noise: false,
        ..Scenario::default()
    };
    let report = run_within_two_minutes(&scenario).await;
    assert_eq!((report.puts.ok, report.puts.failed), (6, 0), "{report}");
    let gets = report.gets();
    assert_eq!((gets.ok, gets.failed), (6, 0), "{report}");
    // A bound the delay sets, not a speed measurement: no get through the network can take less
    // than one round trip, a request there and an answer back.
    let fastest = gets.latency(0.0).expect("gets succeeded");
    assert!(fastest >= 2 * delay, "a get took {fastest:?}: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_records_are_held_and_found_like_plain_ones() {
    let scenario = Scenario {
        nodes: 20,
        writers: 2,
        records: 12,
        owned: true,
        seed: 13,
        replication: NonZeroUsize::new(4).expect("non-zero"),
        gets_per_sample: 12,
        duration: 2 * HOUR,
        noise: false,
        ..Scenario::default()
    };
    let report = run_within_two_minutes(&scenario).await;
    assert_eq!((report.puts.ok, report.puts.failed), (12, 0), "{report}");
    let sample = report.last().expect("a sample after the puts");
    assert_eq!(sample.records_held, 12, "{report}");
    assert!(sample.holders_median >= 3, "{report}");
    assert_eq!((sample.gets.ok, sample.gets.failed), (12, 0), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_kad_nodes_run_the_same_scenario_and_republish() {
    // The reference network: plain rust-libp2p kad nodes with kad's MemoryStore as writers and
    // servers, under the CI-sized schedule with fewer nodes.
    let scenario = Scenario {
        nodes: 30,
        plain_kad: true,
        // kad's publication job runs every 3 simulated hours (3 real seconds): by the end of
        // the run it has republished the records at least once.
        republish_interval: Some(3 * HOUR),
        duration: 5 * HOUR,
        ..ci_sized()
    };
    let report = run_within_two_minutes(&scenario).await;
    assert!(
        report.to_string().contains("plain rust-libp2p kad"),
        "{report}"
    );
    assert_eq!(report.failed_bootstraps, 0, "{report}");
    assert_every_record_held_and_found(&report);
    assert!(
        report
            .gets()
            .queried_peers(0.5)
            .is_some_and(|asked| asked > 0),
        "gets went through the network, not the reader's own store: {report}"
    );
    let sample = report.last().expect("a sample after the puts");
    assert!(sample.republished >= 20, "{report}");
}
