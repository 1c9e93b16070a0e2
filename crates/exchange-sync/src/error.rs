//! The one error type of this crate.

use std::path::PathBuf;

use fabric_core::ErrorClass;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from a driver or library whose type this crate does not name
/// (tiberius, the zip reader...). Kept as a chained source, never stringified.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("I/O on {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A file or folder could not be created or written (an output: a pack's
    /// chunk, index or manifest, an archive, an unpacked folder).
    #[error("cannot write {path}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A line of a chunk, index or input file is not valid JSON.
    #[error("{path} line {line}: not valid JSON")]
    Json {
        /// The file (`-` for stdin).
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A line is JSON but not a valid record (missing or mistyped field).
    #[error("{path} line {line}: bad record{}: {reason}", id_suffix(exchange_id.as_deref()))]
    Record {
        /// The file (`-` for stdin).
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The record's `exchange_id` when it could be read.
        exchange_id: Option<String>,
        /// What is wrong, naming the key.
        reason: String,
    },
    /// A record's stored `content_sha256` differs from the recomputed one.
    #[error("{path} line {line}: record {exchange_id}: {detail}")]
    HashMismatch {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The record.
        exchange_id: String,
        /// Both hashes (`content_sha256 is X but the content hashes to Y`) and advice
        /// (e.g. redacted by the reference after hashing).
        detail: String,
    },
    /// A record's scope differs from the manifest's (`source_system`/`entity_type`).
    #[error(
        "{path} line {line}: record {exchange_id} is outside the manifest scope: {found} (manifest: {expected})"
    )]
    OutOfScope {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The record.
        exchange_id: String,
        /// `source_system/entity_type` of the record.
        found: String,
        /// `source_system/entity_type` of the manifest.
        expected: String,
    },
    /// A record holds NaN or an infinity, which Fabric refuses to create.
    #[error("{path} line {line}: record{} holds a non-finite number at {pointer}", id_suffix(exchange_id.as_deref()))]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The record, if it has an id yet.
        exchange_id: Option<String>,
        /// JSON pointer to the value.
        pointer: String,
    },
    /// A value given by the user is invalid (a flag, a name, a custom pattern).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was given, e.g. `--target`, `dataset name`.
        what: String,
        /// Why it is refused.
        reason: String,
    },
    /// A zip archive is malformed or holds an unsafe entry.
    #[error("archive {path}: {reason}")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What is wrong, naming the entry.
        reason: String,
        /// The zip library's error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// Decryption failed: wrong passphrase or a corrupted file.
    #[error("wrong key or corrupted archive {path}")]
    Decrypt {
        /// The encrypted archive.
        path: PathBuf,
    },
    /// `SNAPSHOT_ENCRYPTION_KEY` is unset or empty.
    #[error(
        "{var} is not set (or empty): it holds the passphrase for --encrypt and for .enc archives"
    )]
    MissingKey {
        /// The environment variable.
        var: String,
    },
    /// The output folder of an unpack exists and is not empty.
    #[error("{path} exists and is not empty")]
    OutputExists {
        /// The folder.
        path: PathBuf,
    },
    /// A `--target` URL or connection string could not be understood.
    #[error("target {target}: {reason}")]
    Target {
        /// The target as given (passwords removed).
        target: String,
        /// Why it is refused.
        reason: String,
    },
    /// A connection URL the driver's parser refused (passwords removed).
    #[error("target {target} is not a valid connection URL")]
    TargetParse {
        /// The target as given (passwords removed).
        target: String,
        /// The parser's error.
        #[source]
        source: BoxError,
    },
    /// A record breaks a column limit of the mirror table ([`crate::limits`]):
    /// refused before anything is written, on every backend.
    #[error("{path} line {line}: record {exchange_id} does not fit the mirror table: {violation}")]
    Limit {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The record.
        exchange_id: String,
        /// The limit it breaks.
        violation: crate::limits::Violation,
    },
    /// The target names a backend this build does not include.
    #[error(
        "target {target}: this build has no {backend} support (rebuild with its cargo feature)"
    )]
    TargetUnsupported {
        /// The target as given (passwords removed).
        target: String,
        /// The backend, e.g. `SQL Server`.
        backend: String,
    },
    /// Another writer held the scope's lock for the whole wait (SQL Server's
    /// `sp_getapplock`): two syncs of one scope run one after the other.
    #[error(
        "mirror {target}: scope {scope} is being written by another sync; waited {waited_secs} s (try again when it has finished)"
    )]
    ScopeBusy {
        /// The target (no password).
        target: String,
        /// `source_system/entity_type`.
        scope: String,
        /// How long the lock was waited for.
        waited_secs: u64,
    },
    /// The mirror database cannot be reached or opened.
    #[error("mirror {target} is unavailable")]
    MirrorUnavailable {
        /// The target (no password).
        target: String,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
    /// The mirror refused a write (constraint violation, missing row to update).
    #[error("mirror {target}: writing record {exchange_id}: {reason}")]
    MirrorWrite {
        /// The target (no password).
        target: String,
        /// The record being written.
        exchange_id: String,
        /// What was refused.
        reason: String,
        /// The driver's error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// A write the mirror refused, located in the pack: `source` is the
    /// [`Error::MirrorWrite`] (or server error) and `file`/`line` the pack line that
    /// holds the record.
    #[error("{file} line {line}: the mirror refused this record (exchange_id {exchange_id})")]
    RecordRefused {
        /// The chunk, relative to the dataset folder.
        file: String,
        /// 1-based line number in `file`.
        line: u64,
        /// The record's `exchange_id`.
        exchange_id: String,
        /// The refusal.
        #[source]
        source: Box<Error>,
    },
    /// The command was interrupted (Ctrl-C): the running statement was cancelled on
    /// the server and the transaction rolled back.
    #[error(
        "mirror {target}: interrupted; the running statement was cancelled and nothing was committed"
    )]
    Interrupted {
        /// The target (no password).
        target: String,
    },
    /// Any other mirror failure, with what was being done.
    #[error("mirror {target}: {context}")]
    Mirror {
        /// The target (no password).
        target: String,
        /// What we were doing, e.g. `reading hashes in scope wiki/page`.
        context: String,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
    /// A stored mirror row cannot be read back.
    #[error("mirror {target}: row {exchange_id} is unreadable: {reason}")]
    MirrorRow {
        /// The target (no password).
        target: String,
        /// The row's primary key.
        exchange_id: String,
        /// Why.
        reason: String,
    },
    /// A pure module (exchange-core) refused its input: a manifest, a redaction
    /// pattern, a direction or strategy, a `sql_target` name.
    #[error(transparent)]
    Core(#[from] exchange_core::Error),
    /// The SQLite store (fabric-store) failed.
    #[error(transparent)]
    Store(#[from] fabric_store::Error),
    /// Another process holds the pack's lock for longer than this one waits.
    #[error("{}", busy_message(name, *holder, *wait))]
    PackBusy {
        /// The dataset folder's name.
        name: String,
        /// The writer's process id; `None` when readers hold the lock.
        holder: Option<u32>,
        /// How long this process waited.
        wait: std::time::Duration,
    },
    /// An input is larger than its limit.
    #[error("{path}: {what} is larger than its limit of {limit} bytes ({flag} raises it)")]
    TooLarge {
        /// The file (`-` for stdin).
        path: PathBuf,
        /// What kind of input, e.g. `manifest`, `pack line 3`.
        what: String,
        /// The limit in bytes.
        limit: u64,
        /// The flag or environment variable that raises the limit.
        flag: String,
    },
    /// An input that must be a regular file (or a folder) is a FIFO, a device, a
    /// symbolic link...
    #[error("{path}: {what} must be {expected}, not {kind}")]
    NotRegularFile {
        /// The file.
        path: PathBuf,
        /// What it was given as, e.g. `chunk`, `archive`.
        what: String,
        /// What it must be: `a regular file` or `a folder`.
        expected: String,
        /// What it is (`a FIFO`, `a character device`, `a symbolic link`...).
        kind: String,
    },
    /// The target's filesystem has not enough room for the output.
    #[error("{path}: not enough free space: {needed} bytes needed, {free} free (margin included)")]
    NoSpace {
        /// The output folder.
        path: PathBuf,
        /// Bytes the output needs (plus the margin).
        needed: u64,
        /// Bytes free on the filesystem.
        free: u64,
    },
    /// A pack record collides with a stored row (same `exchange_id` or content
    /// hash, different record): bad input, named.
    #[error(
        "record {exchange_id} ({}) collides with {stored}: an exchange_id names one record",
        if lines.is_empty() { "pack line unknown".to_owned() } else { lines.join(", ") }
    )]
    Collision {
        /// The record's id.
        exchange_id: String,
        /// Every pack line (`FILE line N`) holding that id.
        lines: Vec<String>,
        /// The stored row it met.
        stored: String,
        /// The mirror's error.
        #[source]
        source: Box<Error>,
    },
    /// A worker thread died (a bug, not bad input).
    #[error("internal error: {0}")]
    Internal(String),
}

fn busy_message(name: &str, holder: Option<u32>, wait: std::time::Duration) -> String {
    let who = match holder {
        Some(pid) => format!("is being written by process {pid}"),
        None => "is being read or written by another process".to_owned(),
    };
    format!(
        "pack {name} {who} (waited {}s; FABRIC_LOCK_WAIT=SECONDS waits longer)",
        wait.as_secs()
    )
}

impl Error {
    /// The class of this error, from which the `fabric` binary picks its exit code.
    /// Exhaustive on purpose: a new variant does not compile until it has a class.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::WriteZero => {
                    ErrorClass::Storage
                }
                _ => ErrorClass::BadInput,
            },
            // An output that cannot be written: storage is unusable.
            Error::Write { .. } => ErrorClass::Storage,
            Error::Json { .. }
            | Error::Record { .. }
            | Error::HashMismatch { .. }
            | Error::OutOfScope { .. }
            | Error::NonFinite { .. }
            | Error::Invalid { .. }
            | Error::Archive { .. }
            | Error::Decrypt { .. }
            | Error::MissingKey { .. }
            | Error::OutputExists { .. }
            | Error::Target { .. }
            | Error::TargetParse { .. }
            | Error::Limit { .. }
            | Error::TargetUnsupported { .. }
            | Error::TooLarge { .. }
            | Error::NotRegularFile { .. }
            | Error::Collision { .. } => ErrorClass::BadInput,
            // Another process holds the pack; the target lacks room.
            Error::PackBusy { .. } | Error::NoSpace { .. } => ErrorClass::Storage,
            Error::MirrorUnavailable { .. }
            | Error::ScopeBusy { .. }
            | Error::MirrorWrite { .. }
            | Error::Mirror { .. }
            | Error::MirrorRow { .. } => ErrorClass::Storage,
            Error::Core(e) => e.class(),
            Error::Store(e) => e.class(),
            // Located in the pack, the refusal keeps its own class.
            Error::RecordRefused { source, .. } => source.class(),
            // Nothing was committed; fabric-cli exits 130 for it.
            Error::Interrupted { .. } => ErrorClass::Storage,
            Error::Internal(_) => ErrorClass::Storage,
        }
    }
}

fn id_suffix(id: Option<&str>) -> String {
    id.map(|id| format!(" {id}")).unwrap_or_default()
}
