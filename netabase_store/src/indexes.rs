//! Secondary index rows, kept in step with the `records` table in every write transaction.
//!
//! A schema's `#[index]` fields (`netabase::index`) give each stored value index values; the
//! [`INDEX_ROWS`](tables::INDEX_ROWS) table holds one row per (index, value, record key), so an
//! index query is a range over the rows. Every write path reaches the records through
//! `RecordTables` (`records.rs`), which calls here with the entry it replaces and the one it
//! writes: typed puts, batches, records from peers (inbox and group commit), removals, expiry
//! sweeps, and conflict winners replacing losers.
//!
//! A unique index holds each value for one record. A local write that would give it to a second
//! record is refused ([`netabase::DatabaseError::UniqueViolation`]); between records from peers
//! the lowest record key wins, whatever order they arrive in: a record whose value is held by a
//! lower key is refused, and one with a lower key than the holder replaces it (the holder is
//! removed from this store). Every replica that receives the same records ends with the same
//! ones.
//!
//! The rows are local and derived: an index is built from the stored records the first time a
//! writable store opens with a schema that declares it, and dropped when a writable store opens
//! without it (a store opened without the schema would not keep it up to date). The built
//! indexes are listed in the `netabase_meta` table.

use netabase::{SchemaInfo, SchemaRegistry};
use redb::{ReadableTable, WriteTransaction};

use crate::entry::RecordEntry;
use crate::error::{StoreError, StoreResult, escape};
use crate::lazy::LazyTable;
use crate::tables;

/// The index rows table of a write transaction.
type RowTable<'txn> = redb::Table<'txn, tables::IndexRowKey, ()>;

/// The version of the index rows' encoding (memcomparable 0.2), recorded with each built index: a
/// build whose encoding differs rebuilds them.
pub(crate) const INDEX_FORMAT: u64 = 1;

/// The `netabase_meta` key that records a built index.
pub(crate) fn meta_key(index_id: &[u8]) -> String {
    format!("index:{}", String::from_utf8_lossy(index_id))
}

/// The first element of an index's rows: the schema's record key prefix, then the index name.
pub(crate) fn index_id(schema: &SchemaInfo, index: &str) -> Vec<u8> {
    let mut id = schema.prefix().into_bytes();
    id.extend_from_slice(index.as_bytes());
    id
}

/// How unique index values are shared out between records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UniqueRule {
    /// The write is the user's own: a value held by another record refuses it.
    Refuse,
    /// The write came from a peer: the lowest record key holds the value.
    LowestKeyWins,
}

/// A refusal by a unique index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UniqueTaken {
    pub(crate) schema: &'static str,
    pub(crate) index: &'static str,
    /// The record key that holds the value.
    pub(crate) holder: Vec<u8>,
}

/// A record with a lower key than `key` that holds a unique index value the value `value` would
/// take under `key`, in `txn`'s snapshot (the gate's check; the write makes the same decision).
pub(crate) fn lower_unique_holder(
    txn: &redb::ReadTransaction,
    registry: &SchemaRegistry,
    key: &[u8],
    value: &[u8],
) -> StoreResult<Option<Vec<u8>>> {
    let Some(schema) = registry
        .schema_of(key)
        .filter(|schema| schema.indexes().iter().any(|def| def.unique))
    else {
        return Ok(None);
    };
    // A value that does not decode is the gate's to refuse, not this check's.
    let Ok(values) = schema.index_keys(key, value) else {
        return Ok(None);
    };
    let rows = match txn.open_table(tables::INDEX_ROWS) {
        Ok(rows) => rows,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    for (position, value) in values {
        let Some(def) = schema.indexes().get(position).filter(|def| def.unique) else {
            continue;
        };
        // The value's rows are in record key order: only the first can be below `key`.
        if let Some(holder) = first_holder(&rows, &index_id(schema, def.name), &value)?
            && holder.as_slice() < key
        {
            return Ok(Some(holder));
        }
    }
    Ok(None)
}

/// Two records share a value of a unique index, so it cannot be built over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UniqueConflict {
    pub(crate) schema: &'static str,
    pub(crate) index: &'static str,
    /// The two record keys.
    pub(crate) keys: (Vec<u8>, Vec<u8>),
}

/// Why the indexes could not be brought in line with the registry at open.
#[derive(Debug)]
pub(crate) enum ReconcileError {
    Store(StoreError),
    Unique(UniqueConflict),
}

impl<E: Into<StoreError>> From<E> for ReconcileError {
    fn from(error: E) -> Self {
        ReconcileError::Store(error.into())
    }
}

/// Brings the built indexes in line with what `registry` declares, in `txn` (a writable open):
/// builds each declared index not built yet from the stored records, and drops each built one
/// that no registered schema declares any more (or of another encoding). A unique index whose
/// records share a value is not built: the open fails and names them.
pub(crate) fn reconcile(
    txn: &WriteTransaction,
    registry: &SchemaRegistry,
) -> Result<(), ReconcileError> {
    let mut meta = txn.open_table(tables::META)?;
    let mut built: Vec<(String, u64)> = Vec::new();
    for row in meta.range("index:".."index;")? {
        let (key, format) = row?;
        built.push((key.value().to_owned(), format.value()));
    }
    let declared: Vec<(&SchemaInfo, &'static netabase::index::IndexDef, Vec<u8>)> = registry
        .schemas()
        .flat_map(|schema| {
            schema
                .indexes()
                .iter()
                .map(move |def| (schema, def, index_id(schema, def.name)))
        })
        .collect();
    let mut rows = txn.open_table(tables::INDEX_ROWS)?;
    for (meta_entry, format) in &built {
        let keep = *format == INDEX_FORMAT
            && declared
                .iter()
                .any(|(_, _, id)| meta_key(id) == *meta_entry);
        if !keep {
            let id = meta_entry.trim_start_matches("index:").as_bytes().to_vec();
            drop_rows(&mut rows, &id)?;
            meta.remove(meta_entry.as_str())?;
        }
    }
    let records = txn.open_table(tables::RECORDS)?;
    for (schema, def, id) in &declared {
        let entry = meta_key(id);
        if built
            .iter()
            .any(|(built, format)| *built == entry && *format == INDEX_FORMAT)
        {
            continue;
        }
        build(&records, &mut rows, schema, def, id)?;
        meta.insert(entry.as_str(), INDEX_FORMAT)?;
    }
    Ok(())
}

/// Removes every row of the index `id`.
fn drop_rows(rows: &mut RowTable<'_>, id: &[u8]) -> StoreResult<()> {
    loop {
        let batch: Vec<(Vec<u8>, Vec<u8>)> = {
            let mut batch = Vec::new();
            for row in rows.range((id, &[][..], &[][..])..)?.take(1024) {
                let (row, _) = row?;
                let (row_id, value, key) = row.value();
                if row_id != id {
                    break;
                }
                batch.push((value.to_vec(), key.to_vec()));
            }
            batch
        };
        if batch.is_empty() {
            return Ok(());
        }
        for (value, key) in &batch {
            rows.remove((id, value.as_slice(), key.as_slice()))?;
        }
    }
}

/// Writes the rows of index `def` of `schema` for every stored record of the schema (expired ones
/// too: the sweep removes their rows with them).
fn build(
    records: &redb::Table<'_, &'static [u8], &'static [u8]>,
    rows: &mut RowTable<'_>,
    schema: &SchemaInfo,
    def: &netabase::index::IndexDef,
    id: &[u8],
) -> Result<(), ReconcileError> {
    let prefix = schema.prefix().into_bytes();
    let position = schema
        .indexes()
        .iter()
        .position(|candidate| candidate == def);
    for row in records.range(prefix.as_slice()..)? {
        let (key, entry) = row?;
        let key = key.value();
        if !key.starts_with(&prefix) {
            break;
        }
        let Ok(entry) = RecordEntry::decode(entry.value()) else {
            continue;
        };
        // A value that does not decode is left out, as its reads fail too.
        let Ok(values) = schema.index_keys(key, entry.value) else {
            continue;
        };
        for (_, value) in values
            .into_iter()
            .filter(|(candidate, _)| Some(*candidate) == position)
        {
            if def.unique
                && let Some(holder) = first_holder(rows, id, &value)?
            {
                return Err(ReconcileError::Unique(UniqueConflict {
                    schema: schema.name(),
                    index: def.name,
                    keys: (holder, key.to_vec()),
                }));
            }
            rows.insert((id, value.as_slice(), key), ())?;
        }
    }
    Ok(())
}

/// The first record key holding `value` in index `id`, if any.
fn first_holder(
    rows: &impl ReadableTable<tables::IndexRowKey, ()>,
    id: &[u8],
    value: &[u8],
) -> StoreResult<Option<Vec<u8>>> {
    let first = rows.range((id, value, &[][..])..)?.next().transpose()?;
    Ok(first.and_then(|(row, _)| {
        let (row_id, row_value, key) = row.value();
        (row_id == id && row_value == value).then(|| key.to_vec())
    }))
}

/// The index rows of one entry: (index id, order key) pairs.
type Rows = Vec<IndexRow>;

/// One index row of an entry: which index, its value, and the index's name if it is unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexRow {
    id: Vec<u8>,
    value: Vec<u8>,
    unique: Option<&'static str>,
}

/// The index rows of a write transaction.
pub(crate) struct Indexes<'txn, 'r> {
    registry: &'r SchemaRegistry,
    rows: LazyTable<'txn, tables::IndexRowKey, ()>,
}

impl<'txn, 'r> Indexes<'txn, 'r> {
    pub(crate) fn new(txn: &'txn WriteTransaction, registry: &'r SchemaRegistry) -> Self {
        Indexes {
            registry,
            rows: LazyTable::new(txn, tables::INDEX_ROWS),
        }
    }

    /// The indexed schema `key` belongs to, if it has indexes.
    fn indexed(&self, key: &[u8]) -> Option<&'r SchemaInfo> {
        self.registry
            .schema_of(key)
            .filter(|schema| !schema.indexes().is_empty())
    }

    /// Whether a write under `key` touches index rows: callers keep the replaced entry only then.
    pub(crate) fn covers(&self, key: &[u8]) -> bool {
        self.indexed(key).is_some()
    }

    /// The index rows of `entry` stored under `key`. `Err` when its value does not decode.
    fn rows_of(schema: &SchemaInfo, key: &[u8], entry: &[u8]) -> Result<Rows, ()> {
        let entry = RecordEntry::decode(entry).map_err(drop)?;
        let keys = schema.index_keys(key, entry.value).map_err(drop)?;
        let defs = schema.indexes();
        Ok(keys
            .into_iter()
            .filter_map(|(position, value)| {
                let def = defs.get(position)?;
                Some(IndexRow {
                    id: index_id(schema, def.name),
                    value,
                    unique: def.unique.then_some(def.name),
                })
            })
            .collect())
    }

    /// The index rows the entry written under `key` will have: `None` when its schema has no
    /// indexes, the refusal when its value does not decode as the schema (which declares them).
    pub(crate) fn rows_for(&self, key: &[u8], entry: &[u8]) -> StoreResult<Option<Rows>> {
        let Some(schema) = self.indexed(key) else {
            return Ok(None);
        };
        Self::rows_of(schema, key, entry)
            .map(Some)
            .map_err(|()| StoreError::IndexValue {
                key: escape(key),
                detail: "the value written does not decode as its schema".into(),
            })
    }

    /// Who holds the unique index values of `rows` (an entry's, to be written under `key`), if
    /// anyone: the records to remove first (under `LowestKeyWins`, holders above `key`), or the
    /// refusal.
    pub(crate) fn unique_holders(
        &mut self,
        key: &[u8],
        rows: &[IndexRow],
        rule: UniqueRule,
    ) -> StoreResult<Result<Vec<Vec<u8>>, UniqueTaken>> {
        let schema = self
            .indexed(key)
            .map_or("<indexed schema>", SchemaInfo::name);
        let mut evict = Vec::new();
        for row in rows {
            let Some(index) = row.unique else {
                continue;
            };
            let (id, value) = (row.id.as_slice(), row.value.as_slice());
            let table = self.rows.open()?;
            for found in table.range((id, value, &[][..])..)? {
                let (found, _) = found?;
                let (found_id, found_value, holder) = found.value();
                if found_id != id || found_value != value {
                    break;
                }
                if holder == key {
                    continue;
                }
                if rule == UniqueRule::Refuse || holder < key {
                    return Ok(Err(UniqueTaken {
                        schema,
                        index,
                        holder: holder.to_vec(),
                    }));
                }
                evict.push(holder.to_vec());
            }
        }
        Ok(Ok(evict))
    }

    /// Replaces the index rows of the entry `old` under `key` (`None`: there was none) with
    /// `new` (from [`rows_for`](Self::rows_for); empty when the record is gone).
    pub(crate) fn update(
        &mut self,
        key: &[u8],
        old: Option<&[u8]>,
        new: &[IndexRow],
    ) -> StoreResult<()> {
        let Some(schema) = self.indexed(key) else {
            return Ok(());
        };
        let old_rows = match old {
            Some(entry) => match Self::rows_of(schema, key, entry) {
                Ok(rows) => rows,
                // A damaged entry's values are unknown: every row of the key goes.
                Err(()) => return self.purge(schema, key, new),
            },
            None => Vec::new(),
        };
        let table = self.rows.open()?;
        for row in old_rows.iter().filter(|row| !new.contains(row)) {
            table.remove((row.id.as_slice(), row.value.as_slice(), key))?;
        }
        for row in new.iter().filter(|row| !old_rows.contains(row)) {
            table.insert((row.id.as_slice(), row.value.as_slice(), key), ())?;
        }
        Ok(())
    }

    /// Removes every index row of `key` in `schema`'s indexes by walking them (the replaced entry
    /// was damaged, so its values are unknown), then writes `rows`.
    fn purge(&mut self, schema: &SchemaInfo, key: &[u8], rows: &[IndexRow]) -> StoreResult<()> {
        let table = self.rows.open()?;
        for def in schema.indexes() {
            let id = index_id(schema, def.name);
            let mut stale = Vec::new();
            for row in table.range((id.as_slice(), &[][..], &[][..])..)? {
                let (row, _) = row?;
                let (row_id, value, holder) = row.value();
                if row_id != id.as_slice() {
                    break;
                }
                if holder == key {
                    stale.push(value.to_vec());
                }
            }
            for value in stale {
                table.remove((id.as_slice(), value.as_slice(), key))?;
            }
        }
        for row in rows {
            table.insert((row.id.as_slice(), row.value.as_slice(), key), ())?;
        }
        Ok(())
    }
}
