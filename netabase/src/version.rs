//! Schema versions on the wire: a value of version 2 or later carries its version after its
//! postcard bytes, so a reader knows which type to decode it as.
//!
//! ```text
//! value of version 1 (or of a schema without versions):  postcard(value)
//! value of version n >= 2:                               postcard(value) ++ 00 "netabase:v" ++ varint(n)
//! ```
//!
//! Version 1 is today's format unchanged, so the records a schema wrote before it declared
//! versions are its version 1. A reader splits the suffix off (none: version 1), decodes its own
//! version directly, an older one through the schema's `from` chain, and refuses a newer one
//! ([`DatabaseError::NewerVersion`](crate::DatabaseError::NewerVersion)). A value whose last bytes
//! happen to be a version suffix is read as that version; for a version-1 value to end so, its
//! own bytes would have to end with the 11-byte marker followed by a varint.

/// The marker between a value and its version: a zero byte, then `netabase:v`.
pub const VERSION_MARKER: &[u8; 11] = b"\x00netabase:v";

/// Appends the version suffix of version `version` to `out`: nothing for version 1.
pub(crate) fn append_suffix(mut out: Vec<u8>, version: u32) -> Vec<u8> {
    if version > 1 {
        out.extend_from_slice(VERSION_MARKER);
        let mut rest = version;
        while rest >= 0x80 {
            out.push((rest as u8 & 0x7f) | 0x80);
            rest >>= 7;
        }
        out.push(rest as u8);
    }
    out
}

/// Splits `bytes` into the value's postcard bytes and its version: 1 when no canonical version
/// suffix (of a version of 2 or more) ends them.
pub(crate) fn split(bytes: &[u8]) -> (&[u8], u32) {
    for varint_len in 1..=5 {
        let Some(marker_start) = bytes.len().checked_sub(VERSION_MARKER.len() + varint_len) else {
            break;
        };
        let (head, tail) = bytes.split_at(marker_start);
        let (marker, varint) = tail.split_at(VERSION_MARKER.len());
        if marker == VERSION_MARKER
            && let Some(version) = canonical_varint(varint)
            && version > 1
        {
            return (head, version);
        }
    }
    (bytes, 1)
}

/// The `u32` a canonical varint of exactly these bytes encodes.
fn canonical_varint(bytes: &[u8]) -> Option<u32> {
    let (last, init) = bytes.split_last()?;
    if last & 0x80 != 0
        || init.iter().any(|byte| byte & 0x80 == 0)
        || (*last == 0 && !init.is_empty())
    {
        return None;
    }
    let mut value: u64 = 0;
    for (position, byte) in bytes.iter().enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * position);
    }
    u32::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suffix_round_trips_for_every_width_of_version() {
        for version in [2, 127, 128, 300, 16_384, u32::MAX] {
            let bytes = append_suffix(vec![1, 2, 3], version);
            assert_eq!(split(&bytes), (&[1, 2, 3][..], version), "{version}");
        }
    }

    #[test]
    fn version_one_and_no_suffix_are_the_plain_bytes() {
        assert_eq!(append_suffix(vec![9], 1), [9]);
        assert_eq!(split(&[9, 8, 7]), (&[9, 8, 7][..], 1));
        assert_eq!(split(&[]), (&[][..], 1));
    }

    #[test]
    fn a_malformed_suffix_is_no_suffix() {
        let mut padded = b"abc\x00netabase:v".to_vec();
        padded.extend_from_slice(&[0x82, 0x00]); // a padded varint of 2
        assert_eq!(split(&padded).1, 1);
        let mut one = b"abc\x00netabase:v".to_vec();
        one.push(1); // version 1 never has a suffix
        assert_eq!(split(&one).1, 1);
        assert_eq!(split(b"\x00netabase:").1, 1);
    }
}
