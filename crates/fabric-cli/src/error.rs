//! The CLI's error type and how it is printed: `error: ...` then one `caused by:`
//! line per source.

use std::path::PathBuf;

/// Any failure of a command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad usage detected after parsing (empty filter value, conflicting options).
    #[error("{0}")]
    Usage(String),
    /// What was asked for is not there (a job id); the message names it and where
    /// it was looked for.
    #[error("{0}")]
    NotFound(String),
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
    /// An NDJSON input line that ends inside a JSON document: most often a
    /// pretty-printed document given where one document per line is expected.
    #[error(
        "{path} line {line}: expected one JSON document per line (NDJSON), but the document goes on past the end of the line; pretty-printed JSON must be written one document per line (e.g. `jq -c . FILE`)"
    )]
    Ndjson {
        /// The input file (`-` for stdin).
        path: PathBuf,
        /// The 1-based line.
        line: u64,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
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

/// The pure exchange modules' error (a manifest, a flag value) is an exchange
/// error: same message, same exit code.
impl From<exchange_sync::CoreError> for CliError {
    fn from(e: exchange_sync::CoreError) -> Self {
        CliError::Exchange(e.into())
    }
}

/// A command's outcome: the exit code on success paths (0, or 1 for a reported
/// problem), an error otherwise.
pub type CmdResult = Result<u8, CliError>;

/// The message of `err` and of each error in its chain, outermost first.
fn chain(err: &CliError) -> (String, Vec<String>) {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(err);
    // `transparent` variants forward `source()` to the inner error's source, so the
    // first line already is the inner error's message.
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    (err.to_string(), causes)
}

/// Print `err` and its chain to stderr (a closed or full stderr is ignored: there
/// is nowhere left to report it).
pub fn print(err: &CliError) {
    let (message, causes) = chain(err);
    errln!("error: {message}");
    for cause in causes {
        errln!("caused by: {cause}");
    }
}

/// The `--json` form of a failure, printed on stdout beside the text on stderr:
/// `{"error": {"code", "message", "causes", "exit"}}`.
pub fn to_json(err: &CliError) -> serde_json::Value {
    let (message, causes) = chain(err);
    error_json(
        crate::exit::error_code(err),
        &message,
        &causes,
        crate::exit::code(err),
    )
}

/// One error document (also used for usage errors found by the argument parser).
pub fn error_json(code: &str, message: &str, causes: &[String], exit: u8) -> serde_json::Value {
    serde_json::json!({"error": {
        "code": code,
        "message": message,
        "causes": causes,
        "exit": exit,
    }})
}
