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
        let mut s = String::with_capacity(64);
        self.write_hex(&mut s);
        s
    }

    /// Append the 64-character lowercase hex form to `out`.
    pub fn write_hex(&self, out: &mut String) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 64];
        for (pair, b) in text.chunks_exact_mut(2).zip(self.0) {
            if let [high, low] = pair {
                *high = DIGITS[usize::from(b >> 4)];
                *low = DIGITS[usize::from(b & 0x0f)];
            }
        }
        // Hex digits are ASCII.
        out.push_str(std::str::from_utf8(&text).unwrap_or_default());
    }

    /// The first 16 hex characters followed by `...` (the reference's short form).
    pub fn short(&self) -> String {
        let mut s = const_hex::encode(&self.0[..8]);
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

/// A set of content hashes, hashed by their first 8 bytes (they are SHA-256
/// digests, already uniform: SipHash over 32 bytes was the largest cost of
/// loading a million of them).
pub type ContentHashSet = std::collections::HashSet<ContentHash, BuildPrefixHasher>;

/// Builds [`PrefixHasher`]s.
pub type BuildPrefixHasher = std::hash::BuildHasherDefault<PrefixHasher>;

/// A `Hasher` for [`ContentHash`] keys: the digest's first 8 bytes are the hash.
#[derive(Debug, Default, Clone, Copy)]
pub struct PrefixHasher(u64);

impl std::hash::Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `[u8; 32]` hashes as its bytes in one call; other keys still get a
        // (weaker) mix of every byte.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            for (w, b) in word.iter_mut().zip(chunk) {
                *w = *b;
            }
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x517c_c1b7_2722_0a95);
            if bytes.len() == 32 {
                // A digest: its first word is uniform already.
                self.0 = u64::from_le_bytes(word);
                return;
            }
        }
    }
}

/// The text is not 64 hex characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SHA-256 hex digest (64 hex characters): {0:?}")]
pub struct BadHash(pub String);

impl FromStr for ContentHash {
    type Err = BadHash;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Exactly 64 hex digits, either case; anything else is refused. The
        // length first: the decoder would also take a `0x` prefix, which a
        // content hash never has.
        let mut out = [0u8; 32];
        if s.len() != 64 {
            return Err(BadHash(s.to_owned()));
        }
        const_hex::decode_to_slice(s, &mut out).map_err(|_| BadHash(s.to_owned()))?;
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
        assert_eq!(text.to_uppercase().parse::<ContentHash>(), Ok(h));
        assert!(text.replacen('0', "g", 1).parse::<ContentHash>().is_err());
        // Every ASCII character in every position of a pair; a 2-byte character
        // that keeps the length at 64 bytes.
        for c in (0u8..128).map(char::from) {
            for at in [0, 1] {
                let mut t: Vec<char> = text.chars().collect();
                t[at] = c;
                let t: String = t.into_iter().collect();
                assert_eq!(
                    t.parse::<ContentHash>().is_ok(),
                    c.is_ascii_hexdigit(),
                    "{t:?}"
                );
            }
        }
        assert!(
            format!("\u{e9}{}", &text[2..])
                .parse::<ContentHash>()
                .is_err()
        );
        // No prefix, whether it lengthens the text or takes two digits' place.
        for t in [format!("0x{text}"), format!("0x{}", &text[2..])] {
            assert!(t.parse::<ContentHash>().is_err(), "{t:?}");
        }
        let mut set = ContentHashSet::default();
        assert!(set.insert(h) && !set.insert(h) && set.contains(&h));
        Ok(())
    }
}
