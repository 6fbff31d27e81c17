//! Every redb table of a store, as typed `const` definitions. `docs/store-layout.md` describes the
//! entries and the invariants that tie the tables together.

use redb::TableDefinition;

/// The layout version this build reads and writes, stored under [`LAYOUT_VERSION_KEY`].
pub(crate) const LAYOUT_VERSION: u64 = 1;

/// The key of the layout version in [`META`].
pub(crate) const LAYOUT_VERSION_KEY: &str = "layout_version";

/// Store-wide settings: `layout_version -> 1`.
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("netabase_meta");

/// Record key -> entry: a header (flags, expiry as unix ms, publisher) followed by the value bytes
/// exactly as the record carries them (see `entry.rs`).
pub(crate) const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");

/// (expiry as unix ms, record key) -> (). One row per record that has an expiry, ordered by
/// deadline, so sweeps and expiring-soon queries read only what they return.
pub(crate) const EXPIRY: TableDefinition<(u64, &[u8]), ()> =
    TableDefinition::new("records_by_expiry");

/// Record key -> republish time as unix ms. One row per record scheduled for republishing.
pub(crate) const REPUBLISH: TableDefinition<&[u8], u64> = TableDefinition::new("republish");

/// (republish time as unix ms, record key) -> (). The same rows as [`REPUBLISH`], ordered by time.
pub(crate) const REPUBLISH_QUEUE: TableDefinition<(u64, &[u8]), ()> =
    TableDefinition::new("republish_by_time");

/// (record key, provider peer id bytes) -> provider entry (expiry and addresses, `entry.rs`).
pub(crate) const PROVIDERS: TableDefinition<(&[u8], &[u8]), &[u8]> =
    TableDefinition::new("providers");

/// Record key -> number of provider rows for it in [`PROVIDERS`]. Its length is the number of
/// keys that have providers, which `max_provided_keys` bounds.
pub(crate) const PROVIDER_KEYS: TableDefinition<&[u8], u64> = TableDefinition::new("provider_keys");

/// (expiry as unix ms, record key, provider peer id bytes) -> (). One row per provider record that
/// has an expiry.
pub(crate) const PROVIDER_EXPIRY: TableDefinition<(u64, &[u8], &[u8]), ()> =
    TableDefinition::new("providers_by_expiry");

/// (local peer id bytes, record key) -> (). The provider records this node itself provides.
pub(crate) const PROVIDED: TableDefinition<(&[u8], &[u8]), ()> = TableDefinition::new("provided");

/// Record key -> (generation, sequence, keep until as unix ms): the newest write of each owned
/// record key (`netabase::owned`) this store accepted, kept after the record is removed or expires
/// so that an older signed write cannot come back (`marks.rs`). Created by the first owned write;
/// readers never open it.
pub(crate) const OWNED_MARKS: TableDefinition<&[u8], (u64, u64, u64)> =
    TableDefinition::new("owned_marks");

/// (keep until as unix ms, record key) -> (). The rows of [`OWNED_MARKS`] by the time they may go.
pub(crate) const OWNED_MARKS_BY_TIME: TableDefinition<(u64, &[u8]), ()> =
    TableDefinition::new("owned_marks_by_time");

/// Record key -> the peer id bytes of the peer that delivered it (empty when no node named one):
/// the keys of stored records that belonged to no registered schema when they were stored,
/// counted against the quotas for unknown schemas (`quota.rs`).
pub(crate) const UNKNOWN_KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("unknown_keys");

/// Namespace (or `/` for keys without one, the empty key for the total, or `/peer/` + peer id
/// bytes for a delivering peer) -> how many [`UNKNOWN_KEYS`] rows it has.
pub(crate) const UNKNOWN_COUNTS: TableDefinition<&[u8], u64> =
    TableDefinition::new("unknown_counts");

/// (index id: schema record key prefix + index name, index value as memcomparable bytes, record
/// key) -> (). One row per index value of each stored record of a schema with `#[index]` fields
/// (`indexes.rs`). Created by the first indexed write; readers that find it missing see empty
/// indexes.
pub(crate) const INDEX_ROWS: TableDefinition<IndexRowKey, ()> =
    TableDefinition::new("index_entries");

/// The key of an [`INDEX_ROWS`] row: (index id, index value, record key).
pub(crate) type IndexRowKey = (&'static [u8], &'static [u8], &'static [u8]);

/// Opens every table of the layout in a transaction (`ReadTransaction` or `WriteTransaction`),
/// returning early with the error of the first that fails: a write transaction creates the
/// missing ones, a read transaction checks that each exists with the right types.
macro_rules! open_every_table {
    ($txn:expr) => {{
        let txn = $txn;
        txn.open_table($crate::tables::META)?;
        txn.open_table($crate::tables::RECORDS)?;
        txn.open_table($crate::tables::EXPIRY)?;
        txn.open_table($crate::tables::REPUBLISH)?;
        txn.open_table($crate::tables::REPUBLISH_QUEUE)?;
        txn.open_table($crate::tables::PROVIDERS)?;
        txn.open_table($crate::tables::PROVIDER_KEYS)?;
        txn.open_table($crate::tables::PROVIDER_EXPIRY)?;
        txn.open_table($crate::tables::PROVIDED)?;
    }};
}

pub(crate) use open_every_table;
