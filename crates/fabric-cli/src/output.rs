//! Writing to stdout: JSON documents and text (a closed pipe is not an error).

use std::io::Write;

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
    finish(writeln!(out, "{text}").and_then(|()| out.flush()))
}

/// Print `bytes` as they are on stdout (a closed pipe is not an error).
pub fn print_bytes(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    finish(out.write_all(bytes).and_then(|()| out.flush()))
}

/// A write to stdout: a reader that went away (`| head`) is success, anything
/// else (a full device) is an output error, exit 3.
fn finish(written: std::io::Result<()>) -> Result<(), CliError> {
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Output {
            path: "<stdout>".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}
