//! # exchange-core
//!
//! The exchange pack format, pure: what a team needs to read and write
//! ExchangeRecords and pack files in memory, with no file, network, thread or
//! clock in sight (the caller passes bytes, text and the time in).
//!
//! * [`ExchangeRecord`]: the envelope, read and written exactly like the reference
//!   ([`record`]), hashed with [`canonical`] (NFC, 15-digit floats, exact
//!   integers) into a [`ContentHash`] ([`hash`]).
//! * [`line`](mod@line): the one reader of a pack line (import, check and verify), over
//!   [`lean`]: the fast line reader that checks a line's hash without building a
//!   JSON tree, and only ever says "yes, same as the full parse" or "ask the full
//!   parse".
//! * [`manifest`]: `manifest.json` parsed from and written to text;
//!   [`index`]: one `index.jsonl` line; [`redaction`]: scrubbing secrets from a
//!   record under the manifest's policy.
//! * [`tree`]: a JSON value as the canonical writer, the pack-line writer and
//!   the redactor see it (serde_json's `Value`, or the lean reader's `Node` for
//!   `add`'s fast path), so each is written once for both.
//! * [`nonfinite`] (the reference's `NaN`/`Infinity` literals) and [`timestamp`]
//!   (`observed_at_utc` as the reference reads and writes it).
//!
//! Files, locks, the SQL mirror and the sync engine live in exchange-sync, which
//! re-exports these modules under the same names.
//!
//! ```
//! use exchange_core::ExchangeRecord;
//!
//! let line = r#"{"exchange_id": "21636369-8b52-4b4a-97b7-50923ceb3ffd", "exchange_type": "http", "source_system": "example-api", "entity_type": "page", "natural_key": null, "request": null, "response": null, "observed_at_utc": "2024-01-15T10:30:00+00:00", "provenance": null, "content_sha256": "b6976f4e047274f3061d187f73dba0b19dbc0e1145b1625dbdf5e827713ce175", "schema_version": 1, "tags": [], "redactions_applied": [], "response_ref": null}"#;
//! let parsed = ExchangeRecord::parse_line(line).unwrap();
//! assert_eq!(parsed.record.compute_hash(), parsed.record.content_sha256);
//! assert_eq!(parsed.record.to_line(), line);
//! ```

#![deny(missing_docs)]

pub mod canonical;
mod error;
pub mod hash;
pub mod index;
pub mod lean;
pub mod line;
pub mod manifest;
pub mod nonfinite;
pub mod record;
pub mod redaction;
pub mod timestamp;
pub mod tree;

pub use error::{Error, Result};
pub use hash::{ContentHash, ContentHashSet};
pub use manifest::{Manifest, Scope};
pub use record::{ExchangeRecord, Provenance};

/// The crate README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
