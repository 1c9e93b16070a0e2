//! The one error type of this crate.

use std::path::PathBuf;

use fabric_core::ErrorClass;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate: all of it is bad input (a manifest,
/// a pattern, a value given by the user). The path in a variant only names the
/// source in the message; this crate never opens it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A document is not valid JSON (a manifest).
    #[error("{path} line {}: not valid JSON", source.line())]
    Json {
        /// The file the text came from (`-` for stdin).
        path: PathBuf,
        /// The parser's error, which knows the (1-based) line.
        #[source]
        source: serde_json::Error,
    },
    /// `manifest.json` is missing, unreadable or invalid.
    #[error("manifest {path}: {reason}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong, naming the key.
        reason: String,
    },
    /// A value given by the user is invalid (a flag, a name, a custom pattern).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was given, e.g. `sql_target.table`, `direction`.
        what: String,
        /// Why it is refused.
        reason: String,
    },
    /// A custom redaction pattern of the manifest is not a valid regex.
    #[error("manifest {path}: redaction pattern {pattern:?} is not a valid regex")]
    Pattern {
        /// The manifest file.
        path: PathBuf,
        /// The pattern.
        pattern: String,
        /// The regex compiler's error.
        #[source]
        source: regex::Error,
    },
}

impl Error {
    /// The class of this error, from which the `fabric` binary picks its exit code.
    /// Exhaustive on purpose: a new variant does not compile until it has a class.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Json { .. }
            | Error::Manifest { .. }
            | Error::Invalid { .. }
            | Error::Pattern { .. } => ErrorClass::BadInput,
        }
    }
}
