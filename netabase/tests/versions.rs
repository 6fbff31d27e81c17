//! Schema versions: values of older versions are read and upgraded through the `from` chain,
//! newer ones are refused with a clear error, and each version's bytes are documented.

use netabase::prelude::*;
use netabase::version::VERSION_MARKER;
use netabase::{SchemaRegistry, tombstone};
use serde::{Deserialize, Serialize};

/// Version 1: what the application shipped first, without versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(name = "Profile")]
struct ProfileV1 {
    #[key]
    id: u64,
    name: String,
}

/// Version 2 adds a bio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(name = "Profile", version = 2, from = ProfileV1)]
struct ProfileV2 {
    #[key]
    id: u64,
    name: String,
    bio: String,
}

impl From<ProfileV1> for ProfileV2 {
    fn from(old: ProfileV1) -> Self {
        ProfileV2 {
            id: old.id,
            name: old.name,
            bio: String::new(),
        }
    }
}

/// Version 3 splits the name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(name = "Profile", version = 3, from = ProfileV2)]
struct Profile {
    #[key]
    id: u64,
    first: String,
    last: String,
    bio: String,
}

impl From<ProfileV2> for Profile {
    fn from(old: ProfileV2) -> Self {
        let (first, last) = old.name.split_once(' ').unwrap_or((&old.name, ""));
        Profile {
            id: old.id,
            first: first.into(),
            last: last.into(),
            bio: old.bio,
        }
    }
}

fn v1() -> ProfileV1 {
    ProfileV1 {
        id: 7,
        name: "Ada Lovelace".into(),
    }
}

#[test]
fn version_one_is_the_plain_postcard_bytes_and_later_ones_carry_their_version() {
    assert_eq!(ProfileV1::VERSION, 1);
    assert_eq!(
        v1().to_bytes().unwrap(),
        postcard::to_allocvec(&v1()).unwrap()
    );
    let v2 = ProfileV2::from(v1());
    let mut expected = postcard::to_allocvec(&v2).unwrap();
    expected.extend_from_slice(VERSION_MARKER);
    expected.push(2);
    assert_eq!(v2.to_bytes().unwrap(), expected);
    assert_eq!(ProfileV2::from_bytes(&expected).unwrap(), v2);
}

#[test]
fn an_older_value_is_read_through_the_chain_of_versions() {
    let bytes = v1().to_bytes().unwrap();
    assert_eq!(
        ProfileV2::from_bytes(&bytes).unwrap(),
        ProfileV2::from(v1())
    );
    let upgraded = Profile::from_bytes(&bytes).unwrap();
    assert_eq!(
        upgraded,
        Profile {
            id: 7,
            first: "Ada".into(),
            last: "Lovelace".into(),
            bio: String::new(),
        }
    );
    // From a version-2 value too, and from whole records.
    let v2_record = ProfileV2::from(v1()).to_record().unwrap();
    assert_eq!(Profile::from_record(&v2_record).unwrap(), upgraded);
    assert_eq!(
        Profile::from_record(&v1().to_record().unwrap()).unwrap(),
        upgraded
    );
}

#[test]
fn a_newer_value_is_refused_by_an_older_version_with_a_clear_error() {
    let v3 = Profile::from(ProfileV2::from(v1())).to_bytes().unwrap();
    let error = ProfileV1::from_bytes(&v3).unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::NewerVersion {
                schema: "Profile",
                found: 3,
                known: 1
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("upgrade the program"), "{error}");
    assert!(matches!(
        ProfileV2::from_bytes(&v3),
        Err(DatabaseError::NewerVersion {
            found: 3,
            known: 2,
            ..
        })
    ));
}

#[test]
fn the_gate_of_a_newer_version_accepts_older_records_and_an_older_one_refuses_newer() {
    let mut older = SchemaRegistry::new();
    older.register::<ProfileV1>();
    let mut newer = SchemaRegistry::new();
    newer.register::<Profile>();
    let old_record = v1().to_record().unwrap();
    let new_record = Profile::from(ProfileV2::from(v1())).to_record().unwrap();
    let schema = |registry: &SchemaRegistry, record: &kad::Record| {
        registry
            .schema_of(record.key.as_ref())
            .expect("registered")
            .check(record)
    };
    schema(&newer, &old_record).expect("a newer node accepts an older record");
    schema(&newer, &new_record).expect("and its own");
    let refused = schema(&older, &new_record).unwrap_err();
    assert!(
        matches!(refused, DatabaseError::NewerVersion { .. }),
        "{refused}"
    );
}

#[test]
fn a_tombstone_of_a_versioned_value_is_still_a_tombstone() {
    let v2 = ProfileV2::from(v1());
    let deleted = tombstone::tombstone_value(&v2.to_bytes().unwrap());
    match tombstone::decode_stored::<ProfileV2>(&deleted).unwrap() {
        tombstone::Stored::Deleted(value) => assert_eq!(value, v2),
        other => panic!("not read as a tombstone: {other:?}"),
    }
}

#[test]
fn a_value_of_a_version_without_a_from_is_an_unknown_version() {
    #[derive(Debug, Serialize, Deserialize, NetabaseSchema)]
    #[netabase(name = "Profile", version = 2)]
    struct Orphan {
        #[key]
        id: u64,
        name: String,
        bio: String,
    }
    let error = Orphan::from_bytes(&v1().to_bytes().unwrap()).unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::UnknownVersion {
                found: 1,
                known: 2,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("from = "), "{error}");
}
