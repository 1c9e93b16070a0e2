//! The full check of a store file (`fabric db check`) and the record of its last
//! pass, kept in the file itself.
//!
//! Under the default [`crate::CheckPolicy::Touched`] no command reads the whole
//! file, so the full `PRAGMA integrity_check` is an operator's explicit act. Its
//! last pass is recorded in the one-row table `store_checks` (created by the first
//! recorded check; a store without it has simply never been checked), so an
//! operator can see how long ago the whole file was last known good and how long
//! the next check will take.
//!
//! ```
//! use std::time::Duration;
//! use fabric_store::check::CheckRecord;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("fabric.db");
//! let mut store = fabric_store::Store::open(&path).unwrap();
//! assert_eq!(store.last_check().unwrap(), None);
//! let took = fabric_store::check_file(&path, fabric_store::OpenCheck::Integrity).unwrap();
//! let record = CheckRecord {
//!     passed_at: "2026-12-06T12:00:00Z".to_owned(),
//!     duration: took,
//!     file_bytes: std::fs::metadata(&path).unwrap().len(),
//! };
//! store.record_check(&record).unwrap();
//! let last = store.last_check().unwrap().unwrap();
//! assert_eq!(last.passed_at, record.passed_at);
//! assert_eq!(last.duration.as_micros(), took.as_micros());
//! ```

use std::time::Duration;

use rusqlite::OptionalExtension;

use crate::error::Result;
use crate::store::Store;

/// The table that holds the last pass (not part of the required schema).
const TABLE: &str = "store_checks";

/// One passed full check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRecord {
    /// When it passed (RFC 3339 UTC, as the caller gave it: the store has no clock).
    pub passed_at: String,
    /// How long `PRAGMA integrity_check` took (kept to the microsecond).
    pub duration: Duration,
    /// The file's size when it was checked.
    pub file_bytes: u64,
}

impl Store {
    /// The last recorded passed full check, `None` if the file was never checked
    /// through [`Store::record_check`].
    pub fn last_check(&self) -> Result<Option<CheckRecord>> {
        let exists: bool = self
            .conn()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [TABLE],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.err("looking for the check record", e))?;
        if !exists {
            return Ok(None);
        }
        self.conn()
            .query_row(
                &format!("SELECT passed_at, duration_us, file_bytes FROM {TABLE} WHERE id = 1"),
                [],
                |row| {
                    let micros: i64 = row.get(1)?;
                    let bytes: i64 = row.get(2)?;
                    Ok(CheckRecord {
                        passed_at: row.get(0)?,
                        duration: Duration::from_micros(u64::try_from(micros).unwrap_or(0)),
                        file_bytes: u64::try_from(bytes).unwrap_or(0),
                    })
                },
            )
            .optional()
            .map_err(|e| self.err("reading the check record", e))
    }

    /// Record `record` as the last passed full check (replacing the one before),
    /// creating the table on first use. A short write transaction of its own.
    pub fn record_check(&mut self, record: &CheckRecord) -> Result<()> {
        let micros = i64::try_from(record.duration.as_micros()).unwrap_or(i64::MAX);
        let bytes = i64::try_from(record.file_bytes).unwrap_or(i64::MAX);
        let (conn, path) = self.split();
        let err = |e| crate::store::classify(path, "recording the check", e);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (\
             id INTEGER PRIMARY KEY CHECK (id = 1), \
             passed_at TEXT NOT NULL, \
             duration_us INTEGER NOT NULL, \
             file_bytes INTEGER NOT NULL)"
        ))
        .map_err(err)?;
        tx.execute(
            &format!(
                "INSERT OR REPLACE INTO {TABLE} (id, passed_at, duration_us, file_bytes) \
                 VALUES (1, ?1, ?2, ?3)"
            ),
            rusqlite::params![record.passed_at, micros, bytes],
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }
}
