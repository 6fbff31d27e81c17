//! `netabase node`, `netabase get` and `netabase put` against real nodes on 127.0.0.1.

use netabase_store::Keypair;
use predicates::prelude::*;
use serde_json::Value;

use crate::support::{RunningNode, netabase, one_line_error};

/// An address where no node listens, with a valid peer id.
fn unreachable_address() -> String {
    let peer = Keypair::generate_ed25519().public().to_peer_id();
    format!("/ip4/127.0.0.1/tcp/1/p2p/{peer}")
}

#[test]
fn nodes_serve_raw_records_and_stop_cleanly_with_nothing_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first_dir = dir.path().join("first");
    let mut first = RunningNode::start(&first_dir, &[]);
    let address = first.address();
    let peer_line = first.wait_for_line("netabase node ");
    assert!(address.ends_with(peer_line.trim_start_matches("netabase node ")));

    // put: escaped text, and a file with a time to live.
    netabase([
        "put",
        "/myapp/Thing/\\x01",
        "hello\\x00world",
        "--bootstrap",
        &address,
    ])
    .assert()
    .success()
    .stdout(predicate::str::contains(
        "stored \"/myapp/Thing/\\x01\" (11 bytes) on 1 of the 1 closest peer(s): 1 validated it",
    ));
    let file = dir.path().join("value.bin");
    std::fs::write(&file, [0u8, 1, 2, 255]).expect("write");
    netabase([
        "put",
        "/myapp/File/\\x02",
        "--ttl",
        "1h",
        "--bootstrap",
        &address,
    ])
    .arg("--value-file")
    .arg(&file)
    .assert()
    .success();
    // --json names the peer that validated and stored it; a quorum the network cannot meet is
    // refused, not lowered.
    let output = netabase([
        "put",
        "/myapp/Thing/\\x03",
        "three",
        "--json",
        "--bootstrap",
        &address,
    ])
    .assert()
    .success();
    let json: Value = serde_json::from_slice(&output.get_output().stdout).expect("valid JSON");
    assert_eq!(json["peers_found"], 1, "{json}");
    assert_eq!(json["record"]["key"], "/myapp/Thing/\\x03", "{json}");
    let put_record = json["record"].clone();
    assert_eq!(
        json["stored"][0],
        peer_line.trim_start_matches("netabase node ")
    );
    let output = netabase([
        "put",
        "/myapp/Thing/\\x04",
        "four",
        "--quorum",
        "20",
        "--bootstrap",
        &address,
    ])
    .assert()
    .code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(
        line.contains("the quorum needs 20 peers and the lookup found only 1"),
        "{line}"
    );

    // get: a table, the raw bytes, JSON with a hex key.
    netabase(["get", "/myapp/Thing/\\x01", "--bootstrap", &address])
        .assert()
        .success()
        .stdout(predicate::str::contains("hello\\x00world"))
        .stdout(predicate::str::contains("from"));
    let raw = netabase([
        "get",
        "/myapp/Thing/\\x01",
        "--raw",
        "--bootstrap",
        &address,
    ])
    .assert()
    .success();
    assert_eq!(raw.get_output().stdout, b"hello\x00world");
    let hex_key = "2f6d796170702f46696c652f02"; // /myapp/File/\x02
    let output = netabase(["get", hex_key, "--hex", "--json", "--bootstrap", &address])
        .assert()
        .success();
    let json: Value = serde_json::from_slice(&output.get_output().stdout).expect("valid JSON");
    let record = &json["record"];
    assert_eq!(record["value_hex"], "000102ff");
    assert!(
        record["expires_in_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 3_500_000),
        "{json}"
    );
    assert_eq!(json["source"], "peer");
    // One shape for a record: get, put and inspect print the same fields.
    let fields = |record: &Value| -> Vec<String> {
        let mut fields: Vec<String> = record
            .as_object()
            .expect("object")
            .keys()
            .cloned()
            .collect();
        fields.sort();
        fields
    };
    assert_eq!(fields(record), fields(&put_record));

    // A key nobody holds: its own exit status, so scripts tell "absent" from "failed".
    let output = netabase(["get", "/myapp/Thing/\\x09", "--bootstrap", &address])
        .assert()
        .code(3);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("no record under"), "{line}");

    // The running node holds its store: inspect asks the node itself (its control socket),
    // --list refuses, and so does a second node on the same directory.
    let output = netabase(["inspect".as_ref(), first_dir.as_os_str(), "--json".as_ref()])
        .assert()
        .success();
    let json: Value = serde_json::from_slice(&output.get_output().stdout).expect("valid JSON");
    assert_eq!(json["stores"][0]["live"], true, "{json}");
    assert_eq!(json["stores"][0]["records"], 4, "{json}");
    let output = netabase([
        "inspect".as_ref(),
        first_dir.as_os_str(),
        "--key".as_ref(),
        "/myapp/Thing/\\x09".as_ref(),
    ])
    .assert()
    .success();
    let text = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    assert!(
        text.contains("no unexpired record under that key"),
        "{text}"
    );
    let output = netabase(["inspect".as_ref(), first_dir.as_os_str(), "--list".as_ref()])
        .assert()
        .code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("in use by a running node"), "{line}");
    let output = netabase([
        "node".as_ref(),
        "--data-dir".as_ref(),
        first_dir.as_os_str(),
    ])
    .assert()
    .code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("in use by a running node"), "{line}");

    // A second node joins through the first; a client that knows only the second finds the
    // record through the DHT.
    let mut second = RunningNode::start(&dir.path().join("second"), &["--bootstrap", &address]);
    second.wait_for_line("joined the network through 1 bootstrap peer(s)");
    let second_address = second.address();
    netabase(["get", "/myapp/Thing/\\x01", "--bootstrap", &second_address])
        .assert()
        .success()
        .stdout(predicate::str::contains("hello\\x00world"));

    // Ctrl-C: each node commits its store and says what it holds.
    let (ok, printed) = second.interrupt();
    assert!(ok, "the second node failed to stop: {printed:?}");
    let (ok, printed) = first.interrupt();
    assert!(ok, "the first node failed to stop: {printed:?}");
    assert!(
        printed
            .iter()
            .any(|line| line.starts_with("stopped cleanly: 4 records")),
        "{printed:?}"
    );

    // Once stopped, the store can be inspected.
    let output = netabase(["inspect".as_ref(), first_dir.as_os_str(), "--json".as_ref()])
        .assert()
        .success();
    let json: Value = serde_json::from_slice(&output.get_output().stdout).expect("valid JSON");
    assert_eq!(json["stores"][0]["records"], 4);
    let output = netabase([
        "inspect".as_ref(),
        first_dir.as_os_str(),
        "--key".as_ref(),
        "/myapp/Thing/\\x03".as_ref(),
        "--json".as_ref(),
    ])
    .assert()
    .success();
    let json: Value = serde_json::from_slice(&output.get_output().stdout).expect("valid JSON");
    let inspected = &json["stores"][0]["record"];
    assert_eq!(inspected["value"], "three");
    assert_eq!(fields(inspected), fields(&put_record));

    // Restarted from its directory, the node keeps its peer id and its records.
    let mut restarted = RunningNode::start(&first_dir, &[]);
    assert_eq!(restarted.wait_for_line("netabase node "), peer_line);
    let store_line = restarted.wait_for_line("store ");
    // Stopped cleanly, the file opens without being read whole.
    assert!(store_line.contains("(4 records; at most"), "{store_line}");
    assert!(!store_line.contains("verified"), "{store_line}");
    let (ok, printed) = restarted.interrupt();
    assert!(ok, "the restarted node failed to stop: {printed:?}");
}

#[test]
fn a_bootstrap_address_without_peer_id_is_refused() {
    let output = netabase(["get", "/x/y/z", "--bootstrap", "/ip4/127.0.0.1/tcp/4001"])
        .assert()
        .code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("/p2p/<peer id>"), "{line}");
}

#[test]
fn an_unreachable_network_is_a_one_line_error() {
    let unreachable = unreachable_address();
    for command in [vec!["get", "/x/y/z"], vec!["put", "/x/y/z", "value"]] {
        let output = netabase(&command)
            .args(["--bootstrap", &unreachable, "--timeout", "10s"])
            .assert()
            .code(1);
        let line = one_line_error(&output.get_output().stderr);
        assert!(line.contains("cannot reach any bootstrap peer"), "{line}");
        assert!(line.contains("netabase node"), "says what to check: {line}");
    }
}

#[test]
fn a_node_whose_bootstrap_peer_is_unreachable_stops_with_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = netabase([
        "node".as_ref(),
        "--data-dir".as_ref(),
        dir.path().as_os_str(),
    ])
    .args(["--listen", "/ip4/127.0.0.1/tcp/0"])
    .args(["--bootstrap", &unreachable_address()])
    .assert()
    .code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("cannot reach any bootstrap peer"), "{line}");
}

#[test]
fn a_node_refuses_a_data_directory_that_holds_something_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("node.redb"), b"not a database").expect("write");
    let output = netabase([
        "node".as_ref(),
        "--data-dir".as_ref(),
        dir.path().as_os_str(),
    ])
    .args(["--listen", "/ip4/127.0.0.1/tcp/0"])
    .assert()
    .code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("is not a Netabase store"), "{line}");
}

#[test]
fn put_reports_a_missing_value_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = netabase(["put", "/x/y/z", "--bootstrap", &unreachable_address()])
        .arg("--value-file")
        .arg(dir.path().join("missing.bin"))
        .assert()
        .code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("cannot read"), "{line}");
    assert!(line.contains("missing.bin"), "{line}");
}

#[test]
fn put_rejects_bad_hex_before_touching_the_network() {
    let output = netabase([
        "put",
        "abc",
        "00",
        "--hex",
        "--bootstrap",
        &unreachable_address(),
    ])
    .assert()
    .code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("odd number of digits"), "{line}");
}

/// Puts `value` under `key` through the node at `address`; whether the command succeeded.
fn put_raw(key: &str, value: &str, address: &str) -> bool {
    netabase(["put", key, value, "--bootstrap", address])
        .output()
        .expect("netabase put runs")
        .status
        .success()
}

/// The value `netabase get --raw` reads under `key` through the node at `address`.
fn get_raw(key: &str, address: &str) -> Vec<u8> {
    let output = netabase(["get", key, "--raw", "--bootstrap", address])
        .assert()
        .success();
    output.get_output().stdout.clone()
}

#[test]
fn unknown_schemas_replace_by_default_and_byte_order_on_request() {
    // An update whose bytes sort lower than the stored value: "a" after "b".
    let key = "/myapp/Doc/\\x01";
    let dir = tempfile::tempdir().expect("tempdir");

    let mut replacing = RunningNode::start(&dir.path().join("replacing"), &[]);
    assert_eq!(
        replacing.wait_for_line("unknown schemas: "),
        "unknown schemas: replace"
    );
    let address = replacing.address();
    assert!(put_raw(key, "b", &address));
    assert!(put_raw(key, "a", &address));
    assert_eq!(get_raw(key, &address), b"a");
    let (ok, printed) = replacing.interrupt();
    assert!(ok, "the replacing node failed to stop: {printed:?}");

    let mut byte_order = RunningNode::start(
        &dir.path().join("byte-order"),
        &["--unknown-schemas", "byte-order"],
    );
    assert_eq!(
        byte_order.wait_for_line("unknown schemas: "),
        "unknown schemas: byte-order"
    );
    let address = byte_order.address();
    assert!(put_raw(key, "b", &address));
    // kad acknowledges a put before the node's gate decides, so the put may report success;
    // what the node serves afterwards shows that it refused the lower value.
    put_raw(key, "a", &address);
    assert_eq!(get_raw(key, &address), b"b");
    let (ok, printed) = byte_order.interrupt();
    assert!(ok, "the byte-order node failed to stop: {printed:?}");
}

#[test]
fn a_config_file_sets_flags_and_the_command_line_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        "max-records = 5\ncache-mib = 8\nstats-interval = \"none\"\n",
    )
    .expect("write");
    let config_arg = config.to_str().expect("utf-8 path");
    let mut node = RunningNode::start(
        &dir.path().join("node"),
        &["--config", config_arg, "--max-records", "7"],
    );
    let store_line = node.wait_for_line("store ");
    assert!(store_line.contains("at most 7 records"), "{store_line}");
    assert!(store_line.contains("cache 8 MiB"), "{store_line}");
    let (ok, printed) = node.interrupt();
    assert!(ok, "{printed:?}");

    std::fs::write(&config, "max-recrods = 5\n").expect("write");
    let output = netabase(["node", "--config", config_arg]).assert().code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("unknown setting `max-recrods`"), "{line}");
}
