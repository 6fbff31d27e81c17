//! `netabase demo`: the README's main command, end to end.

use predicates::prelude::*;
use serde_json::Value;

use crate::support::{netabase, one_line_error};

#[test]
fn the_demo_runs_every_step_and_keeps_its_stores_for_inspect() {
    // Without --data-dir the demo makes a new directory under the temporary directory.
    let temp = tempfile::tempdir().expect("tempdir");
    let output = netabase(["demo", "--records", "20"])
        .env("TMPDIR", temp.path())
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    for step in [
        "[ok] start",
        "[ok] put",
        "[ok] read",
        "[ok] restart",
        "[ok] expiry",
        "[ok] conflict",
        "[ok] delete",
        "[ok] stop",
    ] {
        assert!(stdout.contains(step), "{step:?} missing from:\n{stdout}");
    }
    assert!(stdout.contains("20/20 notes stored on node-1"), "{stdout}");
    assert!(
        stdout.contains("all 5 nodes converged on revision 3"),
        "{stdout}"
    );
    assert!(stdout.contains("Summary"), "{stdout}");

    let demos: Vec<_> = std::fs::read_dir(temp.path())
        .expect("list the temporary directory")
        .map(|entry| entry.expect("entry").path())
        .collect();
    assert_eq!(demos.len(), 1, "{demos:?}");
    let data_dir = &demos[0];
    assert!(
        stdout.contains(&data_dir.display().to_string()),
        "the directory is printed"
    );

    let output = netabase(["inspect".as_ref(), data_dir.as_os_str(), "--json".as_ref()])
        .assert()
        .success();
    let json: Value = serde_json::from_slice(&output.get_output().stdout).expect("valid JSON");
    let stores = json["stores"].as_array().expect("stores");
    assert_eq!(stores.len(), 5);
    // node-1 wrote every note; the conflict step added one more note.
    let node_1 = &stores[0];
    assert!(
        node_1["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("node-1.redb"))
    );
    assert_eq!(node_1["schemas"][0]["prefix"], "/demo/Note/");
    assert!(
        node_1["schemas"][0]["records"]
            .as_u64()
            .is_some_and(|n| n >= 20)
    );

    // The inspect commands the demo prints run as printed.
    let printed: Vec<&str> = stdout
        .lines()
        .skip_while(|line| !line.ends_with("Look inside them with:"))
        .skip(1)
        .map(str::trim)
        .filter(|line| line.contains(" inspect "))
        .collect();
    assert_eq!(printed.len(), 3, "{stdout}");
    for command in printed {
        let output = std::process::Command::new("sh")
            .args(["-c", command])
            .output()
            .expect("sh runs");
        assert!(
            output.status.success(),
            "{command} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let printed = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(printed.contains("/demo/Note/"), "{command}: {printed}");
    }

    // The directory now holds a demo network: running again there is refused, with advice.
    let output = netabase(["demo".as_ref(), "--data-dir".as_ref(), data_dir.as_os_str()])
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty());
    let line = one_line_error(&output.get_output().stderr);
    assert!(
        line.contains("already holds the stores of a demo network"),
        "{line}"
    );
}
