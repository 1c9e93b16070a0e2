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
        CliError::Usage(_) | CliError::Input { .. } => BAD_INPUT,
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
        E::Open { .. }
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
        E::VersionConflict { .. } | E::VersionDeprecated { .. } | E::AlreadyDeprecated { .. } => {
            PROBLEM
        }
        E::Integrity { .. } | E::VerifyFailed { .. } => STORAGE,

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
        | E::TooLarge { .. }
        | E::NotRegularFile { .. }
        | E::Collision { .. } => BAD_INPUT,
        E::PackBusy { .. } | E::NoSpace { .. } => STORAGE,
        E::MirrorUnavailable { .. }
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
