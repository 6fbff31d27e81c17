//! The database traits a store implements: typed access plus direct `kad::Record` integration.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use libp2p::kad::{Record, RecordKey};

use crate::conflict::resolve_records;
use crate::error::DatabaseResult;
use crate::schema::{NetabaseSchema, NetabaseSchemaKey};

/// Typed storage of schema `V` (keyed by `K = V::Key`) that speaks `kad::Record` natively.
///
/// A typed [`put`](Self::put) and a [`put_record`](Self::put_record) of the record
/// [`to_record`](Self::to_record) returns write the same bytes under the same key, so each reads
/// what the other wrote. One store implements this trait for every schema it holds.
#[async_trait]
pub trait NetabaseDatabase<K, V>: Send + Sync
where
    K: NetabaseSchemaKey,
    V: NetabaseSchema<Key = K>,
{
    /// Stores `value` under `key`, replacing what was there. Fails with
    /// [`DatabaseError::KeyMismatch`](crate::DatabaseError::KeyMismatch) if `key` is not
    /// `value.key()`. Returns once the write is durable unless the store is configured otherwise.
    async fn put(&mut self, key: K, value: V) -> DatabaseResult<()>;

    /// The value stored under `key`, if any and not expired.
    async fn get(&self, key: &K) -> DatabaseResult<Option<V>>;

    /// Stores a record of schema `V` after checking that it decodes; when a value is already stored
    /// under its key, the schema's conflict rule decides which one is kept.
    async fn put_record(&mut self, record: Record) -> DatabaseResult<()>;

    /// The record stored under `key`, if any and not expired, with its publisher and expiry.
    async fn get_record(&self, key: &RecordKey) -> DatabaseResult<Option<Record>>;

    /// Converts a key and value to the record [`put`](Self::put) would store.
    async fn to_record(&self, key: K, value: V) -> DatabaseResult<Record> {
        let mut record = value.to_record()?;
        record.key = V::record_key(&key)?;
        V::from_record(&record).map(|_| record)
    }

    /// Converts a record of schema `V` to its key and value.
    // The name and `&self` receiver are the database trait's signature from issue 2.
    #[allow(clippy::wrong_self_convention)]
    async fn from_record(&self, record: Record) -> DatabaseResult<(K, V)> {
        let value = V::from_record(&record)?;
        Ok((value.key(), value))
    }

    /// The record key of a schema key.
    fn schema_key_to_kad_key(&self, key: &K) -> DatabaseResult<RecordKey> {
        V::record_key(key)
    }

    /// The schema key of a record key of schema `V`.
    fn kad_key_to_schema_key(&self, key: &RecordKey) -> DatabaseResult<K> {
        V::key_from_record_key(key)
    }
}

/// Network synchronisation, DHT maintenance and batch operations for schema `V`.
#[async_trait]
pub trait NetabaseDatabaseExt<K, V>: NetabaseDatabase<K, V>
where
    K: NetabaseSchemaKey,
    V: NetabaseSchema<Key = K>,
{
    /// Every unexpired record of schema `V`, ready to publish with `kad::Behaviour::put_record`.
    async fn sync_to_network(&mut self) -> DatabaseResult<Vec<Record>>;

    /// Stores records received from the network: each must be a valid record of `V`, and conflicts
    /// with stored values are resolved by `V`'s rule. Nothing is stored if any record is invalid.
    async fn sync_from_network(&mut self, records: Vec<Record>) -> DatabaseResult<()>;

    /// The records of schema `V` marked for republishing.
    async fn get_republish_records(&self) -> DatabaseResult<Vec<Record>>;

    /// Marks the records under `keys` for republishing.
    async fn mark_for_republish(&mut self, keys: &[K]) -> DatabaseResult<()>;

    /// Stores several records of schema `V` in one transaction, resolving conflicts like
    /// [`put_record`](NetabaseDatabase::put_record). Nothing is stored if any record is invalid.
    async fn put_records_batch(&mut self, records: Vec<Record>) -> DatabaseResult<()>;

    /// The unexpired records of schema `V` whose key starts with `prefix` (a raw record-key prefix;
    /// [`NetabaseSchema::record_prefix`] lists the whole schema).
    async fn get_records_by_prefix(&self, prefix: &[u8]) -> DatabaseResult<Vec<Record>>;

    /// The record that wins between a local and a network record of the same key under `V`'s
    /// conflict rule (see [`ConflictRule`](crate::ConflictRule)).
    async fn resolve_record_conflict(
        &mut self,
        local_record: Record,
        network_record: Record,
    ) -> DatabaseResult<Record> {
        resolve_records::<V>(local_record, network_record)
    }

    /// The unexpired records of schema `V` that expire within `within` from now, soonest first.
    async fn get_expiring_records(&self, within: Duration) -> DatabaseResult<Vec<Record>>;

    /// Sets (or with `None` clears) the expiry of the record under `key`.
    async fn update_record_expiry(
        &mut self,
        key: &K,
        expires: Option<Instant>,
    ) -> DatabaseResult<()>;
}
