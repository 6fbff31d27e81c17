//! Opening files: clear errors for a missing, foreign, corrupt or locked file.

use std::io::Write;

use crate::common::*;
use netabase_store::{OpenError, RedbStore};

#[test]
fn open_needs_an_existing_file_and_create_makes_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let error = RedbStore::open(&path).unwrap_err();
    assert!(matches!(error, OpenError::NotFound { .. }), "{error}");
    assert!(error.to_string().contains("RedbStore::create"), "{error}");
    drop(RedbStore::create(&path).unwrap());
    drop(RedbStore::open(&path).unwrap());
}

#[test]
fn creating_a_store_in_a_missing_directory_says_to_create_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("store.redb");
    let error = RedbStore::create(&path).unwrap_err();
    assert!(matches!(error, OpenError::NoDirectory { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("does not exist; create it first"),
        "{message}"
    );
    assert!(
        !message.contains("RedbStore::create"),
        "no advice to do what failed: {message}"
    );
    std::fs::create_dir(dir.path().join("missing")).unwrap();
    drop(RedbStore::create(&path).unwrap());
}

#[test]
fn an_empty_file_becomes_a_store() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let store = RedbStore::create(file.path()).unwrap();
    store.put_value(&user(1, "a")).unwrap();
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&b"this is a text file, not a database\n".repeat(200))
        .unwrap();
    for result in [RedbStore::open(file.path()), RedbStore::create(file.path())] {
        let error = result.unwrap_err();
        assert!(matches!(error, OpenError::NotADatabase { .. }), "{error:?}");
        assert!(error.to_string().contains("not a redb database"), "{error}");
    }
}

#[test]
fn a_short_file_is_refused() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"x").unwrap();
    let error = RedbStore::open(file.path()).unwrap_err();
    assert!(matches!(error, OpenError::NotADatabase { .. }), "{error:?}");
}

#[test]
fn a_redb_file_of_another_application_is_refused() {
    let file = tempfile::NamedTempFile::new().unwrap();
    {
        let db = redb::Database::create(file.path()).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(redb::TableDefinition::<u64, u64>::new("accounts"))
            .unwrap();
        txn.commit().unwrap();
    }
    let error = RedbStore::open(file.path()).unwrap_err();
    match &error {
        OpenError::NotAStore { tables, .. } => assert_eq!(tables, &["accounts".to_string()]),
        other => panic!("expected NotAStore, got {other:?}"),
    }
}

#[test]
fn a_second_open_of_the_same_file_is_refused_while_the_first_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let store = RedbStore::create(&path).unwrap();
    let error = RedbStore::open(&path).unwrap_err();
    assert!(matches!(error, OpenError::Locked { .. }), "{error:?}");
    assert!(error.to_string().contains("cheap to clone"), "{error}");
    drop(store);
    RedbStore::open(&path).unwrap();
}

#[test]
fn a_damaged_file_fails_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    write_damaged_store(&path);
    let error = RedbStore::open(&path).unwrap_err();
    assert!(matches!(error, OpenError::Corrupted { .. }), "{error:?}");
    assert!(error.to_string().contains("corrupt"), "{error}");
}

#[test]
fn a_store_of_an_unknown_layout_version_is_refused() {
    let file = tempfile::NamedTempFile::new().unwrap();
    drop(RedbStore::create(file.path()).unwrap());
    {
        let db = redb::Database::open(file.path()).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(redb::TableDefinition::<&str, u64>::new("netabase_meta"))
            .unwrap()
            .insert("layout_version", 99)
            .unwrap();
        txn.commit().unwrap();
    }
    let error = RedbStore::open(file.path()).unwrap_err();
    assert!(
        matches!(
            error,
            OpenError::UnsupportedLayout {
                found: 99,
                supported: 1,
                ..
            }
        ),
        "{error:?}"
    );
}

/// A second type under `User`'s prefix `/netabase/User/`.
#[derive(Debug, serde::Serialize, serde::Deserialize, netabase_store::NetabaseSchema)]
#[netabase(name = "User")]
struct OtherUserType {
    #[key]
    email: String,
}

#[test]
fn a_store_refuses_to_open_with_two_types_under_one_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let mut builder = builder();
    builder.register::<OtherUserType>();
    for opened in [
        builder.in_memory(),
        builder.create(dir.path().join("s.redb")),
    ] {
        let Err(OpenError::SchemaClash(clash)) = opened else {
            panic!("opened despite the clash");
        };
        assert_eq!(clash.prefix, "/netabase/User/");
        assert!(clash.first.ends_with("User"), "{clash}");
        assert!(clash.second.ends_with("OtherUserType"), "{clash}");
    }
    assert!(
        !dir.path().join("s.redb").exists(),
        "the clash is found before any file is made"
    );
}

#[test]
fn a_path_that_is_not_a_regular_file_is_refused_before_it_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = vec![(dir.path().to_path_buf(), "a directory")];
    #[cfg(unix)]
    {
        let fifo = dir.path().join("x.redb");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        paths.push((fifo, "a named pipe (FIFO)"));
    }
    for (path, kind) in paths {
        // Opening a FIFO would block until a writer came; each of these returns at once.
        for opened in [
            RedbStore::open(&path).map(drop),
            RedbStore::create(&path).map(drop),
            RedbStore::open_read_only(&path).map(drop),
        ] {
            let error = opened.unwrap_err();
            assert!(
                matches!(error, OpenError::NotAFile { kind: found, .. } if found == kind),
                "{error}"
            );
            assert!(error.to_string().contains("not a store file"), "{error}");
        }
    }
}
