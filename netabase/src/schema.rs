//! The traits a schema and its key implement; `#[derive(NetabaseSchema)]` writes both.

use std::cmp::Ordering;
use std::fmt::Debug;
use std::hash::Hash;

use libp2p::kad::{Record, RecordKey};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{decode_canonical, encode_into, encodes_as};
use crate::error::{DatabaseError, DatabaseResult, escape_bytes};
use crate::index::{IndexDef, IndexKeys};

/// The namespace of record keys when a schema does not set `#[netabase(namespace = "...")]`.
pub const DEFAULT_NAMESPACE: &str = "netabase";

/// The key of a schema: what identifies one value, encoded with postcard into the record key.
///
/// `#[derive(NetabaseSchema)]` generates a key type for each schema; `#[derive(NetabaseSchemaKey)]`
/// implements this trait for a key type of your own (use it with `#[netabase(key = MyKey, key_fn =
/// path)]`). A key type holds no schema information: the schema supplies the record key prefix, so
/// one key type may serve several schemas.
pub trait NetabaseSchemaKey:
    Serialize + DeserializeOwned + Clone + Debug + Eq + Hash + Ord + Send + Sync + 'static
{
}

/// How a schema resolves two different values stored under the same key.
///
/// Every rule picks the greater value under a total order, falling back to comparing the encoded
/// bytes, so resolution is commutative (the order records arrive in does not matter) and idempotent
/// (resolving a value with itself changes nothing): replicas that saw the same records converge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictRule {
    /// The value whose postcard encoding is lexicographically greater wins. The default.
    ByteOrder,
    /// The value with the higher `#[version]` field wins; equal versions fall back to byte order.
    Version,
    /// The schema's `#[netabase(resolver = path)]` orders the values; ties fall back to byte order.
    Custom,
}

/// A type stored in Netabase: serialisable, with a key, and with a name that places its records in
/// the key space.
///
/// Derive it: `#[derive(Serialize, Deserialize, NetabaseSchema)]` on a struct with a `#[key]` field.
/// The provided methods implement the record format of `docs/record-format.md`; do not override them.
///
/// ```
/// use netabase::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, NetabaseSchema)]
/// struct User {
///     #[key]
///     id: u64,
///     name: String,
/// }
///
/// let alice = User { id: 7, name: "alice".into() };
/// let record = alice.to_record()?;
/// assert_eq!(record.key.as_ref(), b"/netabase/User/\x07");
/// assert_eq!(User::from_record(&record)?, alice);
/// # Ok::<(), netabase::DatabaseError>(())
/// ```
pub trait NetabaseSchema: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The key that identifies a value of this schema.
    type Key: NetabaseSchemaKey;

    /// The first segment of this schema's record keys (`netabase` unless the schema sets
    /// `#[netabase(namespace = "...")]`). Never contains `/`.
    const NAMESPACE: &'static str;

    /// The schema's name, the second segment of its record keys (the type's name unless the schema
    /// sets `#[netabase(name = "...")]`). Never contains `/`.
    const NAME: &'static str;

    /// How this schema resolves conflicts; see [`NetabaseSchema::conflict_order`].
    const CONFLICT_RULE: ConflictRule = ConflictRule::ByteOrder;

    /// Whether the schema's records are owned (`#[netabase(owned)]`, [`crate::owned`]): the first
    /// key field is an [`Owner`](crate::owned::Owner), values are signed envelopes around the
    /// postcard value, and the highest (generation, sequence) wins whatever `CONFLICT_RULE` says.
    const OWNED: bool = false;

    /// The schema's version (`#[netabase(version = N)]`, 1 by default). A value of version 2 or
    /// later carries it after its postcard bytes ([`crate::version`]), and a reader of an older
    /// version refuses it; version 1 is the plain postcard encoding.
    const VERSION: u32 = 1;

    /// The schema's secondary indexes (`#[index]` and `#[index(unique)]` on its fields), in the
    /// order [`index_keys`](Self::index_keys) numbers them. Default: none.
    const INDEXES: &'static [IndexDef] = &[];

    /// The key of this value.
    fn key(&self) -> Self::Key;

    /// This value's index values: for each entry of [`INDEXES`](Self::INDEXES), its position and
    /// the order-preserving bytes of the field ([`order_key`](crate::index::order_key)). The
    /// derive writes it; the default has none.
    fn index_keys(&self) -> DatabaseResult<IndexKeys> {
        Ok(Vec::new())
    }

    /// Orders two values for conflict resolution: the greater wins, and [`Ordering::Equal`] falls
    /// back to byte order. The default says `Equal` for every pair ([`ConflictRule::ByteOrder`]).
    fn conflict_order(_a: &Self, _b: &Self) -> Ordering {
        Ordering::Equal
    }

    /// The record key prefix of this schema: `/<namespace>/<name>/`.
    fn record_prefix() -> Vec<u8> {
        let mut prefix = Vec::with_capacity(prefix_len::<Self>());
        push_prefix::<Self>(&mut prefix);
        prefix
    }

    /// The postcard encoding of this value: exactly what a record of it carries as its value
    /// (followed by its version from version 2 on, [`crate::version`]).
    fn to_bytes(&self) -> DatabaseResult<Vec<u8>> {
        self.encode_onto(Vec::new())
    }

    /// [`to_bytes`](Self::to_bytes) appended to `out` (a store writes its entry header first).
    fn encode_onto(&self, out: Vec<u8>) -> DatabaseResult<Vec<u8>> {
        let out = encode_into(self, out, Self::NAME, "value")?;
        Ok(crate::version::append_suffix(out, Self::VERSION))
    }

    /// Decodes a value from exactly `bytes`, which must be its canonical encoding (what
    /// [`to_bytes`](Self::to_bytes) gives): trailing bytes and other encodings of the same value
    /// are errors. A value of an older version is decoded as that version and upgraded
    /// ([`from_older`](Self::from_older)); one of a newer version is refused with
    /// [`DatabaseError::NewerVersion`].
    fn from_bytes(bytes: &[u8]) -> DatabaseResult<Self> {
        let (value, version) = crate::version::split(bytes);
        match version.cmp(&Self::VERSION) {
            Ordering::Equal => decode_canonical(value, Self::NAME, "value"),
            Ordering::Less => Self::from_older(version, bytes),
            Ordering::Greater => Err(DatabaseError::NewerVersion {
                schema: Self::NAME,
                found: version,
                known: Self::VERSION,
            }),
        }
    }

    /// Reads `bytes`, a value of the older `version`, as this version: the derive of
    /// `#[netabase(version = N, from = Previous)]` decodes it as `Previous` (which reads its own
    /// older versions in turn) and converts with `From<Previous>`. The default knows no older
    /// version and fails with [`DatabaseError::UnknownVersion`].
    fn from_older(version: u32, bytes: &[u8]) -> DatabaseResult<Self> {
        let _ = bytes;
        Err(DatabaseError::UnknownVersion {
            schema: Self::NAME,
            found: version,
            known: Self::VERSION,
        })
    }

    /// The record key of `key`: the schema prefix followed by the key's postcard encoding.
    fn record_key(key: &Self::Key) -> DatabaseResult<RecordKey> {
        record_key_bytes::<Self>(key).map(RecordKey::from)
    }

    /// Decodes the schema key from a record key, checking that it belongs to this schema and that
    /// its key bytes are the key's canonical encoding (one key, one record key).
    fn key_from_record_key(key: &RecordKey) -> DatabaseResult<Self::Key> {
        let key_bytes = strip_prefix::<Self>(key.as_ref())?;
        decode_canonical(key_bytes, Self::NAME, "key")
    }

    /// This value as a Kademlia record: key from [`Self::record_key`], value from
    /// [`Self::to_bytes`], no publisher and no expiry. An owned schema's records must be signed:
    /// for one this fails with [`DatabaseError::OwnedNeedsSignature`]; use
    /// [`Author::sign`](crate::owned::Author::sign).
    fn to_record(&self) -> DatabaseResult<Record> {
        if Self::OWNED {
            return Err(DatabaseError::OwnedNeedsSignature { schema: Self::NAME });
        }
        Ok(Record::new(
            record_key_bytes::<Self>(&self.key())?,
            self.to_bytes()?,
        ))
    }

    /// Decodes a value from a record, checking that the record key belongs to this schema and is
    /// the key of the decoded value; for an owned schema, also that the owner (or an authorised
    /// writer) signed it and that it is not a signed delete.
    fn from_record(record: &Record) -> DatabaseResult<Self> {
        if Self::OWNED {
            return crate::tombstone::decode_record::<Self>(record)?
                .live()
                .ok_or_else(|| {
                    crate::owned::refused::<Self>(
                        record.key.as_ref(),
                        crate::owned::OwnershipProblem::Deleted,
                    )
                });
        }
        value_under::<Self>(record.key.as_ref(), &record.value)
    }
}

/// Decodes `value` as a value of `V` stored under the record key `key`, checking that the key
/// belongs to `V` and is the decoded value's record key.
pub(crate) fn value_under<V: NetabaseSchema>(key: &[u8], value: &[u8]) -> DatabaseResult<V> {
    let key_bytes = strip_prefix::<V>(key)?;
    let value = V::from_bytes(value)?;
    check_key(key, key_bytes, &value)?;
    Ok(value)
}

/// Fails unless `key_bytes` (the part of `record_key` after the schema prefix) is the canonical
/// encoding of `value`'s key: with [`DatabaseError::NonCanonical`] when the bytes are another
/// encoding of some key (a padded varint), else with [`DatabaseError::KeyMismatch`].
fn check_key<V: NetabaseSchema>(
    record_key: &[u8],
    key_bytes: &[u8],
    value: &V,
) -> DatabaseResult<()> {
    let key = value.key();
    if encodes_as(&key, key_bytes, V::NAME, "key")? {
        return Ok(());
    }
    if let Err(error @ DatabaseError::NonCanonical { .. }) =
        decode_canonical::<V::Key>(key_bytes, V::NAME, "key")
    {
        return Err(error);
    }
    let value_key = record_key_bytes::<V>(&key)?;
    Err(DatabaseError::KeyMismatch {
        schema: V::NAME,
        record_key: escape_bytes(record_key),
        value_key: escape_bytes(&value_key),
    })
}

/// The length of `V`'s record key prefix `/<namespace>/<name>/`.
pub(crate) fn prefix_len<V: NetabaseSchema>() -> usize {
    V::NAMESPACE.len() + V::NAME.len() + 3
}

fn push_prefix<V: NetabaseSchema>(out: &mut Vec<u8>) {
    out.push(b'/');
    out.extend_from_slice(V::NAMESPACE.as_bytes());
    out.push(b'/');
    out.extend_from_slice(V::NAME.as_bytes());
    out.push(b'/');
}

/// The record key bytes of `key`, in a vector whose capacity is its length: `RecordKey` stores
/// them as `Bytes`, which takes such a vector over without allocating again (any other vector costs
/// a second allocation on every `to_record`).
fn record_key_bytes<V: NetabaseSchema>(key: &V::Key) -> DatabaseResult<Vec<u8>> {
    let prefix_len = prefix_len::<V>();
    let mut scratch = [0u8; 64];
    match postcard::to_slice(key, &mut scratch) {
        Ok(encoded) => {
            let mut out = Vec::with_capacity(prefix_len + encoded.len());
            push_prefix::<V>(&mut out);
            out.extend_from_slice(encoded);
            Ok(out)
        }
        // Keys longer than the scratch buffer are rare; encode them directly.
        Err(postcard::Error::SerializeBufferFull) => {
            let mut out = Vec::with_capacity(prefix_len + scratch.len() * 2);
            push_prefix::<V>(&mut out);
            let mut out = encode_into(key, out, V::NAME, "key")?;
            out.shrink_to_fit();
            Ok(out)
        }
        Err(source) => Err(DatabaseError::Encode {
            schema: V::NAME,
            what: "key",
            source,
        }),
    }
}

/// Returns the key bytes after the schema prefix, or [`DatabaseError::WrongSchema`].
fn strip_prefix<V: NetabaseSchema>(key: &[u8]) -> DatabaseResult<&[u8]> {
    let wrong = || DatabaseError::WrongSchema {
        schema: V::NAME,
        prefix: format!("/{}/{}/", V::NAMESPACE, V::NAME),
        key: escape_bytes(key),
    };
    let rest = key.strip_prefix(b"/").ok_or_else(wrong)?;
    let rest = rest
        .strip_prefix(V::NAMESPACE.as_bytes())
        .ok_or_else(wrong)?;
    let rest = rest.strip_prefix(b"/").ok_or_else(wrong)?;
    let rest = rest.strip_prefix(V::NAME.as_bytes()).ok_or_else(wrong)?;
    rest.strip_prefix(b"/").ok_or_else(wrong)
}
