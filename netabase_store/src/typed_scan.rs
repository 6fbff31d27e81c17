//! Typed walks: the values of one schema, or of the keys that start with given leading fields.

use std::marker::PhantomData;

use netabase::{DatabaseError, DatabaseResult, NetabaseSchema};
use serde::Serialize;

use crate::scan::RecordScan;
use crate::store::RedbStore;

/// An iterator over the values of schema `V` in record-key order, read a page at a time like
/// [`RecordScan`] (flat memory, not a snapshot).
///
/// Record-key order is the order of the key's postcard bytes: a string key sorts by its length
/// first (`"bob"` before `"alice"`), and an integer by its varint bytes, low 7 bits first (256
/// before 129). It groups
/// the keys that share leading fields ([`RedbStore::values_with_key_prefix`]); it is not
/// numeric or alphabetical order.
///
/// A value that does not decode as `V` (another program wrote it, or the schema changed) is
/// returned as an error in its place and the walk goes on; deleted values (tombstones) and expired
/// records are skipped.
pub struct ValueScan<V> {
    scan: RecordScan,
    _schema: PhantomData<fn() -> V>,
}

impl<V> std::fmt::Debug for ValueScan<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueScan")
            .field("scan", &self.scan)
            .finish()
    }
}

impl<V: NetabaseSchema> Iterator for ValueScan<V> {
    type Item = DatabaseResult<V>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let record = match self.scan.next()? {
                Ok(record) => record,
                Err(error) => return Some(Err(error)),
            };
            match netabase::tombstone::decode_stored_under::<V>(record.key.as_ref(), &record.value)
            {
                Ok(stored) => {
                    if let Some(value) = stored.live() {
                        return Some(Ok(value));
                    }
                }
                Err(error) => return Some(Err(error)),
            }
        }
    }
}

impl RedbStore {
    /// Every value of schema `V`, in record-key order (see [`ValueScan`] for what that order is).
    pub fn values<V: NetabaseSchema>(&self) -> ValueScan<V> {
        ValueScan {
            scan: self.scan_schema::<V>(),
            _schema: PhantomData,
        }
    }

    /// The values of schema `V` whose key starts with `leading`: the first field of the key, or
    /// a tuple of its first fields in declaration order. A key of fields `(user: String, url:
    /// String)` lists all of alice's values with `values_with_key_prefix::<Bookmark>(&"alice")`,
    /// and one of `(user: String, year: u32, url: String)` her values of 2026 with `&("alice",
    /// 2026u32)`. It works because postcard writes a key's fields one after the other, so the
    /// encoding of its leading fields is a prefix of the key's. The types must be the key fields'
    /// own (`u32` for a `u32`; a `u64` encodes the same only below 2^32, and a `&str` as a
    /// `String`); another type matches other keys or none. A prefix *within* a field (names
    /// starting `"ali"`) is not a key prefix: index the field for that.
    pub fn values_with_key_prefix<V: NetabaseSchema>(
        &self,
        leading: &impl Serialize,
    ) -> DatabaseResult<ValueScan<V>> {
        Ok(ValueScan {
            scan: self.scan(key_prefix::<V>(leading)?),
            _schema: PhantomData,
        })
    }
}

/// The record key prefix of the keys of schema `V` that start with the fields `leading`.
pub(crate) fn key_prefix<V: NetabaseSchema>(leading: &impl Serialize) -> DatabaseResult<Vec<u8>> {
    postcard::to_extend(leading, V::record_prefix()).map_err(|source| DatabaseError::Encode {
        schema: V::NAME,
        what: "key prefix",
        source,
    })
}
