//! What `#[derive(NetabaseSchema)]` and `#[derive(NetabaseSchemaKey)]` generate: names, namespaces,
//! keys of every shape, custom keys, conflict rules, conversions and the exact record bytes.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashSet};

use netabase::prelude::*;
use netabase::{ConflictRule, DEFAULT_NAMESPACE, compare_values, resolve_records};
use serde::{Deserialize, Serialize};

/// The worked example of `docs/record-format.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
pub struct User {
    #[key]
    id: u64,
    name: String,
    age: u8,
    tags: Vec<String>,
}

fn alice() -> User {
    User {
        id: 300,
        name: "alice".into(),
        age: 30,
        tags: vec!["admin".into()],
    }
}

#[test]
fn worked_example_has_the_documented_bytes() {
    let record = alice().to_record().unwrap();
    let mut key = b"/netabase/User/".to_vec();
    key.extend_from_slice(&[0xac, 0x02]);
    assert_eq!(record.key.as_ref(), key.as_slice());
    assert_eq!(
        record.value,
        [
            0xac, 0x02, // id: 300 as a varint
            0x05, b'a', b'l', b'i', b'c', b'e', // name: length 5, then UTF-8
            0x1e, // age: 30, one byte
            0x01, // tags: one element
            0x05, b'a', b'd', b'm', b'i', b'n', // "admin"
        ]
    );
    assert_eq!(record.publisher, None);
    assert_eq!(record.expires, None);
    // The value is exactly postcard's encoding of the struct: nothing is added.
    assert_eq!(record.value, postcard::to_allocvec(&alice()).unwrap());
    assert_eq!(User::from_record(&record).unwrap(), alice());
}

#[test]
fn worked_example_tombstone_has_the_documented_bytes() {
    use netabase::tombstone::{Stored, TOMBSTONE_MARKER, decode_record, tombstone_of};
    let record = alice().to_record().unwrap();
    let tombstone = tombstone_of(&record, None);
    assert_eq!(tombstone.key, record.key);
    assert_eq!(
        TOMBSTONE_MARKER,
        [
            0x00, b'n', b'e', b't', b'a', b'b', b'a', b's', b'e', b':', b'd', b'e', b'l', b'e',
            b't', b'e', b'd',
        ]
    );
    assert_eq!(tombstone.value.len(), 16 + 17);
    assert_eq!(&tombstone.value[..16], record.value.as_slice());
    assert_eq!(&tombstone.value[16..], TOMBSTONE_MARKER);
    // Not a value of the schema (trailing bytes), but the tombstone of one.
    assert!(User::from_record(&tombstone).is_err());
    assert_eq!(
        decode_record::<User>(&tombstone).unwrap(),
        Stored::Deleted(alice())
    );
    assert_eq!(
        decode_record::<User>(&record).unwrap(),
        Stored::Value(alice())
    );
}

#[test]
fn every_conversion_agrees_with_the_trait_methods() {
    let user = alice();
    let expected = user.to_record().unwrap();

    let by_ref = kad::Record::try_from(&user).unwrap();
    let by_value = kad::Record::try_from(user.clone()).unwrap();
    assert_eq!(by_ref.key, expected.key);
    assert_eq!(by_value.value, expected.value);
    assert_eq!(User::try_from(&by_ref).unwrap(), user);
    assert_eq!(User::try_from(by_value).unwrap(), user);

    let key = user.key();
    assert_eq!(key, UserKey(300));
    let record_key = kad::RecordKey::try_from(&key).unwrap();
    assert_eq!(record_key, expected.key);
    assert_eq!(kad::RecordKey::try_from(key.clone()).unwrap(), record_key);
    assert_eq!(User::record_key(&key).unwrap(), record_key);
    assert_eq!(UserKey::try_from(&record_key).unwrap(), key);
    assert_eq!(UserKey::try_from(record_key).unwrap(), key);
}

#[test]
fn default_name_and_namespace() {
    assert_eq!(User::NAME, "User");
    assert_eq!(User::NAMESPACE, DEFAULT_NAMESPACE);
    assert_eq!(DEFAULT_NAMESPACE, "netabase");
    assert_eq!(User::record_prefix(), b"/netabase/User/");
    assert_eq!(User::CONFLICT_RULE, ConflictRule::ByteOrder);
}

/// Renamed in code, but its records keep the old name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(name = "Person", namespace = "crm")]
struct Contact {
    #[key]
    id: u32,
}

#[test]
fn name_and_namespace_options_set_the_prefix() {
    assert_eq!(Contact::NAME, "Person");
    assert_eq!(Contact::NAMESPACE, "crm");
    let record = Contact { id: 1 }.to_record().unwrap();
    assert_eq!(record.key.as_ref(), b"/crm/Person/\x01");
}

#[allow(non_camel_case_types)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
struct r#loop {
    #[key]
    id: u8,
}

#[test]
fn raw_identifiers_are_named_without_their_prefix() {
    assert_eq!(r#loop::NAME, "loop");
    assert_eq!(r#loop { id: 2 }.key(), loopKey(2));
}

#[test]
fn a_record_of_one_schema_is_not_read_as_another() {
    let record = Contact { id: 1 }.to_record().unwrap();
    let error = User::from_record(&record).unwrap_err();
    assert!(
        matches!(error, DatabaseError::WrongSchema { schema: "User", .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("/netabase/User/"), "{message}");
    assert!(message.contains("/crm/Person/"), "{message}");
}

#[test]
fn a_record_whose_key_and_value_disagree_is_refused() {
    let mut record = alice().to_record().unwrap();
    record.key = User::record_key(&UserKey(301)).unwrap();
    let error = User::from_record(&record).unwrap_err();
    assert!(
        matches!(error, DatabaseError::KeyMismatch { .. }),
        "{error:?}"
    );
}

#[test]
fn trailing_bytes_after_a_value_are_refused() {
    let mut record = alice().to_record().unwrap();
    record.value.push(0);
    let error = User::from_record(&record).unwrap_err();
    assert!(
        matches!(error, DatabaseError::TrailingBytes { trailing: 1, .. }),
        "{error:?}"
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
struct Edge {
    #[key]
    from: u32,
    label: String,
    #[key]
    to: u32,
}

#[test]
fn several_key_fields_make_a_composite_key() {
    let edge = Edge {
        from: 1,
        label: "knows".into(),
        to: 2,
    };
    let key = edge.key();
    assert_eq!(key, EdgeKey { from: 1, to: 2 });
    // A composite key encodes its fields in declaration order, like a tuple.
    let record = edge.to_record().unwrap();
    assert_eq!(record.key.as_ref(), b"/netabase/Edge/\x01\x02");
    assert_eq!(EdgeKey::try_from(&record.key).unwrap(), key);
    assert_eq!(Edge::from_record(&record).unwrap(), edge);
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
struct Reading(#[key] u64, f32);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
struct Cell(u8, #[key] String, #[key] i16);

#[test]
fn tuple_structs_key_their_marked_positions() {
    let reading = Reading(5, 0.5);
    assert_eq!(reading.key(), ReadingKey(5));
    let record = reading.to_record().unwrap();
    assert_eq!(Reading::from_record(&record).unwrap(), reading);

    let cell = Cell(9, "b".into(), -1);
    assert_eq!(cell.key(), CellKey("b".into(), -1));
    // -1 is zigzag encoded as 1.
    assert_eq!(
        cell.to_record().unwrap().key.as_ref(),
        b"/netabase/Cell/\x01b\x01"
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
enum Shape {
    Circle {
        #[key]
        id: u32,
        radius: f64,
    },
    Square(f64, #[key] u32),
    Polygon {
        points: Vec<(i32, i32)>,
        #[key]
        id: u32,
    },
}

#[test]
fn enums_take_the_key_of_each_variant() {
    let shapes = [
        Shape::Circle { id: 1, radius: 2.0 },
        Shape::Square(3.0, 2),
        Shape::Polygon {
            points: vec![(0, 0), (1, 1)],
            id: 3,
        },
    ];
    for (shape, id) in shapes.iter().zip(1..) {
        assert_eq!(shape.key(), ShapeKey(id));
        let record = shape.to_record().unwrap();
        assert_eq!(
            record.key.as_ref(),
            [b"/netabase/Shape/".as_ref(), &[id as u8]].concat()
        );
        assert_eq!(&Shape::from_record(&record).unwrap(), shape);
    }
    // The value starts with the variant's index.
    assert_eq!(shapes[1].to_record().unwrap().value[0], 1);
}

/// A key type of the user's own, generic over what it identifies.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, NetabaseSchemaKey,
)]
struct Id<T> {
    raw: u64,
    #[serde(skip)]
    kind: std::marker::PhantomData<T>,
}

/// Tells `Id`s of invoices apart from other ids at compile time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct InvoiceKind;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(key = Id<InvoiceKind>, key_fn = Invoice::id)]
struct Invoice {
    number: u64,
    total_cents: i64,
}

impl Invoice {
    fn id(&self) -> Id<InvoiceKind> {
        Id {
            raw: self.number,
            kind: std::marker::PhantomData,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(key = "String", key_fn = "Email::normalised")]
struct Email {
    address: String,
}

impl Email {
    fn normalised(&self) -> String {
        self.address.to_lowercase()
    }
}

/// With `key_fn`, unit variants are fine: the function computes the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(key = u8, key_fn = Light::slot)]
enum Light {
    Off,
    On(u8),
}

impl Light {
    fn slot(&self) -> u8 {
        match self {
            Light::Off => 0,
            Light::On(level) => *level,
        }
    }
}

#[test]
fn key_fn_computes_the_key_with_a_key_type_of_ones_own() {
    let invoice = Invoice {
        number: 42,
        total_cents: -5,
    };
    assert_eq!(invoice.key().raw, 42);
    let record = invoice.to_record().unwrap();
    assert_eq!(record.key.as_ref(), b"/netabase/Invoice/\x2a");
    assert_eq!(Invoice::from_record(&record).unwrap(), invoice);
    assert_eq!(Invoice::key_from_record_key(&record.key).unwrap().raw, 42);

    let email = Email {
        address: "A@B".into(),
    };
    assert_eq!(email.key(), "a@b");
    assert_eq!(
        Email::record_key(&email.key()).unwrap().as_ref(),
        b"/netabase/Email/\x03a@b"
    );

    assert_eq!(Light::Off.key(), 0);
    assert_eq!(
        Light::On(7).to_record().unwrap().key.as_ref(),
        b"/netabase/Light/\x07"
    );
}

#[test]
fn generated_keys_are_ordered_hashable_values() {
    let keys: BTreeSet<EdgeKey> = [(2, 1), (1, 2), (1, 1)]
        .into_iter()
        .map(|(from, to)| EdgeKey { from, to })
        .collect();
    let sorted: Vec<(u32, u32)> = keys.iter().map(|key| (key.from, key.to)).collect();
    assert_eq!(sorted, [(1, 1), (1, 2), (2, 1)]);
    let hashed: HashSet<UserKey> = [UserKey(1), UserKey(1), UserKey(2)].into_iter().collect();
    assert_eq!(hashed.len(), 2);
    assert_eq!(format!("{:?}", UserKey(1)), "UserKey(1)");
}

mod visibility {
    use netabase::NetabaseSchema;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, NetabaseSchema)]
    pub struct Public {
        #[key]
        pub id: u32,
    }
}

#[test]
fn the_key_type_is_as_visible_as_the_schema() {
    let key = visibility::PublicKey(3);
    assert_eq!(key.0, 3);
    assert_eq!(visibility::Public { id: 3 }.key(), key);
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(crate = "::netabase")]
struct ExplicitCrate {
    #[key]
    id: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(crate = netabase)]
struct ExplicitCratePath {
    #[key]
    id: u8,
}

#[test]
fn the_runtime_crate_can_be_named_explicitly() {
    assert_eq!(ExplicitCrate { id: 1 }.key(), ExplicitCrateKey(1));
    assert_eq!(ExplicitCratePath { id: 1 }.key(), ExplicitCratePathKey(1));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
struct Doc {
    #[key]
    id: u64,
    text: String,
    #[version]
    revision: u32,
}

fn doc(revision: u32, text: &str) -> kad::Record {
    Doc {
        id: 1,
        text: text.into(),
        revision,
    }
    .to_record()
    .unwrap()
}

#[test]
fn a_version_field_makes_the_higher_version_win() {
    assert_eq!(Doc::CONFLICT_RULE, ConflictRule::Version);
    // "zzz" > "aaa" in bytes, but the newer revision wins either way round.
    let old = doc(1, "zzz");
    let new = doc(2, "aaa");
    assert_eq!(
        resolve_records::<Doc>(old.clone(), new.clone())
            .unwrap()
            .value,
        new.value
    );
    assert_eq!(
        resolve_records::<Doc>(new.clone(), old.clone())
            .unwrap()
            .value,
        new.value
    );
    // Equal versions fall back to byte order.
    let tie = doc(2, "zzz");
    assert_eq!(
        resolve_records::<Doc>(new.clone(), tie.clone())
            .unwrap()
            .value,
        tie.value
    );
    assert_eq!(
        compare_values::<Doc>(&new.value, &tie.value).unwrap(),
        Ordering::Less
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
enum Event {
    Created {
        #[key]
        id: u64,
        #[version]
        at: u64,
    },
    Deleted(#[version] u64, #[key] u64),
}

#[test]
fn enum_versions_are_compared_across_variants() {
    assert_eq!(Event::CONFLICT_RULE, ConflictRule::Version);
    let created = Event::Created { id: 1, at: 10 }.to_record().unwrap();
    let deleted = Event::Deleted(11, 1).to_record().unwrap();
    assert_eq!(created.key, deleted.key);
    for (a, b) in [(&created, &deleted), (&deleted, &created)] {
        let winner = resolve_records::<Event>(a.clone(), b.clone()).unwrap();
        assert_eq!(winner.value, deleted.value);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(resolver = longest_text)]
struct Note {
    #[key]
    id: u8,
    text: String,
}

fn longest_text(a: &Note, b: &Note) -> Ordering {
    a.text.len().cmp(&b.text.len())
}

#[test]
fn a_resolver_decides_with_byte_order_on_ties() {
    assert_eq!(Note::CONFLICT_RULE, ConflictRule::Custom);
    let note = |text: &str| {
        Note {
            id: 1,
            text: text.into(),
        }
        .to_record()
        .unwrap()
    };
    let short = note("zz");
    let long = note("aaa");
    assert_eq!(
        resolve_records::<Note>(short.clone(), long.clone())
            .unwrap()
            .value,
        long.value
    );
    assert_eq!(
        resolve_records::<Note>(long.clone(), short.clone())
            .unwrap()
            .value,
        long.value
    );
    let other = note("bbb");
    assert_eq!(
        resolve_records::<Note>(long.clone(), other.clone())
            .unwrap()
            .value,
        other.value
    );
}

#[test]
fn an_encoding_failure_is_an_error_not_a_panic() {
    /// A value whose `Serialize` refuses to run, as a hand-written impl may.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    struct Refuses;

    impl Serialize for Refuses {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refused"))
        }
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
    struct Holder {
        #[key]
        id: u8,
        inner: Refuses,
    }

    let error = kad::Record::try_from(Holder {
        id: 1,
        inner: Refuses,
    })
    .unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::Encode {
                schema: "Holder",
                what: "value",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn keys_longer_than_a_cache_line_round_trip() {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
    struct Page {
        #[key]
        url: String,
    }

    let page = Page {
        url: "https://example.org/".repeat(10),
    };
    let record = page.to_record().unwrap();
    assert_eq!(record.key.as_ref().len(), "/netabase/Page/".len() + 2 + 200);
    assert_eq!(Page::from_record(&record).unwrap(), page);
    assert_eq!(PageKey::try_from(&record.key).unwrap(), page.key());
}

#[test]
fn a_key_that_fails_to_encode_is_an_error() {
    /// A key whose `Serialize` refuses to run.
    #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
    struct Refuses;

    impl Serialize for Refuses {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refused"))
        }
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
    struct Holder {
        #[key]
        #[serde(skip)]
        id: Option<Refuses>,
    }

    let error = Holder { id: Some(Refuses) }.to_record().unwrap_err();
    assert!(
        matches!(
            error,
            DatabaseError::Encode {
                schema: "Holder",
                what: "key",
                ..
            }
        ),
        "{error:?}"
    );
}

/// A type that already uses the generated key's default name, `OrderKey`.
pub struct OrderKey;

/// `key_name` renames the generated key type, here to avoid `OrderKey` above.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
#[netabase(key_name = OrderNumber)]
pub struct Order {
    #[key]
    number: u32,
    item: String,
}

#[test]
fn key_name_renames_the_generated_key_type() {
    let order = Order {
        number: 7,
        item: "tea".into(),
    };
    let key: OrderNumber = order.key();
    assert_eq!(key, OrderNumber(7));
    // The name of the type changes nothing in the record key.
    let record_key = kad::RecordKey::try_from(key).unwrap();
    assert_eq!(record_key.as_ref(), b"/netabase/Order/\x07");
    let _unrelated = OrderKey;
}

mod app_a {
    use super::*;

    /// An application's `Account`, in the default namespace.
    #[derive(Debug, Serialize, Deserialize, NetabaseSchema)]
    pub struct Account {
        #[key]
        pub id: u64,
    }
}

mod app_b {
    use super::*;

    /// Another application's `Account`: the same prefix `/netabase/Account/`.
    #[derive(Debug, Serialize, Deserialize, NetabaseSchema)]
    pub struct Account {
        #[key]
        pub id: String,
    }

    /// The same name in its own namespace: no clash.
    #[derive(Debug, Serialize, Deserialize, NetabaseSchema)]
    #[netabase(namespace = "app_b")]
    pub struct OwnAccount {
        #[key]
        pub id: String,
    }
}

#[test]
fn a_second_type_under_a_taken_prefix_is_an_error_naming_both() {
    let mut registry = netabase::SchemaRegistry::new();
    registry.register::<app_a::Account>();
    registry.register::<app_a::Account>();
    assert_eq!(registry.check(), Ok(()), "the same type twice is harmless");

    let clash = registry
        .try_register::<app_b::Account>()
        .expect_err("another type under /netabase/Account/");
    assert_eq!(clash.prefix, "/netabase/Account/");
    assert!(clash.first.ends_with("app_a::Account"), "{}", clash.first);
    assert!(clash.second.ends_with("app_b::Account"), "{}", clash.second);
    let message = clash.to_string();
    assert!(message.contains("app_a::Account") && message.contains("app_b::Account"));
    assert!(message.contains("namespace"), "{message}");
    assert_eq!(
        registry.check(),
        Ok(()),
        "try_register left the registry as it was"
    );

    // `register` keeps the first type and records the clash for the store or node to refuse.
    registry.register::<app_b::Account>();
    assert_eq!(registry.check(), Err(clash));
    let record = app_a::Account { id: 1 }.to_record().unwrap();
    let kept = registry.schema_of(record.key.as_ref()).unwrap();
    assert!(kept.type_name().ends_with("app_a::Account"));

    let mut separate = netabase::SchemaRegistry::new();
    separate
        .try_register::<app_a::Account>()
        .and_then(|registry| registry.try_register::<app_b::OwnAccount>())
        .expect("different namespaces do not clash");
    assert_eq!(separate.schemas().count(), 2);
}
