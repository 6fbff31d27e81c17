//! The bytes of an owned record's value: a fixed header, an optional delegation, the payload and
//! the signer's signature. `docs/record-format.md` ("Owned records") documents them byte by byte.
//!
//! The header starts with the format version, the generation and the sequence, all big-endian, so
//! the plain byte order of two values of one key is their (generation, sequence) order: a node
//! that does not know the schema, resolving by byte order, keeps the newest write too.

use super::delegation::{DELEGATION_LEN, Delegation, Scope};
use super::keys::Owner;

/// The first byte of every owned value: the version of this layout.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the delegation or payload: version, generation, sequence, expiry, flags.
pub const HEADER_LEN: usize = 1 + 8 + 8 + 8 + 1;
/// Bytes of the ed25519 signature that ends every owned value.
pub const SIGNATURE_LEN: usize = 64;
/// What the signature signs first: this string, so a record signature can never be taken for a
/// signature of anything else (a delegation, a libp2p handshake).
pub const RECORD_DOMAIN: &[u8] = b"netabase owned record v1\0";

/// Flag bit: the write deletes the record (the payload is the deleted value).
pub const FLAG_DELETED: u8 = 0b01;
/// Flag bit: a writer signed the value; its delegation follows the header.
pub const FLAG_DELEGATED: u8 = 0b10;

/// The header of an owned value: what every node can read without verifying anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Header {
    /// The owner's generation: raising it revokes every writer authorised for a lower one.
    pub generation: u64,
    /// The write's sequence number: the Unix time of the write in milliseconds, or one above the
    /// sequence it replaced if that is higher. The highest (generation, sequence) wins.
    pub sequence: u64,
    /// The signed expiry in Unix milliseconds; `None` when the record does not expire.
    pub expires_ms: Option<u64>,
    /// Whether the write deletes the record.
    pub deleted: bool,
    /// Whether a writer signed it under a delegation (else the owner did). Reading only: signing
    /// sets it from whether a delegation is given.
    pub delegated: bool,
}

/// An owned value split into its parts, not yet verified.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Envelope<'a> {
    pub(crate) header: Header,
    pub(crate) delegation: Option<Delegation>,
    pub(crate) payload: &'a [u8],
    /// Everything the signature covers after the record key: the value without its signature.
    pub(crate) signed: &'a [u8],
    pub(crate) signature: &'a [u8],
}

/// Why bytes are not an owned value's layout.
pub(crate) type Malformed = &'static str;

impl<'a> Envelope<'a> {
    /// Splits `value` into its parts, or says which rule of the layout it breaks.
    pub(crate) fn parse(value: &'a [u8]) -> Result<Self, Malformed> {
        if value.len() < HEADER_LEN + SIGNATURE_LEN {
            return Err("shorter than an owned value's header and signature");
        }
        let (signed, signature) = value.split_at(value.len() - SIGNATURE_LEN);
        let header = parse_header(signed)?;
        let flags = signed[HEADER_LEN - 1];
        let mut rest = &signed[HEADER_LEN..];
        let delegation = if flags & FLAG_DELEGATED != 0 {
            if rest.len() < DELEGATION_LEN {
                return Err("the delegation is cut short");
            }
            let (delegation, payload) = rest.split_at(DELEGATION_LEN);
            rest = payload;
            Some(Delegation::parse(delegation, header.generation)?)
        } else {
            None
        };
        Ok(Envelope {
            header,
            delegation,
            payload: rest,
            signed,
            signature,
        })
    }

    /// The key that must have signed: the delegation's writer, else the owner.
    pub(crate) fn signer(&self, owner: &Owner) -> Owner {
        self.delegation
            .map_or(*owner, |delegation| delegation.writer)
    }
}

/// Reads the header of an owned value without verifying it: generation, sequence, expiry and
/// whether it is a delete. `None` when the bytes are not an owned value's layout.
pub fn header(value: &[u8]) -> Option<Header> {
    Envelope::parse(value).ok().map(|envelope| envelope.header)
}

fn parse_header(bytes: &[u8]) -> Result<Header, Malformed> {
    if bytes[0] != FORMAT_VERSION {
        return Err("unknown owned value format version");
    }
    let word = |at: usize| {
        let mut be = [0u8; 8];
        be.copy_from_slice(&bytes[at..at + 8]);
        u64::from_be_bytes(be)
    };
    let flags = bytes[HEADER_LEN - 1];
    if flags & !(FLAG_DELETED | FLAG_DELEGATED) != 0 {
        return Err("unknown flags in an owned value");
    }
    let expires = word(17);
    Ok(Header {
        generation: word(1),
        sequence: word(9),
        expires_ms: (expires != 0).then_some(expires),
        deleted: flags & FLAG_DELETED != 0,
        delegated: flags & FLAG_DELEGATED != 0,
    })
}

/// The bytes of an owned value before its signature: header, delegation, payload.
pub(crate) fn unsigned_value(
    header: &Header,
    delegation: Option<&Delegation>,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        HEADER_LEN + delegation.map_or(0, |_| DELEGATION_LEN) + payload.len() + SIGNATURE_LEN,
    );
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&header.generation.to_be_bytes());
    out.extend_from_slice(&header.sequence.to_be_bytes());
    out.extend_from_slice(&header.expires_ms.unwrap_or(0).to_be_bytes());
    let mut flags = 0;
    if header.deleted {
        flags |= FLAG_DELETED;
    }
    if delegation.is_some() {
        flags |= FLAG_DELEGATED;
    }
    out.push(flags);
    if let Some(delegation) = delegation {
        delegation.write(&mut out);
    }
    out.extend_from_slice(payload);
    out
}

/// What the signer of an owned value signs: the domain, the record key (length first) and the
/// value without its signature.
pub(crate) fn signed_message(record_key: &[u8], signed: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(RECORD_DOMAIN.len() + 4 + record_key.len() + signed.len());
    message.extend_from_slice(RECORD_DOMAIN);
    push_len_prefixed(&mut message, record_key);
    message.extend_from_slice(signed);
    message
}

/// Appends `bytes` after their length as a big-endian `u32` (keys are far shorter than 4 GiB;
/// longer input is cut at the same length both sides compute, so it can only fail to verify).
pub(crate) fn push_len_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// The scope byte of a delegation, for [`Delegation::parse`] and the record-format docs.
pub(crate) fn scope_byte(scope: Scope) -> u8 {
    match scope {
        Scope::Record => 0,
        Scope::Collection => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(generation: u64, sequence: u64) -> Header {
        Header {
            generation,
            sequence,
            expires_ms: Some(5),
            deleted: false,
            delegated: false,
        }
    }

    #[test]
    fn a_value_round_trips_through_its_parts() {
        let mut value = unsigned_value(&header(2, 3), None, b"payload");
        value.extend_from_slice(&[9; SIGNATURE_LEN]);
        let envelope = Envelope::parse(&value).unwrap();
        assert_eq!(envelope.header, header(2, 3));
        assert_eq!(envelope.payload, b"payload");
        assert_eq!(envelope.signature, [9; SIGNATURE_LEN]);
        assert_eq!(envelope.signed.len(), value.len() - SIGNATURE_LEN);
        assert!(envelope.delegation.is_none());
    }

    #[test]
    fn byte_order_is_generation_then_sequence_order() {
        let value = |generation, sequence| {
            let mut value = unsigned_value(&header(generation, sequence), None, b"zzz");
            value.extend_from_slice(&[0; SIGNATURE_LEN]);
            value
        };
        assert!(value(1, 256) > value(1, 255));
        assert!(value(2, 0) > value(1, u64::MAX));
    }

    #[test]
    fn layouts_that_are_not_owned_values_are_refused() {
        assert!(Envelope::parse(&[1; 10]).is_err());
        let mut value = unsigned_value(&header(0, 0), None, b"");
        value.extend_from_slice(&[0; SIGNATURE_LEN]);
        let mut other_version = value.clone();
        other_version[0] = 2;
        assert!(Envelope::parse(&other_version).is_err());
        let mut unknown_flag = value.clone();
        unknown_flag[HEADER_LEN - 1] = 0b100;
        assert!(Envelope::parse(&unknown_flag).is_err());
        let mut delegated_without_delegation = value;
        delegated_without_delegation[HEADER_LEN - 1] = FLAG_DELEGATED;
        assert!(Envelope::parse(&delegated_without_delegation).is_err());
    }
}
