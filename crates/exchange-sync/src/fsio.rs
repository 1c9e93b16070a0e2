//! Atomic file writes: a temporary file in the same folder, synced, then renamed.
//!
//! Temporary names carry the writer's process id (`.NAME.tmp-PID`); a process
//! killed mid-write leaves its file behind, and the next writer of the same path
//! removes it ([`remove_stale`]) once no process of that id runs.
//!
//! What Fabric creates is private: new files `0600`, new folders `0700` (Unix), so
//! packs, archives and unpacked datasets are readable by their owner only. The
//! umask can only narrow this further. A file that already exists keeps its mode
//! when it is replaced (a user who opened one up keeps that choice); to share a
//! pack, change its modes after writing it.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Write `bytes` to `path` atomically. On failure nothing is left behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })?;
    file.commit()
}

/// A file being written under a temporary name next to its final path; renamed
/// into place by [`AtomicFile::commit`], removed if dropped before.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<std::io::BufWriter<std::fs::File>>,
    tmp: PathBuf,
    path: PathBuf,
}

impl AtomicFile {
    /// Start writing `path` (its folder must exist).
    pub fn create(path: &Path) -> Result<Self> {
        let tmp = temp_path(path);
        let file = create_private(&tmp).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })?;
        keep_mode(&file, path, &tmp)?;
        Ok(AtomicFile {
            file: Some(std::io::BufWriter::with_capacity(1 << 16, file)),
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// Flush, sync and rename into place.
    pub fn commit(mut self) -> Result<()> {
        let io = |source| Error::Write {
            path: self.path.clone(),
            source,
        };
        if let Some(file) = self.file.take() {
            let file = file.into_inner().map_err(|e| io(e.into_error()))?;
            file.sync_all().map_err(io)?;
        }
        std::fs::rename(&self.tmp, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&self.tmp);
            io(e)
        })
    }
}

/// The temporary name `.NAME.tmp-PID` beside `path`, after removing the ones a
/// dead writer of the same path left.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let prefix = format!(".{name}.tmp-");
    remove_stale(dir, &prefix);
    dir.join(format!("{prefix}{}", std::process::id()))
}

/// When `file` (being written at `tmp`) replaces an existing `path`, give it the
/// mode the owner gave `path`. On failure `tmp` is removed and the error names
/// `path`, the file the user asked for.
pub(crate) fn keep_mode(file: &std::fs::File, path: &Path, tmp: &Path) -> Result<()> {
    if let Ok(meta) = std::fs::metadata(path) {
        file.set_permissions(meta.permissions()).map_err(|source| {
            let _ = std::fs::remove_file(tmp);
            Error::Write {
                path: path.to_path_buf(),
                source,
            }
        })?;
    }
    Ok(())
}

/// Create (truncate) `path` readable and writable by its owner only (`0600`).
pub fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Create `dir` and its missing parents, each new one owner-only (`0700`).
pub fn create_private_dir_all(dir: impl AsRef<Path>) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir.as_ref())
}

/// Remove the files of `dir` named `PREFIX<pid>` whose process is gone (left by a
/// killed writer). Best effort: a file that cannot be removed stays. Only where
/// the running processes can be told (Linux `/proc`); elsewhere nothing is removed.
pub fn remove_stale(dir: &Path, prefix: &str) {
    for path in stale_files(dir, prefix) {
        let _ = std::fs::remove_file(path);
    }
}

/// The files of `dir` named `PREFIX<pid>` whose process is gone (never this
/// process's own). Empty where the running processes cannot be told.
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

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(std::io::Error::other("file already committed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl std::io::Seek for AtomicFile {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        match &mut self.file {
            Some(f) => f.seek(pos),
            None => Err(std::io::Error::other("file already committed")),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary file of a killed writer (a process id no process has) is
    /// removed by the next write of the same path; another path's is kept, and so
    /// is a live process's.
    #[test]
    fn a_killed_writers_temporary_file_is_removed_by_the_next_write()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let dead = dir.path().join(".out.zip.tmp-4294967294");
        let live = dir
            .path()
            .join(format!(".out.zip.tmp-{}", std::process::id()));
        let other = dir.path().join(".other.zip.tmp-4294967294");
        for f in [&dead, &other] {
            std::fs::write(f, b"partial")?;
        }
        write_atomic(&dir.path().join("out.zip"), b"whole")?;
        assert!(!dead.exists());
        assert!(other.exists());
        assert!(!live.exists());
        assert_eq!(std::fs::read(dir.path().join("out.zip"))?, b"whole");
        if cfg!(target_os = "linux") {
            // The parent process (the test runner's) is alive: its file stays.
            let parent = std::fs::read_to_string("/proc/self/stat")?
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().nth(1).map(str::to_owned))
                .ok_or("no ppid")?;
            let running = dir.path().join(format!(".out.zip.tmp-{parent}"));
            std::fs::write(&running, b"in progress")?;
            write_atomic(&dir.path().join("out.zip"), b"again")?;
            assert!(running.exists());
        }
        Ok(())
    }
}
