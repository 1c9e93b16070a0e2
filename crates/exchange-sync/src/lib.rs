//! # exchange-sync
//!
//! ExchangeRecord envelopes and their canonical hash, snapshot packs (manifest,
//! index, NDJSON chunks), the SQL mirror with its sync engine, redaction and
//! encrypted cold-storage packs (seed 003).

#![deny(missing_docs)]

mod error;
pub mod hash;
pub mod mirror;
pub mod mssql;
pub mod record;
pub mod target;
pub mod timestamp;

pub use error::{BoxError, Error, Result};
pub use hash::ContentHash;
pub use mirror::{Mirror, MirrorKeyRow, MirrorRecord, MirrorWrite, Scope};
pub use record::{ExchangeRecord, Provenance};
