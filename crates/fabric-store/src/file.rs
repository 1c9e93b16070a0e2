//! What stands at a store path before SQLite sees it, and the side connections
//! that recover or check a file beside a store's own connection.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::error::{At, Error, Result};
use crate::fresh::FreshStores;

/// What stands at a store path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    /// Nothing.
    Missing,
    /// A regular file of 0 bytes (a store nobody has written to yet).
    Empty,
    /// A regular file with data (SQLite and the checks decide the rest).
    Data,
}

/// Look at `path` before SQLite does: SQLite answers a folder with "disk I/O
/// error", blocks forever on a FIFO, and takes a pseudo-file that claims 0 bytes
/// (`/proc/self/status`) for an empty database. Symbolic links are followed.
pub(crate) fn presence(path: &Path) -> Result<Presence> {
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    let not = |reason| Error::NotAStore {
        path: path.to_path_buf(),
        reason,
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Presence::Missing),
        Err(e) => return Err(open_error(path, e)),
    };
    let kind = meta.file_type();
    if kind.is_dir() {
        return Err(not(
            "it is a folder (give the path of the database file, e.g. FOLDER/fabric.db)",
        ));
    }
    if kind.is_fifo() {
        return Err(not("it is a FIFO (named pipe), not a database file"));
    }
    if kind.is_char_device() || kind.is_block_device() {
        return Err(not("it is a device, not a database file"));
    }
    if kind.is_socket() || !kind.is_file() {
        return Err(not("it is not a regular file"));
    }
    if meta.len() > 0 {
        return Ok(Presence::Data);
    }
    // A regular file that says 0 bytes: empty, unless reading it gives bytes.
    let mut byte = [0u8; 1];
    let read = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut byte))
        .map_err(|e| open_error(path, e))?;
    if read > 0 {
        return Err(not(
            "it is a pseudo-file whose size is unknown (like those under /proc), not a database file",
        ));
    }
    Ok(Presence::Empty)
}

/// [`Error::Open`] for `path`.
pub(crate) fn open_error(path: &Path, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Open {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

/// Create the missing folders of `path` (`0700`) and an empty file (`0600`) unless
/// one exists: SQLite would create them with the process's default modes. A file
/// created here is noted in `fresh`, with its new folders.
pub(crate) fn create_private(path: &Path, fresh: Option<&FreshStores>) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let folders = crate::fresh::missing_folders(path);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {
            if let Some(fresh) = fresh {
                fresh.note(path, folders);
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// SQLite's extended code for "a hot journal needs rolling back but this connection
/// is read-only".
const READONLY_ROLLBACK: std::ffi::c_int = 776;

/// Whether a read-only connection is stuck behind a hot journal. A lock held
/// past the busy timeout is [`Error::Locked`] at once: the probe used to wait out
/// the timeout, then the check at open waited it again, so a lock was reported
/// as "waited 5000 ms" after 10 s.
pub(crate) fn needs_rollback(conn: &Connection, at: At<'_>, busy: Duration) -> Result<bool> {
    conn.busy_timeout(busy)
        .map_err(|e| at.err("setting the busy timeout", e))?;
    let probe: rusqlite::Result<i64> =
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0));
    match probe {
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.extended_code == READONLY_ROLLBACK => {
            Ok(true)
        }
        Err(e)
            if matches!(
                e.sqlite_error_code(),
                Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
            ) =>
        {
            Err(at.err("reading the schema", e))
        }
        _ => Ok(false),
    }
}

/// A short-lived connection to an existing file (`flags` plus no mutex), with the
/// busy timeout in effect: for checks and recovery beside a store's own connection.
pub(crate) fn open_side_connection(
    path: &Path,
    flags: OpenFlags,
    busy: Duration,
) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| open_error(path, e))?;
    conn.busy_timeout(busy)
        .map_err(|e| At::new(path, busy).err("setting the busy timeout", e))?;
    Ok(conn)
}

/// Roll back the hot journal left by a killed writer: the first read on a read-write
/// connection does it (SQLite's own recovery). Nothing is created.
pub(crate) fn roll_back_hot_journal(path: &Path, busy: Duration) -> Result<()> {
    let conn = open_side_connection(path, OpenFlags::SQLITE_OPEN_READ_WRITE, busy)?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
        row.get::<_, i64>(0)
    })
    .map(drop)
    .map_err(|e| At::new(path, busy).err("rolling back an interrupted transaction", e))
}
