//! # exchange-sync
//!
//! ExchangeRecord envelopes and their canonical hash, snapshot packs (manifest,
//! index, NDJSON chunks), the SQL mirror with its sync engine, redaction and
//! encrypted cold-storage packs (seed 003).

#![deny(missing_docs)]

pub mod add;
pub mod archive;
pub mod canonical;
pub mod crypto;
mod error;
mod fsio;
pub mod hash;
pub mod manifest;
pub mod mirror;
pub mod mssql;
pub mod nonfinite;
pub mod pack;
pub mod record;
pub mod redaction;
pub mod sync;
pub mod target;
pub mod timestamp;
pub mod verify;

pub use error::{BoxError, Error, Result};
pub use hash::ContentHash;
pub use mirror::{Mirror, MirrorKeyRow, MirrorRecord, MirrorWrite, Scope};
pub use record::{ExchangeRecord, Provenance};
