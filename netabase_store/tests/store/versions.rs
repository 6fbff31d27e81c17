//! A store written by version 1 of a schema, opened by version 2: old values are read upgraded,
//! indexes are built from the upgraded values, and version 1 refuses what version 2 wrote.

use netabase_store::{DatabaseError, NetabaseSchema, RedbStore};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "versions", name = "Contact")]
struct ContactV1 {
    #[key]
    id: u64,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(namespace = "versions", name = "Contact", version = 2, from = ContactV1)]
struct Contact {
    #[key]
    id: u64,
    name: String,
    #[index]
    city: String,
}

impl From<ContactV1> for Contact {
    fn from(old: ContactV1) -> Self {
        Contact {
            id: old.id,
            name: old.name,
            city: "unknown".into(),
        }
    }
}

#[test]
fn a_store_written_by_version_one_is_read_by_version_two() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("contacts.redb");
    {
        let old = RedbStore::builder()
            .register::<ContactV1>()
            .create(&path)
            .unwrap();
        for id in 0..3 {
            old.put_value(&ContactV1 {
                id,
                name: format!("contact {id}"),
            })
            .unwrap();
        }
    }
    let store = RedbStore::builder()
        .register::<Contact>()
        .open(&path)
        .unwrap();
    assert_eq!(
        store.get_value::<Contact>(&ContactKey(1)).unwrap(),
        Some(Contact {
            id: 1,
            name: "contact 1".into(),
            city: "unknown".into(),
        })
    );
    assert_eq!(store.values::<Contact>().count(), 3);
    // The index was built from the upgraded values.
    let unknown = store
        .find(Contact::by_city(), &"unknown".to_string())
        .unwrap()
        .count();
    assert_eq!(unknown, 3);
    // A version-2 write, then version 1 reading it: refused, not misread.
    store
        .put_value(&Contact {
            id: 9,
            name: "new".into(),
            city: "Oslo".into(),
        })
        .unwrap();
    drop(store);
    let old = RedbStore::builder()
        .register::<ContactV1>()
        .open(&path)
        .unwrap();
    let error = old.get_value::<ContactV1>(&ContactV1Key(9)).unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::NewerVersion {
                found: 2,
                known: 1,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(
        old.get_value::<ContactV1>(&ContactV1Key(1))
            .unwrap()
            .map(|c| c.name),
        Some("contact 1".into()),
        "its own values still read"
    );
}
