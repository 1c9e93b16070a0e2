//! # exchange-sync
//!
//! ExchangeRecord envelopes and their canonical hash, snapshot packs (manifest,
//! index, NDJSON chunks), the SQL mirror with its sync engine, redaction and
//! encrypted cold-storage packs (seed 003).
//!
//! Not built yet: this crate holds no working API so far. See the project issues.

#![deny(missing_docs)]

mod error;

pub use error::{Error, Result};
