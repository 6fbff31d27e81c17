//! A crate outside the workspace depends on `netabase` by path (renamed) and on serde only, derives
//! a schema and converts it: `tests/external/` is built and run with cargo.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace's target directory: the parent of `CARGO_TARGET_TMPDIR` (`<target>/tmp`).
fn workspace_target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).to_path_buf()
}

#[test]
fn a_crate_outside_the_workspace_derives_and_converts() {
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = package.join("tests/external");
    // The same dependency versions as the workspace, and no network: the build is offline.
    let lock = package.join("../Cargo.lock");
    std::fs::copy(&lock, fixture.join("Cargo.lock"))
        .unwrap_or_else(|error| panic!("cannot copy {}: {error}", lock.display()));

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["run", "--offline", "--quiet", "--manifest-path"])
        .arg(fixture.join("Cargo.toml"))
        // Not target/debug: the cargo running this test holds that directory's lock.
        .env(
            "CARGO_TARGET_DIR",
            workspace_target_dir().join("external-crate"),
        )
        // Debug info only slows this build down; nothing debugs it.
        .env("CARGO_PROFILE_DEV_DEBUG", "false")
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the external crate failed to build or run ({}):\n{stderr}\n{stdout}",
        output.status
    );
    assert_eq!(
        stdout,
        "key: /weather/Reading/\\x04oslo\\x07\n\
         value: \\x04oslo\\x07\\x05\n\
         value round trip: true\n\
         key round trip: true\n",
        "stderr:\n{stderr}"
    );
}
