//! # fabric-store
//!
//! The one SQLite database file of Fabric and its whole schema: job history
//! (byte-compatible with the reference system's `jobs` table), versioned
//! snapshot chains with their activity log and the exchange mirror table.
//! It owns the schema version and the integrity check; nothing else
//! opens the file.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let store = fabric_store::Store::open(dir.path().join("fabric.db")).unwrap();
//! assert!(store.path().ends_with("fabric.db"));
//! ```

#![deny(missing_docs)]

pub mod atomic;
pub mod chain;
pub mod check;
mod error;
mod file;
pub mod fresh;
pub mod ingest;
pub mod jobs;
pub mod mirror;
mod options;
mod report;
pub mod schema;
mod store;

pub use check::check_file;
pub use error::{Error, Result};
pub use fresh::FreshStores;
pub use options::{BUSY_TIMEOUT, CheckPolicy, OpenCheck, PAGE_SIZE, StoreOptions};
pub use store::Store;

/// The version of the SQLite library compiled into this build (e.g. `3.50.4`).
pub fn sqlite_version() -> &'static str {
    rusqlite::version()
}

/// The crate README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
