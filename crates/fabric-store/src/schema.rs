//! The database schema and its version.
//!
//! Version 1 is the reference system's `jobs` table, kept byte-compatible.
//! Version 2 adds the snapshot chains, their activity log and the exchange mirror
//! table. Versions only move by an explicit [`crate::Store::upgrade`]; opening a file
//! of another version is an error that changes nothing.

use rusqlite::Transaction;

/// The schema version this build reads and writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 2;

/// The reference system's schema version: only the `jobs` table.
pub const JOBS_ONLY_VERSION: i64 = 1;

const JOBS_DDL: &str = include_str!("schema/jobs.sql");
const CHAINS_DDL: &str = include_str!("schema/chains.sql");
const MIRROR_DDL: &str = include_str!("schema/mirror.sql");

/// Create every table of [`SCHEMA_VERSION`] and set the version, inside `tx`.
pub(crate) fn create(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(JOBS_DDL)?;
    add_version_2(tx)
}

/// Add what version 2 has beyond version 1, and set the version, inside `tx`.
pub(crate) fn add_version_2(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(CHAINS_DDL)?;
    tx.execute_batch(MIRROR_DDL)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
}
