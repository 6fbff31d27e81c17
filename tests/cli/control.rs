//! `netabase get/put --node DIR`: the CLI works through a running node's control socket instead
//! of starting a peer of its own.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::support::{RunningNode, netabase, one_line_error};

#[test]
fn get_and_put_go_through_the_running_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("node");
    let mut node = RunningNode::start(&data_dir, &[]);
    // A second node, so that a put has a peer to reach its quorum at.
    let address = node.address();
    let peer = RunningNode::start(&dir.path().join("peer"), &["--bootstrap", &address]);
    let line = node.wait_for_line("control ");
    let socket = data_dir.join("control.sock");
    assert!(line.contains(&socket.display().to_string()), "{line}");
    let mode = std::fs::metadata(&socket)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "only the owner may use the socket");
    let node_arg = data_dir.as_os_str();

    let output = netabase(["put", "/myapp/Thing/\\x01", "hello"])
        .arg("--node")
        .arg(node_arg)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    assert!(text.contains("the node republishes it"), "{text}");

    let output = netabase(["get", "/myapp/Thing/\\x01", "--json"])
        .arg("--node")
        .arg(node_arg)
        .assert()
        .success();
    let json: Value = serde_json::from_slice(&output.get_output().stdout).expect("valid JSON");
    assert_eq!(json["record"]["value"], "hello");
    assert_eq!(json["source"], "local", "the node holds it itself");
    let raw = netabase(["get", "/myapp/Thing/\\x01", "--raw"])
        .arg("--node")
        .arg(node_arg)
        .assert()
        .success();
    assert_eq!(raw.get_output().stdout, b"hello");

    // Absent: the same exit status as through --bootstrap.
    let output = netabase(["get", "/myapp/Thing/\\x02"])
        .arg("--node")
        .arg(node_arg)
        .assert()
        .code(3);
    assert!(one_line_error(&output.get_output().stderr).contains("no record under"));

    // A request that is not one: the node answers with an error and keeps serving.
    {
        use std::io::{BufRead, BufReader, Write};
        let mut stream = std::os::unix::net::UnixStream::connect(&socket).expect("connects");
        stream
            .write_all(b"{\"op\": \"drop_tables\"}\n")
            .expect("write");
        let mut answer = String::new();
        BufReader::new(stream)
            .read_line(&mut answer)
            .expect("answer");
        assert!(answer.contains("not a request this node reads"), "{answer}");
    }
    netabase(["get", "/myapp/Thing/\\x01"])
        .arg("--node")
        .arg(node_arg)
        .assert()
        .success();

    let (ok, printed) = peer.interrupt();
    assert!(ok, "{printed:?}");
    let (ok, printed) = node.interrupt();
    assert!(ok, "{printed:?}");
    assert!(!socket.exists(), "a node that stopped removes its socket");
    assert!(
        printed
            .iter()
            .any(|line| line.starts_with("stopped cleanly: 1 records")),
        "{printed:?}"
    );

    // No node there any more: a one-line error that says what to do.
    let output = netabase(["get", "/myapp/Thing/\\x01"])
        .arg("--node")
        .arg(node_arg)
        .assert()
        .code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("no node answers"), "{line}");
    assert!(line.contains("--bootstrap"), "{line}");
}
