//! Writing to stdout (JSON documents and text; a closed pipe is not an error), and
//! deciding how an output file named on the command line is written.

use std::io::Write;
use std::path::{Path, PathBuf};

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

/// Write `bytes` through the FIFO or device `path` (an [`OutputTarget::Stream`]),
/// as `cat > PATH` would: opened for writing, never created or replaced.
pub fn write_through(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut stream = std::fs::OpenOptions::new().write(true).open(path)?;
    stream.write_all(bytes)?;
    stream.flush()
}

/// Where an output file named on the command line (`--out`) is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputTarget {
    /// A regular file, new or replaced whole (temporary file and rename). For a
    /// symbolic link this is the link's target: the link itself stays.
    File(PathBuf),
    /// A FIFO or a character device (`/dev/null`, a terminal): written through,
    /// as `cat > PATH` would, never replaced.
    Stream(PathBuf),
}

/// Decide how to write `path` (given as `flag`): a FIFO or a character device is
/// written through when `streamable` and refused otherwise (exit 2); a folder, a
/// block device or a socket is refused; a symbolic link is followed to the file it
/// names (created if it does not exist yet). Nothing that is not a regular file is
/// ever replaced by a rename.
pub fn output_target(flag: &str, path: &Path, streamable: bool) -> Result<OutputTarget, CliError> {
    use std::os::unix::fs::FileTypeExt;
    let mut target = path.to_path_buf();
    // Follow links (a chain of them too) to what they name.
    for _ in 0..40 {
        match std::fs::symlink_metadata(&target) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&target).map_err(|source| CliError::Output {
                    path: target.clone(),
                    source,
                })?;
                target = match target.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            _ => break,
        }
    }
    let meta = match std::fs::metadata(&target) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(OutputTarget::File(target));
        }
        Err(source) => {
            return Err(CliError::Output {
                path: target,
                source,
            });
        }
    };
    let kind = meta.file_type();
    let refuse = |what: &str| {
        Err(CliError::Usage(format!(
            "{flag} {}: {what}; it is not replaced (give the path of a regular file)",
            path.display()
        )))
    };
    if kind.is_file() {
        Ok(OutputTarget::File(target))
    } else if kind.is_fifo() || kind.is_char_device() {
        if streamable {
            Ok(OutputTarget::Stream(target))
        } else {
            refuse("is a FIFO or a device, and this output must be a regular file")
        }
    } else if kind.is_dir() {
        refuse("is a folder")
    } else {
        refuse("is not a regular file (a block device or a socket)")
    }
}
