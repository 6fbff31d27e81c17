//! Exact postcard encoding: one item per byte string, nothing before or after it.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{DatabaseError, DatabaseResult};

/// Appends the postcard encoding of `item` to `out`.
pub(crate) fn encode_into<T: Serialize + ?Sized>(
    item: &T,
    out: Vec<u8>,
    schema: &'static str,
    what: &'static str,
) -> DatabaseResult<Vec<u8>> {
    postcard::serialize_with_flavor(item, AppendToVec(out)).map_err(|source| {
        DatabaseError::Encode {
            schema,
            what,
            source,
        }
    })
}

/// Whether the postcard encoding of `item` is exactly `expected`, found without allocating: the
/// encoding is compared as it is produced.
pub(crate) fn encodes_as<T: Serialize + ?Sized>(
    item: &T,
    expected: &[u8],
    schema: &'static str,
    what: &'static str,
) -> DatabaseResult<bool> {
    let compare = CompareWith {
        rest: expected,
        equal: true,
    };
    postcard::serialize_with_flavor(item, compare).map_err(|source| DatabaseError::Encode {
        schema,
        what,
        source,
    })
}

/// A postcard flavor appending to an existing `Vec<u8>` with `push` and `extend_from_slice`, like
/// postcard's own `AllocVec`. (`postcard::to_extend` goes through `Extend<u8>` with an iterator
/// per call, which made `to_record` + `from_record` of a 1 KiB value measurably slower than bare
/// postcard; see docs/performance.md.)
struct AppendToVec(Vec<u8>);

impl postcard::ser_flavors::Flavor for AppendToVec {
    type Output = Vec<u8>;

    #[inline]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    #[inline]
    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.0)
    }
}

/// A postcard flavor that compares the encoding with `rest` instead of storing it.
struct CompareWith<'a> {
    /// The expected bytes not yet matched.
    rest: &'a [u8],
    /// False once a byte differed.
    equal: bool,
}

impl postcard::ser_flavors::Flavor for CompareWith<'_> {
    type Output = bool;

    #[inline]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.try_extend(&[byte])
    }

    #[inline]
    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        match self.rest.strip_prefix(bytes) {
            Some(rest) if self.equal => self.rest = rest,
            _ => self.equal = false,
        }
        Ok(())
    }

    fn finalize(self) -> postcard::Result<bool> {
        Ok(self.equal && self.rest.is_empty())
    }
}

/// Decodes `bytes` as exactly one `T` in its canonical encoding: trailing bytes are an error (a
/// record's value is one encoded item and nothing else, so bytes with a suffix were not written by
/// this schema), and so are bytes that decode but are not what encoding the item gives (a padded
/// varint such as `8c 00` for 12): every item has one encoding, so byte order, conflict
/// resolution and signatures see one value as one byte string.
pub(crate) fn decode_canonical<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
    schema: &'static str,
    what: &'static str,
) -> DatabaseResult<T> {
    let item = decode_exact(bytes, schema, what)?;
    if encodes_as(&item, bytes, schema, what)? {
        Ok(item)
    } else {
        Err(DatabaseError::NonCanonical { schema, what })
    }
}

/// Decodes `bytes` as exactly one `T`; trailing bytes are an error.
fn decode_exact<T: DeserializeOwned>(
    bytes: &[u8],
    schema: &'static str,
    what: &'static str,
) -> DatabaseResult<T> {
    let (item, rest) =
        postcard::take_from_bytes(bytes).map_err(|source| DatabaseError::Decode {
            schema,
            what,
            source,
        })?;
    if rest.is_empty() {
        Ok(item)
    } else {
        Err(DatabaseError::TrailingBytes {
            schema,
            what,
            trailing: rest.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_postcard_bytes_to_what_is_there() {
        let out = encode_into(&(300u64, "ab"), vec![9], "T", "key").unwrap();
        assert_eq!(out, [9, 0xac, 0x02, 2, b'a', b'b']);
        assert_eq!(out[1..], postcard::to_allocvec(&(300u64, "ab")).unwrap());
    }

    #[test]
    fn compares_an_encoding_without_building_it() {
        let item = (300u64, "ab");
        let exact = postcard::to_allocvec(&item).unwrap();
        assert!(encodes_as(&item, &exact, "T", "key").unwrap());
        assert!(!encodes_as(&item, &exact[..exact.len() - 1], "T", "key").unwrap());
        assert!(!encodes_as(&item, &[exact.as_slice(), &[0]].concat(), "T", "key").unwrap());
        assert!(!encodes_as(&item, &[0xac, 0x02, 2, b'a', b'c'], "T", "key").unwrap());
        assert!(!encodes_as(&item, &[], "T", "key").unwrap());
    }

    #[test]
    fn refuses_encodings_that_are_not_canonical() {
        assert_eq!(decode_canonical::<u32>(&[12], "T", "value").unwrap(), 12);
        // 12 as a two-byte varint: postcard decodes it, but it is not how 12 encodes.
        assert!(matches!(
            decode_canonical::<u32>(&[0x8c, 0x00], "T", "value"),
            Err(DatabaseError::NonCanonical { what: "value", .. })
        ));
        assert!(matches!(
            decode_canonical::<u32>(&[12, 0], "T", "value"),
            Err(DatabaseError::TrailingBytes { trailing: 1, .. })
        ));
    }
}
