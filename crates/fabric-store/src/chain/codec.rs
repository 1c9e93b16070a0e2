//! How a payload is stored: the canonical JSON, gzip-compressed, with its SHA-256.
//!
//! Storing the canonical bytes makes verification exact and cheap: the checksum is
//! the SHA-256 of the decompressed bytes, no re-serialisation involved.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::Value;

use fabric_core::json::{sha256_hex, to_canonical_string};

/// The only encoding written (and the `encoding` column's only allowed value).
pub(crate) const ENCODING: &str = "gzip";

/// A payload ready to be stored.
#[derive(Debug)]
pub(crate) struct Encoded {
    /// gzip of the canonical JSON.
    pub bytes: Vec<u8>,
    /// SHA-256 of the canonical JSON.
    pub checksum: String,
    /// Length of the canonical JSON.
    pub data_size: u64,
}

/// Canonicalise, hash and compress `payload`.
pub(crate) fn encode(payload: &Value) -> std::io::Result<Encoded> {
    let canonical = to_canonical_string(payload);
    let checksum = sha256_hex(canonical.as_bytes());
    let mut gz = GzEncoder::new(
        Vec::with_capacity(canonical.len() / 3 + 64),
        Compression::default(),
    );
    gz.write_all(canonical.as_bytes())?;
    Ok(Encoded {
        bytes: gz.finish()?,
        checksum,
        data_size: canonical.len() as u64,
    })
}

/// Decompress a stored payload and check it against its checksum and size.
/// Returns the canonical bytes, or why they cannot be trusted.
pub(crate) fn decode_verified(
    encoding: &str,
    blob: &[u8],
    checksum: &str,
    data_size: u64,
) -> Result<Vec<u8>, String> {
    if encoding != ENCODING {
        return Err(format!("unknown payload encoding {encoding:?}"));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(data_size).unwrap_or(0).min(64 << 20));
    // Read at most one byte more than expected: a damaged stream cannot balloon.
    GzDecoder::new(blob)
        .take(data_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("the compressed payload cannot be read ({e})"))?;
    if bytes.len() as u64 != data_size {
        return Err(format!(
            "the payload has {} bytes, {data_size} were stored",
            bytes.len()
        ));
    }
    let actual = sha256_hex(&bytes);
    if actual != checksum {
        return Err(format!("checksum is {actual}, {checksum} was stored"));
    }
    Ok(bytes)
}

/// Parse verified canonical bytes back into a document.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("the payload is not JSON ({e})"))
}
