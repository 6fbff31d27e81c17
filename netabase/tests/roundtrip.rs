//! Property tests of the record format: values and keys of several schemas round-trip exactly, a
//! record of one schema is never read as another, and arbitrary bytes give errors, never panics.

mod common;

use std::fmt::Debug;
use std::time::Instant;

use common::*;
use netabase::prelude::*;
use netabase::tombstone::{Stored, TOMBSTONE_MARKER, decode_record};
use netabase::{SchemaInfo, SchemaRegistry};
use proptest::collection::vec;
use proptest::prelude::*;

/// `T -> Record -> T` and `K -> RecordKey -> K` through the trait methods, exactly.
fn assert_round_trip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: NetabaseSchema + PartialEq + Debug,
{
    let record = value.to_record().map_err(fail)?;
    // The value is postcard's encoding and nothing else.
    prop_assert_eq!(&record.value, &postcard::to_allocvec(value).map_err(fail)?);
    prop_assert_eq!(&T::from_record(&record).map_err(fail)?, value);

    let key = value.key();
    let record_key = T::record_key(&key).map_err(fail)?;
    prop_assert_eq!(&record_key, &record.key);
    prop_assert!(record_key.as_ref().starts_with(&T::record_prefix()));
    prop_assert_eq!(T::key_from_record_key(&record_key).map_err(fail)?, key);
    Ok(())
}

fn fail(error: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(error.to_string())
}

/// The generated `TryFrom` conversions agree with the trait methods.
macro_rules! assert_conversions {
    ($value:expr, $schema:ty, $key:ty) => {{
        let value: &$schema = $value;
        let record = kad::Record::try_from(value).map_err(fail)?;
        prop_assert_eq!(&<$schema>::try_from(&record).map_err(fail)?, value);
        prop_assert_eq!(&<$schema>::try_from(record.clone()).map_err(fail)?, value);
        let key: $key = value.key();
        let record_key = kad::RecordKey::try_from(&key).map_err(fail)?;
        prop_assert_eq!(&record_key, &record.key);
        prop_assert_eq!(<$key>::try_from(record_key).map_err(fail)?, key);
    }};
}

/// Every schema of these tests, type-erased.
fn all_schemas() -> Vec<SchemaInfo> {
    vec![
        SchemaInfo::of::<Profile>(),
        SchemaInfo::of::<Membership>(),
        SchemaInfo::of::<Activity>(),
        SchemaInfo::of::<Sample>(),
        SchemaInfo::of::<Tile>(),
        SchemaInfo::of::<Draft>(),
    ]
}

/// A record of some schema, with that schema's name.
fn any_record() -> impl Strategy<Value = (&'static str, kad::Record)> {
    fn of<T: NetabaseSchema>(value: T) -> (&'static str, kad::Record) {
        let record = value
            .to_record()
            .unwrap_or_else(|error| panic!("generated values encode: {error}"));
        (T::NAME, record)
    }
    prop_oneof![
        profile().prop_map(of),
        membership().prop_map(of),
        activity().prop_map(of),
        sample().prop_map(of),
        tile().prop_map(of),
        draft().prop_map(of),
    ]
}

/// Decoding arbitrary bytes as `T` returns, and whatever it accepts re-encodes stably.
fn assert_bytes_never_panic<T: NetabaseSchema>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(value) = T::from_bytes(bytes) {
        let encoded = value.to_bytes().map_err(fail)?;
        let again = T::from_bytes(&encoded).map_err(fail)?;
        prop_assert_eq!(again.to_bytes().map_err(fail)?, encoded);
    }
    let mut key = T::record_prefix();
    key.extend_from_slice(bytes);
    let key = kad::RecordKey::new(&key);
    if let Ok(decoded) = T::key_from_record_key(&key) {
        let again = T::key_from_record_key(&T::record_key(&decoded).map_err(fail)?);
        prop_assert_eq!(again.map_err(fail)?, decoded);
    }
    let record = kad::Record::new(key, bytes.to_vec());
    if let Ok(value) = T::from_record(&record) {
        // Accepted only if the value's own key is the record key.
        prop_assert_eq!(&T::record_key(&value.key()).map_err(fail)?, &record.key);
    }
    // The same bytes with the tombstone marker after them: a tombstone exactly when the bytes
    // were a valid record, never a panic, never both a value and a tombstone.
    let mut marked = record.clone();
    marked.value.extend_from_slice(TOMBSTONE_MARKER);
    match decode_record::<T>(&marked) {
        Ok(Stored::Deleted(_)) => prop_assert!(T::from_record(&record).is_ok()),
        Ok(Stored::Value(_)) => prop_assert!(T::from_record(&record).is_err()),
        Err(_) => prop_assert!(T::from_record(&record).is_err()),
    }
    Ok(())
}

proptest! {
    #[test]
    fn profiles_round_trip(value in profile()) {
        assert_round_trip(&value)?;
        assert_conversions!(&value, Profile, ProfileKey);
    }

    #[test]
    fn memberships_round_trip(value in membership()) {
        assert_round_trip(&value)?;
        assert_conversions!(&value, Membership, MembershipKey);
    }

    #[test]
    fn activities_round_trip(value in activity()) {
        assert_round_trip(&value)?;
        assert_conversions!(&value, Activity, ActivityKey);
    }

    #[test]
    fn samples_round_trip(value in sample()) {
        assert_round_trip(&value)?;
        assert_conversions!(&value, Sample, SampleKey);
    }

    #[test]
    fn tiles_round_trip(value in tile()) {
        assert_round_trip(&value)?;
    }

    #[test]
    fn drafts_round_trip(value in draft()) {
        assert_round_trip(&value)?;
        assert_conversions!(&value, Draft, DraftKey);
    }

    /// Every other schema refuses the record with `WrongSchema`, naming itself.
    #[test]
    fn a_record_of_one_schema_never_decodes_as_another((owner, record) in any_record()) {
        for schema in all_schemas() {
            let result = schema.check(&record);
            if schema.name() == owner {
                prop_assert!(result.is_ok(), "{} refused its own record: {:?}", owner, result);
            } else {
                match result {
                    Err(DatabaseError::WrongSchema { schema: name, .. }) => {
                        prop_assert_eq!(name, schema.name());
                    }
                    other => prop_assert!(false, "{} read a {} record: {:?}", schema.name(), owner, other),
                }
            }
        }
    }

    /// The bytes of one schema placed under another's prefix: an error or a consistent value,
    /// never a panic.
    #[test]
    fn a_value_moved_under_another_prefix_is_never_a_panic((_, record) in any_record()) {
        let key_bytes = netabase::split_record_key(record.key.as_ref())
            .map(|(_, _, key)| key.to_vec())
            .unwrap_or_default();
        for schema in all_schemas() {
            let mut key = format!("/{}/{}/", schema.namespace(), schema.name()).into_bytes();
            key.extend_from_slice(&key_bytes);
            let moved = kad::Record::new(key, record.value.clone());
            // Either outcome is fine; what matters is that checking returns.
            let _ = schema.check(&moved);
        }
    }

    #[test]
    fn arbitrary_bytes_give_errors_not_panics(bytes in vec(any::<u8>(), 0..64)) {
        assert_bytes_never_panic::<Profile>(&bytes)?;
        assert_bytes_never_panic::<Membership>(&bytes)?;
        assert_bytes_never_panic::<Activity>(&bytes)?;
        assert_bytes_never_panic::<Sample>(&bytes)?;
        assert_bytes_never_panic::<Tile>(&bytes)?;
        assert_bytes_never_panic::<Draft>(&bytes)?;
    }

    #[test]
    fn arbitrary_records_are_validated_without_panics(
        key in vec(any::<u8>(), 0..32),
        value in vec(any::<u8>(), 0..64),
        prefix in 0..7usize,
    ) {
        let mut registry = SchemaRegistry::new();
        registry
            .register::<Profile>()
            .register::<Membership>()
            .register::<Activity>()
            .register::<Sample>()
            .register::<Tile>()
            .register::<Draft>();
        // Most keys get a registered prefix, so the schema's own checks run on the bytes.
        let mut full_key = all_schemas()
            .get(prefix)
            .map(|s| format!("/{}/{}/", s.namespace(), s.name()).into_bytes())
            .unwrap_or_default();
        full_key.extend_from_slice(&key);
        let record = kad::Record::new(full_key, value);
        let _ = registry.validate(&record, 1024, Instant::now());
    }
}

#[test]
fn a_huge_length_prefix_is_an_error_not_an_allocation() {
    // The handle's length claims u32::MAX bytes; only 5 bytes follow.
    let bytes = [0xff, 0xff, 0xff, 0xff, 0x0f, b'a', b'b', b'c', b'd', b'e'];
    let error = Profile::from_bytes(&bytes).unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::Decode {
                schema: "Profile",
                what: "value",
                ..
            }
        ),
        "{error:?}"
    );
    // Empty strings and `None`s, then the scores map claims u64::MAX entries.
    let mut bytes = vec![0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
    bytes.extend_from_slice(&[0xff; 9]);
    bytes.push(0x01);
    assert!(Profile::from_bytes(&bytes).is_err());
}

#[test]
fn an_empty_key_or_value_is_an_error() {
    let record = kad::Record::new(Vec::new(), Vec::new());
    for schema in all_schemas() {
        assert!(
            matches!(
                schema.check(&record),
                Err(DatabaseError::WrongSchema { .. })
            ),
            "{}",
            schema.name()
        );
    }
    let record = kad::Record::new(Profile::record_prefix(), Vec::new());
    assert!(matches!(
        Profile::from_record(&record),
        Err(DatabaseError::Decode { .. })
    ));
}
