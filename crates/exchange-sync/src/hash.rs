//! Content hashes: 32 bytes, written as 64 lowercase hex characters.

use std::fmt;
use std::str::FromStr;

/// A `content_sha256` value: the SHA-256 of a record's canonical hash input.
///
/// Held as 32 bytes (half the memory of the hex text in large hash sets); displayed
/// and parsed as 64 lowercase hex characters. Parsing accepts upper case too.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// The 64-character lowercase hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 16 hex characters followed by `...` (the reference's short form).
    pub fn short(&self) -> String {
        let mut s = hex::encode(&self.0[..8]);
        s.push_str("...");
        s
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.to_hex())
    }
}

/// The text is not 64 hex characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SHA-256 hex digest (64 hex characters): {0:?}")]
pub struct BadHash(pub String);

impl FromStr for ContentHash {
    type Err = BadHash;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        if s.len() != 64 {
            return Err(BadHash(s.to_owned()));
        }
        hex::decode_to_slice(s, &mut out).map_err(|_| BadHash(s.to_owned()))?;
        Ok(ContentHash(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() -> Result<(), BadHash> {
        let text = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let h: ContentHash = text.parse()?;
        assert_eq!(h.to_hex(), text);
        assert_eq!(h.short(), "0123456789abcdef...");
        assert!("xyz".parse::<ContentHash>().is_err());
        Ok(())
    }
}
