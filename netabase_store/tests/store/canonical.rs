//! One value, one byte string: a record of a registered schema is accepted only when its key and
//! value are exactly the canonical postcard encoding of what they decode to, and a typed read
//! never returns a value stored under another key.

use crate::common::*;
use netabase_store::kad::store::RecordStore;
use netabase_store::kad::{Record, RecordKey};
use netabase_store::{DatabaseError, NetabaseSchema, RedbStore};

/// `user(12, "a")` with its id written as the two-byte varint `8c 00` instead of `0c`.
const PADDED_VALUE: &[u8] = &[0x8c, 0x00, 1, b'a'];

/// The record key of user 12 with the same padded varint.
fn padded_key() -> RecordKey {
    RecordKey::new(&b"/netabase/User/\x8c\x00")
}

#[test]
fn the_padded_encoding_decodes_to_the_same_value() {
    // The premise of the tests below: postcard alone would accept both.
    let canonical = user(12, "a").to_record().unwrap();
    assert_eq!(canonical.value, [12, 1, b'a']);
    assert_eq!(canonical.key.as_ref(), b"/netabase/User/\x0c");
    let error = User::from_bytes(PADDED_VALUE).unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::NonCanonical {
                schema: "User",
                what: "value"
            }
        ),
        "{error}"
    );
    let error = User::key_from_record_key(&padded_key()).unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::NonCanonical {
                schema: "User",
                what: "key"
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("canonical"), "{error}");
}

#[test]
fn a_padded_value_from_a_peer_is_refused_and_the_stored_one_kept() {
    let mut store = memory_store();
    let honest = user(12, "a").to_record().unwrap();
    RecordStore::put(&mut store, honest.clone()).unwrap();
    let forged = Record::new(honest.key.clone(), PADDED_VALUE.to_vec());
    assert!(
        forged.value > honest.value,
        "the forged bytes sort higher, so byte order alone would pick them"
    );
    RecordStore::put(&mut store, forged).unwrap();
    assert_eq!(
        RecordStore::get(&store, &honest.key).unwrap().value,
        honest.value
    );
    assert_eq!(store.rejected_record_count(), 1);
}

#[test]
fn a_padded_key_from_a_peer_is_refused() {
    let mut store = memory_store();
    RecordStore::put(&mut store, Record::new(padded_key(), vec![12, 1, b'a'])).unwrap();
    assert!(RecordStore::get(&store, &padded_key()).is_none());
    assert_eq!(store.rejected_record_count(), 1);
    assert_eq!(store.record_count().unwrap(), 0);
}

#[test]
fn put_record_refuses_both_encodings_with_the_reason() {
    let mut store = memory_store();
    let padded_value = Record::new(
        User::record_key(&user_key(12)).unwrap(),
        PADDED_VALUE.to_vec(),
    );
    let error = block_on(netabase_store::NetabaseDatabase::<_, User>::put_record(
        &mut store,
        padded_value,
    ))
    .unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::NonCanonical {
                schema: "User",
                what: "value"
            }
        ),
        "{error}"
    );
    let padded_key = Record::new(padded_key(), vec![12, 1, b'a']);
    let error = block_on(netabase_store::NetabaseDatabase::<_, User>::put_record(
        &mut store, padded_key,
    ))
    .unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::NonCanonical {
                schema: "User",
                what: "key"
            }
        ),
        "{error}"
    );
    assert_eq!(store.record_count().unwrap(), 0);
}

#[test]
fn a_typed_read_refuses_a_value_stored_under_another_key() {
    // A store that knows no schema keeps what it is given, as a file written outside Netabase
    // could: user 2's value under user 1's key.
    let mut raw_store = RedbStore::in_memory().unwrap();
    let key = User::record_key(&user_key(1)).unwrap();
    RecordStore::put(
        &mut raw_store,
        Record::new(key, user(2, "bob").to_bytes().unwrap()),
    )
    .unwrap();
    let error = raw_store.get_value::<User>(&user_key(1)).unwrap_err();
    assert!(
        matches!(error, DatabaseError::KeyMismatch { schema: "User", .. }),
        "{error}"
    );
    let error = block_on(netabase_store::NetabaseDatabase::<_, User>::get(
        &raw_store,
        &user_key(1),
    ))
    .unwrap_err();
    assert!(
        matches!(error, DatabaseError::KeyMismatch { .. }),
        "{error}"
    );
}
