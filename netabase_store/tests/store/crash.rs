//! SIGKILL crash test: a child process writes records and prints an acknowledgement once each is
//! durable; the parent kills it at random moments, many times, then reopens the file. The file
//! must always open, and every acknowledged record must be in it.
//!
//! The child is this test binary re-executed with `CRASH_CHILD_STORE` set, running only
//! `crash::crash_child` (see `child_test_name`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::*;
use netabase_store::kad::store::RecordStore;
use netabase_store::{GroupCommit, NetabaseSchema, NodeStore, RedbStore};

const STORE_VAR: &str = "CRASH_CHILD_STORE";
const FIRST_ID_VAR: &str = "CRASH_CHILD_FIRST_ID";
const ROUNDS: u64 = 150;
/// Grouped writes per durable group commit in the child.
const GROUP: usize = 7;

/// The child: cycles through durable typed writes, groups of inbound `RecordStore::put`s made
/// durable by `flush`, and groups left to group commit alone (the write that fills the group, the
/// window, the background thread), acknowledging each record on stdout only once it is durable:
/// after `put_value` or `flush` returns, or once `pending_writes()` reports no grouped write left
/// to commit. Does nothing unless run by `acknowledged_records_survive_sigkill`.
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(STORE_VAR) else {
        return;
    };
    let first: u64 = std::env::var(FIRST_ID_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut store = builder()
        .set_group_commit(GroupCommit::new(Duration::from_millis(5), GROUP))
        .create(&path)
        .expect("the store opens in the child");
    let mut id = first;
    loop {
        store
            .put_value(&user(id, "typed, durable on return"))
            .expect("typed put");
        println!("ack {id}");
        let group: Vec<u64> = (id + 1..id + 6).collect();
        for i in &group {
            RecordStore::put(
                &mut store,
                user(*i, "inbound, grouped").to_record().unwrap(),
            )
            .expect("inbound put");
        }
        NodeStore::flush(&mut store).expect("flush");
        for i in &group {
            println!("ack {i}");
        }
        // Left to group commit: the GROUP-th write commits durably, or the window passes.
        let group: Vec<u64> = (id + 6..id + 6 + GROUP as u64).collect();
        for i in &group {
            RecordStore::put(
                &mut store,
                user(*i, "inbound, group commit").to_record().unwrap(),
            )
            .expect("inbound put");
        }
        let give_up = Instant::now() + Duration::from_secs(10);
        while store.pending_writes() > 0 && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(1));
        }
        if store.pending_writes() == 0 {
            for i in &group {
                println!("ack {i}");
            }
        }
        id += 6 + GROUP as u64;
    }
}

/// `crash_child`'s name as the test harness knows it (its module path without the crate name),
/// so that `--exact` runs that one test wherever this module sits in the test binary.
fn child_test_name() -> String {
    match module_path!().split_once("::") {
        Some((_crate, module)) => format!("{module}::crash_child"),
        None => "crash_child".to_string(),
    }
}

/// A small deterministic generator for kill delays (xorshift).
struct Delays(u64);

impl Delays {
    fn next(&mut self, max_ms: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(self.0 % max_ms)
    }
}

fn run_child_and_kill(path: &Path, first_id: u64, delay: Duration) -> Vec<u64> {
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .arg(child_test_name())
        .args(["--exact", "--nocapture", "--test-threads=1"])
        .env(STORE_VAR, path)
        .env(FIRST_ID_VAR, first_id.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, acks) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(id) = line
                .strip_prefix("ack ")
                .and_then(|id| id.parse::<u64>().ok())
                && sender.send(id).is_err()
            {
                break;
            }
        }
    });
    // Wait for the first acknowledgement (bounded), so every round kills a writing child, then
    // let it run for the random delay.
    let first = acks.recv_timeout(Duration::from_secs(60));
    std::thread::sleep(delay);
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    reader.join().expect("reader thread");
    first.into_iter().chain(acks.try_iter()).collect()
}

#[test]
fn acknowledged_records_survive_sigkill() {
    if std::env::var(STORE_VAR).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.redb");
    let mut delays = Delays(0x9E37_79B9_7F4A_7C15);
    let mut acknowledged: Vec<u64> = Vec::new();
    let mut next_id = 0;
    let started = Instant::now();
    for round in 0..ROUNDS {
        let acks = run_child_and_kill(&path, next_id, delays.next(60));
        assert!(
            !acks.is_empty(),
            "round {round}: the child acknowledged nothing"
        );
        next_id = acks.iter().max().map_or(next_id, |max| max + 1000);
        acknowledged.extend(acks);

        let store = builder()
            .open(&path)
            .unwrap_or_else(|error| panic!("round {round}: the file does not open: {error}"));
        // Spot-check every round; check everything at the end.
        for id in acknowledged.iter().rev().take(50) {
            assert!(
                RecordStore::get(&store, &User::record_key(&user_key(*id)).unwrap()).is_some(),
                "round {round}: acknowledged record {id} is missing"
            );
        }
    }
    let store = RedbStore::open(&path).unwrap();
    for id in &acknowledged {
        let value = store.get_value::<User>(&user_key(*id)).unwrap();
        assert!(value.is_some(), "acknowledged record {id} is missing");
    }
    println!(
        "{ROUNDS} kills, {} acknowledged records all present, {:?}",
        acknowledged.len(),
        started.elapsed()
    );
}

const INDEX_STORE_VAR: &str = "CRASH_INDEX_CHILD_STORE";
const INDEX_ROUNDS: u64 = 40;

/// The child of `indexes_match_the_values_after_sigkill`: typed puts, updates that move index
/// rows, removals, and groups of records from peers, forever. Does nothing unless run by it.
#[test]
fn crash_index_child() {
    let Ok(path) = std::env::var(INDEX_STORE_VAR) else {
        return;
    };
    let mut store = builder()
        .register::<crate::indexes::Person>()
        .set_group_commit(GroupCommit::new(Duration::from_millis(5), GROUP))
        .create(&path)
        .expect("the store opens in the child");
    let mut step: u64 = 0;
    loop {
        let id = step % 64;
        let age = (step * 7 % 90) as u32;
        // The id's own email is unique to it, so no write here is refused.
        let _ = store.put_value(&crate::indexes::person(id, age));
        RecordStore::put(
            &mut store,
            crate::indexes::person(64 + step % 64, age + 1)
                .to_record()
                .unwrap(),
        )
        .expect("inbound put");
        if step.is_multiple_of(5) {
            let _ = store.remove_value::<crate::indexes::Person>(&crate::indexes::PersonKey(
                (step / 5) % 64,
            ));
        }
        step += 1;
    }
}

#[test]
fn indexes_match_the_values_after_sigkill() {
    use crate::indexes::Person;
    if std::env::var(STORE_VAR).is_ok() || std::env::var(INDEX_STORE_VAR).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash-index.redb");
    let mut delays = Delays(0x2545_F491_4F6C_DD1D);
    let exe = std::env::current_exe().expect("test binary path");
    let child_name = child_test_name().replace("crash_child", "crash_index_child");
    let mut most = 0;
    for round in 0..INDEX_ROUNDS {
        let mut child = Command::new(&exe)
            .arg(&child_name)
            .args(["--exact", "--nocapture", "--test-threads=1"])
            .env(INDEX_STORE_VAR, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("child starts");
        std::thread::sleep(Duration::from_millis(30) + delays.next(80));
        child.kill().expect("SIGKILL the child");
        child.wait().expect("reap the child");
        let store = builder()
            .register::<Person>()
            .open(&path)
            .unwrap_or_else(|error| panic!("round {round}: the file does not open: {error}"));
        // The model: what the stored values say the indexes hold.
        let values: Vec<Person> = store.values::<Person>().collect::<Result<_, _>>().unwrap();
        let mut by_age: Vec<(u32, u64)> = values.iter().map(|p| (p.age, p.id)).collect();
        by_age.sort();
        let indexed: Vec<(u32, u64)> = store
            .find_range(Person::by_age(), ..)
            .unwrap()
            .map(|p| p.map(|p| (p.age, p.id)).unwrap())
            .collect();
        assert_eq!(indexed, by_age, "round {round}: the age index");
        for value in &values {
            assert_eq!(
                store
                    .find_unique(Person::by_email(), &value.email)
                    .unwrap()
                    .as_ref(),
                Some(value),
                "round {round}: the email index"
            );
        }
        most = most.max(values.len());
    }
    assert!(
        most > 0,
        "the children wrote nothing: the test checked empty indexes"
    );
}
