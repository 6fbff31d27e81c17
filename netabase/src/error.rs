//! The error type shared by every Netabase database operation.

use std::error::Error as StdError;

/// The result of a Netabase database operation.
pub type DatabaseResult<T> = Result<T, DatabaseError>;

/// What went wrong in a Netabase database operation.
///
/// Every variant that concerns one schema names it, so an application that stores several schemas in
/// one database can tell which one failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatabaseError {
    /// A value or key could not be encoded with postcard; usually a hand-written `Serialize` impl
    /// that returned an error.
    #[error("cannot encode a `{schema}` {what} with postcard: {source}")]
    Encode {
        /// The schema being encoded.
        schema: &'static str,
        /// `"value"` or `"key"`.
        what: &'static str,
        /// The postcard error.
        #[source]
        source: postcard::Error,
    },
    /// Bytes that should hold a value or key of a schema do not decode as one. The record was written
    /// by another schema (or another version of this one), or the bytes are corrupt.
    #[error(
        "bytes are not a valid `{schema}` {what}: {source}; the record was written by another \
         schema or schema version, or it is corrupt"
    )]
    Decode {
        /// The schema the bytes were decoded as.
        schema: &'static str,
        /// `"value"` or `"key"`.
        what: &'static str,
        /// The postcard error.
        #[source]
        source: postcard::Error,
    },
    /// Bytes decoded as a complete value or key but more bytes followed. Netabase encodes exactly one
    /// value per record, so trailing bytes mean the record was not written by this schema.
    #[error(
        "bytes hold a `{schema}` {what} followed by {trailing} unexpected trailing bytes; the record \
         was not written by this schema"
    )]
    TrailingBytes {
        /// The schema the bytes were decoded as.
        schema: &'static str,
        /// `"value"` or `"key"`.
        what: &'static str,
        /// How many bytes followed the decoded item.
        trailing: usize,
    },
    /// Bytes decoded as a value or key but are not its canonical encoding (for example a varint
    /// padded with a continuation byte): another writer's bytes for a value this schema encodes
    /// differently. Refused, because one value must have one byte string for conflict resolution
    /// and signatures to agree. A hand-written `Serialize` whose output is not deterministic (a
    /// `HashMap` field) produces such bytes too: use `BTreeMap`/`BTreeSet`.
    #[error(
        "bytes decode as a `{schema}` {what} but are not its canonical encoding; only the exact \
         bytes postcard gives for a value are accepted (a schema must encode deterministically: \
         use BTreeMap/BTreeSet rather than HashMap/HashSet)"
    )]
    NonCanonical {
        /// The schema the bytes were decoded as.
        schema: &'static str,
        /// `"value"` or `"key"`.
        what: &'static str,
    },
    /// A record of a schema the store does not register was refused: the store holds the most
    /// such records it takes, in all or under this namespace.
    #[error(
        "the store holds its most records of unregistered schemas ({quota}: {max}); register the \
         schema with the store, or raise the limit (StoreLimits::{quota})"
    )]
    UnknownSchemaQuota {
        /// `max_unknown_records` or `max_unknown_per_namespace`.
        quota: &'static str,
        /// The limit.
        max: usize,
    },
    /// An owned record (`#[netabase(owned)]`) failed verification: see
    /// [`OwnershipProblem`](crate::owned::OwnershipProblem) for each reason. From a peer this is
    /// a refused record; from the store, a value nobody with the owner's key wrote.
    #[error("owned `{schema}` record {record_key} refused: {problem}")]
    Ownership {
        /// The schema.
        schema: &'static str,
        /// The record key, escaped.
        record_key: String,
        /// Why.
        problem: crate::owned::OwnershipProblem,
    },
    /// An author tried to sign a record it does not own (or a delegation naming another writer).
    #[error(
        "cannot sign the `{schema}` record {record_key}: it belongs to {owner}, and this author is \
         {author}; sign with the owner's key, or with a writer's key and a delegation from the owner"
    )]
    NotOwner {
        /// The schema.
        schema: &'static str,
        /// The record key, escaped.
        record_key: String,
        /// The owner the record key names (or the writer a delegation names).
        owner: String,
        /// The author that tried to sign.
        author: String,
    },
    /// Bytes given as a [`Delegation`](crate::owned::Delegation) are not one.
    #[error("not a delegation: {reason}; pass the bytes `Delegation::to_bytes` gave")]
    MalformedDelegation {
        /// What is wrong.
        reason: &'static str,
    },
    /// An owned schema's value was turned into a record without a signature.
    #[error(
        "`{schema}` is an owned schema: its records must be signed; use `Author::sign` (or the \
         node's `put_owned`) instead of `to_record`"
    )]
    OwnedNeedsSignature {
        /// The schema.
        schema: &'static str,
    },
    /// A record key does not start with the schema's prefix `/<namespace>/<name>/`.
    #[error(
        "record key {key} does not belong to schema `{schema}` (its keys start with `{prefix}`); \
         read it with the schema that wrote it"
    )]
    WrongSchema {
        /// The schema that was asked to read the key.
        schema: &'static str,
        /// The prefix this schema's keys start with.
        prefix: String,
        /// The offending key, escaped for display.
        key: String,
    },
    /// The key of a record and the key computed from its value disagree, so the record claims to be
    /// stored somewhere other than where its value belongs.
    #[error(
        "record key and value of `{schema}` disagree: the key is {record_key} but the value's key \
         maps to {value_key}; store the value under the key its `#[key]` fields give"
    )]
    KeyMismatch {
        /// The schema of the record.
        schema: &'static str,
        /// The record's key, escaped for display.
        record_key: String,
        /// The key computed from the value, escaped for display.
        value_key: String,
    },
    /// Two records were asked to be resolved against each other but are stored under different keys.
    #[error(
        "cannot resolve a conflict between records of `{schema}` under different keys {local} and \
         {network}; only records of the same key conflict"
    )]
    DifferentKeys {
        /// The schema of the records.
        schema: &'static str,
        /// The local record's key, escaped for display.
        local: String,
        /// The network record's key, escaped for display.
        network: String,
    },
    /// A value is larger than the configured limit.
    #[error(
        "value of `{schema}` is {size} bytes, over the limit of {max} bytes; store a smaller value \
         or raise the store's maximum value size"
    )]
    ValueTooLarge {
        /// The schema of the value, or `"<raw record>"` for a record of no known schema.
        schema: &'static str,
        /// The encoded size of the value.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// The store refused a write because it holds as many records as it is configured to.
    #[error(
        "the store holds its maximum of {max} records; remove records or raise the maximum record count"
    )]
    MaxRecords {
        /// The configured limit.
        max: usize,
    },
    /// A value was written by a newer version of its schema than this program knows.
    #[error(
        "a value of `{schema}` is of version {found}, newer than the version {known} this program \
         knows; upgrade the program to read it (its record is left as it is)"
    )]
    NewerVersion {
        /// The schema.
        schema: &'static str,
        /// The version the value carries.
        found: u32,
        /// The schema's version in this program.
        known: u32,
    },
    /// A value is of an older version of its schema that the schema does not say how to read.
    #[error(
        "a value of `{schema}` is of version {found}, and version {known} of the schema does not \
         say how to read it; declare the older type with `#[netabase(version = {known}, from = \
         Older)]` and `impl From<Older> for {schema}`"
    )]
    UnknownVersion {
        /// The schema.
        schema: &'static str,
        /// The version the value carries.
        found: u32,
        /// The schema's version in this program.
        known: u32,
    },
    /// A query named an index the schema does not declare.
    #[error(
        "schema `{schema}` has no index number {position}; query it with the handles its derive \
         writes (`{schema}::by_<field>()`) for the fields marked `#[index]`"
    )]
    NoSuchIndex {
        /// The schema.
        schema: &'static str,
        /// The position asked for.
        position: usize,
    },
    /// A query named an index the store does not keep: the store was opened without the schema
    /// that declares it registered, so its records are not indexed.
    #[error(
        "this store does not keep `{schema}`'s index `{index}`: register `{schema}` when opening \
         the store (`RedbStoreBuilder::register`), which builds the index"
    )]
    IndexNotKept {
        /// The schema.
        schema: &'static str,
        /// The index.
        index: &'static str,
    },
    /// An index value could not be encoded (memcomparable supports every serde type but maps
    /// and sequences of unknown length).
    #[error(
        "an index value of `{schema}` cannot be encoded: {detail}; index a field of a plain type \
         (integers, strings, bytes, options, tuples, structs, enums)"
    )]
    IndexEncode {
        /// The schema.
        schema: &'static str,
        /// What the encoder said.
        detail: String,
    },
    /// A write would give a unique index value to a second value of the schema.
    #[error(
        "`{schema}`'s unique index `{index}` already holds this value for the record {holder}; \
         change the value, or remove or change the record that holds it first"
    )]
    UniqueViolation {
        /// The schema.
        schema: &'static str,
        /// The unique index.
        index: &'static str,
        /// The record key of the value that holds the index value, escaped for display.
        holder: String,
    },
    /// A value was to be stored with a lifetime of zero, so it would have expired on arrival.
    #[error(
        "a value of `{schema}` was to be stored with a TTL of zero, so it would have expired \
         before any read; give a positive TTL, or remove the value instead"
    )]
    ZeroTtl {
        /// The schema of the value.
        schema: &'static str,
    },
    /// The underlying storage failed (I/O error, corrupt file, full disk, ...).
    #[error("storage failed: {0}")]
    Storage(#[source] Box<dyn StdError + Send + Sync>),
}

impl DatabaseError {
    /// Wraps any storage backend error.
    pub fn storage(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        DatabaseError::Storage(error.into())
    }
}

/// Renders key bytes for error messages: printable ASCII as is, everything else as `\xNN`.
pub(crate) fn escape_bytes(bytes: &[u8]) -> String {
    format!("\"{}\"", bytes.escape_ascii())
}
