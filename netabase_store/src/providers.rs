//! Provider records: the `providers` table with its per-key counts, expiry index and the keys the
//! local node provides.

use libp2p::PeerId;
use libp2p::kad::{ProviderRecord, RecordKey};
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, Table, WriteTransaction};

use crate::clock::Now;
use crate::entry::ProviderEntry;
use crate::error::{StoreError, StoreResult};
use crate::lazy::LazyTable;
use crate::records::corrupt;
use crate::tables;

/// How many expired provider records a write sweeps when the store is full of provided keys.
const SWEEP_BATCH: usize = 1024;

/// The provider tables of one write transaction.
pub(crate) struct ProviderTables<'txn> {
    providers: Table<'txn, (&'static [u8], &'static [u8]), &'static [u8]>,
    keys: Table<'txn, &'static [u8], u64>,
    expiry: LazyTable<'txn, (u64, &'static [u8], &'static [u8]), ()>,
    provided: LazyTable<'txn, (&'static [u8], &'static [u8]), ()>,
}

/// Why a provider record was not added.
#[derive(Debug)]
pub(crate) enum AddError {
    /// The key is new and the store already has `max_provided_keys` keys with providers.
    MaxProvidedKeys,
    /// The store failed.
    Store(StoreError),
}

impl<E: Into<StoreError>> From<E> for AddError {
    fn from(error: E) -> Self {
        AddError::Store(error.into())
    }
}

impl<'txn> ProviderTables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> StoreResult<Self> {
        Ok(ProviderTables {
            providers: txn.open_table(tables::PROVIDERS)?,
            keys: txn.open_table(tables::PROVIDER_KEYS)?,
            expiry: LazyTable::new(txn, tables::PROVIDER_EXPIRY),
            provided: LazyTable::new(txn, tables::PROVIDED),
        })
    }

    /// Adds or updates a provider record with `MemoryStore`'s rules: a new key is refused when
    /// `max_keys` keys already have providers; an existing provider is updated in place; a new
    /// provider of a key that has `max_per_key` providers is ignored.
    pub(crate) fn add(
        &mut self,
        record: &ProviderRecord,
        local: Option<&PeerId>,
        max_keys: usize,
        max_per_key: usize,
        now: &Now,
    ) -> Result<(), AddError> {
        let key = record.key.as_ref();
        let provider = record.provider.to_bytes();
        let count = self.keys.get(key)?.map(|count| count.value());
        if count.is_none() && self.keys.len()? >= max_keys as u64 {
            // Expired provider records, never returned, do not hold the places of live ones:
            // sweep one bounded batch first, as a full records table does.
            self.sweep_expired(now.unix_ms(), SWEEP_BATCH)?;
            if self.keys.len()? >= max_keys as u64 {
                return Err(AddError::MaxProvidedKeys);
            }
        }
        let entry = ProviderEntry {
            expires_ms: record.expires.map(|at| now.instant_to_unix_ms(at)),
            addresses: record.addresses.clone(),
        };
        let old = self.providers.get((key, provider.as_slice()))?.map(|old| {
            ProviderEntry::decode(old.value())
                .map(|entry| entry.expires_ms)
                .unwrap_or(None)
        });
        match old {
            Some(old_expiry) => {
                if let Some(deadline) = old_expiry {
                    self.expiry
                        .open()?
                        .remove((deadline, key, provider.as_slice()))?;
                }
            }
            None => {
                let mut count = count.unwrap_or(0);
                if count >= max_per_key as u64 {
                    // The key's expired providers make room first (at most `max_per_key` rows).
                    count = self.remove_expired_of(key, now)?;
                    if count >= max_per_key as u64 {
                        return Ok(());
                    }
                }
                self.keys.insert(key, count + 1)?;
            }
        }
        self.providers
            .insert((key, provider.as_slice()), entry.encode()?.as_slice())?;
        if let Some(deadline) = entry.expires_ms {
            self.expiry
                .open()?
                .insert((deadline, key, provider.as_slice()), ())?;
        }
        if local == Some(&record.provider) {
            self.provided
                .open()?
                .insert((provider.as_slice(), key), ())?;
        }
        Ok(())
    }

    /// Removes the provider record of `provider` for `key`; returns whether there was one.
    pub(crate) fn remove(&mut self, key: &[u8], provider: &[u8]) -> StoreResult<bool> {
        let old_expiry = match self.providers.remove((key, provider))? {
            Some(old) => ProviderEntry::decode(old.value())
                .map(|entry| entry.expires_ms)
                .unwrap_or(None),
            None => return Ok(false),
        };
        if let Some(deadline) = old_expiry {
            self.expiry.open()?.remove((deadline, key, provider))?;
        }
        let count = self.keys.get(key)?.map(|count| count.value()).unwrap_or(0);
        if count <= 1 {
            self.keys.remove(key)?;
        } else {
            self.keys.insert(key, count - 1)?;
        }
        self.provided.open()?.remove((provider, key))?;
        Ok(true)
    }

    /// Removes the expired provider records of `key`; returns how many providers it has left.
    fn remove_expired_of(&mut self, key: &[u8], now: &Now) -> StoreResult<u64> {
        let mut expired = Vec::new();
        for row in self.providers.range((key, &[][..])..)? {
            let (row_key, entry) = row?;
            let (row_key, provider) = row_key.value();
            if row_key != key {
                break;
            }
            // A damaged entry is left alone: reads report it, and its provider can replace it.
            if ProviderEntry::decode(entry.value())
                .is_ok_and(|entry| now.is_expired(entry.expires_ms))
            {
                expired.push(provider.to_vec());
            }
        }
        for provider in &expired {
            self.remove(key, provider)?;
        }
        Ok(self.keys.get(key)?.map_or(0, |count| count.value()))
    }

    /// Removes up to `limit` provider records whose deadline is at or before `now_ms`.
    pub(crate) fn sweep_expired(&mut self, now_ms: u64, limit: usize) -> StoreResult<usize> {
        let mut removed = 0;
        while removed < limit {
            let due: Vec<(u64, Vec<u8>, Vec<u8>)> = self
                .expiry
                .open()?
                .range(..(now_ms.saturating_add(1), &[][..], &[][..]))?
                .take(1024.min(limit - removed))
                .map(|row| {
                    row.map(|(key, _)| {
                        let (deadline, key, provider) = key.value();
                        (deadline, key.to_vec(), provider.to_vec())
                    })
                })
                .collect::<Result<_, _>>()?;
            if due.is_empty() {
                break;
            }
            for (deadline, key, provider) in &due {
                self.expiry
                    .open()?
                    .remove((*deadline, key.as_slice(), provider.as_slice()))?;
                let current = match self.providers.get((key.as_slice(), provider.as_slice()))? {
                    Some(entry) => ProviderEntry::decode(entry.value())
                        .map(|entry| entry.expires_ms)
                        .unwrap_or(None),
                    None => None,
                };
                if current == Some(*deadline) {
                    self.remove(key, provider)?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// Decodes a provider row into a record, or `None` when it has expired at `now`.
pub(crate) fn to_provider_record(
    key: &[u8],
    provider: &[u8],
    entry: &[u8],
    now: &Now,
) -> StoreResult<Option<ProviderRecord>> {
    let entry = ProviderEntry::decode(entry).map_err(|detail| corrupt("providers", key, detail))?;
    let expires = match entry.expires_ms {
        None => None,
        Some(deadline) => match now.unix_ms_to_instant(deadline) {
            Some(at) => Some(at),
            None => return Ok(None),
        },
    };
    let provider = PeerId::from_bytes(provider)
        .map_err(|_| corrupt("providers", key, "provider is not a valid peer id"))?;
    Ok(Some(ProviderRecord {
        key: RecordKey::from(key.to_vec()),
        provider,
        expires,
        addresses: entry.addresses,
    }))
}

/// The unexpired provider records of `key`, ordered by provider peer id bytes. A damaged entry
/// is handed to `damaged` and skipped, so it hides no other provider of the key; a failure of the
/// storage is returned.
pub(crate) fn providers_of(
    providers: &impl ReadableTable<(&'static [u8], &'static [u8]), &'static [u8]>,
    key: &[u8],
    now: &Now,
    mut damaged: impl FnMut(StoreError),
) -> StoreResult<Vec<ProviderRecord>> {
    let mut out = Vec::new();
    for row in providers.range((key, &[][..])..)? {
        let (row_key, entry) = row?;
        let (row_key, provider) = row_key.value();
        if row_key != key {
            break;
        }
        match to_provider_record(key, provider, entry.value(), now) {
            Ok(Some(record)) => out.push(record),
            Ok(None) => {}
            Err(error) => damaged(error),
        }
    }
    Ok(out)
}

/// [`providers_of`] `key` in the snapshot of `txn`.
pub(crate) fn get_providers(
    txn: &ReadTransaction,
    key: &[u8],
    now: &Now,
    damaged: impl FnMut(StoreError),
) -> StoreResult<Vec<ProviderRecord>> {
    providers_of(&txn.open_table(tables::PROVIDERS)?, key, now, damaged)
}
