//! Raw record keys and values on the command line: escaped text or hex in, escaped text out.
//!
//! Keys are shown the way Netabase's own error messages show them (`escape_ascii`: printable ASCII
//! as is, other bytes as `\xNN`), and [`unescape`] reads that form back, so a key copied from
//! `netabase inspect` or from an error can be pasted into `netabase get`.

use std::fmt::Write;

/// Why a command-line key or value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BytesError {
    /// A backslash is followed by something other than `\\ \' \" \n \r \t \xNN`.
    #[error("unknown escape `\\{0}`; use \\xNN for a byte, \\\\ for a backslash (or pass --hex)")]
    UnknownEscape(char),
    /// `\x` is not followed by two hex digits.
    #[error("`\\x` must be followed by two hex digits")]
    ShortHexEscape,
    /// Hex input has an odd number of digits or a character that is not a hex digit.
    #[error("{0}")]
    BadHex(&'static str),
}

/// Reads escaped text: `\xNN` is the byte NN; `\\`, `\'`, `\"`, `\n`, `\r`, `\t` as in Rust; every
/// other character stands for its UTF-8 bytes.
pub fn unescape(text: &str) -> Result<Vec<u8>, BytesError> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buffer = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            continue;
        }
        match chars.next() {
            Some('\\') => out.push(b'\\'),
            Some('\'') => out.push(b'\''),
            Some('"') => out.push(b'"'),
            Some('n') => out.push(b'\n'),
            Some('r') => out.push(b'\r'),
            Some('t') => out.push(b'\t'),
            Some('x') => {
                let high = chars.next().and_then(|c| c.to_digit(16));
                let low = chars.next().and_then(|c| c.to_digit(16));
                match (high, low) {
                    // Two hex digits are at most 0xff.
                    (Some(high), Some(low)) => out.push((high * 16 + low) as u8),
                    _ => return Err(BytesError::ShortHexEscape),
                }
            }
            Some(other) => return Err(BytesError::UnknownEscape(other)),
            None => return Err(BytesError::UnknownEscape(' ')),
        }
    }
    Ok(out)
}

/// Reads hex digits (upper or lower case; spaces and a leading `0x` are ignored).
pub fn from_hex(text: &str) -> Result<Vec<u8>, BytesError> {
    let digits: Vec<u8> = text
        .trim()
        .trim_start_matches("0x")
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err(BytesError::BadHex("hex input has an odd number of digits"));
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            let digit = |b: u8| {
                (b as char).to_digit(16).ok_or(BytesError::BadHex(
                    "hex input has a character that is not 0-9 or a-f",
                ))
            };
            Ok((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
        })
        .collect()
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// `bytes` as escaped text: printable ASCII as is, everything else as `\xNN` (or `\n`, `\t`, ...).
pub fn escape(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Reads a key or value given on the command line, as hex when `hex` is set, else as escaped text.
pub fn parse(text: &str, hex: bool) -> Result<Vec<u8>, BytesError> {
    if hex { from_hex(text) } else { unescape(text) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(unescape(&escape(&all)).unwrap(), all);
    }

    #[test]
    fn keys_read_as_netabase_prints_them() {
        assert_eq!(
            unescape("/netabase/Note/\\x07").unwrap(),
            b"/netabase/Note/\x07".to_vec()
        );
        assert_eq!(unescape("caf\u{e9}").unwrap(), "caf\u{e9}".as_bytes());
    }

    #[test]
    fn bad_escapes_are_errors() {
        assert_eq!(unescape("a\\q"), Err(BytesError::UnknownEscape('q')));
        assert_eq!(unescape("\\x4"), Err(BytesError::ShortHexEscape));
        assert_eq!(unescape("\\xzz"), Err(BytesError::ShortHexEscape));
        assert!(unescape("trailing\\").is_err());
    }

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        assert_eq!(from_hex("0x00ff 10").unwrap(), vec![0, 255, 16]);
        assert_eq!(to_hex(&[0, 255, 16]), "00ff10");
        assert!(from_hex("abc").is_err());
        assert!(from_hex("zz").is_err());
    }
}
