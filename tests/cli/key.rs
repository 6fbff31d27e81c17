//! `netabase key`: author keys are created once, shown as the owner they sign for, and never
//! overwritten.

use serde_json::Value;

use crate::support::{netabase, one_line_error};

#[test]
fn create_then_show_prints_one_public_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keys").join("alice.author");
    let created = netabase(["key", "create"]).arg(&file).assert().success();
    let line = String::from_utf8_lossy(&created.get_output().stdout).into_owned();
    let public_key = line
        .split_whitespace()
        .next()
        .expect("a public key")
        .to_owned();
    assert_eq!(public_key.len(), 64, "{line}");
    assert!(public_key.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");

    let shown = netabase(["key", "show", "--json"])
        .arg(&file)
        .assert()
        .success();
    let json: Value = serde_json::from_slice(&shown.get_output().stdout).expect("json");
    assert_eq!(json["public_key"], public_key.as_str());
    assert_eq!(json["file"], file.display().to_string());

    // The library reads the same key: it is the owner of what it signs.
    let author = netabase_store::owned::Author::load(&file).expect("the key loads");
    assert_eq!(author.owner().to_string(), public_key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "readable by its user only: {mode:o}");
    }
}

#[test]
fn an_existing_key_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("alice.author");
    netabase(["key", "create"]).arg(&file).assert().success();
    let before = std::fs::read(&file).expect("read");
    let output = netabase(["key", "create"]).arg(&file).assert().code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("already exists"), "{line}");
    assert!(line.contains("netabase key show"), "{line}");
    assert_eq!(std::fs::read(&file).expect("read"), before);
}

#[test]
fn showing_a_missing_or_foreign_file_says_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nobody.author");
    let output = netabase(["key", "show"]).arg(&missing).assert().code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("netabase key create"), "{line}");
    assert!(!missing.exists(), "show never creates a key");

    let foreign = dir.path().join("notes.txt");
    std::fs::write(&foreign, b"not a key").expect("write");
    let output = netabase(["key", "show"]).arg(&foreign).assert().code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("notes.txt"), "{line}");
}
