//! Reading whole input documents (a report, a job file, a dashboard scope or
//! oracles file) with a size limit: 1 GiB each unless `FABRIC_MAX_INPUT_BYTES`
//! says otherwise. Past the limit the command fails with exit 2 naming the file
//! and the limit, having held at most the limit in memory (`/dev/zero` given as a
//! report reads 1 GiB, never more). A dashboard bundle is streamed instead, under
//! the same limit unless it is a regular file.

use std::path::Path;

use crate::error::CliError;

/// The limit of one input document unless `FABRIC_MAX_INPUT_BYTES` is set (1 GiB).
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 1 << 30;

/// What raises the limit.
const LIMIT_VAR: &str = "FABRIC_MAX_INPUT_BYTES";

/// The limit in effect.
pub fn max_input_bytes() -> u64 {
    std::env::var(LIMIT_VAR)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_MAX_INPUT_BYTES)
}

/// Read the whole document `path` (a `what`, e.g. `report`), bounded by
/// [`max_input_bytes`]. A FIFO is read like a file (bounded too).
pub fn read_document(path: &Path, what: &str) -> Result<Vec<u8>, CliError> {
    let limit = max_input_bytes();
    exchange_sync::input_limits::read_bounded(path, what, limit, LIMIT_VAR).map_err(|e| match e {
        exchange_sync::Error::Io { source, .. } => CliError::Input {
            path: path.to_path_buf(),
            what: "cannot read",
            source: Box::new(source),
        },
        e => e.into(),
    })
}

/// The error of the document `path` (a `what`) found longer than `limit` bytes
/// while it was streamed: the one [`read_document`] gives.
pub fn too_large(path: &Path, what: &str, limit: u64) -> CliError {
    exchange_sync::Error::TooLarge {
        path: path.to_path_buf(),
        what: what.into(),
        limit,
        flag: LIMIT_VAR.into(),
    }
    .into()
}
