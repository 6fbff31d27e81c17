//! Help for everything, and arguments clap refuses (exit status 2).

use predicates::prelude::*;

use crate::support::netabase;

#[test]
fn help_lists_every_subcommand() {
    let output = netabase(["--help"]).assert().success();
    let stdout = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    for subcommand in ["demo", "node", "inspect", "get", "put"] {
        assert!(
            stdout.contains(subcommand),
            "--help does not mention {subcommand}: {stdout}"
        );
    }
}

#[test]
fn every_subcommand_has_help() {
    let flags = [
        (
            "demo",
            &["--data-dir", "--nodes", "--records", "--expiry"][..],
        ),
        (
            "node",
            &[
                "--data-dir",
                "--listen",
                "--bootstrap",
                "--mdns",
                "--record-ttl",
                "--unknown-schemas",
            ][..],
        ),
        ("inspect", &["--key", "--json", "--hex"][..]),
        ("get", &["--bootstrap", "--json", "--raw", "--timeout"][..]),
        (
            "put",
            &["--bootstrap", "--ttl", "--quorum", "--value-file"][..],
        ),
    ];
    for (subcommand, expected) in flags {
        let output = netabase([subcommand, "--help"]).assert().success();
        let stdout = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
        for flag in expected {
            assert!(
                stdout.contains(flag),
                "`{subcommand} --help` does not mention {flag}"
            );
        }
    }
}

#[test]
fn no_subcommand_is_a_usage_error() {
    netabase(Vec::<&str>::new())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("Usage"));
}

#[test]
fn out_of_range_values_are_refused_with_the_range() {
    netabase(["demo", "--nodes", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("3..=16"));
}

#[test]
fn an_expiry_kad_cannot_carry_is_refused() {
    netabase(["demo", "--expiry", "1s"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("too short"));
}

#[test]
fn put_needs_a_value() {
    netabase(["put", "/x/y/z", "--bootstrap", "/ip4/127.0.0.1/tcp/1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("VALUE"));
}

#[test]
fn get_needs_a_bootstrap_peer() {
    netabase(["get", "/x/y/z"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--bootstrap"));
}

#[test]
fn a_malformed_address_is_refused() {
    netabase(["get", "/x/y/z", "--bootstrap", "not-an-address"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--bootstrap"));
}

#[test]
fn an_unknown_schemas_policy_outside_the_list_is_a_usage_error() {
    netabase(["node", "--unknown-schemas", "newest"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("replace"))
        .stderr(predicate::str::contains("byte-order"))
        .stderr(predicate::str::contains("reject"));
}

#[test]
fn completions_cover_every_subcommand_and_flag() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = netabase(["completions", shell]).assert().success();
        let script = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
        for word in ["inspect", "list", "max-records", "completions"] {
            assert!(script.contains(word), "{shell}: {word} missing");
        }
    }
    netabase(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("possible values"));
}
