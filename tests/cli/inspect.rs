//! `netabase inspect`: tables, JSON, one record, and the errors for paths that are not a usable
//! store.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use netabase_store::kad::store::RecordStore;
use netabase_store::kad::{ProviderRecord, Record};
use netabase_store::{NetabaseSchema, NodeStore, PeerId, RedbStore, load_or_create_identity};
use predicates::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::support::{netabase, one_line_error};

/// `netabase inspect <args>`.
fn inspect<I, S>(args: I) -> assert_cmd::Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = netabase(["inspect"]);
    command.args(args);
    command
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
struct Book {
    #[key]
    isbn: u64,
    title: String,
}

/// A store like a node's: `node.redb` with its identity `node.key`, two typed values written by
/// the node, a raw record of another application with an expiry, a provider record of the node,
/// and one of another peer for a key the store holds no record of. Returns the store path and the
/// node's peer id.
fn sample_store(dir: &Path) -> (PathBuf, PeerId) {
    let path = dir.join("node.redb");
    let peer = load_or_create_identity(&dir.join("node.key"))
        .expect("identity")
        .public()
        .to_peer_id();
    let mut store = RedbStore::builder()
        .register::<Book>()
        .set_local_peer_id(peer)
        .create(&path)
        .expect("store");
    store
        .put_values(&[
            Book {
                isbn: 7,
                title: "Kademlia in practice".into(),
            },
            Book {
                isbn: 9,
                title: "Embedded databases".into(),
            },
        ])
        .expect("typed puts");
    let mut raw = Record::new(b"/other/Blob/\x01".to_vec(), vec![0xde, 0xad, 0xbe, 0xef]);
    raw.expires = Some(Instant::now() + Duration::from_secs(3600));
    raw.publisher = Some(peer);
    store.put_local(raw).expect("raw put");
    let provided = Book::record_key(&BookKey(7)).expect("key");
    store
        .add_provider(ProviderRecord::new(provided, peer, Vec::new()))
        .expect("provider record");
    let elsewhere = Book::record_key(&BookKey(42)).expect("key");
    let other_peer = PeerId::random();
    store
        .add_provider(ProviderRecord::new(elsewhere, other_peer, Vec::new()))
        .expect("provider record of another peer");
    (path, peer)
}

/// The bytes and modification time of a file.
fn file_state(path: &Path) -> (Vec<u8>, std::time::SystemTime) {
    (
        std::fs::read(path).expect("read"),
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .expect("modified"),
    )
}

#[test]
fn a_table_shows_schemas_sizes_publishers_and_providers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, peer) = sample_store(dir.path());
    let output = inspect([&path]).assert().success();
    let stdout = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    for expected in [
        "/netabase/Book/",
        "/other/Blob/",
        "3 records",
        "SCHEMA PREFIX",
        "PUBLISHER",
        &peer.to_string(),
        // Every provider record, also of keys the store holds no record of.
        "provider records: 2 for 2 keys (1 by this node); 0 expired awaiting sweep",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from:\n{stdout}"
        );
    }
}

#[test]
fn json_output_holds_the_same_figures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, peer) = sample_store(dir.path());
    // A directory is inspected store by store.
    let output = inspect([dir.path().as_os_str(), "--json".as_ref()])
        .assert()
        .success();
    let json: Value = serde_json::from_slice(&output.get_output().stdout).expect("valid JSON");
    let store = &json["stores"][0];
    assert_eq!(store["path"], path.display().to_string());
    assert_eq!(store["peer_id"], peer.to_string());
    assert_eq!(store["records"], 3);
    assert_eq!(store["expired_awaiting_sweep"], 0);
    let schemas = store["schemas"].as_array().expect("schemas");
    let prefixes: Vec<&str> = schemas
        .iter()
        .filter_map(|s| s["prefix"].as_str())
        .collect();
    assert_eq!(prefixes, ["/netabase/Book/", "/other/Blob/"]);
    assert_eq!(schemas[0]["records"], 2);
    assert_eq!(schemas[0]["expiring"], 0);
    assert_eq!(schemas[1]["expiring"], 1);
    assert!(schemas[1]["next_expiry_unix_ms"].is_u64());
    assert_eq!(schemas[1]["value_bytes"], 4);
    assert_eq!(store["publishers"]["exact"], true);
    assert_eq!(store["publishers"]["distinct"], 1);
    let publishers = store["publishers"]["top"].as_array().expect("publishers");
    assert!(
        publishers
            .iter()
            .any(|p| p["peer_id"] == peer.to_string() && p["records"] == 3),
        "{publishers:?}"
    );
    assert_eq!(store["providers"]["records"], 2);
    assert_eq!(store["providers"]["keys"], 2);
    assert_eq!(store["providers"]["provided_by_this_node"], 1);
    assert_eq!(store["providers"]["expired_awaiting_sweep"], 0);
}

#[test]
fn one_record_by_key_as_text_or_hex() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, peer) = sample_store(dir.path());
    let output = inspect([
        path.as_os_str(),
        "--key".as_ref(),
        "/netabase/Book/\\x07".as_ref(),
    ])
    .assert()
    .success();
    let stdout = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    assert!(stdout.contains("Kademlia in practice"), "{stdout}");
    assert!(stdout.contains(&peer.to_string()), "{stdout}");
    assert!(
        stdout.contains("never"),
        "a typed put has no expiry: {stdout}"
    );

    let hex_key = "2f6f746865722f426c6f622f01"; // /other/Blob/\x01
    let output = inspect([
        path.as_os_str(),
        "--key".as_ref(),
        hex_key.as_ref(),
        "--hex".as_ref(),
        "--json".as_ref(),
    ])
    .assert()
    .success();
    let json: Value = serde_json::from_slice(&output.get_output().stdout).expect("valid JSON");
    let record = &json["stores"][0]["record"];
    assert_eq!(record["value_hex"], "deadbeef");
    assert_eq!(record["schema"], "/other/Blob/");
    assert!(
        record["expires_in_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 3_500_000)
    );
    assert!(record["expires_unix_ms"].is_u64());
}

#[test]
fn an_absent_key_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = sample_store(dir.path());
    inspect([
        path.as_os_str(),
        "--key".as_ref(),
        "/netabase/Book/\\x08".as_ref(),
    ])
    .assert()
    .success()
    .stdout(predicate::str::contains(
        "no unexpired record under that key",
    ));
}

#[test]
fn inspecting_leaves_the_store_file_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = sample_store(dir.path());
    let identity = dir.path().join("node.key");
    let before = (file_state(&path), file_state(&identity));
    inspect([&path]).assert().success();
    inspect([dir.path().as_os_str(), "--json".as_ref()])
        .assert()
        .success();
    inspect([
        path.as_os_str(),
        "--key".as_ref(),
        "/netabase/Book/\\x07".as_ref(),
    ])
    .assert()
    .success();
    assert_eq!(
        (file_state(&path), file_state(&identity)),
        before,
        "inspect must not write to the store or its identity"
    );
}

/// The way to look at a live node's data: copy its file. redb must repair the copy (the node
/// never closed it); inspect repairs it in memory and leaves the copy as it was.
#[test]
fn a_copy_of_a_live_store_is_inspected_without_writing_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = sample_store(dir.path());
    // This process holds the store open, as a running node would.
    let live = RedbStore::open(&path).expect("open");
    let copy = dir.path().join("copy.redb");
    std::fs::copy(&path, &copy).expect("copy");
    let before = file_state(&copy);
    let output = inspect([copy.as_os_str(), "--json".as_ref()])
        .assert()
        .success();
    let json: Value = serde_json::from_slice(&output.get_output().stdout).expect("valid JSON");
    assert_eq!(json["stores"][0]["records"], 3);
    assert_eq!(json["stores"][0]["providers"]["records"], 2);
    assert_eq!(file_state(&copy), before);
    drop(live);
}

#[test]
fn a_missing_path_is_a_one_line_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = inspect([dir.path().join("nope.redb").as_os_str()])
        .assert()
        .code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("does not exist"), "{line}");
    assert!(line.contains("--data-dir"), "says what to pass: {line}");
}

#[test]
fn a_directory_without_stores_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = inspect([dir.path().as_os_str()]).assert().code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("holds no Netabase store"), "{line}");
}

#[test]
fn a_file_that_is_not_a_store_is_named_as_such() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notes.redb");
    std::fs::write(&path, b"these are not the bytes of a redb database").expect("write");
    let output = inspect([path.as_os_str()]).assert().code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("is not a Netabase store"), "{line}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        b"these are not the bytes of a redb database",
        "inspect must not touch a file that is not a store"
    );
}

#[test]
fn a_damaged_store_is_reported_as_corrupt_and_left_as_it_is() {
    use std::io::{Seek, SeekFrom, Write};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("node.redb");
    {
        let store = RedbStore::create(&path).expect("store");
        let books: Vec<Book> = (0..2000)
            .map(|isbn| Book {
                isbn,
                title: "a title long enough to fill pages".into(),
            })
            .collect();
        store.put_values(&books).expect("puts");
    }
    let len = std::fs::metadata(&path).expect("metadata").len();
    {
        // Overwrite a stretch in the middle of the data pages.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        file.seek(SeekFrom::Start(len / 2)).expect("seek");
        file.write_all(&[0xA5; 8192]).expect("write");
    }
    let before = file_state(&path);
    let output = inspect([path.as_os_str()]).assert().code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("is corrupt"), "{line}");
    assert!(line.contains("backup"), "says what to do: {line}");
    assert_eq!(file_state(&path), before);
}

#[test]
fn a_store_held_by_a_running_node_is_reported_as_locked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = sample_store(dir.path());
    // This process holds the file open, as a running node would.
    let held = RedbStore::open(&path).expect("open");
    let output = inspect([path.as_os_str()]).assert().code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("in use by a running node"), "{line}");
    assert!(line.contains("Ctrl-C"), "says what to do: {line}");
    drop(held);
    inspect([path.as_os_str()]).assert().success();
}

#[test]
fn a_bad_key_escape_is_explained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = sample_store(dir.path());
    let output = inspect([path.as_os_str(), "--key".as_ref(), "/a/b/\\q".as_ref()])
        .assert()
        .code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("\\xNN"), "{line}");
}

#[test]
fn tombstones_are_counted_and_shown_as_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("node.redb");
    let mut store = RedbStore::builder()
        .register::<Book>()
        .create(&path)
        .expect("store");
    let kept = Book {
        isbn: 1,
        title: "kept".into(),
    };
    let removed = Book {
        isbn: 2,
        title: "removed".into(),
    };
    store.put_value(&kept).expect("put");
    let tombstone =
        netabase_store::tombstone::tombstone_of(&removed.to_record().expect("record"), None);
    store.put_local(tombstone).expect("tombstone");
    drop(store);

    let output = inspect([path.as_os_str(), "--json".as_ref()])
        .assert()
        .success();
    let json: Value = serde_json::from_slice(&output.get_output().stdout).expect("valid JSON");
    let schema = &json["stores"][0]["schemas"][0];
    assert_eq!(
        (schema["records"].as_u64(), schema["tombstones"].as_u64()),
        (Some(2), Some(1))
    );

    let key = "/netabase/Book/\\x02";
    let output = inspect([
        path.as_os_str(),
        "--key".as_ref(),
        key.as_ref(),
        "--json".as_ref(),
    ])
    .assert()
    .success();
    let json: Value = serde_json::from_slice(&output.get_output().stdout).expect("valid JSON");
    assert_eq!(json["stores"][0]["record"]["deleted"], true);
    inspect([path.as_os_str(), "--key".as_ref(), key.as_ref()])
        .assert()
        .success()
        .stdout(predicate::str::contains("yes: a tombstone"));
}

#[cfg(unix)]
#[test]
fn a_named_pipe_is_refused_without_opening_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("x.redb");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    // Opening a FIFO for reading would block until a writer comes: the bound catches a hang.
    let output = inspect([fifo.as_os_str()])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(1);
    let line = one_line_error(&output.get_output().stderr);
    assert!(line.contains("named pipe"), "{line}");
    assert!(line.contains("not a store file"), "{line}");
}

#[test]
fn damaged_entries_are_reported_and_the_rest_is_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("node.redb");
    let books: Vec<Book> = (0..10)
        .map(|isbn| Book {
            isbn,
            title: "t".into(),
        })
        .collect();
    RedbStore::create(&path)
        .expect("store")
        .put_values(&books)
        .expect("puts");
    {
        // Entries with unknown header flags, written behind the store's back.
        let db = redb::Database::open(&path).expect("redb opens the store");
        let txn = db.begin_write().expect("write");
        {
            let mut table = txn
                .open_table(redb::TableDefinition::<&[u8], &[u8]>::new("records"))
                .expect("records table");
            for isbn in [3, 6] {
                let key = Book::record_key(&BookKey(isbn)).expect("key");
                table
                    .insert(key.as_ref(), &[0x80, 1, 2][..])
                    .expect("insert");
            }
        }
        txn.commit().expect("commit");
    }
    let output = inspect([path.as_os_str(), "--json".as_ref()])
        .assert()
        .success();
    let json: Value = serde_json::from_slice(&output.get_output().stdout).expect("json");
    let store = &json["stores"][0];
    assert_eq!(store["records"], 8, "every intact record after the damage");
    assert_eq!(store["expired_awaiting_sweep"], 0);
    assert_eq!(store["damaged"]["entries"], 2);
    let first = store["damaged"]["first"].as_array().expect("array");
    assert_eq!(first.len(), 2);
    assert!(
        first[0].as_str().expect("text").contains("Book"),
        "{first:?}"
    );

    let output = inspect([path.as_os_str()]).assert().success();
    let text = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    assert!(text.contains("2 damaged entries skipped"), "{text}");
    assert!(text.contains("8 records"), "{text}");
}

#[test]
fn list_shows_the_records_of_every_schema_under_a_prefix_up_to_a_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = sample_store(dir.path());
    let output = inspect([path.as_os_str(), "--list".as_ref()])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("/netabase/Book/\\x07  "), "{text}");
    assert!(lines[1].starts_with("/netabase/Book/\\t  "), "{text}");
    assert!(
        lines[2].starts_with("/other/Blob/\\x01  4 B  expires 20"),
        "{text}"
    );
    assert!(lines[3].starts_with("3 records listed from"), "{text}");

    let output = inspect([
        path.as_os_str(),
        "--list".as_ref(),
        "--prefix".as_ref(),
        "/netabase/Book/".as_ref(),
        "--json".as_ref(),
    ])
    .assert()
    .success();
    let lines: Vec<Value> = String::from_utf8_lossy(&output.get_output().stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let keys: Vec<&str> = lines
        .iter()
        .filter_map(|line| line["record"]["key"].as_str())
        .collect();
    assert_eq!(keys, ["/netabase/Book/\\x07", "/netabase/Book/\\t"]);
    assert_eq!(lines[0]["store"], path.display().to_string());
    assert_eq!(lines[0]["record"]["schema"], "/netabase/Book/");

    let output = inspect([
        path.as_os_str(),
        "--list".as_ref(),
        "--limit".as_ref(),
        "1".as_ref(),
    ])
    .assert()
    .success();
    let text = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("1 records listed"), "{text}");
}

#[test]
fn a_bad_file_in_a_directory_is_reported_and_the_others_are_inspected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, _) = sample_store(dir.path());
    let bad = dir.path().join("a-broken.redb");
    std::fs::write(&bad, b"not a database").expect("write");
    let output = inspect([dir.path().as_os_str(), "--json".as_ref()])
        .assert()
        .code(1);
    let json: Value = serde_json::from_slice(&output.get_output().stdout).expect("valid JSON");
    assert_eq!(json["stores"][0]["path"], path.display().to_string());
    assert_eq!(json["stores"][0]["records"], 3);
    assert_eq!(json["failed"][0]["path"], bad.display().to_string());
    assert!(
        json["failed"][0]["error"]
            .as_str()
            .is_some_and(|error| error.contains("is not a Netabase store")),
        "{json}"
    );
    let stderr = String::from_utf8_lossy(&output.get_output().stderr).into_owned();
    assert!(
        stderr.contains("a-broken.redb is not a Netabase store"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 of the 2 stores could not be inspected"),
        "{stderr}"
    );
}

/// A store whose records came from more publishers than inspect tracks: the summary names the
/// heaviest, says the counts are estimates, and stays small.
#[test]
fn publishers_beyond_what_inspect_tracks_are_summarised() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("node.redb");
    let mut store = RedbStore::create(&path).expect("store");
    let heavy = PeerId::random();
    for i in 0..1500u32 {
        let mut record = Record::new(format!("/other/Blob/{i}").into_bytes(), vec![1]);
        record.publisher = Some(if i % 4 == 0 { heavy } else { PeerId::random() });
        store.put_local(record).expect("put");
    }
    drop(store);
    let output = inspect([path.as_os_str(), "--json".as_ref()])
        .assert()
        .success();
    let json: Value = serde_json::from_slice(&output.get_output().stdout).expect("valid JSON");
    let publishers = &json["stores"][0]["publishers"];
    assert_eq!(publishers["exact"], false);
    assert!(publishers["distinct"].is_null());
    let top = publishers["top"].as_array().expect("top");
    assert_eq!(top.len(), 10);
    assert_eq!(top[0]["peer_id"], heavy.to_string());
    let (records, over) = (
        top[0]["records"].as_u64().expect("count"),
        top[0]["overcount"].as_u64().expect("overcount"),
    );
    assert!(records >= 375 && records - over <= 375, "{top:?}");
    let schema = &json["stores"][0]["schemas"][0];
    assert_eq!(schema["publishers"], 100);
    assert_eq!(schema["publishers_exact"], false);
}
