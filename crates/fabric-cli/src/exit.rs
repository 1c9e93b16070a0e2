//! Exit codes (the README's table) and the one mapping from errors to them.

use fabric_core::ErrorClass;

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
/// Interrupted by Ctrl-C (128 + SIGINT, as shells report it): the running mirror
/// statement was cancelled and nothing was committed.
pub const INTERRUPTED: u8 = 130;

/// The exit code for `err`. Library errors carry their own exhaustive `class()`
/// (see [`ErrorClass`]); this function only turns a class into a number.
pub fn code(err: &CliError) -> u8 {
    match err {
        CliError::Usage(_)
        | CliError::NotFound(_)
        | CliError::Input { .. }
        | CliError::Ndjson { .. } => BAD_INPUT,
        CliError::Output { .. } => STORAGE,
        // The one code outside the classes: the user stopped the command.
        CliError::Exchange(exchange_sync::Error::Interrupted { .. }) => INTERRUPTED,
        CliError::Core(e) => of_class(e.class()),
        CliError::Store(e) => of_class(e.class()),
        CliError::Exchange(e) => of_class(e.class()),
        CliError::Dashboard(e) => of_class(e.class()),
    }
}

/// The exit code of an error class.
pub fn of_class(class: ErrorClass) -> u8 {
    match class {
        ErrorClass::Problem => PROBLEM,
        ErrorClass::BadInput => BAD_INPUT,
        ErrorClass::Storage => STORAGE,
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
        CliError::Store(e) => store_error_code(e),
        CliError::Exchange(exchange_sync::Error::Store(e)) => store_error_code(e),
        CliError::Core(_) | CliError::Exchange(_) | CliError::Dashboard(_) => by_exit(code(err)),
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
        other => by_exit(of_class(other.class())),
    }
}

/// The generic code of an error that has no code of its own.
fn by_exit(code: u8) -> &'static str {
    match code {
        PROBLEM => "PROBLEM",
        BAD_INPUT => "BAD_INPUT",
        INTERRUPTED => "INTERRUPTED",
        _ => "STORAGE",
    }
}

#[cfg(test)]
mod tests;
