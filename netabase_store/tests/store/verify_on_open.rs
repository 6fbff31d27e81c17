//! When an open reads the whole file: a store closed cleanly and untouched since opens without
//! verifying it; one that was not closed cleanly, or was changed since, is verified and refused
//! when damaged; `set_verify_on_open(true)` verifies every open.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::common::*;
use netabase_store::{NetabaseSchema, OpenError, RedbStore};

fn stamp(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".closed");
    PathBuf::from(name)
}

fn users() -> Vec<User> {
    (0..2000)
        .map(|i| user(i, "some text to fill pages"))
        .collect()
}

/// A store of `users()` in `dir`, closed cleanly.
fn closed_store(dir: &Path) -> PathBuf {
    let path = dir.join("store.redb");
    RedbStore::create(&path)
        .unwrap()
        .put_values(&users())
        .unwrap();
    path
}

/// Both a reader and a store refuse the file at `path` as corrupt.
fn assert_refused(path: &Path) {
    let error = RedbStore::open_read_only(path).unwrap_err();
    assert!(matches!(error, OpenError::Corrupted { .. }), "{error:?}");
    let error = RedbStore::open(path).unwrap_err();
    assert!(matches!(error, OpenError::Corrupted { .. }), "{error:?}");
}

/// Overwrites the middle half of the file at `path` (a live store's file has free pages where a
/// few bytes of damage may fall).
fn damage(path: &Path) {
    let len = std::fs::metadata(path).unwrap().len();
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(len / 4)).unwrap();
    file.write_all(&vec![0xA5; (len / 2) as usize]).unwrap();
}

#[test]
fn a_store_closed_cleanly_reopens_without_reading_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let store = RedbStore::create(&path).unwrap();
    assert!(
        !store.verified_on_open(),
        "a new file has nothing to verify"
    );
    store.put_values(&users()).unwrap();
    drop(store);
    assert!(stamp(&path).exists(), "the clean close leaves its stamp");

    let store = RedbStore::open(&path).unwrap();
    assert!(!store.verified_on_open());
    assert!(!stamp(&path).exists(), "an open store has no stamp");
    let seventh = user(7, "some text to fill pages");
    assert_eq!(
        store.get_value::<User>(&seventh.key()).unwrap(),
        Some(seventh)
    );
    drop(store);

    // A reader leaves the file and its stamp as they were, so the next open is cheap too.
    let reader = RedbStore::open_read_only(&path).unwrap();
    assert!(!reader.verified_on_open());
    assert_eq!(reader.record_count().unwrap(), 2000);
    drop(reader);
    assert!(!RedbStore::open(&path).unwrap().verified_on_open());
}

#[test]
fn verify_on_open_reads_every_clean_file_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = closed_store(dir.path());
    let verifying = || RedbStore::builder().set_verify_on_open(true).clone();
    assert!(verifying().open(&path).unwrap().verified_on_open());
    assert!(
        verifying()
            .open_read_only(&path)
            .unwrap()
            .verified_on_open()
    );
}

/// A copy of the file of a store still open was never closed: redb's recovery verifies it, and
/// refuses it when damaged. (Damage to the last commit alone would look like a write the crash
/// tore, and roll back to the commit before it; the damage here reaches both.)
#[test]
fn a_store_not_closed_cleanly_is_verified_and_refused_when_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.redb");
    let store = RedbStore::create(&path).unwrap();
    store.put_values(&users()).unwrap();
    let more: Vec<User> = (2000..4000).map(|i| user(i, "a second commit")).collect();
    store.put_values(&more).unwrap();
    let intact = dir.path().join("intact.redb");
    let damaged = dir.path().join("damaged.redb");
    std::fs::copy(&path, &intact).unwrap();
    std::fs::copy(&path, &damaged).unwrap();
    damage(&damaged);

    let reader = RedbStore::open_read_only(&intact).unwrap();
    assert!(reader.verified_on_open());
    assert_eq!(reader.record_count().unwrap(), 4000);
    drop(reader);
    let recovered = RedbStore::open(&intact).unwrap();
    assert!(recovered.verified_on_open());
    assert_eq!(recovered.record_count().unwrap(), 4000);

    assert_refused(&damaged);
    assert!(!stamp(&damaged).exists(), "a refused file is not stamped");
    drop(store);
}

/// A file changed after its clean close no longer matches its stamp, so it is verified.
#[test]
fn a_store_damaged_after_its_clean_close_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = closed_store(dir.path());
    assert!(stamp(&path).exists());
    damage(&path);
    assert_refused(&path);
}

/// Damage that leaves the file's length, modification time and identity as they were (a disk
/// corrupting a sector in place) matches the stamp: only a verifying open finds it.
#[test]
fn damage_the_stamp_cannot_see_is_found_by_a_verifying_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = closed_store(dir.path());
    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    damage(&path);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let error = RedbStore::builder()
        .set_verify_on_open(true)
        .open(&path)
        .unwrap_err();
    assert!(matches!(error, OpenError::Corrupted { .. }), "{error:?}");
}
