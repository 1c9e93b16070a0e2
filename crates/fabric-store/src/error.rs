//! The one error type of fabric-store.

use std::path::PathBuf;

/// Result alias for fabric-store.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong with the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database file (or its folder) could not be opened or created.
    #[error("cannot open database {path}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What the operating system or SQLite said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// `PRAGMA integrity_check` did not answer `ok`, or could not run.
    #[error("database {path} is corrupt: integrity check says {detail:?}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// SQLite's answer (first row of the check, or its error).
        detail: String,
    },
    /// The file's `user_version` is not the one this build understands.
    #[error(
        "database {path} has schema version mismatch: expected {expected}, found {found}{hint}"
    )]
    SchemaVersion {
        /// The database file.
        path: PathBuf,
        /// What this build needs.
        expected: i64,
        /// What the file says.
        found: i64,
        /// Advice for versions that have an explicit upgrade path.
        hint: &'static str,
    },
    /// The disk (or `max_page_count`) is full; the transaction was rolled back.
    #[error("database {path} is full; nothing from this operation was written")]
    DiskFull {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// Another connection holds the lock longer than the busy timeout.
    #[error("database {path} is locked by another process (waited {waited_ms} ms)")]
    Locked {
        /// The database file.
        path: PathBuf,
        /// How long we waited.
        waited_ms: u64,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file or its folder is read-only.
    #[error("database {path} is read-only")]
    ReadOnly {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// Any other SQLite failure, with what we were doing.
    #[error("database {path}: {context}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What we were doing, e.g. `writing job job-1`.
        context: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored row cannot be read back (a stored value is not what we wrote).
    #[error("database {path}: stored row {row} is unreadable: {reason}")]
    BadRow {
        /// The database file.
        path: PathBuf,
        /// Which row, e.g. `jobs/job-1`.
        row: String,
        /// Why.
        reason: String,
    },

    // ---- snapshot chains (seed 002) ----------------------------------------------

    // ---- exchange mirror (seed 003) ----------------------------------------------
    /// A manifest's `sql_target` does not make a valid table name.
    #[error(
        "mirror table name {name:?}: schema and table must be letters, digits or `_`, not starting with a digit"
    )]
    MirrorTableName {
        /// `schema.table` as given.
        name: String,
    },
    /// A mirror write broke a uniqueness rule (same id, hash or natural key).
    #[error(
        "database {path}: mirror table {table}: record {exchange_id} collides with an existing row"
    )]
    MirrorConstraint {
        /// The database file.
        path: PathBuf,
        /// The mirror table.
        table: String,
        /// The record being written.
        exchange_id: String,
        /// SQLite's error.
        #[source]
        source: Box<rusqlite::Error>,
    },
    /// An update addressed a row that does not exist.
    #[error("database {path}: mirror table {table} has no row {exchange_id} to update")]
    MirrorNoRow {
        /// The database file.
        path: PathBuf,
        /// The mirror table.
        table: String,
        /// The primary key looked for.
        exchange_id: String,
    },
}
