//! Size limits on every input this crate reads, and the bounded readers that
//! enforce them.
//!
//! | input | default | raised by |
//! | --- | --- | --- |
//! | `manifest.json` | 1 MiB | `FABRIC_MAX_MANIFEST_BYTES` |
//! | one line (an `add` input line, a chunk line, an index line) | 256 MiB | `--max-line-bytes`, `FABRIC_MAX_LINE_BYTES` |
//! | an archive read by `unpack` | 4 GiB | `--max-archive-bytes` |
//!
//! Past a limit the reader stops at once (memory stays bounded by the limit) and
//! the command fails with [`Error::TooLarge`] naming the file and the limit.
//! The archive's entries have limits of their own ([`crate::archive::UnpackLimits`]).
//!
//! The limits are process-wide: the CLI sets them once from its flags and
//! environment ([`set`]), and every reader of this crate reads them ([`get`]).

use std::io::{BufRead, Read};
use std::path::Path;
use std::sync::RwLock;

use crate::error::{Error, Result};

/// The input size limits, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A `manifest.json`.
    pub manifest: u64,
    /// One line of any line-oriented input.
    pub line: u64,
    /// An archive given to `unpack` (read whole, to decrypt it).
    pub archive: u64,
}

/// 1 MiB.
pub const DEFAULT_MANIFEST_BYTES: u64 = 1 << 20;
/// 256 MiB.
pub const DEFAULT_LINE_BYTES: u64 = 256 << 20;
/// 4 GiB.
pub const DEFAULT_ARCHIVE_BYTES: u64 = 4 << 30;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            manifest: DEFAULT_MANIFEST_BYTES,
            line: DEFAULT_LINE_BYTES,
            archive: DEFAULT_ARCHIVE_BYTES,
        }
    }
}

static LIMITS: RwLock<Limits> = RwLock::new(Limits {
    manifest: DEFAULT_MANIFEST_BYTES,
    line: DEFAULT_LINE_BYTES,
    archive: DEFAULT_ARCHIVE_BYTES,
});

/// Set this process's limits.
pub fn set(limits: Limits) {
    if let Ok(mut l) = LIMITS.write() {
        *l = limits;
    }
}

/// This process's limits.
pub fn get() -> Limits {
    LIMITS.read().map(|l| *l).unwrap_or_default()
}

/// Read the next line of `input` into `buf` (cleared first, the `\n` kept), at
/// most `limit` bytes of it. Returns the bytes read (0 at the end), or
/// [`Error::TooLarge`] naming `path` and `what` when a line is longer: then at
/// most `limit + 1` bytes were held.
pub fn read_line(
    input: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    limit: u64,
    path: &Path,
    what: impl FnOnce() -> String,
) -> Result<usize> {
    buf.clear();
    let n = input
        .take(limit.saturating_add(1))
        .read_until(b'\n', buf)
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let body = buf.strip_suffix(b"\n").map_or(buf.len(), <[u8]>::len);
    if body as u64 > limit {
        return Err(line_too_long(path, what(), limit));
    }
    Ok(n)
}

/// A line (`what`) of `path` longer than `limit` bytes, and how to raise it.
pub(crate) fn line_too_long(path: &Path, what: String, limit: u64) -> Error {
    Error::TooLarge {
        path: path.to_path_buf(),
        what,
        limit,
        flag: "--max-line-bytes or FABRIC_MAX_LINE_BYTES".into(),
    }
}

/// Read the whole regular file `path` (a `what`, e.g. `manifest`), refusing one
/// over `limit` bytes and anything that is not a regular file (a FIFO, a device).
pub fn read_file(path: &Path, what: &str, limit: u64, flag: &str) -> Result<Vec<u8>> {
    read_to_limit(open_regular(path, what)?, path, what, limit, flag)
}

/// Read the whole file `path` (a `what`, e.g. `report`), refusing one over
/// `limit` bytes; any kind of file is read (a FIFO too), at most `limit + 1`
/// bytes of it.
pub fn read_bounded(path: &Path, what: &str, limit: u64, flag: &str) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_to_limit(file, path, what, limit, flag)
}

/// `file` whole, or [`Error::TooLarge`] once more than `limit` bytes came.
fn read_to_limit(
    file: std::fs::File,
    path: &Path,
    what: &str,
    limit: u64,
    flag: &str,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if out.len() as u64 > limit {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            what: what.into(),
            limit,
            flag: flag.into(),
        });
    }
    Ok(out)
}

/// Open `path` for reading, refusing anything but a regular file (after
/// following symbolic links): a FIFO would block, a device never ends.
pub fn open_regular(path: &Path, what: &str) -> Result<std::fs::File> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    check_regular(path, what, &meta.file_type())?;
    let file = std::fs::File::open(path).map_err(io)?;
    // The file may have been swapped between the two calls: look again.
    let meta = file.metadata().map_err(io)?;
    check_regular(path, what, &meta.file_type())?;
    Ok(file)
}

/// [`Error::NotRegularFile`] unless `kind` is a regular file.
pub fn check_regular(path: &Path, what: &str, kind: &std::fs::FileType) -> Result<()> {
    if kind.is_file() {
        return Ok(());
    }
    Err(Error::NotRegularFile {
        path: path.to_path_buf(),
        what: what.into(),
        expected: "a regular file".into(),
        kind: describe(kind).into(),
    })
}

/// "a FIFO", "a folder"... for messages.
pub fn describe(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a folder"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}
