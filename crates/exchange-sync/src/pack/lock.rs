//! The pack lock: one writer at a time per dataset folder, readers beside no
//! writer.
//!
//! The lock is an advisory lock (`flock`) on `DATASET/.writer.lock`, held for the
//! whole command and released by the kernel when the process ends, however it
//! ends. A writer (`add`, `export`, `sync`) holds it exclusively and writes its
//! process id into the file; a reader (`verify`, `import`, `pack`) holds it
//! shared. A second writer waits up to [`lock_wait`] and then fails with
//! [`Error::PackBusy`] naming the holder.
//!
//! Guarantees:
//! * two writers never append to one pack at once, so neither loses records;
//! * the cleanup of what a killed writer left ([`super::recover_killed_writers`])
//!   runs only under the exclusive lock: a live writer's files are never touched;
//! * a reader never sees a live writer's uncommitted chunks.
//!
//! The lock is re-entrant within a process (a `sync` that reads and then writes,
//! or a writer opened under a command that already holds the lock): a process
//! that holds it exclusively also holds it for reading.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The lock file in every dataset folder a writer has opened.
pub const LOCK_FILE: &str = ".writer.lock";

/// How long a command waits for another process's lock unless told otherwise.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(30);

/// The wait in milliseconds ([`set_lock_wait`]).
static WAIT_MS: AtomicU64 = AtomicU64::new(30_000);

/// The locks this process holds, by dataset folder.
static HELD: Mutex<Option<HashMap<PathBuf, Held>>> = Mutex::new(None);

/// Set how long commands of this process wait for another process's pack lock
/// (the CLI sets it from `FABRIC_LOCK_WAIT`).
pub fn set_lock_wait(wait: Duration) {
    WAIT_MS.store(
        u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

/// How long commands of this process wait for another process's pack lock.
pub fn lock_wait() -> Duration {
    Duration::from_millis(WAIT_MS.load(Ordering::Relaxed))
}

/// How a lock is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Readers: many at once, no writer.
    Shared,
    /// One writer, nobody else.
    Exclusive,
}

#[derive(Debug)]
struct Held {
    file: File,
    mode: LockMode,
    count: usize,
}

/// A held pack lock; dropping the last guard of a folder releases it.
#[derive(Debug)]
pub struct PackLock {
    key: Option<PathBuf>,
}

impl PackLock {
    /// Lock `dir` exclusively for writing, waiting up to [`lock_wait`] for
    /// another process. Recovers what killed writers left once it holds the lock.
    pub fn writer(dir: &Path) -> Result<Self> {
        let lock = Self::acquire(dir, LockMode::Exclusive, true)?;
        super::writer::recover_unlocked(dir)?;
        Ok(lock)
    }

    /// Lock `dir` for reading, waiting up to [`lock_wait`] for a writer. A killed
    /// writer's leftovers are removed first (under a brief exclusive lock, when no
    /// one else holds one). A reader never creates the lock file: a folder without
    /// one has never had a Fabric writer (`init` and every writer create it), and
    /// is read without a lock, like one where it cannot be opened (read only).
    pub fn reader(dir: &Path) -> Result<Self> {
        // A killed unpack's decrypted records next to this dataset go too.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::unpack_temp::remove_dead(parent);
        }
        if let Ok(Some(guard)) = Self::try_exclusive(dir) {
            let _ = super::writer::recover_unlocked(dir);
            drop(guard);
        }
        Self::acquire(dir, LockMode::Shared, false)
    }

    /// The exclusive lock if it can be had at once (or this process holds it
    /// already, or `dir` has no lock file); `None` when another process holds a
    /// lock on `dir`.
    pub fn try_exclusive(dir: &Path) -> Result<Option<Self>> {
        match Self::acquire_with(dir, LockMode::Exclusive, false, Duration::ZERO) {
            Ok(lock) => Ok(Some(lock)),
            Err(Error::PackBusy { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Create the lock file of a new dataset folder (`init`), so that its first
    /// writer and its readers always meet on it.
    pub fn create_file(dir: &Path) -> Result<()> {
        let path = dir.join(LOCK_FILE);
        crate::fsio::create_private(&path)
            .map(drop)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(|source| Error::Write { path, source })
    }

    fn acquire(dir: &Path, mode: LockMode, create: bool) -> Result<Self> {
        Self::acquire_with(dir, mode, create, lock_wait())
    }

    fn acquire_with(dir: &Path, mode: LockMode, create: bool, wait: Duration) -> Result<Self> {
        let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let mut held = HELD
            .lock()
            .map_err(|_| Error::Internal("the pack lock table is poisoned".into()))?;
        let table = held.get_or_insert_with(HashMap::new);
        if let Some(h) = table.get_mut(&key) {
            if h.mode == LockMode::Exclusive || mode == LockMode::Shared {
                h.count += 1;
                return Ok(PackLock { key: Some(key) });
            }
            // Held shared here and wanted exclusive: take the other path below
            // only for a fresh lock; an upgrade is a bug in the caller.
            return Err(Error::Internal(format!(
                "pack {} is read by this process and cannot be locked for writing",
                dir.display()
            )));
        }
        let path = dir.join(LOCK_FILE);
        let opened = if create {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
        } else {
            std::fs::File::open(&path)
        };
        let file = match opened {
            Ok(f) => f,
            Err(e) if !create && is_absent_or_read_only(&e) => return Ok(PackLock { key: None }),
            Err(source) => return Err(Error::Write { path, source }),
        };
        let deadline = Instant::now() + wait;
        loop {
            match try_flock(&file, mode) {
                Ok(true) => break,
                Ok(false) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(false) => return Err(busy(dir, &file, mode)),
                Err(source) => return Err(Error::Io { path, source }),
            }
        }
        let mut file = file;
        if mode == LockMode::Exclusive {
            // Who holds it, for the message of a writer that waits in vain.
            let _ = file
                .set_len(0)
                .and_then(|()| file.rewind())
                .and_then(|()| file.write_all(format!("{}\n", std::process::id()).as_bytes()));
        }
        table.insert(
            key.clone(),
            Held {
                file,
                mode,
                count: 1,
            },
        );
        Ok(PackLock { key: Some(key) })
    }
}

impl Drop for PackLock {
    fn drop(&mut self) {
        let Some(key) = &self.key else { return };
        let Ok(mut held) = HELD.lock() else { return };
        let Some(table) = held.as_mut() else { return };
        let last = table.get_mut(key).is_some_and(|h| {
            h.count -= 1;
            h.count == 0
        });
        if last && let Some(h) = table.remove(key) {
            // Closing the file releases the lock; say so explicitly.
            let _ = rustix::fs::flock(&h.file, rustix::fs::FlockOperation::Unlock);
        }
    }
}

/// The error of a lock that stayed taken: the writer's process id when a writer
/// holds it.
fn busy(dir: &Path, file: &File, wanted: LockMode) -> Error {
    let name = dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    // Readers only (a shared lock is free) or a writer?
    let readers_only = wanted == LockMode::Exclusive && {
        let ok = try_flock(file, LockMode::Shared).unwrap_or(false);
        if ok {
            let _ = rustix::fs::flock(file, rustix::fs::FlockOperation::Unlock);
        }
        ok
    };
    let mut text = String::new();
    let mut reader = file;
    let _ = reader.rewind();
    let _ = reader.take(64).read_to_string(&mut text);
    Error::PackBusy {
        name,
        holder: if readers_only {
            None
        } else {
            text.trim().parse().ok()
        },
        wait: lock_wait(),
    }
}

/// `flock` without waiting: `Ok(false)` when another open file holds a
/// conflicting lock.
pub(crate) fn try_flock(file: &File, mode: LockMode) -> std::io::Result<bool> {
    let op = match mode {
        LockMode::Exclusive => rustix::fs::FlockOperation::NonBlockingLockExclusive,
        LockMode::Shared => rustix::fs::FlockOperation::NonBlockingLockShared,
    };
    match rustix::fs::flock(file, op) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn is_absent_or_read_only(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound
            | std::io::ErrorKind::ReadOnlyFilesystem
            | std::io::ErrorKind::PermissionDenied
    )
}
