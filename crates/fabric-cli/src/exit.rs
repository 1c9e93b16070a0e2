//! Exit codes (cli.md "Conventions") and the one mapping from errors to them.

use crate::error::CliError;

/// Success.
pub const SUCCESS: u8 = 0;
/// The operation ran and found a problem it reports (conflict under `fail`, a failed
/// verify, a non-empty diff with `--exit-code`).
pub const PROBLEM: u8 = 1;
/// Bad usage or bad input (malformed file, unknown option, wrong key).
pub const BAD_INPUT: u8 = 2;
/// Storage is unusable (schema version mismatch, corruption, disk full, locked).
pub const STORAGE: u8 = 3;

/// The exit code for `err`.
pub fn code(err: &CliError) -> u8 {
    match err {
        CliError::Usage(_)
        | CliError::NotFound(_)
        | CliError::Input { .. }
        | CliError::Ndjson { .. } => BAD_INPUT,
        CliError::Output { .. } => STORAGE,
        CliError::Core(e) => core_code(e),
        CliError::Store(e) => store_code(e),
        CliError::Exchange(e) => exchange_code(e),
        CliError::Dashboard(e) => dashboard_code(e),
    }
}

fn core_code(e: &fabric_core::Error) -> u8 {
    match e {
        // A stored row that cannot be read back: the store is unusable, not the input.
        fabric_core::Error::StoredOutputs { .. } => STORAGE,
        _ => BAD_INPUT,
    }
}

fn store_code(e: &fabric_store::Error) -> u8 {
    use fabric_store::Error as E;
    match e {
        // A read never creates a store; the path names no store: fix the path.
        E::NoStore { .. } | E::NotAStore { .. } => BAD_INPUT,
        E::Open { .. }
        | E::MissingTable { .. }
        | E::Corrupt { .. }
        | E::SchemaVersion { .. }
        | E::DiskFull { .. }
        | E::Locked { .. }
        | E::ReadOnly { .. }
        | E::Sqlite { .. }
        | E::BadRow { .. } => STORAGE,
        // ---- snapshot chains ----
        E::InvalidChainKey { .. }
        | E::InvalidMetadata { .. }
        | E::InvalidChainInput { .. }
        | E::ChainNotFound { .. }
        | E::VersionNotFound { .. } => BAD_INPUT,
        E::WrongKind { .. } => BAD_INPUT,
        E::VersionConflict { .. }
        | E::VersionDeprecated { .. }
        | E::AlreadyDeprecated { .. }
        | E::DeprecateActive { .. } => PROBLEM,
        // A verify that ran and found damage reports a problem; a payload that
        // fails its checksum while a command reads it leaves the store unusable.
        E::VerifyFailed { .. } => PROBLEM,
        E::Integrity { .. } => STORAGE,

        // ---- exchange mirror ----
        E::MirrorTableName { .. } => BAD_INPUT,
        E::MirrorConstraint { .. } | E::MirrorNoRow { .. } => STORAGE,
        _ => STORAGE,
    }
}

fn exchange_code(e: &exchange_sync::Error) -> u8 {
    use exchange_sync::Error as E;
    match e {
        E::Io { source, .. } => match source.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::WriteZero => STORAGE,
            _ => BAD_INPUT,
        },
        // An output that cannot be written: storage is unusable (as CliError::Output).
        E::Write { .. } => STORAGE,
        E::Json { .. }
        | E::Record { .. }
        | E::HashMismatch { .. }
        | E::OutOfScope { .. }
        | E::NonFinite { .. }
        | E::Manifest { .. }
        | E::Invalid { .. }
        | E::Pattern { .. }
        | E::Archive { .. }
        | E::Decrypt { .. }
        | E::MissingKey { .. }
        | E::OutputExists { .. }
        | E::Target { .. }
        | E::TargetUnsupported { .. }
        | E::Limit { .. }
        | E::TooLarge { .. }
        | E::NotRegularFile { .. }
        | E::Collision { .. } => BAD_INPUT,
        E::PackBusy { .. } | E::NoSpace { .. } => STORAGE,
        E::MirrorUnavailable { .. }
        | E::ScopeBusy { .. }
        | E::MirrorWrite { .. }
        | E::Mirror { .. }
        | E::MirrorRow { .. } => STORAGE,
        E::Store(e) => store_code(e),
        E::Internal(_) => STORAGE,
        _ => BAD_INPUT,
    }
}

fn dashboard_code(e: &dashboard_snapshot::Error) -> u8 {
    use dashboard_snapshot::Error as E;
    match e {
        // Deterministic outcomes the command reports: a blocked plan, an edited bundle.
        E::ExportBlocked(_) | E::BundleTampered { .. } | E::Csv { .. } | E::Serialize { .. } => {
            PROBLEM
        }
        // Writing the archive failed (verify maps unreadable archives to exit 2 itself).
        E::Io { .. } | E::Zip { .. } => STORAGE,
        // Malformed documents, unknown keys, bad versions, foreign or duplicate
        // results, unknown profiles, unreadable archives.
        _ => BAD_INPUT,
    }
}

/// The stable `code` of `err` in the `--json` error document (see
/// [`crate::error::to_json`]): what a script matches on, beside the exit code.
pub fn error_code(err: &CliError) -> &'static str {
    match err {
        CliError::Usage(_) => "USAGE",
        CliError::NotFound(_) => "NOT_FOUND",
        CliError::Input { .. } | CliError::Ndjson { .. } => "BAD_INPUT",
        CliError::Output { .. } => "OUTPUT",
        CliError::Core(e) => match core_code(e) {
            STORAGE => "STORAGE",
            _ => "BAD_INPUT",
        },
        CliError::Store(e) => store_error_code(e),
        CliError::Exchange(exchange_sync::Error::Store(e)) => store_error_code(e),
        CliError::Exchange(e) => by_exit(exchange_code(e)),
        CliError::Dashboard(e) => by_exit(dashboard_code(e)),
    }
}

fn store_error_code(e: &fabric_store::Error) -> &'static str {
    use fabric_store::Error as E;
    match e {
        E::NoStore { .. } => "NO_STORE",
        E::NotAStore { .. } => "NOT_A_STORE",
        E::MissingTable { .. } => "MISSING_TABLE",
        E::Corrupt { .. } => "CORRUPT",
        E::SchemaVersion { .. } => "SCHEMA_VERSION",
        E::DiskFull { .. } => "DISK_FULL",
        E::Locked { .. } => "LOCKED",
        E::ReadOnly { .. } => "READ_ONLY",
        E::InvalidChainKey { .. } | E::InvalidMetadata { .. } | E::InvalidChainInput { .. } => {
            "BAD_INPUT"
        }
        E::ChainNotFound { .. } | E::VersionNotFound { .. } => "NOT_FOUND",
        E::VersionConflict { .. } => "VERSION_CONFLICT",
        E::VersionDeprecated { .. } | E::AlreadyDeprecated { .. } => "DEPRECATED",
        E::DeprecateActive { .. } => "ACTIVE_VERSION",
        E::WrongKind { .. } => "WRONG_KIND",
        E::Integrity { .. } => "INTEGRITY",
        E::VerifyFailed { .. } => "VERIFY_FAILED",
        other => by_exit(store_code(other)),
    }
}

/// The generic code of an error that has no code of its own.
fn by_exit(code: u8) -> &'static str {
    match code {
        PROBLEM => "PROBLEM",
        BAD_INPUT => "BAD_INPUT",
        _ => "STORAGE",
    }
}

#[cfg(test)]
mod tests;
