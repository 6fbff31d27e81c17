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
    postcard::to_extend(item, out).map_err(|source| DatabaseError::Encode {
        schema,
        what,
        source,
    })
}

/// Decodes `bytes` as exactly one `T`. Trailing bytes are an error: a record's value is one encoded
/// item and nothing else, so bytes with a suffix were not written by this schema.
pub(crate) fn decode_exact<T: DeserializeOwned>(
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
