//! # dashboard-snapshot
//!
//! Queryless dashboard snapshots (seed 004): assembly of oracle results,
//! projections with readiness statuses, parity fingerprints, a dataset registry and
//! deterministic CSV ZIP export. This crate never reaches storage.
//!
//! Not built yet: this crate holds no working API so far. See the project issues.

#![deny(missing_docs)]

mod error;

pub use error::{Error, Result};
