//! The byte layout of the entries in the `records` and `providers` tables.
//!
//! A record entry is a header followed by the record's value, unchanged:
//!
//! ```text
//! flags: u8                     bit 0: has expiry, bit 1: has publisher, other bits 0
//! expiry: u64 little endian     unix milliseconds, present if bit 0
//! publisher length: u8          present if bit 1
//! publisher: [u8]               the peer id's bytes, present if bit 1
//! value: [u8]                   the rest of the entry
//! ```
//!
//! A provider entry is `flags: u8` (bit 0: has expiry), the optional expiry, then `count: u16` and
//! `count` addresses, each `length: u16` followed by the multiaddr's bytes.

use libp2p::{Multiaddr, PeerId};

use crate::error::{StoreError, StoreResult};

const HAS_EXPIRY: u8 = 1;
const HAS_PUBLISHER: u8 = 2;

/// A decoded record entry, borrowing the stored bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordEntry<'a> {
    /// The deadline as unix milliseconds.
    pub(crate) expires_ms: Option<u64>,
    /// The publisher's peer id bytes.
    pub(crate) publisher: Option<&'a [u8]>,
    /// The record's value.
    pub(crate) value: &'a [u8],
}

impl<'a> RecordEntry<'a> {
    /// Parses an entry; the error says what is malformed.
    pub(crate) fn decode(bytes: &'a [u8]) -> Result<Self, &'static str> {
        let (&flags, mut rest) = bytes.split_first().ok_or("empty entry")?;
        if flags & !(HAS_EXPIRY | HAS_PUBLISHER) != 0 {
            return Err("unknown flag bits in the entry header");
        }
        let mut expires_ms = None;
        if flags & HAS_EXPIRY != 0 {
            let (deadline, tail) = rest
                .split_first_chunk::<8>()
                .ok_or("entry too short for its expiry")?;
            expires_ms = Some(u64::from_le_bytes(*deadline));
            rest = tail;
        }
        let mut publisher = None;
        if flags & HAS_PUBLISHER != 0 {
            let (&len, tail) = rest
                .split_first()
                .ok_or("entry too short for its publisher")?;
            let len = usize::from(len);
            if tail.len() < len {
                return Err("entry too short for its publisher");
            }
            publisher = Some(&tail[..len]);
            rest = &tail[len..];
        }
        Ok(RecordEntry {
            expires_ms,
            publisher,
            value: rest,
        })
    }

    /// The publisher as a `PeerId`; `Err` when the stored bytes are not a peer id.
    pub(crate) fn publisher_id(&self) -> Result<Option<PeerId>, &'static str> {
        self.publisher
            .map(|bytes| PeerId::from_bytes(bytes).map_err(|_| "publisher is not a valid peer id"))
            .transpose()
    }
}

/// Writes a record entry's header into a fresh buffer with room for `value_len` more bytes; the
/// caller appends the value.
pub(crate) fn record_header(
    expires_ms: Option<u64>,
    publisher: Option<&PeerId>,
    value_len: usize,
) -> StoreResult<Vec<u8>> {
    let publisher = publisher.map(|peer| peer.to_bytes());
    record_header_raw(expires_ms, publisher.as_deref(), value_len)
}

/// [`record_header`] with the publisher given as the peer id's bytes.
fn record_header_raw(
    expires_ms: Option<u64>,
    publisher: Option<&[u8]>,
    value_len: usize,
) -> StoreResult<Vec<u8>> {
    let publisher_len = publisher.map_or(0, |bytes| 1 + bytes.len());
    let mut out = Vec::with_capacity(1 + 8 + publisher_len + value_len);
    let mut flags = 0;
    if expires_ms.is_some() {
        flags |= HAS_EXPIRY;
    }
    if publisher.is_some() {
        flags |= HAS_PUBLISHER;
    }
    out.push(flags);
    if let Some(deadline) = expires_ms {
        out.extend_from_slice(&deadline.to_le_bytes());
    }
    if let Some(bytes) = publisher {
        let len = u8::try_from(bytes.len()).map_err(|_| StoreError::TooLong {
            what: "publisher peer id",
            len: bytes.len(),
            max: usize::from(u8::MAX),
        })?;
        out.push(len);
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

/// A whole record entry: header and value.
pub(crate) fn encode_record(
    expires_ms: Option<u64>,
    publisher: Option<&PeerId>,
    value: &[u8],
) -> StoreResult<Vec<u8>> {
    let mut out = record_header(expires_ms, publisher, value.len())?;
    out.extend_from_slice(value);
    Ok(out)
}

/// [`encode_record`] with the publisher given as the peer id's bytes, as a decoded entry holds
/// them.
pub(crate) fn encode_record_raw(
    expires_ms: Option<u64>,
    publisher: Option<&[u8]>,
    value: &[u8],
) -> StoreResult<Vec<u8>> {
    let mut out = record_header_raw(expires_ms, publisher, value.len())?;
    out.extend_from_slice(value);
    Ok(out)
}

/// A decoded provider entry.
#[derive(Debug, Clone)]
pub(crate) struct ProviderEntry {
    /// The deadline as unix milliseconds.
    pub(crate) expires_ms: Option<u64>,
    /// The provider's addresses.
    pub(crate) addresses: Vec<Multiaddr>,
}

impl ProviderEntry {
    /// Parses a provider entry; the error says what is malformed.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, &'static str> {
        let (&flags, mut rest) = bytes.split_first().ok_or("empty provider entry")?;
        if flags & !HAS_EXPIRY != 0 {
            return Err("unknown flag bits in the provider entry header");
        }
        let mut expires_ms = None;
        if flags & HAS_EXPIRY != 0 {
            let (deadline, tail) = rest
                .split_first_chunk::<8>()
                .ok_or("provider entry too short for its expiry")?;
            expires_ms = Some(u64::from_le_bytes(*deadline));
            rest = tail;
        }
        let (count, mut rest) = take_u16(rest)?;
        let mut addresses = Vec::with_capacity(usize::from(count).min(64));
        for _ in 0..count {
            let (len, tail) = take_u16(rest)?;
            let len = usize::from(len);
            if tail.len() < len {
                return Err("provider entry too short for its addresses");
            }
            let address = Multiaddr::try_from(tail[..len].to_vec())
                .map_err(|_| "provider address is not a valid multiaddr")?;
            addresses.push(address);
            rest = &tail[len..];
        }
        if !rest.is_empty() {
            return Err("trailing bytes after the provider addresses");
        }
        Ok(ProviderEntry {
            expires_ms,
            addresses,
        })
    }

    /// Encodes the entry.
    pub(crate) fn encode(&self) -> StoreResult<Vec<u8>> {
        let mut out = Vec::with_capacity(11 + self.addresses.len() * 32);
        match self.expires_ms {
            Some(deadline) => {
                out.push(HAS_EXPIRY);
                out.extend_from_slice(&deadline.to_le_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&u16_len("provider address count", self.addresses.len())?);
        for address in &self.addresses {
            let bytes = address.as_ref();
            out.extend_from_slice(&u16_len("provider address", bytes.len())?);
            out.extend_from_slice(bytes);
        }
        Ok(out)
    }
}

fn take_u16(bytes: &[u8]) -> Result<(u16, &[u8]), &'static str> {
    let (head, tail) = bytes
        .split_first_chunk::<2>()
        .ok_or("provider entry too short")?;
    Ok((u16::from_le_bytes(*head), tail))
}

fn u16_len(what: &'static str, len: usize) -> StoreResult<[u8; 2]> {
    u16::try_from(len)
        .map(u16::to_le_bytes)
        .map_err(|_| StoreError::TooLong {
            what,
            len,
            max: usize::from(u16::MAX),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::multihash::Multihash;

    fn peer(seed: u8) -> PeerId {
        PeerId::from_multihash(Multihash::wrap(0x12, &[seed; 32]).expect("32-byte digest"))
            .expect("sha2-256 multihash")
    }

    #[test]
    fn record_entries_round_trip() {
        let publisher = peer(3);
        for (expires, publisher) in [
            (None, None),
            (Some(42), None),
            (None, Some(&publisher)),
            (Some(u64::MAX), Some(&publisher)),
        ] {
            let bytes = encode_record(expires, publisher, b"value").expect("encodes");
            let entry = RecordEntry::decode(&bytes).expect("decodes");
            assert_eq!(entry.expires_ms, expires);
            assert_eq!(entry.publisher_id().expect("peer id"), publisher.copied());
            assert_eq!(entry.value, b"value");
        }
    }

    #[test]
    fn malformed_record_entries_are_errors() {
        assert!(RecordEntry::decode(b"").is_err());
        assert!(RecordEntry::decode(&[0x80]).is_err());
        assert!(RecordEntry::decode(&[HAS_EXPIRY, 1, 2]).is_err());
        assert!(RecordEntry::decode(&[HAS_PUBLISHER, 5, 1]).is_err());
        let entry = RecordEntry::decode(&[HAS_PUBLISHER, 2, 1, 2]).expect("well-formed");
        assert!(entry.publisher_id().is_err());
    }

    #[test]
    fn provider_entries_round_trip() {
        let entry = ProviderEntry {
            expires_ms: Some(7),
            addresses: vec!["/ip4/127.0.0.1/tcp/4001".parse().expect("multiaddr")],
        };
        let decoded = ProviderEntry::decode(&entry.encode().expect("encodes")).expect("decodes");
        assert_eq!(decoded.expires_ms, Some(7));
        assert_eq!(decoded.addresses, entry.addresses);
        assert!(ProviderEntry::decode(&[0, 1, 0, 9, 0]).is_err());
    }
}
