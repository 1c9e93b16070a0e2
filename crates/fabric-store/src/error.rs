//! The one error type of fabric-store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fabric_core::ErrorClass;
use rusqlite::ErrorCode;

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
    /// Nothing exists at the store path: a read never creates a store.
    #[error(
        "no store at {path} (create one with `fabric ingest` or `fabric db init`, or point --db / $FABRIC_DB at an existing store)"
    )]
    NoStore {
        /// The path given.
        path: PathBuf,
    },
    /// Something exists at the store path, but it is not a Fabric store: a folder,
    /// a FIFO, a device, a pseudo-file, or a file that is not a SQLite database.
    #[error("{path} is not a Fabric store: {reason}")]
    NotAStore {
        /// The path given.
        path: PathBuf,
        /// What stands there instead, and what to do.
        reason: &'static str,
    },
    /// A table that the file's schema version requires is missing: the file was
    /// edited by hand or by another tool. Nothing is read or written.
    #[error(
        "database {path} is missing table {table} that schema version {version} requires (restore it from a backup)"
    )]
    MissingTable {
        /// The database file.
        path: PathBuf,
        /// The missing table.
        table: &'static str,
        /// The schema version the file declares.
        version: i64,
    },
    /// The check at open did not answer `ok`, or SQLite found a damaged page while
    /// a command read or wrote it.
    #[error("database {path} is corrupt: {detail:?}")]
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
    // ---- snapshot chains ----------------------------------------------
    /// A chain key that cannot be used (empty, too long, contains `@` or spaces).
    #[error("invalid snapshot chain key {key:?}: {reason}")]
    InvalidChainKey {
        /// The key as given.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A version's metadata failed validation; nothing was written.
    #[error("invalid snapshot metadata for chain {key:?}")]
    InvalidMetadata {
        /// The chain key.
        key: String,
        /// The field at fault.
        #[source]
        source: fabric_core::chain::MetadataError,
    },
    /// Other bad input to a chain operation (a payload number that overflows, an
    /// empty actor or reason, a page size of 0); nothing was written.
    #[error("invalid input for snapshot chain {key:?}: {reason}")]
    InvalidChainInput {
        /// The chain key.
        key: String,
        /// What is wrong, naming the culprit.
        reason: String,
    },
    /// No version was ever created under this key.
    #[error("no snapshot chain with key {key:?}")]
    ChainNotFound {
        /// The key asked for.
        key: String,
    },
    /// The chain exists but has no such version.
    #[error("snapshot chain {key:?} has no version {version} (latest is {latest})")]
    VersionNotFound {
        /// The chain key.
        key: String,
        /// The version asked for.
        version: i64,
        /// The chain's highest version.
        latest: i64,
    },
    /// Optimistic locking: the chain's active version is not the one the caller
    /// based its change on (VERSION_CONFLICT); nothing was written. The active
    /// version, not the newest: after a rollback they differ.
    #[error(
        "VERSION_CONFLICT on snapshot chain {key:?}: expected active version {expected}, actual {actual} (the active version, which after a rollback is not the newest; see `fabric snapshot list --key {key}`)"
    )]
    VersionConflict {
        /// The chain key.
        key: String,
        /// The version the caller expected to be active (0: an empty chain).
        expected: i64,
        /// The version actually active (0: the chain is empty).
        actual: i64,
    },
    /// A deprecated version cannot be made active again.
    #[error("version {version} of snapshot chain {key:?} is deprecated and cannot be made active")]
    VersionDeprecated {
        /// The chain key.
        key: String,
        /// The deprecated version.
        version: i64,
    },
    /// The active version cannot be deprecated: that would leave the chain's
    /// current answer deprecated. Nothing was written.
    #[error(
        "version {version} of snapshot chain {key:?} is the active version: roll back first (`fabric snapshot rollback {key} VERSION`), then deprecate it"
    )]
    DeprecateActive {
        /// The chain key.
        key: String,
        /// The active version.
        version: i64,
    },
    /// A document that does not fit the chain's kind (a `fabric-report` chain
    /// holds FabricSnapshots of valid reports only). Nothing was written.
    #[error(
        "snapshot chain {key:?} is a fabric-report chain: this document is not a FabricSnapshot of a valid report (such a chain takes what `fabric snapshot create --save` saves; reports imported with `import-reports` belong in a json chain of another key)"
    )]
    WrongKind {
        /// The chain key.
        key: String,
        /// What is wrong with the document.
        #[source]
        source: fabric_core::Error,
    },
    /// A version can be deprecated only once.
    #[error("version {version} of snapshot chain {key:?} is already deprecated")]
    AlreadyDeprecated {
        /// The chain key.
        key: String,
        /// The version.
        version: i64,
    },
    /// A stored payload does not match its checksum (or cannot be decompressed):
    /// the stored bytes changed since they were written.
    #[error("snapshot chain {key:?} version {version} failed its integrity check: {reason}")]
    Integrity {
        /// The chain key.
        key: String,
        /// The version.
        version: i64,
        /// What did not match.
        reason: String,
    },
    /// `verify` found damaged versions (each is listed in its report).
    #[error("snapshot chain verification failed: {failures} damaged version(s), first {first}")]
    VerifyFailed {
        /// How many versions failed.
        failures: usize,
        /// The first one, as `KEY@VERSION`.
        first: String,
    },
    // ---- exchange mirror ----------------------------------------------
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
    /// The whole-file check running beside a command (see
    /// [`crate::check::BackgroundCheck`]) could not start or stopped without an
    /// answer.
    #[error("database {path}: the integrity check {what}")]
    CheckStopped {
        /// The database file.
        path: PathBuf,
        /// What happened, e.g. `could not start`.
        what: &'static str,
        /// The operating system's error, when there is one.
        #[source]
        source: Option<std::io::Error>,
    },
}

impl Error {
    /// The class of this error, from which the `fabric` binary picks its exit code.
    /// Exhaustive on purpose: a new variant does not compile until it has a class.
    pub fn class(&self) -> ErrorClass {
        match self {
            // A read never creates a store; the path names no store: fix the path.
            Error::NoStore { .. } | Error::NotAStore { .. } => ErrorClass::BadInput,
            Error::Open { .. }
            | Error::MissingTable { .. }
            | Error::Corrupt { .. }
            | Error::SchemaVersion { .. }
            | Error::DiskFull { .. }
            | Error::Locked { .. }
            | Error::ReadOnly { .. }
            | Error::Sqlite { .. }
            | Error::BadRow { .. } => ErrorClass::Storage,
            // ---- snapshot chains ----
            Error::InvalidChainKey { .. }
            | Error::InvalidMetadata { .. }
            | Error::InvalidChainInput { .. }
            | Error::ChainNotFound { .. }
            | Error::VersionNotFound { .. }
            | Error::WrongKind { .. } => ErrorClass::BadInput,
            Error::VersionConflict { .. }
            | Error::VersionDeprecated { .. }
            | Error::AlreadyDeprecated { .. }
            | Error::DeprecateActive { .. } => ErrorClass::Problem,
            // A verify that ran and found damage reports a problem; a payload that
            // fails its checksum while a command reads it leaves the store unusable.
            Error::VerifyFailed { .. } => ErrorClass::Problem,
            Error::Integrity { .. } => ErrorClass::Storage,
            // ---- exchange mirror ----
            Error::MirrorTableName { .. } => ErrorClass::BadInput,
            Error::MirrorConstraint { .. } | Error::MirrorNoRow { .. } => ErrorClass::Storage,
            Error::CheckStopped { .. } => ErrorClass::Storage,
        }
    }
}

/// Where a SQLite error happened: the store file and the busy timeout its
/// connection waits (which [`Error::Locked`] reports).
#[derive(Debug, Clone, Copy)]
pub(crate) struct At<'a> {
    path: &'a Path,
    busy_timeout: Duration,
}

impl<'a> At<'a> {
    /// The file at `path`, opened with `busy_timeout`.
    pub(crate) fn new(path: &'a Path, busy_timeout: Duration) -> Self {
        At { path, busy_timeout }
    }

    /// The store file.
    pub(crate) fn path(self) -> &'a Path {
        self.path
    }

    /// Map a SQLite error here to the variant that tells a user what happened;
    /// `context` says what was being done (kept by [`Error::Sqlite`]).
    pub(crate) fn err(self, context: impl Into<String>, e: rusqlite::Error) -> Error {
        let path = self.path.to_path_buf();
        match e.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => Error::DiskFull { path, source: e },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::Locked {
                path,
                waited_ms: u64::try_from(self.busy_timeout.as_millis()).unwrap_or(u64::MAX),
                source: e,
            },
            Some(ErrorCode::ReadOnly) => Error::ReadOnly { path, source: e },
            Some(ErrorCode::NotADatabase) => Error::NotAStore {
                path,
                reason: "it is not a SQLite database file (check the --db path or $FABRIC_DB)",
            },
            Some(ErrorCode::DatabaseCorrupt) => Error::Corrupt {
                path,
                detail: e.to_string(),
            },
            Some(ErrorCode::CannotOpen) => Error::Open {
                path,
                source: Box::new(e),
            },
            _ => Error::Sqlite {
                path,
                context: context.into(),
                source: e,
            },
        }
    }
}
