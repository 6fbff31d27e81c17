//! `StoreReader`: a store file opened read-only returns what a `RedbStore` on the same file
//! returns, never changes a byte of the file (cleanly closed, or a copy of a live store that needs
//! a repair), and fails to open with the same clear errors as `RedbStore::open`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::common::*;
use netabase_store::kad::store::RecordStore;
use netabase_store::kad::{ProviderRecord, Record, RecordKey};
use netabase_store::{
    DatabaseError, NetabaseSchema, NodeStore, OpenError, PeerId, RedbStore, StoreError, StoreReader,
};

const RECORDS: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("records");
const PROVIDERS: redb::TableDefinition<(&[u8], &[u8]), &[u8]> =
    redb::TableDefinition::new("providers");

/// The bytes and modification time of a file: what "unchanged" means.
#[derive(Debug, PartialEq)]
struct FileState {
    bytes: Vec<u8>,
    modified: SystemTime,
}

fn file_state(path: &Path) -> FileState {
    FileState {
        bytes: std::fs::read(path).unwrap(),
        modified: std::fs::metadata(path).unwrap().modified().unwrap(),
    }
}

fn user_record_key(id: u64) -> RecordKey {
    User::record_key(&user_key(id)).unwrap()
}

/// Keys the samples give provider records: some hold records, some only providers.
fn provided_key(i: u8) -> RecordKey {
    RecordKey::new(&format!("/files/Blob/{i:02}"))
}

/// Fills a store with typed values of two schemas, raw records with and without expiry and
/// publisher, a record that has expired (not swept), provider records of several providers per
/// key (one expired), and a republish schedule.
fn fill(store: &mut RedbStore) {
    let users: Vec<User> = (0..40).map(|id| user(id, "a user of the sample")).collect();
    store.put_values(&users).unwrap();
    store.put_value(&doc("intro", 3, "hello")).unwrap();
    let soon = Instant::now() + Duration::from_secs(3600);
    for i in 0..6u8 {
        let mut record = raw(format!("/other/Raw/{i}").as_bytes(), &[i; 5]);
        if i % 2 == 0 {
            record.expires = Some(soon + Duration::from_secs(u64::from(i)));
        }
        if i % 3 == 0 {
            record.publisher = Some(peer(i + 1));
        }
        store.put_local(record).unwrap();
    }
    store.put_local(raw(b"no schema prefix", b"raw")).unwrap();
    let mut expiring = raw(b"/other/Raw/expired", b"gone");
    expiring.expires = Some(Instant::now() + Duration::from_millis(1));
    store.put_local(expiring).unwrap();
    for i in 0..7u8 {
        for p in 0..=(i % 4) {
            let mut record = ProviderRecord::new(provided_key(i), peer(10 + p), Vec::new());
            if p == 1 {
                record.addresses = vec!["/ip4/127.0.0.1/tcp/4001".parse().unwrap()];
                record.expires = Some(soon);
            }
            store.add_provider(record).unwrap();
        }
    }
    let mut expired = ProviderRecord::new(provided_key(2), peer(30), Vec::new());
    expired.expires = Some(Instant::now() + Duration::from_millis(1));
    store.add_provider(expired).unwrap();
    store
        .schedule_republish(&user_record_key(1), SystemTime::now())
        .unwrap();
    store.flush().unwrap();
    // Let the two short-lived records expire; no sweep runs, so the file still holds them.
    std::thread::sleep(Duration::from_millis(20));
}

/// A store file filled by [`fill`] and closed.
fn sample_file(dir: &Path) -> PathBuf {
    let path = dir.join("node.redb");
    let mut store = builder().create(&path).unwrap();
    fill(&mut store);
    path
}

/// A record with its deadline as wall-clock milliseconds, to compare reads made at different
/// moments (each rebuilds its `Instant` from the stored deadline).
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    key: Vec<u8>,
    value: Vec<u8>,
    publisher: Option<PeerId>,
    expires_ms: Option<u128>,
}

fn unix_ms(at: Instant) -> u128 {
    let (now, wall) = (Instant::now(), SystemTime::now());
    let wall = if at >= now {
        wall + (at - now)
    } else {
        wall - (now - at)
    };
    wall.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

fn seen(record: &Record) -> Seen {
    Seen {
        key: record.key.to_vec(),
        value: record.value.clone(),
        publisher: record.publisher,
        expires_ms: record.expires.map(unix_ms),
    }
}

/// A provider record with its deadline as wall-clock milliseconds.
fn seen_provider(record: &ProviderRecord) -> (Vec<u8>, PeerId, Vec<String>, Option<u128>) {
    (
        record.key.to_vec(),
        record.provider,
        record.addresses.iter().map(|a| a.to_string()).collect(),
        record.expires.map(unix_ms),
    )
}

/// Deadlines rebuilt at two moments agree to within a few milliseconds (each read rounds to the
/// millisecond); everything else must be equal.
fn assert_same<T: std::fmt::Debug + Clone>(
    store: &[T],
    reader: &[T],
    deadline: impl Fn(&T) -> Option<u128>,
    without_deadline: impl Fn(&T) -> String,
) {
    assert_eq!(store.len(), reader.len(), "{store:?}\n{reader:?}");
    for (a, b) in store.iter().zip(reader) {
        assert_eq!(without_deadline(a), without_deadline(b));
        match (deadline(a), deadline(b)) {
            (None, None) => {}
            (Some(x), Some(y)) => assert!(x.abs_diff(y) <= 3, "{a:?} vs {b:?}"),
            _ => panic!("one has a deadline, the other not: {a:?} vs {b:?}"),
        }
    }
}

fn assert_same_records(store: &[Seen], reader: &[Seen]) {
    assert_same(
        store,
        reader,
        |r| r.expires_ms,
        |r| format!("{:?} {:?} {:?}", r.key, r.value, r.publisher),
    );
}

type SeenProvider = (Vec<u8>, PeerId, Vec<String>, Option<u128>);

fn assert_same_providers(store: &[SeenProvider], reader: &[SeenProvider]) {
    assert_same(
        store,
        reader,
        |p| p.3,
        |p| format!("{:?} {} {:?}", p.0, p.1, p.2),
    );
}

/// Everything the read API reports about a file, as a store or a reader sees it.
#[derive(Debug)]
struct Observed {
    all: Vec<Seen>,
    users: Vec<Seen>,
    raw: Vec<Seen>,
    by_key: Vec<Option<Seen>>,
    user_values: Vec<Option<User>>,
    doc: Option<Doc>,
    providers_of: Vec<Vec<SeenProvider>>,
    all_providers: Vec<SeenProvider>,
    record_count: u64,
    provider_record_count: u64,
}

/// Keys the comparison reads one by one: present, absent and expired.
fn probe_keys() -> Vec<RecordKey> {
    let mut keys: Vec<RecordKey> = (0..42).map(user_record_key).collect();
    keys.push(RecordKey::new(&"/other/Raw/0"));
    keys.push(RecordKey::new(&"/other/Raw/3"));
    keys.push(RecordKey::new(&"/other/Raw/expired"));
    keys.push(RecordKey::new(&"no schema prefix"));
    keys.push(RecordKey::new(&"/absent/Key/1"));
    keys
}

fn observe_store(store: &RedbStore) -> Observed {
    let collect = |prefix: &[u8]| -> Vec<Seen> {
        store
            .scan(prefix.to_vec())
            .map(|r| seen(&r.unwrap()))
            .collect()
    };
    Observed {
        all: collect(b""),
        users: store
            .scan_schema::<User>()
            .map(|r| seen(&r.unwrap()))
            .collect(),
        raw: collect(b"/other/"),
        by_key: probe_keys()
            .iter()
            .map(|key| RecordStore::get(store, key).map(|r| seen(&r)))
            .collect(),
        user_values: (0..42)
            .map(|id| store.get_value::<User>(&user_key(id)).unwrap())
            .collect(),
        doc: store.get_value::<Doc>(&doc("intro", 0, "").key()).unwrap(),
        providers_of: (0..8)
            .map(|i| {
                RecordStore::providers(store, &provided_key(i))
                    .iter()
                    .map(seen_provider)
                    .collect()
            })
            .collect(),
        all_providers: store
            .scan_providers()
            .map(|p| seen_provider(&p.unwrap()))
            .collect(),
        record_count: store.record_count().unwrap(),
        provider_record_count: store.provider_record_count().unwrap(),
    }
}

fn observe_reader(reader: &StoreReader) -> Observed {
    let collect = |prefix: &[u8]| -> Vec<Seen> {
        reader
            .scan(prefix.to_vec())
            .map(|r| seen(&r.unwrap()))
            .collect()
    };
    Observed {
        all: collect(b""),
        users: reader
            .scan_schema::<User>()
            .map(|r| seen(&r.unwrap()))
            .collect(),
        raw: collect(b"/other/"),
        by_key: probe_keys()
            .iter()
            .map(|key| reader.get_record(key).unwrap().map(|r| seen(&r)))
            .collect(),
        user_values: (0..42)
            .map(|id| reader.get_value::<User>(&user_key(id)).unwrap())
            .collect(),
        doc: reader.get_value::<Doc>(&doc("intro", 0, "").key()).unwrap(),
        providers_of: (0..8)
            .map(|i| {
                reader
                    .providers(&provided_key(i))
                    .unwrap()
                    .iter()
                    .map(seen_provider)
                    .collect()
            })
            .collect(),
        all_providers: reader
            .scan_providers()
            .map(|p| seen_provider(&p.unwrap()))
            .collect(),
        record_count: reader.record_count().unwrap(),
        provider_record_count: reader.provider_record_count().unwrap(),
    }
}

fn assert_same_observations(store: &Observed, reader: &Observed) {
    assert_same_records(&store.all, &reader.all);
    assert_same_records(&store.users, &reader.users);
    assert_same_records(&store.raw, &reader.raw);
    assert_eq!(store.by_key.len(), reader.by_key.len());
    for (a, b) in store.by_key.iter().zip(&reader.by_key) {
        assert_same_records(
            &a.iter().cloned().collect::<Vec<_>>(),
            &b.iter().cloned().collect::<Vec<_>>(),
        );
    }
    assert_eq!(store.user_values, reader.user_values);
    assert_eq!(store.doc, reader.doc);
    assert_eq!(store.providers_of.len(), reader.providers_of.len());
    for (a, b) in store.providers_of.iter().zip(&reader.providers_of) {
        assert_same_providers(a, b);
    }
    assert_same_providers(&store.all_providers, &reader.all_providers);
    assert_eq!(store.record_count, reader.record_count);
    assert_eq!(store.provider_record_count, reader.provider_record_count);
}

/// The sample as both see it: what the comparison is about is not empty or trivial.
fn assert_sample_shape(observed: &Observed) {
    // 40 users, 1 doc, 6 raw records, 1 without prefix; the expired record is not returned.
    assert_eq!(observed.all.len(), 48);
    assert_eq!(
        observed.record_count, 49,
        "the expired record awaits a sweep"
    );
    assert_eq!(observed.users.len(), 40);
    assert_eq!(observed.raw.len(), 6);
    assert!(observed.by_key.iter().filter(|r| r.is_some()).count() == 43);
    assert_eq!(observed.doc, Some(doc("intro", 3, "hello")));
    // 7 keys with 1, 2, 3, 4, 1, 2, 3 providers; the expired one is not returned.
    assert_eq!(observed.all_providers.len(), 16);
    assert_eq!(observed.provider_record_count, 17);
    assert_eq!(
        observed
            .providers_of
            .iter()
            .map(Vec::len)
            .collect::<Vec<_>>(),
        [1, 2, 3, 4, 1, 2, 3, 0]
    );
}

#[test]
fn the_reader_returns_what_the_store_returns_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_file(dir.path());
    let from_store = observe_store(&builder().open(&path).unwrap());
    assert_sample_shape(&from_store);
    let reader = RedbStore::open_read_only(&path).unwrap();
    let from_reader = observe_reader(&reader);
    assert_same_observations(&from_store, &from_reader);
    assert_eq!(reader.path(), path);
}

#[test]
fn a_read_only_inspection_leaves_every_byte_of_the_file_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_file(dir.path());
    let before = file_state(&path);
    {
        // Verification on (the default) and off; two readers at once.
        let reader = RedbStore::open_read_only(&path).unwrap();
        let unverified = RedbStore::builder()
            .set_verify_on_open(false)
            .set_page_size(2)
            .open_read_only(&path)
            .unwrap();
        assert_sample_shape(&observe_reader(&reader));
        assert_sample_shape(&observe_reader(&unverified));
        // A walk outlives its reader and keeps the file open until it is dropped.
        let scan = reader.scan(Vec::new());
        drop(reader);
        assert_eq!(scan.count(), 48);
    }
    assert_eq!(file_state(&path), before, "reading must not write");
    // The file is closed: a node can open it again.
    drop(RedbStore::open(&path).unwrap());
}

/// A copy of a file a running node holds needs redb's repair (the node never closed it). The
/// reader repairs it in memory: the copy reads like the live store and is not changed.
#[test]
fn a_copy_of_a_live_store_is_read_without_writing_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.redb");
    let copy = dir.path().join("copy.redb");
    let mut store = builder().create(&path).unwrap();
    fill(&mut store);
    std::fs::copy(&path, &copy).unwrap();
    let from_store = observe_store(&store);
    let before = file_state(&copy);
    {
        let reader = RedbStore::open_read_only(&copy).unwrap();
        assert_same_observations(&from_store, &observe_reader(&reader));
    }
    assert_eq!(file_state(&copy), before, "the repair stays in memory");
    drop(store);
}

#[test]
fn the_provider_walk_crosses_page_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("providers.redb");
    let mut expected = Vec::new();
    {
        let mut store = builder().set_page_size(3).create(&path).unwrap();
        for i in 0..7u8 {
            for p in 0..=(i % 4) {
                let record = ProviderRecord::new(provided_key(i), peer(10 + p), Vec::new());
                expected.push((record.key.to_vec(), record.provider.to_bytes()));
                store.add_provider(record).unwrap();
            }
            // Expired providers between live ones: skipped, not the end of a page or the walk.
            let mut expired = ProviderRecord::new(provided_key(i), peer(40), Vec::new());
            expired.expires = Some(Instant::now() + Duration::from_millis(1));
            store.add_provider(expired).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        expected.sort();
        assert_eq!(expected.len(), 16);

        let pairs = |records: &[ProviderRecord]| -> Vec<(Vec<u8>, Vec<u8>)> {
            records
                .iter()
                .map(|p| (p.key.to_vec(), p.provider.to_bytes()))
                .collect()
        };
        let mut scan = store.scan_providers();
        let mut paged = Vec::new();
        let mut pages = 0;
        while let Some(page) = scan.next_page() {
            let page = page.unwrap();
            assert!(!page.is_empty() && page.len() <= 3, "{}", page.len());
            paged.extend(pairs(&page));
            pages += 1;
        }
        assert_eq!(paged, expected, "each provider record once, in order");
        assert!(pages >= 6, "{pages} pages for 16 records of 3");

        // The walk resumes after the last row it read: a provider written behind it is not seen,
        // one written ahead of it is.
        let mut scan = store.scan_providers();
        let first = scan.next_page().unwrap().unwrap();
        store
            .add_provider(ProviderRecord::new(provided_key(0), peer(9), Vec::new()))
            .unwrap();
        store
            .add_provider(ProviderRecord::new(provided_key(9), peer(9), Vec::new()))
            .unwrap();
        let rest: Vec<ProviderRecord> = scan.map(Result::unwrap).collect();
        let walked: Vec<_> = pairs(&first).into_iter().chain(pairs(&rest)).collect();
        assert_eq!(walked.len(), 17, "{walked:?}");
        assert_eq!(
            walked.last().unwrap().0,
            provided_key(9).to_vec(),
            "the provider ahead of the walk is seen"
        );
        store.remove_provider(&provided_key(0), &peer(9));
        store.remove_provider(&provided_key(9), &peer(9));
    }
    let reader = RedbStore::builder()
        .set_page_size(3)
        .open_read_only(&path)
        .unwrap();
    let mut scan = reader.scan_providers();
    let mut paged = Vec::new();
    while let Some(page) = scan.next_page() {
        let page = page.unwrap();
        assert!(!page.is_empty() && page.len() <= 3);
        paged.extend(page.iter().map(|p| (p.key.to_vec(), p.provider.to_bytes())));
    }
    assert_eq!(paged, expected);
}

#[test]
fn damaged_entries_are_errors_in_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_file(dir.path());
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(RECORDS)
            .unwrap()
            .insert(user_record_key(3).as_ref(), &[0x80, 1, 2][..])
            .unwrap();
        txn.open_table(PROVIDERS)
            .unwrap()
            .insert(
                (provided_key(3).as_ref(), peer(11).to_bytes().as_slice()),
                &[0, 5][..],
            )
            .unwrap();
        txn.commit().unwrap();
    }
    let reader = RedbStore::open_read_only(&path).unwrap();
    let is_corrupt = |error: &DatabaseError| match error {
        DatabaseError::Storage(source) => matches!(
            source.downcast_ref::<StoreError>(),
            Some(StoreError::CorruptEntry { .. })
        ),
        _ => false,
    };
    let users: Vec<_> = reader.scan_schema::<User>().collect();
    assert_eq!(users.len(), 40, "the damaged entry takes its own place");
    assert!(is_corrupt(users[3].as_ref().unwrap_err()));
    assert_eq!(users.iter().filter(|r| r.is_ok()).count(), 39);
    assert!(is_corrupt(
        &reader.get_record(&user_record_key(3)).unwrap_err()
    ));

    let providers: Vec<_> = reader.scan_providers().collect();
    assert_eq!(providers.len(), 16);
    assert_eq!(providers.iter().filter(|p| p.is_err()).count(), 1);
    assert!(is_corrupt(&reader.providers(&provided_key(3)).unwrap_err()));
    assert_eq!(reader.providers(&provided_key(2)).unwrap().len(), 3);
}

#[test]
fn a_store_and_a_reader_exclude_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_file(dir.path());
    let store = RedbStore::open(&path).unwrap();
    let error = RedbStore::open_read_only(&path).unwrap_err();
    assert!(matches!(error, OpenError::Locked { .. }), "{error:?}");
    drop(store);

    let reader = RedbStore::open_read_only(&path).unwrap();
    let second = RedbStore::open_read_only(&path).unwrap();
    let error = RedbStore::open(&path).unwrap_err();
    assert!(matches!(error, OpenError::Locked { .. }), "{error:?}");
    drop(reader);
    assert!(
        RedbStore::open(&path).is_err(),
        "the second reader holds it"
    );
    drop(second);
    drop(RedbStore::open(&path).unwrap());
}

#[test]
fn files_that_are_not_readable_stores_fail_as_open_fails() {
    let dir = tempfile::tempdir().unwrap();
    let both = |path: &Path| {
        let read_only = RedbStore::open_read_only(path).unwrap_err();
        let writable = RedbStore::open(path).unwrap_err();
        (read_only, writable)
    };

    let missing = dir.path().join("missing.redb");
    let (error, open) = both(&missing);
    assert!(matches!(error, OpenError::NotFound { .. }), "{error:?}");
    assert!(matches!(open, OpenError::NotFound { .. }), "{open:?}");
    assert!(!missing.exists(), "nothing is created");

    for (name, bytes) in [
        ("empty", Vec::new()),
        ("short", b"x".to_vec()),
        ("text", b"this is a text file, not a database\n".repeat(200)),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let (error, open) = both(&path);
        assert!(matches!(error, OpenError::NotADatabase { .. }), "{error:?}");
        assert!(matches!(open, OpenError::NotADatabase { .. }), "{open:?}");
        assert!(error.to_string().contains("not a redb database"), "{error}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name} is untouched");
    }

    let foreign = dir.path().join("foreign.redb");
    {
        let db = redb::Database::create(&foreign).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(redb::TableDefinition::<u64, u64>::new("accounts"))
            .unwrap();
        txn.commit().unwrap();
    }
    let before = file_state(&foreign);
    match RedbStore::open_read_only(&foreign).unwrap_err() {
        OpenError::NotAStore { tables, .. } => assert_eq!(tables, ["accounts"]),
        other => panic!("expected NotAStore, got {other:?}"),
    }
    assert_eq!(file_state(&foreign), before);

    // A writable open would make an empty redb database a store; a reader writes nothing.
    let empty_database = dir.path().join("empty-database.redb");
    drop(redb::Database::create(&empty_database).unwrap());
    let error = RedbStore::open_read_only(&empty_database).unwrap_err();
    match &error {
        OpenError::NotAStore { tables, .. } => assert!(tables.is_empty()),
        other => panic!("expected NotAStore, got {other:?}"),
    }
    assert!(error.to_string().contains("holds no table"), "{error}");

    let other_layout = dir.path().join("layout.redb");
    drop(RedbStore::create(&other_layout).unwrap());
    {
        let db = redb::Database::open(&other_layout).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(redb::TableDefinition::<&str, u64>::new("netabase_meta"))
            .unwrap()
            .insert("layout_version", 99)
            .unwrap();
        txn.commit().unwrap();
    }
    let (error, open) = both(&other_layout);
    for error in [error, open] {
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
}

/// redb trusts the pages of a file it did not repair and can panic on a damaged one; the reader
/// verifies the file first, as `RedbStore::open` does, without writing to it.
#[test]
fn a_damaged_file_fails_to_open_and_is_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    write_damaged_store(&path);
    let before = file_state(&path);
    let error = RedbStore::open_read_only(&path).unwrap_err();
    assert!(matches!(error, OpenError::Corrupted { .. }), "{error:?}");
    assert!(error.to_string().contains("corrupt"), "{error}");
    assert_eq!(file_state(&path), before);
}
