//! Crates outside the workspace use the derive as users do: one depends on `netabase` by path
//! (renamed) and serde only, one on `netabase_store` alone, and one on the macros without any
//! runtime crate, which must fail with the derive's own error. Each is built with cargo.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace's target directory: the parent of `CARGO_TARGET_TMPDIR` (`<target>/tmp`).
fn workspace_target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

/// Runs `cargo <command> --offline --quiet` on the fixture `tests/<fixture>`, with the workspace's
/// dependency versions.
fn cargo(command: &str, fixture: &str) -> Output {
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = package.join("tests").join(fixture);
    // The same dependency versions as the workspace, and no network: the build is offline.
    let lock = package.join("../Cargo.lock");
    std::fs::copy(&lock, fixture.join("Cargo.lock"))
        .unwrap_or_else(|error| panic!("cannot copy {}: {error}", lock.display()));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .args([command, "--offline", "--quiet", "--manifest-path"])
        .arg(fixture.join("Cargo.toml"))
        // Not target/debug: the cargo running this test holds that directory's lock. The fixtures
        // share one directory so that their common dependencies build once.
        .env(
            "CARGO_TARGET_DIR",
            workspace_target_dir().join("external-crate"),
        )
        // Debug info only slows these builds down; nothing debugs them.
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .expect("cargo runs")
}

/// The fixture's standard output, after checking that it built and ran.
fn run(fixture: &str) -> String {
    let output = cargo("run", fixture);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{fixture} failed to build or run ({}):\n{stderr}\n{stdout}",
        output.status
    );
    stdout
}

#[test]
fn a_crate_depending_on_netabase_and_serde_only_derives_and_converts() {
    assert_eq!(
        run("external"),
        "key: /weather/Reading/\\x04oslo\\x07\n\
         value: \\x04oslo\\x07\\x05\n\
         value round trip: true\n\
         key round trip: true\n"
    );
}

#[test]
fn a_crate_depending_on_netabase_store_alone_derives_and_converts() {
    assert_eq!(
        run("external_store"),
        "key: /netabase/Bookmark/\\x05a.org\nround trip: true\n"
    );
}

#[test]
fn a_crate_without_the_runtime_crate_gets_the_derive_s_error() {
    let output = cargo("build", "external_no_runtime");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "built without a runtime crate");
    assert!(
        stderr.contains(
            "error: cannot find the `netabase` crate: add `netabase` (or `netabase_store`) to \
             `[dependencies]` in Cargo.toml"
        ),
        "{stderr}"
    );
    // The error points at the type's name, and it is the only error.
    assert!(stderr.contains("pub struct Note {"), "{stderr}");
    let errors = stderr
        .lines()
        .filter(|line| line.starts_with("error") && !line.starts_with("error: could not compile"))
        .count();
    assert_eq!(errors, 1, "{stderr}");
}
