//! Schemas known at run time: validation and conflict resolution of records by their key prefix.
//!
//! A store or node receives records as bytes; the registry finds each record's schema from its key
//! prefix `/<namespace>/<name>/` and applies that schema's checks and conflict rule.

use std::any::TypeId;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::Instant;

use libp2p::kad::Record;

use crate::conflict::{Winner, compare_raw_values, compare_values, winner_from};
use crate::error::{DatabaseError, DatabaseResult};
use crate::index::{IndexDef, IndexKeys};
use crate::schema::{ConflictRule, NetabaseSchema};
use crate::tombstone::{Stored, decode_record, decode_stored, payload_len};

/// The type-erased operations of one registered schema.
#[derive(Clone, Copy)]
pub struct SchemaInfo {
    namespace: &'static str,
    name: &'static str,
    type_name: &'static str,
    type_id: TypeId,
    rule: ConflictRule,
    check: fn(&Record) -> DatabaseResult<()>,
    compare: fn(&[u8], &[u8]) -> DatabaseResult<Ordering>,
    is_tombstone: fn(&[u8]) -> bool,
    owned: bool,
    indexes: &'static [IndexDef],
    index_keys: fn(&[u8], &[u8]) -> DatabaseResult<IndexKeys>,
}

impl SchemaInfo {
    /// The schema's information, taken from its [`NetabaseSchema`] impl.
    pub fn of<V: NetabaseSchema>() -> Self {
        SchemaInfo {
            namespace: V::NAMESPACE,
            name: V::NAME,
            type_name: std::any::type_name::<V>(),
            type_id: TypeId::of::<V>(),
            rule: V::CONFLICT_RULE,
            check: |record| decode_record::<V>(record).map(drop),
            compare: compare_values::<V>,
            is_tombstone: |value| {
                if V::OWNED {
                    crate::owned::header(value).is_some_and(|header| header.deleted)
                } else {
                    matches!(decode_stored::<V>(value), Ok(Stored::Deleted(_)))
                }
            },
            owned: V::OWNED,
            indexes: V::INDEXES,
            index_keys: |key, value| {
                // Stored bytes passed the gate when they arrived: their signatures are not
                // verified again to find their index values.
                match crate::tombstone::decode_stored_trusted::<V>(key, value)? {
                    Stored::Value(value) => value.index_keys(),
                    Stored::Deleted(_) => Ok(Vec::new()),
                }
            },
        }
    }

    /// The schema's namespace.
    pub fn namespace(&self) -> &'static str {
        self.namespace
    }

    /// The schema's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The Rust type the schema was registered from, as `std::any::type_name` gives it.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The record key prefix of the schema's records, `/<namespace>/<name>/`.
    pub fn prefix(&self) -> String {
        format!("/{}/{}/", self.namespace, self.name)
    }

    /// Whether `other` describes the same Rust type as this schema.
    pub(crate) fn same_type(&self, other: &SchemaInfo) -> bool {
        self.type_id == other.type_id
    }

    /// Whether the schema's records are owned ([`crate::owned`]).
    pub fn is_owned(&self) -> bool {
        self.owned
    }

    /// The schema's conflict rule.
    pub fn conflict_rule(&self) -> ConflictRule {
        self.rule
    }

    /// Checks that `record` is a well-formed record of this schema: its key belongs to the schema and
    /// decodes, its value decodes exactly (or is the tombstone of such a value), and the value's
    /// key is the record key.
    pub fn check(&self, record: &Record) -> DatabaseResult<()> {
        (self.check)(record)
    }

    /// Whether `value` is the tombstone of a value of this schema ([`crate::tombstone`]).
    pub fn is_tombstone(&self, value: &[u8]) -> bool {
        (self.is_tombstone)(value)
    }

    /// The schema's secondary indexes ([`NetabaseSchema::INDEXES`]).
    pub fn indexes(&self) -> &'static [IndexDef] {
        self.indexes
    }

    /// The index values of the value stored under `key` as `value` (a stored entry's value
    /// bytes, which the store checked when they arrived): none for a tombstone.
    pub fn index_keys(&self, key: &[u8], value: &[u8]) -> DatabaseResult<IndexKeys> {
        (self.index_keys)(key, value)
    }

    /// Orders two encoded values of this schema by its conflict rule, then by byte order.
    pub fn compare(&self, a: &[u8], b: &[u8]) -> DatabaseResult<Ordering> {
        (self.compare)(a, b)
    }
}

impl std::fmt::Debug for SchemaInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaInfo")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("type_name", &self.type_name)
            .field("rule", &self.rule)
            .finish_non_exhaustive()
    }
}

/// Why an incoming record was not stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The key has no `/<namespace>/<name>/` prefix of a registered schema and the registry does not
    /// accept unknown schemas.
    #[error("record key has no prefix of a registered schema")]
    UnknownSchema,
    /// The record is not a valid record of its schema.
    #[error("invalid record: {0}")]
    Invalid(#[source] DatabaseError),
    /// The value is larger than the limit.
    #[error("value of {size} bytes is over the limit of {max} bytes")]
    TooLarge {
        /// The value's size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The record's expiry has already passed.
    #[error("record has already expired")]
    Expired,
    /// The store holds a value that wins conflict resolution against this one.
    #[error("record lost conflict resolution against the stored value")]
    LostConflict,
    /// The record passed validation but the store refused it: it holds its maximum number of
    /// records (or provided keys), or the value is over the store's own size limit.
    #[error("the store refused the record: {0}")]
    Refused(#[source] libp2p::kad::store::Error),
    /// The message carrying the record was malformed (for example a publisher that is no peer
    /// id).
    #[error("malformed record: {0}")]
    Malformed(&'static str),
}

/// Two different types were registered under one record key prefix `/<namespace>/<name>/`.
///
/// A prefix names one schema: records under it are validated and resolved by one type's rules,
/// so the registry keeps the first type and a store or node refuses to open with the clash. Every
/// application that keeps the default namespace `netabase` shares it, so two applications'
/// `User` types collide on shared storage nodes; give each application its own namespace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "schemas `{first}` and `{second}` both use the record key prefix `{prefix}`; a prefix names \
     one schema, so give one of them its own namespace with `#[netabase(namespace = \"your_app\")]` \
     (or another `#[netabase(name = \"...\")]`)"
)]
pub struct PrefixClash {
    /// The prefix both types map to.
    pub prefix: String,
    /// The type registered first, which the registry keeps.
    pub first: &'static str,
    /// The type registered second.
    pub second: &'static str,
}

/// What to do with records whose key has no registered schema prefix.
///
/// A store or node that does not know a record's schema cannot apply its conflict rule. The two
/// accepting policies differ in what such a replica does when a different value arrives under a key
/// it holds:
///
/// - [`Accept`](Self::Accept) resolves by byte order. Every byte-order replica converges on the same
///   value without help, but that value may be the wrong one for the schema: a newer revision of a
///   `#[version]` schema whose bytes sort lower is refused, also when the application's own nodes
///   push it back as a repair.
/// - [`AcceptReplacing`](Self::AcceptReplacing) lets the different value replace the stored one, so
///   the nodes that know the schema decide: their puts and repairs always land. Replicas that only
///   ever see unknown schemas may hold different values until such a repair reaches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UnknownSchemas {
    /// Store them as raw records; conflicts between them resolve by byte order. The default: a node
    /// keeps serving the records of applications it does not know, so mixed networks stay healthy,
    /// and replicas that all resolve by byte order converge on one value.
    #[default]
    Accept,
    /// Store them as raw records; a different incoming value replaces the stored one (identical
    /// values keep the stored record). For generic storage nodes of networks whose applications use
    /// `#[version]` or custom conflict rules: the applications' nodes resolve conflicts and their
    /// repairs are accepted, where byte order could refuse a newer value forever.
    AcceptReplacing,
    /// Refuse them with [`Rejection::UnknownSchema`].
    Reject,
}

impl UnknownSchemas {
    /// Whether records of unknown schemas are stored at all.
    pub fn accepts(self) -> bool {
        self != UnknownSchemas::Reject
    }

    /// Whether a different incoming value of an unknown schema replaces the stored one
    /// ([`AcceptReplacing`](Self::AcceptReplacing)); otherwise conflicts resolve by byte order.
    pub fn replaces(self) -> bool {
        self == UnknownSchemas::AcceptReplacing
    }

    /// Decides between a stored and an incoming value of an unknown schema under this policy: byte
    /// order, or under [`AcceptReplacing`](Self::AcceptReplacing) the incoming value when it
    /// differs. Identical values keep the existing record.
    pub fn pick_winner(self, existing: &[u8], incoming: &[u8]) -> Winner {
        if self.replaces() && existing != incoming {
            Winner::Incoming
        } else {
            winner_from(compare_raw_values(existing, incoming))
        }
    }
}

/// The schemas a store or node knows, looked up by record key prefix.
///
/// ```
/// use netabase::prelude::*;
/// use netabase::SchemaRegistry;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, NetabaseSchema)]
/// struct Note {
///     #[key]
///     id: u32,
///     text: String,
/// }
///
/// let mut registry = SchemaRegistry::new();
/// registry.register::<Note>();
/// let record = Note { id: 1, text: "hi".into() }.to_record()?;
/// assert_eq!(registry.schema_of(record.key.as_ref()).map(|s| s.name()), Some("Note"));
/// assert!(registry.validate(&record, 1024, std::time::Instant::now()).is_ok());
/// # Ok::<(), netabase::DatabaseError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct SchemaRegistry {
    /// Keyed by the schema's record key prefix `/<namespace>/<name>/`.
    schemas: HashMap<Vec<u8>, SchemaInfo>,
    unknown: UnknownSchemas,
    /// The first registration of a second type under a taken prefix.
    clash: Option<PrefixClash>,
}

impl SchemaRegistry {
    /// An empty registry that accepts records of unknown schemas as raw records.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers schema `V`. Registering a schema twice is harmless. Registering another type
    /// under a prefix `V` already has keeps the first and records a [`PrefixClash`], which
    /// [`check`](Self::check) returns and which stores and nodes refuse to open with; use
    /// [`try_register`](Self::try_register) to get it at once.
    pub fn register<V: NetabaseSchema>(&mut self) -> &mut Self {
        self.register_info(SchemaInfo::of::<V>())
    }

    /// Registers schema `V`, or fails with a [`PrefixClash`] naming both types when another type
    /// has its prefix (the registry is then unchanged).
    pub fn try_register<V: NetabaseSchema>(&mut self) -> Result<&mut Self, PrefixClash> {
        let info = SchemaInfo::of::<V>();
        match self.clash_with(&info) {
            Some(clash) => Err(clash),
            None => Ok(self.register_info(info)),
        }
    }

    /// Registers a schema from its type-erased information, for example one taken from another
    /// registry's [`schemas`](Self::schemas), like [`register`](Self::register).
    pub fn register_info(&mut self, info: SchemaInfo) -> &mut Self {
        if let Some(clash) = self.clash_with(&info) {
            self.clash.get_or_insert(clash);
        } else {
            self.schemas.insert(info.prefix().into_bytes(), info);
        }
        self
    }

    /// The clash registering `info` would make: another type already holds its prefix.
    fn clash_with(&self, info: &SchemaInfo) -> Option<PrefixClash> {
        let prefix = info.prefix();
        let existing = self.schemas.get(prefix.as_bytes())?;
        (existing.type_id != info.type_id).then_some(PrefixClash {
            prefix,
            first: existing.type_name,
            second: info.type_name,
        })
    }

    /// Fails with the first [`PrefixClash`] a registration made, if any.
    pub fn check(&self) -> Result<(), PrefixClash> {
        self.clash.clone().map_or(Ok(()), Err)
    }

    /// Sets what happens to records of unregistered schemas. Default: [`UnknownSchemas::Accept`].
    pub fn set_unknown_schemas(&mut self, policy: UnknownSchemas) -> &mut Self {
        self.unknown = policy;
        self
    }

    /// What happens to records of unregistered schemas.
    pub fn unknown_schemas(&self) -> UnknownSchemas {
        self.unknown
    }

    /// The registered schemas.
    pub fn schemas(&self) -> impl Iterator<Item = &SchemaInfo> {
        self.schemas.values()
    }

    /// The registered schema whose prefix `key` starts with, if any.
    pub fn schema_of(&self, key: &[u8]) -> Option<&SchemaInfo> {
        let (_, _, key_bytes) = split_record_key(key)?;
        self.schemas.get(&key[..key.len() - key_bytes.len()])
    }

    /// Checks an incoming record before it is stored: a registered schema (or unknown schemas
    /// accepted), value size within `max_value_bytes`, not expired at `now`, and for a registered
    /// schema a key and value that decode canonically and agree (for an owned schema, also signed
    /// by the owner or an authorised writer: [`crate::owned`]).
    pub fn validate(
        &self,
        record: &Record,
        max_value_bytes: usize,
        now: Instant,
    ) -> Result<(), Rejection> {
        let size = payload_len(&record.value);
        if size > max_value_bytes {
            return Err(Rejection::TooLarge {
                size,
                max: max_value_bytes,
            });
        }
        if record.is_expired(now) {
            return Err(Rejection::Expired);
        }
        match self.schema_of(record.key.as_ref()) {
            Some(schema) => schema.check(record).map_err(Rejection::Invalid),
            None if self.unknown.accepts() => Ok(()),
            None => Err(Rejection::UnknownSchema),
        }
    }

    /// Decides between a stored value and an incoming value under the same `key`: the registered
    /// schema's rule, else the [`UnknownSchemas`] policy (byte order, or under
    /// [`UnknownSchemas::AcceptReplacing`] the incoming value when it differs). Identical values
    /// always keep the existing record, so a store can merge their expiry and publisher.
    pub fn pick_winner(
        &self,
        key: &[u8],
        existing: &[u8],
        incoming: &[u8],
    ) -> DatabaseResult<Winner> {
        match self.schema_of(key) {
            Some(schema) => Ok(winner_from(schema.compare(existing, incoming)?)),
            None => Ok(self.unknown.pick_winner(existing, incoming)),
        }
    }
}

/// Splits a record key `/<namespace>/<name>/<key bytes>` into its three parts, or `None` when it
/// does not have that shape.
pub fn split_record_key(key: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let rest = key.strip_prefix(b"/")?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (namespace, rest) = (&rest[..slash], &rest[slash + 1..]);
    let slash = rest.iter().position(|&b| b == b'/')?;
    Some((namespace, &rest[..slash], &rest[slash + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_keys_with_slashes_in_key_bytes() {
        assert_eq!(
            split_record_key(b"/ns/User/a/b"),
            Some((&b"ns"[..], &b"User"[..], &b"a/b"[..]))
        );
        assert_eq!(
            split_record_key(b"/ns/User/"),
            Some((&b"ns"[..], &b"User"[..], &b""[..]))
        );
    }

    #[test]
    fn rejects_keys_without_two_segments() {
        assert_eq!(split_record_key(b""), None);
        assert_eq!(split_record_key(b"ns/User/x"), None);
        assert_eq!(split_record_key(b"/ns"), None);
        assert_eq!(split_record_key(b"/ns/User"), None);
    }

    #[test]
    fn unknown_schemas_follow_the_policy() {
        let record = Record::new(b"/other/Thing/1".to_vec(), vec![1, 2, 3]);
        let mut registry = SchemaRegistry::new();
        assert!(registry.validate(&record, 16, Instant::now()).is_ok());
        registry.set_unknown_schemas(UnknownSchemas::Reject);
        assert!(matches!(
            registry.validate(&record, 16, Instant::now()),
            Err(Rejection::UnknownSchema)
        ));
    }

    #[test]
    fn size_and_expiry_are_checked_first() {
        let registry = SchemaRegistry::new();
        let mut record = Record::new(b"/x/y/z".to_vec(), vec![0; 17]);
        assert!(matches!(
            registry.validate(&record, 16, Instant::now()),
            Err(Rejection::TooLarge { size: 17, max: 16 })
        ));
        record.value.truncate(4);
        let now = Instant::now();
        record.expires = Some(now);
        assert!(matches!(
            registry.validate(&record, 16, now),
            Err(Rejection::Expired)
        ));
    }

    #[test]
    fn accept_replacing_stores_unknown_schemas_and_lets_a_different_value_replace() {
        let mut registry = SchemaRegistry::new();
        registry.set_unknown_schemas(UnknownSchemas::AcceptReplacing);
        let record = Record::new(b"/other/Thing/1".to_vec(), vec![1, 2, 3]);
        assert!(registry.validate(&record, 16, Instant::now()).is_ok());
        // Lower bytes replace higher ones and the other way round: the last different value wins.
        assert_eq!(
            registry.pick_winner(b"/a/b/c", b"abd", b"abc").unwrap(),
            Winner::Incoming
        );
        assert_eq!(
            registry.pick_winner(b"/a/b/c", b"abc", b"abd").unwrap(),
            Winner::Incoming
        );
        // Identical values keep the stored record, so its expiry and publisher can merge.
        assert_eq!(
            registry.pick_winner(b"/a/b/c", b"abc", b"abc").unwrap(),
            Winner::Existing
        );
    }

    #[test]
    fn accept_replacing_leaves_registered_schemas_to_their_rule() {
        use crate::schema::NetabaseSchema;
        use serde::{Deserialize, Serialize};

        #[derive(Serialize, Deserialize)]
        struct Doc {
            id: u8,
            version: u32,
        }

        impl NetabaseSchema for Doc {
            type Key = u8;
            const NAMESPACE: &'static str = "test";
            const NAME: &'static str = "Doc";
            const CONFLICT_RULE: crate::ConflictRule = crate::ConflictRule::Version;

            fn key(&self) -> u8 {
                self.id
            }

            fn conflict_order(a: &Self, b: &Self) -> Ordering {
                a.version.cmp(&b.version)
            }
        }

        let mut registry = SchemaRegistry::new();
        registry
            .register::<Doc>()
            .set_unknown_schemas(UnknownSchemas::AcceptReplacing);
        let newer = Doc { id: 1, version: 2 }.to_record().unwrap();
        let older = Doc { id: 1, version: 1 }.to_record().unwrap();
        assert_eq!(
            registry
                .pick_winner(newer.key.as_ref(), &newer.value, &older.value)
                .unwrap(),
            Winner::Existing
        );
        assert_eq!(
            registry
                .pick_winner(newer.key.as_ref(), &older.value, &newer.value)
                .unwrap(),
            Winner::Incoming
        );
    }

    #[test]
    fn reject_resolves_unknown_schemas_by_byte_order_like_accept() {
        let mut registry = SchemaRegistry::new();
        registry.set_unknown_schemas(UnknownSchemas::Reject);
        assert_eq!(
            registry.pick_winner(b"/a/b/c", b"abd", b"abc").unwrap(),
            Winner::Existing
        );
        assert!(UnknownSchemas::Accept.accepts() && UnknownSchemas::AcceptReplacing.accepts());
        assert!(!UnknownSchemas::Reject.accepts());
    }

    #[test]
    fn unknown_schemas_resolve_by_byte_order() {
        let registry = SchemaRegistry::new();
        assert_eq!(
            registry.pick_winner(b"/a/b/c", b"abc", b"abd").unwrap(),
            Winner::Incoming
        );
        assert_eq!(
            registry.pick_winner(b"/a/b/c", b"abd", b"abc").unwrap(),
            Winner::Existing
        );
        assert_eq!(
            registry.pick_winner(b"/a/b/c", b"abc", b"abc").unwrap(),
            Winner::Existing
        );
    }
}
