//! The workspace's one atomic-file writer: a temporary file beside the target,
//! written, synced, renamed over it (`tempfile`'s persist), and the folder synced,
//! so that a reader sees the old file or the new one whole, never a part, and a
//! crash after [`AtomicFile::commit`] keeps the new one.
//!
//! What it creates is private: the temporary file is `0600` (Unix) from its
//! creation, so the bytes are never readable by others, even for a moment. A file
//! that already exists keeps its mode when it is replaced (an owner who opened one
//! up keeps that choice).
//!
//! Temporary names are `.NAME.tmp-PID.XXXXXX`: a process killed mid-write leaves
//! its file behind, and the next writer of the same path removes it
//! ([`remove_stale`]) once no process of that id runs. A write that fails, or a
//! writer dropped before its commit, removes its temporary file.
//!
//! ```
//! use std::io::Write;
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("report.json");
//! fabric_store::atomic::write_atomic(&path, b"{}").unwrap();
//! let mut file = fabric_store::atomic::AtomicFile::create(&path).unwrap();
//! file.write_all(b"{\"new\": true}").unwrap();
//! assert_eq!(std::fs::read(&path).unwrap(), b"{}"); // not yet
//! file.commit().unwrap();
//! assert_eq!(std::fs::read(&path).unwrap(), b"{\"new\": true}");
//! ```

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// Write `bytes` to `path` atomically. On failure nothing is left behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

/// A file being written under a temporary name beside its final path: renamed
/// into place by [`AtomicFile::commit`], removed if dropped before. Writes go
/// straight to the file (wrap it in a `BufWriter` for small writes).
#[derive(Debug)]
pub struct AtomicFile {
    tmp: NamedTempFile,
    path: PathBuf,
}

impl AtomicFile {
    /// Start writing `path` (its folder must exist). A dead writer's temporary
    /// file for the same path is removed first.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Self::create_with(path, |tmp| {
            open_private(tmp, &mut std::fs::OpenOptions::new())
        })
    }

    /// [`AtomicFile::create`], the temporary file opened by `open` (given its
    /// path; it must create the file exclusively, owner-only, readable and
    /// writable), e.g. to add `O_DIRECT`. An error of `open` is returned as it is.
    pub fn create_with(
        path: &Path,
        open: impl FnMut(&Path) -> std::io::Result<std::fs::File>,
    ) -> std::io::Result<Self> {
        let (dir, prefix) = temp_prefix(path);
        remove_stale(dir, &prefix);
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{prefix}{}.", std::process::id()))
            .rand_bytes(6)
            .make_in(dir, open)?;
        // A replaced file keeps the mode its owner gave it.
        if let Ok(meta) = std::fs::metadata(path) {
            tmp.as_file().set_permissions(meta.permissions())?;
        }
        Ok(AtomicFile {
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// The file being written, for positioned reads and writes.
    pub fn as_file(&self) -> &std::fs::File {
        self.tmp.as_file()
    }

    /// Where the file is being written until the commit (to read it back, or to
    /// name it in an error).
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    /// The path the file will have once committed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sync the file, rename it into place and sync its folder.
    pub fn commit(self) -> std::io::Result<()> {
        let path = self.path.clone();
        self.commit_leaving_folder()?;
        sync_folder(&path)
    }

    /// [`AtomicFile::commit`] without the folder's sync, for a writer of many
    /// files in a few folders: it calls [`sync_dir`] once per folder before
    /// whatever makes those files reachable (a pack's index).
    pub fn commit_leaving_folder(self) -> std::io::Result<()> {
        self.tmp.as_file().sync_all()?;
        let AtomicFile { tmp, path } = self;
        // A failed rename drops the temporary file, which removes it.
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tmp.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tmp.flush()
    }
}

impl Seek for AtomicFile {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.tmp.seek(pos)
    }
}

/// Create the new file `path` with `options` plus read, write and create-new,
/// owner-only (`0600`) on Unix.
pub fn open_private(
    path: &Path,
    options: &mut std::fs::OpenOptions,
) -> std::io::Result<std::fs::File> {
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Sync the folder holding `path`, so that the rename that put it there survives
/// a crash.
fn sync_folder(path: &Path) -> std::io::Result<()> {
    sync_dir(temp_prefix(path).0)
}

/// Sync the folder `dir`, so that the files renamed into it survive a crash.
/// Where folders cannot be opened for syncing (not Unix) it is skipped.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    if cfg!(unix) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The folder of `path` and the prefix `.NAME.tmp-` of its temporary files.
pub fn temp_prefix(path: &Path) -> (&Path, String) {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    (dir, format!(".{name}.tmp-"))
}

/// Remove the files of `dir` named `PREFIX<pid>` or `PREFIX<pid>.<anything>`
/// whose process is gone (left by a killed writer). Best effort: a file that
/// cannot be removed stays. Only where the running processes can be told (Linux
/// `/proc`); elsewhere nothing is removed.
pub fn remove_stale(dir: &Path, prefix: &str) {
    for path in stale_files(dir, prefix) {
        let _ = std::fs::remove_file(path);
    }
}

/// The files of `dir` named `PREFIX<pid>` or `PREFIX<pid>.<anything>` whose
/// process is gone (never this process's own), sorted. Empty where the running
/// processes cannot be told.
pub fn stale_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|rest| rest.split('.').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) {
            found.push(entry.path());
        }
    }
    found.sort();
    found
}

/// Whether a process `pid` runs (unknown: assumed to run).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests;
