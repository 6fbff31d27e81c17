//! Interoperability with js-libp2p, an independent Kademlia implementation: a js-libp2p kad-dht
//! peer (`tests/js/peer.mjs`, npm packages pinned in `tests/js/package-lock.json`), whose only
//! contact is a Netabase node, reads a record the Netabase node stored and stores one the Netabase
//! node then reads as a typed value.
//!
//! The test installs the npm packages itself (`npm ci`, from the registry) the first time it
//! runs. It is skipped, saying why, only when `node` is not installed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::support::*;
use netabase_store::NetabaseSchema;
use netabase_store::kad::Quorum;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// How long installing the npm packages may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

async fn node_version() -> Option<String> {
    let output = Command::new("node").arg("--version").output().await.ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Runs `npm ci` in `tests/js` unless its packages are installed already.
async fn install_js_packages(dir: &Path) {
    if dir.join("node_modules/.package-lock.json").exists() {
        return;
    }
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .kill_on_drop(true);
    let output = tokio::time::timeout(INSTALL_TIMEOUT, npm.output())
        .await
        .unwrap_or_else(|_| panic!("npm ci in {} took over {INSTALL_TIMEOUT:?}", dir.display()))
        .unwrap_or_else(|error| panic!("cannot run npm (it comes with node): {error}"));
    assert!(
        output.status.success(),
        "npm ci in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_js_libp2p_peer_reads_and_writes_through_a_netabase_node() {
    let Some(version) = node_version().await else {
        eprintln!("skipped: `node` is not installed, so there is no js-libp2p peer to run");
        return;
    };
    let dir = js_dir();
    install_js_packages(&dir).await;

    // The Netabase node holds one record of its own (alone, the put reaches no peer).
    let nodes = start_network(1, Net::Tcp, |_| {}).await;
    let node = &nodes[0].handle;
    let rust_value = Profile {
        id: 31,
        name: "stored by netabase".into(),
    };
    within("local put", node.put(&rust_value, Quorum::One))
        .await
        .expect_err("no peer yet");
    let js_value = Profile {
        id: 32,
        name: "stored by js-libp2p".into(),
    };
    let js_record = js_value.to_record().expect("record");

    let mut peer = Command::new("node");
    peer.arg("peer.mjs")
        .arg(nodes[0].dial_addr().to_string())
        .arg(hex(rust_value.to_record().expect("record").key.as_ref()))
        .arg(hex(js_record.key.as_ref()))
        .arg(hex(&js_record.value))
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut child = peer.spawn().expect("node starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    within("the js peer's steps", async {
        while let Some(line) = lines.next_line().await.expect("read the js peer's output") {
            let done = line == "put ok" || line.starts_with("error");
            seen.push(line);
            if done {
                break;
            }
        }
    })
    .await;
    let status = within("the js peer exits", child.wait())
        .await
        .expect("wait");
    assert_eq!(
        seen,
        vec![
            "routable".to_owned(),
            format!("got {}", hex(&rust_value.to_bytes().expect("bytes"))),
            "put ok".to_owned(),
        ],
        "js-libp2p peer (node {version})"
    );
    assert!(status.success(), "{status}");

    // What the js peer put passed the Netabase node's gate and reads back typed.
    let held = eventually("the js record is stored", || async {
        node.get_local::<Profile>(&js_value.key())
            .await
            .expect("local get")
    })
    .await;
    assert_eq!(held, js_value);
    stop_all(nodes).await;
}
