//! The one error type of fabric-core, and the export error chain beneath it.
//!
//! The reference system's error classes map as follows:
//!
//! | reference | here |
//! | --- | --- |
//! | ingestion error | [`Error::Ingest`] |
//! | validation error (intelligence) | [`Error::Validation`] ([`ValidationError`]) |
//! | export error | [`Error::Export`] ([`ExportError`]) |
//! | snapshot error (an export error) | [`ExportError::Snapshot`] ([`SnapshotError`]) |
//! | diff error (an export error) | [`ExportError::Diff`] ([`DiffError`]) |

/// What kind of failure an error is, for a caller that must choose an exit code.
///
/// Every crate of the workspace maps its own errors to a class through an exhaustive
/// `class()` method without wildcard arms, so a new variant does not compile until it
/// has been given a class. The `fabric` binary turns a class into an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The operation ran and found a problem it reports (a conflict, a failed
    /// verify, a blocked export): exit code 1.
    Problem,
    /// Bad usage or bad input: a malformed file, an unknown key, a wrong argument
    /// (exit code 2).
    BadInput,
    /// Storage or environment unusable: corruption, disk full, a locked or
    /// read-only store (exit code 3).
    Storage,
}

/// Result alias for fabric-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed lower-level cause (a JSON syntax error, a UTF-8 error, a bad timestamp).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the pure model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A JobExecutionResult file breaks an ingestion rule (exit code 2).
    #[error("rejected {file}: {reason}")]
    Ingest {
        /// The file as the caller named it.
        file: String,
        /// Which rule failed (names the key and, for clips, the clip index).
        reason: String,
        /// The lower-level error, when there is one (JSON syntax, UTF-8, timestamp).
        #[source]
        source: Option<Cause>,
    },
    /// A stored `outputs_json` column cannot be read back when the store is opened.
    #[error("stored outputs of job {job_id:?}: {reason}")]
    StoredOutputs {
        /// The job whose row is bad.
        job_id: String,
        /// What is wrong with the column.
        reason: String,
        /// The JSON syntax error, when the text is not JSON at all.
        #[source]
        source: Option<serde_json::Error>,
    },
    /// A query argument is invalid (exit code 2).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Exporting, snapshotting or diffing failed.
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// A query argument the intelligence layer refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// An argument that must not be empty was empty.
    #[error("{argument} must not be empty")]
    Empty {
        /// Which argument (`fingerprint`, `proxy profile`, `reason`).
        argument: &'static str,
    },
    /// An engine outside the fixed set `{ffmpeg, resolve}`.
    #[error("unknown engine {engine:?}: valid engines are ffmpeg, resolve")]
    UnknownEngine {
        /// The engine asked for.
        engine: String,
    },
}

/// An export-layer error: snapshots and diffs are export errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Creating or reading a snapshot failed.
    #[error("snapshot failed")]
    Snapshot(#[from] SnapshotError),
    /// Computing a diff failed.
    #[error("diff failed")]
    Diff(#[from] DiffError),
}

/// Why a snapshot cannot be created or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The report (or the snapshot document) is not a JSON object.
    #[error("{what} is not a JSON object")]
    NotAnObject {
        /// What was expected to be an object (`report`, `snapshot`, `report.determinism`).
        what: String,
    },
    /// The report holds a number that is NaN or infinite.
    #[error("non-finite number at {path}")]
    NonFiniteNumber {
        /// JSON path of the number, e.g. `report.engine_health.ffmpeg.failure_rate`.
        path: String,
    },
    /// A required key of the snapshot document is missing or has the wrong type.
    #[error("snapshot key {key:?} is missing or not {expected}")]
    BadKey {
        /// The key (`snapshot_id`, `generated_at`, `report`).
        key: &'static str,
        /// The type it must have.
        expected: &'static str,
    },
    /// The stated `snapshot_id` is not the hash of the report.
    #[error("snapshot id mismatch: expected {expected}, found {found}")]
    IdMismatch {
        /// The id computed from the report.
        expected: String,
        /// The id the document states.
        found: String,
    },
    /// A diffed report section or value has a type the diff cannot read.
    #[error("{path} is not {expected}")]
    BadSection {
        /// JSON path inside the snapshot, e.g. `report.engine_health`.
        path: String,
        /// What it must be (`an object`, `a number`, `a list of strings`).
        expected: &'static str,
    },
}

/// Why two snapshots cannot be diffed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiffError {
    /// One side's report has a section or value of the wrong type.
    #[error("cannot diff snapshot {snapshot_id}")]
    InvalidReport {
        /// The snapshot at fault.
        snapshot_id: String,
        /// What is wrong with it.
        #[source]
        source: SnapshotError,
    },
    /// An integer delta does not fit in 128 bits.
    #[error("integer delta at {path} overflows")]
    Overflow {
        /// JSON path of the value in the diff.
        path: String,
    },
}

impl Error {
    /// The class of this error (see [`ErrorClass`]).
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Ingest { .. } => ErrorClass::BadInput,
            // A stored row that cannot be read back: the store is unusable, not the input.
            Error::StoredOutputs { .. } => ErrorClass::Storage,
            Error::Validation(e) => e.class(),
            Error::Export(e) => e.class(),
        }
    }

    /// An ingestion error without a lower-level cause.
    pub(crate) fn ingest(file: &str, reason: impl Into<String>) -> Error {
        Error::Ingest {
            file: file.to_owned(),
            reason: reason.into(),
            source: None,
        }
    }
}

impl ValidationError {
    /// The class of this error (see [`ErrorClass`]).
    pub fn class(&self) -> ErrorClass {
        match self {
            ValidationError::Empty { .. } | ValidationError::UnknownEngine { .. } => {
                ErrorClass::BadInput
            }
        }
    }
}

impl ExportError {
    /// The class of this error (see [`ErrorClass`]).
    pub fn class(&self) -> ErrorClass {
        match self {
            ExportError::Snapshot(e) => e.class(),
            ExportError::Diff(e) => e.class(),
        }
    }
}

impl SnapshotError {
    /// The class of this error (see [`ErrorClass`]): a snapshot or report that
    /// breaks the format is bad input.
    pub fn class(&self) -> ErrorClass {
        match self {
            SnapshotError::NotAnObject { .. }
            | SnapshotError::NonFiniteNumber { .. }
            | SnapshotError::BadKey { .. }
            | SnapshotError::IdMismatch { .. }
            | SnapshotError::BadSection { .. } => ErrorClass::BadInput,
        }
    }
}

impl DiffError {
    /// The class of this error (see [`ErrorClass`]).
    pub fn class(&self) -> ErrorClass {
        match self {
            DiffError::InvalidReport { .. } | DiffError::Overflow { .. } => ErrorClass::BadInput,
        }
    }
}

impl From<SnapshotError> for Error {
    fn from(e: SnapshotError) -> Self {
        Error::Export(ExportError::Snapshot(e))
    }
}

impl From<DiffError> for Error {
    fn from(e: DiffError) -> Self {
        Error::Export(ExportError::Diff(e))
    }
}
