//! The one error type of this crate.

use fabric_core::ErrorClass;

use crate::export::ExportFailure;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A document is not valid JSON.
    #[error("{what} is not valid JSON")]
    Json {
        /// Which document (`scope`, `oracle results`, `bundle`, `manifest`).
        what: &'static str,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// A field of an input document is missing or malformed.
    #[error("{what}: field {pointer}: {message}")]
    Field {
        /// Which document.
        what: &'static str,
        /// JSON pointer of the field.
        pointer: String,
        /// What is wrong with it.
        message: String,
    },
    /// An input document carries keys that are not part of its format.
    #[error("{what}: unknown keys {keys:?}")]
    UnknownKeys {
        /// Which document or object.
        what: String,
        /// The unknown keys, sorted.
        keys: Vec<String>,
    },
    /// A document's format tag or version is not supported.
    #[error("{what}: unsupported version {found} (supported: {supported})")]
    UnsupportedVersion {
        /// Which field (`format`, `snapshot_version`, `projection_version`).
        what: &'static str,
        /// The value found.
        found: String,
        /// The supported values.
        supported: String,
    },
    /// Oracle results carry another request token, context or container.
    #[error(
        "oracle results belong to another request ({field}: expected {expected}, found {found})"
    )]
    ForeignResults {
        /// `request_token`, `context` or `container`.
        field: &'static str,
        /// The value of the snapshot being built.
        expected: String,
        /// The value in the oracle results.
        found: String,
    },
    /// The same oracle key appears twice in one set of results.
    #[error("duplicate oracle key {key} (results {first} and {second})")]
    DuplicateOracle {
        /// The key.
        key: String,
        /// Index of the first result with that key.
        first: usize,
        /// Index of the second.
        second: usize,
    },
    /// A projection key is not registered (`unsupported_projection`).
    #[error("unsupported projection {key}")]
    UnknownProjection {
        /// The key asked for.
        key: String,
    },
    /// An export profile is not registered (`unknown_export_profile`).
    #[error("unknown export profile {name} (known: {known})")]
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// The registered profiles, comma separated.
        known: String,
    },
    /// A dataset id is not registered (`unknown_dataset`).
    #[error("unknown dataset {id}")]
    UnknownDataset {
        /// The id asked for.
        id: String,
    },
    /// The registry's own definition is inconsistent.
    #[error("invalid registry: {0}")]
    Registry(String),
    /// The export plan has blocking datasets (deterministic failure, nothing written).
    #[error("export failed: {0}")]
    ExportBlocked(Box<ExportFailure>),
    /// The bundle's content no longer matches its stored fingerprint
    /// (`parity_mismatch`): it was edited or built by an incompatible version.
    #[error("parity_mismatch: bundle fingerprint {stored} does not match its content ({computed})")]
    BundleTampered {
        /// The fingerprint stored in the bundle.
        stored: String,
        /// The fingerprint recomputed from its content.
        computed: String,
    },
    /// A CSV record could not be written (`serializer_error`).
    #[error("writing dataset {dataset_id}")]
    Csv {
        /// The dataset being written.
        dataset_id: String,
        /// The CSV writer's error.
        #[source]
        source: csv::Error,
    },
    /// A serializer could not read a projection it needs (`serializer_error`).
    #[error("serializing dataset {dataset_id}: {message}")]
    Serialize {
        /// The dataset.
        dataset_id: String,
        /// What was wrong with the projection value.
        message: String,
    },
    /// The ZIP archive could not be built or read (`zip_build_failed`).
    #[error("ZIP archive entry {entry}")]
    Zip {
        /// The entry being written or read (`-` for the archive itself).
        entry: String,
        /// The ZIP library's error.
        #[source]
        source: zip::result::ZipError,
    },
    /// Writing into or reading from the archive failed.
    #[error("I/O on ZIP entry {entry}")]
    Io {
        /// The entry.
        entry: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A ZIP given to `verify` lacks its manifest or a dataset it lists.
    #[error("ZIP archive: {0}")]
    ZipContent(String),
}

impl Error {
    /// The class of this error, from which the `fabric` binary picks its exit code.
    /// Exhaustive on purpose: a new variant does not compile until it has a class.
    pub fn class(&self) -> ErrorClass {
        match self {
            // Deterministic outcomes the command reports: a blocked plan, an edited bundle.
            Error::ExportBlocked(_)
            | Error::BundleTampered { .. }
            | Error::Csv { .. }
            | Error::Serialize { .. } => ErrorClass::Problem,
            // Writing the archive failed (verify maps unreadable archives to bad input itself).
            Error::Io { .. } | Error::Zip { .. } => ErrorClass::Storage,
            // Malformed documents, unknown keys, bad versions, foreign or duplicate
            // results, unknown profiles, unreadable archives.
            Error::Json { .. }
            | Error::Field { .. }
            | Error::UnknownKeys { .. }
            | Error::UnsupportedVersion { .. }
            | Error::ForeignResults { .. }
            | Error::DuplicateOracle { .. }
            | Error::UnknownProjection { .. }
            | Error::UnknownProfile { .. }
            | Error::UnknownDataset { .. }
            | Error::Registry(_)
            | Error::ZipContent(_) => ErrorClass::BadInput,
        }
    }

    /// A `Field` error.
    pub(crate) fn field(
        what: &'static str,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Field {
            what,
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}
