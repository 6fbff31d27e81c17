//! `netabase node --metrics`: a Prometheus scrape over loopback returns libp2p's families and the
//! node's and store's, documented in docs/operations.md.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::{RunningNode, netabase};

/// `GET path` on `address` over HTTP/1.1; the status line and the body.
fn http_get(address: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address).expect("the metrics endpoint accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, body.to_owned())
}

#[test]
fn a_scrape_returns_the_documented_families_and_the_node_still_stops_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = RunningNode::start(dir.path(), &["--metrics", "0"]);
    let line = node.wait_for_line("metrics on http://");
    let address = line
        .trim_start_matches("metrics on http://")
        .trim_end_matches("/metrics")
        .to_owned();
    assert!(address.starts_with("127.0.0.1:"), "loopback: {line}");
    let peer = node.address();
    netabase(["put", "/myapp/Thing/\\x01", "one", "--bootstrap", &peer])
        .assert()
        .success();

    let (status, body) = http_get(&address, "/metrics");
    assert!(status.contains("200"), "{status}");
    for expected in [
        // libp2p's own
        "# TYPE libp2p_swarm_connections_established counter",
        "# TYPE libp2p_kad_inbound_requests counter",
        "# TYPE libp2p_identify_errors counter",
        "# TYPE libp2p_ping_rtt_seconds histogram",
        // the node's
        "netabase_records_stored_total 1",
        "netabase_records_rejected_total{reason=\"bad_signature\"} 0",
        "# TYPE netabase_connected_peers gauge",
        "# TYPE netabase_republish_backlog gauge",
        // the store's
        "netabase_store_records 1",
        "netabase_store_max_records 1000000",
        "# TYPE netabase_store_pending_writes gauge",
        "# TYPE netabase_store_durable_commits gauge",
    ] {
        assert!(
            body.contains(expected),
            "{expected:?} missing from:\n{body}"
        );
    }
    let (status, _) = http_get(&address, "/");
    assert!(status.contains("404"), "{status}");

    // A scraper holding its connection open does not keep the store from closing.
    let _idle = TcpStream::connect(&address).expect("connects");
    let (ok, printed) = node.interrupt();
    assert!(ok, "{printed:?}");
    assert!(
        printed
            .iter()
            .any(|line| line.starts_with("stopped cleanly: 1 records")),
        "{printed:?}"
    );
}
