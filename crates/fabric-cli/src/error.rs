//! The CLI's error type and how it is printed: `error: ...` then one `caused by:`
//! line per source.

use std::path::PathBuf;

/// Any failure of a command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad usage detected after parsing (empty filter value, conflicting options).
    #[error("{0}")]
    Usage(String),
    /// An input file could not be read or understood.
    #[error("{what} {path}")]
    Input {
        /// The file.
        path: PathBuf,
        /// e.g. `cannot read`.
        what: &'static str,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// An output file could not be written.
    #[error("cannot write {path}")]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// From fabric-core.
    #[error(transparent)]
    Core(#[from] fabric_core::Error),
    /// From fabric-store.
    #[error(transparent)]
    Store(#[from] fabric_store::Error),
    /// From exchange-sync.
    #[error(transparent)]
    Exchange(#[from] exchange_sync::Error),
    /// From dashboard-snapshot.
    #[error(transparent)]
    Dashboard(#[from] dashboard_snapshot::Error),
}

/// A command's outcome: the exit code on success paths (0, or 1 for a reported
/// problem), an error otherwise.
pub type CmdResult = Result<u8, CliError>;

/// Print `err` and its chain to stderr.
pub fn print(err: &CliError) {
    eprintln!("error: {err}");
    let mut source = std::error::Error::source(err);
    // `transparent` variants forward `source()` to the inner error's source, so the
    // first line already is the inner error's message.
    while let Some(cause) = source {
        eprintln!("caused by: {cause}");
        source = cause.source();
    }
}
