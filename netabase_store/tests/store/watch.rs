//! Watching: typed change events for a schema, a key, a key prefix and an index value, from local
//! writes, peers' records and expiry sweeps, delivered after commit; a lagging subscriber.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::indexes::{Person, PersonKey, person};
use netabase_store::kad::store::RecordStore;
use netabase_store::{
    Change, ChangeEvent, NetabaseSchema, NodeStore, Origin, RedbStore, WATCH_CAPACITY, Watch,
    WatchEvent,
};

fn people_store() -> RedbStore {
    builder().register::<Person>().in_memory().unwrap()
}

fn next(watch: &mut Watch<Person>) -> WatchEvent<Person> {
    watch.try_recv().expect("an event").expect("decodes")
}

fn change(key: u64, change: Change<Person>, origin: Origin) -> WatchEvent<Person> {
    WatchEvent::Change(ChangeEvent {
        key: PersonKey(key),
        change,
        origin,
    })
}

#[test]
fn local_writes_are_inserted_updated_and_removed_events() {
    let store = people_store();
    let mut all = store.watch::<Person>();
    store.put_value(&person(1, 30)).unwrap();
    store.put_value(&person(1, 31)).unwrap();
    store.remove_value::<Person>(&PersonKey(1)).unwrap();
    assert_eq!(
        next(&mut all),
        change(1, Change::Inserted(person(1, 30)), Origin::Local)
    );
    assert_eq!(
        next(&mut all),
        change(
            1,
            Change::Updated {
                old: person(1, 30),
                new: person(1, 31)
            },
            Origin::Local
        )
    );
    assert_eq!(
        next(&mut all),
        change(1, Change::Removed(Some(person(1, 31))), Origin::Local)
    );
    assert!(all.try_recv().is_none());
    // Another schema's writes are not this watch's.
    store.put_value(&user(1, "alice")).unwrap();
    assert!(all.try_recv().is_none());
}

#[test]
fn a_key_a_key_prefix_and_an_index_value_see_only_their_records() {
    let store = people_store();
    let mut one = store.watch_key::<Person>(&PersonKey(2)).unwrap();
    let mut forties = store.watch_index(Person::by_age(), &40).unwrap();
    store.put_value(&person(1, 40)).unwrap();
    store.put_value(&person(2, 20)).unwrap();
    // Leaving the index value is reported to its watchers too.
    store.put_value(&person(1, 41)).unwrap();
    assert_eq!(
        next(&mut one),
        change(2, Change::Inserted(person(2, 20)), Origin::Local)
    );
    assert!(one.try_recv().is_none());
    assert_eq!(
        next(&mut forties),
        change(1, Change::Inserted(person(1, 40)), Origin::Local)
    );
    assert!(matches!(
        next(&mut forties),
        WatchEvent::Change(ChangeEvent {
            change: Change::Updated { .. },
            ..
        })
    ));
    assert!(forties.try_recv().is_none());
    // A key prefix: the leading key fields.
    let store = builder().register::<Doc>().in_memory().unwrap();
    let mut hello = store.watch_key_prefix::<Doc>(&"hello").unwrap();
    store.put_value(&doc("hello", 1, "a")).unwrap();
    store.put_value(&doc("hello-world", 1, "b")).unwrap();
    let event = hello.try_recv().unwrap().unwrap();
    assert!(
        matches!(event, WatchEvent::Change(ChangeEvent { change: Change::Inserted(ref d), .. }) if d.slug == "hello")
    );
    assert!(hello.try_recv().is_none());
}

#[test]
fn records_from_peers_are_peer_events_once_committed() {
    let mut store = people_store();
    let mut all = store.watch::<Person>();
    RecordStore::put(&mut store, person(5, 50).to_record().unwrap()).unwrap();
    // Buffered in the inbox, not committed: nothing yet.
    assert!(all.try_recv().is_none());
    NodeStore::flush(&mut store).unwrap();
    assert_eq!(
        next(&mut all),
        change(5, Change::Inserted(person(5, 50)), Origin::Peer)
    );
}

#[test]
fn an_expiry_sweep_is_an_expired_event() {
    let mut store = people_store();
    store
        .put_value_expiring(&person(1, 30), Duration::from_secs(60))
        .unwrap();
    let mut all = store.watch::<Person>();
    store
        .remove_expired(Instant::now() + Duration::from_secs(120))
        .unwrap();
    assert_eq!(
        next(&mut all),
        change(1, Change::Expired(Some(person(1, 30))), Origin::Local)
    );
}

#[test]
fn a_refused_write_tells_nobody() {
    let store = people_store();
    store.put_value(&person(1, 30)).unwrap();
    let mut all = store.watch::<Person>();
    let mut thief = person(2, 31);
    thief.email = person(1, 30).email;
    // A batch whose second value is refused: its first value was written, then rolled back.
    assert!(store.put_values(&[person(3, 33), thief]).is_err());
    assert!(all.try_recv().is_none());
}

#[test]
fn a_subscriber_that_falls_behind_learns_how_many_events_it_missed() {
    let store = people_store();
    let mut slow = store.watch::<Person>();
    let extra = 10;
    let people: Vec<Person> = (0..(WATCH_CAPACITY + extra) as u64)
        .map(|id| person(id, 1))
        .collect();
    // Nobody receives while the writes go on: they do not wait.
    store.put_values(&people).unwrap();
    assert_eq!(
        next(&mut slow),
        WatchEvent::Lagged {
            missed: extra as u64
        }
    );
    let mut delivered = 0;
    while let Some(event) = slow.try_recv() {
        assert!(matches!(event.unwrap(), WatchEvent::Change(_)));
        delivered += 1;
    }
    assert_eq!(delivered, WATCH_CAPACITY);
}

#[test]
fn a_watch_receives_asynchronously_and_ends_when_the_store_closes() {
    let store = people_store();
    let mut all = store.watch::<Person>();
    let writer = store.clone();
    let received = block_on(async move {
        let task = std::thread::spawn(move || writer.put_value(&person(9, 90)).unwrap());
        let event = all.recv().await;
        task.join().unwrap();
        drop(store);
        (event, all.recv().await)
    });
    assert_eq!(
        received.0.unwrap().unwrap(),
        change(9, Change::Inserted(person(9, 90)), Origin::Local)
    );
    assert!(received.1.is_none(), "the store closed");
}
