//! The temporary folder an unpack extracts into (`OUT/.NAME.unpack-XXXX`), and
//! the removal of those a killed unpack left.
//!
//! An unpack holds an advisory lock on `OUT/.NAME.unpack-XXXX.lock` for as long
//! as its folder lives; the kernel releases it when the process dies. The next
//! unpack into OUT, and every reader of a dataset in OUT, removes each such
//! folder whose lock is free ([`remove_dead`]): a killed unpack of an encrypted
//! archive leaves no decrypted records behind for long.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::pack::lock::{LockMode, try_flock};

/// The marker in a temporary unpack folder's name.
const MARKER: &str = ".unpack-";

/// A folder without its lock file this much older than now is a dead unpack's
/// (killed between creating the folder and its lock).
const UNLOCKED_GRACE: std::time::Duration = std::time::Duration::from_secs(600);

/// A live unpack's temporary folder: removed on drop unless [`UnpackTemp::finish`]
/// renamed it into place.
#[derive(Debug)]
pub(crate) struct UnpackTemp {
    dir: Option<PathBuf>,
    lock_path: PathBuf,
    _lock: File,
}

impl UnpackTemp {
    /// Create `out/.NAME.unpack-XXXX` (owner-only) and lock it as this process's.
    pub(crate) fn create(out: &Path, name: &str) -> Result<Self> {
        let write = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Write { path, source }
        };
        let dir = tempfile::Builder::new()
            .prefix(&format!(".{name}{MARKER}"))
            .tempdir_in(out)
            .map_err(write(out))?
            .keep();
        let lock_path = lock_path(&dir);
        let made = crate::fsio::create_private(&lock_path).and_then(|f| {
            if try_flock(&f, LockMode::Exclusive)? {
                Ok(f)
            } else {
                Err(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    "another process holds this unpack folder's lock",
                ))
            }
        });
        let lock = match made {
            Ok(f) => f,
            Err(source) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(Error::Write {
                    path: lock_path,
                    source,
                });
            }
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let set = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
            if let Err(source) = set {
                let _ = std::fs::remove_dir_all(&dir);
                let _ = std::fs::remove_file(&lock_path);
                return Err(Error::Write { path: dir, source });
            }
        }
        Ok(UnpackTemp {
            dir: Some(dir),
            lock_path,
            _lock: lock,
        })
    }

    /// The folder.
    pub(crate) fn path(&self) -> &Path {
        self.dir.as_deref().unwrap_or(Path::new(""))
    }

    /// Rename the folder to `target`.
    pub(crate) fn finish(mut self, target: &Path) -> Result<()> {
        let Some(dir) = self.dir.take() else {
            return Err(Error::Internal("unpack folder finished twice".into()));
        };
        let renamed = std::fs::rename(&dir, target);
        if renamed.is_err() {
            self.dir = Some(dir);
        }
        renamed.map_err(|source| Error::Write {
            path: target.to_path_buf(),
            source,
        })
    }
}

impl Drop for UnpackTemp {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

fn lock_path(dir: &Path) -> PathBuf {
    let mut s = dir.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// Remove the temporary folders that dead unpacks left in `out` (best effort).
pub fn remove_dead(out: &Path) {
    let Ok(entries) = std::fs::read_dir(out) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') || !name.contains(MARKER) || name.ends_with(".lock") {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if !kind.is_dir() {
            continue;
        }
        let dir = entry.path();
        let lock = lock_path(&dir);
        let dead = match File::open(&lock) {
            Ok(f) => try_flock(&f, LockMode::Exclusive).unwrap_or(false),
            Err(_) => entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > UNLOCKED_GRACE),
        };
        if dead {
            let _ = std::fs::remove_dir_all(&dir);
            let _ = std::fs::remove_file(&lock);
        }
    }
}
