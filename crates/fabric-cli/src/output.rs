//! Writing to stdout and to files: JSON documents, and atomic file writes
//! (temporary file in the same folder, then rename).

use std::io::Write;
use std::path::Path;

use crate::error::CliError;

/// Print `value` as pretty JSON on stdout, followed by a newline.
pub fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Output {
        path: "<stdout>".into(),
        source: std::io::Error::other(e),
    })?;
    print_text(&text)
}

/// Print `text` and one newline on stdout (a closed pipe is not an error).
pub fn print_text(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Output {
            path: "<stdout>".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Write `bytes` to `path` atomically: a temporary file in the same folder, synced,
/// then renamed over `path`. On failure nothing is left behind.
#[allow(dead_code)] // reason: used by the export commands as they land
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let err = |source| CliError::Output {
        path: path.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}
