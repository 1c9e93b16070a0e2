//! # exchange-sync
//!
//! ExchangeRecord envelopes and their canonical hash, snapshot packs (manifest,
//! index, NDJSON chunks), the SQL mirror with its sync engine, redaction and
//! encrypted cold-storage packs.
//!
//! * [`ExchangeRecord`]: the envelope, read and written exactly like the reference
//!   (`record`), hashed with [`canonical`] (NFC, 15-digit floats, exact integers).
//! * [`pack`]: the folder layout (`manifest.json`, `index.jsonl`,
//!   `records/YYYY/YYYY-MM-DD/chunk-NNNN.ndjson`), an appending writer and a reader
//!   that names file and line on every error; [`verify`] runs the six checks.
//! * [`Mirror`]: the SQL mirror trait (SQLite here via fabric-store, SQL Server via
//!   tiberius behind the `mssql` feature); [`sync`] is the engine (`import`, `export`, `sync`), one transaction
//!   per command.
//! * [`add`] with [`redaction`]; [`archive`] packs and unpacks zips, [`crypto`]
//!   encrypts them in the reference's format; [`target`] parses `--target`.
//! * [`pack::PackLock`]: one writer per pack, readers beside no writer;
//!   [`input_limits`]: every input's size limit and the bounded readers.
//!
//! The pure modules ([`record`], [`canonical`], [`hash`], [`nonfinite`],
//! [`timestamp`], [`redaction`], [`lean`], [`tree`] and the types of
//! [`manifest`]) come from the crate exchange-core and are re-exported here
//! under the same paths; this crate adds the files ([`ManifestFile`],
//! [`pack::read_index`]).
//!
//! ```
//! use exchange_sync::ExchangeRecord;
//!
//! let line = r#"{"exchange_id": "21636369-8b52-4b4a-97b7-50923ceb3ffd", "exchange_type": "http", "source_system": "example-api", "entity_type": "page", "natural_key": null, "request": null, "response": null, "observed_at_utc": "2024-01-15T10:30:00+00:00", "provenance": null, "content_sha256": "b6976f4e047274f3061d187f73dba0b19dbc0e1145b1625dbdf5e827713ce175", "schema_version": 1, "tags": [], "redactions_applied": [], "response_ref": null}"#;
//! let parsed = ExchangeRecord::parse_line(line).unwrap();
//! assert_eq!(parsed.record.compute_hash(), parsed.record.content_sha256);
//! assert_eq!(parsed.record.to_line(), line);
//! ```

#![deny(missing_docs)]

pub mod add;
pub mod archive;
pub mod crypto;
mod error;
mod fsio;
pub mod input_limits;
pub mod limits;
mod manifest_file;
pub mod mirror;
#[cfg(feature = "mssql")]
pub mod mssql;
pub mod pack;
mod parallel;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod preflight;
mod sealed_file;
pub mod sync;
pub mod target;
mod unpack_temp;
pub mod verify;

/// The error of the pure modules (a manifest, a pattern, a value), wrapped as
/// [`Error::Core`].
pub use exchange_core::Error as CoreError;
pub use exchange_core::{
    canonical, hash, lean, line, nonfinite, record, redaction, timestamp, tree,
};

/// `manifest.json`: the types and text form (from exchange-core) and the file
/// ([`manifest::ManifestFile`]: load with its size limit, save atomically).
pub mod manifest {
    pub use crate::manifest_file::{ManifestFile, dataset_dir};
    pub use exchange_core::manifest::*;
}

pub use error::{BoxError, Error, Result};
pub use hash::{ContentHash, ContentHashSet};
pub use manifest::ManifestFile;
pub use mirror::{
    Mirror, MirrorKeyRow, MirrorRead, MirrorRecord, MirrorTransaction, MirrorWrite, Scope,
};
pub use record::{ExchangeRecord, Provenance};

/// The crate README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
