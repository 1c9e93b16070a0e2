//! Undoing a store this process created, when the command that created it fails.
//!
//! A failed first write must leave the disk as it was: no 0-byte store, no
//! journal. But the file may be shared: another process may have created it (then
//! it is not ours to remove) or may be writing to the one we created. So a store
//! is removed only when it was created through the [`FreshStores`] list the
//! caller handed to its open ([`crate::StoreOptions::fresh`]) and, under an
//! exclusive lock that no other connection holds, no table in it holds a row
//! ([`FreshStores::remove_if_fresh`]). A process that opened the file before it
//! was removed fails loudly on its next write (SQLite refuses writes to a file
//! unlinked since it was opened), never silently.
//!
//! ```
//! use fabric_store::{FreshStores, StoreOptions};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("new/fabric.db");
//! let fresh = FreshStores::new();
//! let options = StoreOptions { fresh: Some(fresh.clone()), ..StoreOptions::default() };
//! drop(options.open(&path).unwrap());
//! assert!(fresh.created(&path));
//! // The command failed: what it created goes, its new folder too.
//! fresh.undo();
//! assert!(!dir.path().join("new").exists());
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::At;
use crate::error::{Error, Result};

/// The store files opened through it that did not exist before (with the folders
/// made for them), for [`FreshStores::undo`] when the command fails. A handle:
/// clones share one list. The CLI makes one per run and hands it to every open
/// through [`crate::StoreOptions::fresh`].
#[derive(Debug, Clone, Default)]
pub struct FreshStores(Arc<Mutex<Vec<Created>>>);

/// A store file created through a [`FreshStores`], and the folders made for it
/// (outermost first).
#[derive(Debug, Clone)]
struct Created {
    file: PathBuf,
    folders: Vec<PathBuf>,
}

impl PartialEq for FreshStores {
    /// The same list (not merely equal contents).
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for FreshStores {}

impl FreshStores {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Note that the file at `path` was created, and the `folders` (from
    /// [`missing_folders`] before they were made) for it.
    pub(crate) fn note(&self, path: &Path, folders: Vec<PathBuf>) {
        if let Ok(mut created) = self.0.lock() {
            created.push(Created {
                file: path.to_path_buf(),
                folders,
            });
        }
    }

    /// Whether the store file at `path` was created through this list (it did not
    /// exist when a [`crate::Store`] was opened for writing there).
    pub fn created(&self, path: &Path) -> bool {
        self.0
            .lock()
            .is_ok_and(|created| created.iter().any(|c| c.file == path))
    }

    /// Undo what a failed command created: each store of this list that
    /// [`FreshStores::remove_if_fresh`] removes, newest first, then the folders
    /// made for it while they are empty. Best effort (a store in use or holding a
    /// row stays, and so do its folders). Call it with every store opened through
    /// the list closed.
    pub fn undo(&self) {
        let created = self.0.lock().map(|c| c.clone()).unwrap_or_default();
        for Created { file, folders } in created.iter().rev() {
            if self.remove_if_fresh(file).unwrap_or(false) {
                for folder in folders.iter().rev() {
                    let _ = std::fs::remove_dir(folder);
                }
            }
        }
    }

    /// Remove the store at `path` with its journal files, if it was created
    /// through this list and it holds no row in any table; `Ok(true)` when it was
    /// removed. Nothing is removed while another connection holds a lock on it (it
    /// is being written). Call it with every store on that file closed.
    pub fn remove_if_fresh(&self, path: &Path) -> Result<bool> {
        if !self.created(path) {
            return Ok(false);
        }
        let empty_file = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0);
        if !empty_file {
            let mut conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| Error::Open {
                path: path.to_path_buf(),
                source: Box::new(e),
            })?;
            // No waiting: a lock held by someone else means the file is in use.
            let at = At::new(path, std::time::Duration::ZERO);
            conn.busy_timeout(std::time::Duration::ZERO)
                .map_err(|e| at.err("setting the busy timeout", e))?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Exclusive)
                .map_err(|e| at.err("locking a store to remove it", e))?;
            if holds_rows(&tx).map_err(|e| at.err("reading a store to remove", e))? {
                return Ok(false);
            }
            // Unlinked under the exclusive lock; the lock goes with the connection.
            remove_files(path);
            drop(tx);
            return Ok(true);
        }
        remove_files(path);
        Ok(true)
    }
}

/// The folders above `path` that do not exist yet, outermost first: what
/// creating the store at `path` would make.
pub(crate) fn missing_folders(path: &Path) -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = path
        .ancestors()
        .skip(1)
        .filter(|p| !p.as_os_str().is_empty())
        .take_while(|p| !p.exists())
        .map(Path::to_path_buf)
        .collect();
    folders.reverse();
    folders
}

/// Whether any table in the database holds a row.
pub(crate) fn holds_rows(conn: &Connection) -> rusqlite::Result<bool> {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for table in tables {
        let quoted = table.replace('"', "\"\"");
        let any: bool = conn.query_row(
            &format!("SELECT EXISTS (SELECT 1 FROM \"{quoted}\")"),
            [],
            |row| row.get(0),
        )?;
        if any {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The file and SQLite's files beside it (best effort).
fn remove_files(path: &Path) {
    let _ = std::fs::remove_file(path);
    for suffix in ["-journal", "-wal", "-shm"] {
        let mut side = path.as_os_str().to_os_string();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }
}

#[cfg(test)]
mod tests {
    use super::FreshStores;
    use crate::StoreOptions;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// Options that note what they create in `fresh`.
    fn noting(fresh: &FreshStores) -> StoreOptions {
        StoreOptions {
            fresh: Some(fresh.clone()),
            ..StoreOptions::default()
        }
    }

    #[test]
    fn only_an_empty_store_created_through_the_list_is_removed() -> TestResult {
        let dir = tempfile::tempdir()?;
        let fresh = FreshStores::new();
        let ours = dir.path().join("ours.db");
        drop(noting(&fresh).open(&ours)?);
        assert!(fresh.created(&ours));
        assert!(!FreshStores::new().created(&ours), "another list's");
        assert!(fresh.remove_if_fresh(&ours)?);
        assert!(!ours.exists());

        // Made by "someone else": a file that existed before it was opened.
        let theirs = dir.path().join("theirs.db");
        std::fs::write(&theirs, b"")?;
        drop(noting(&fresh).open(&theirs)?);
        assert!(!fresh.created(&theirs));
        assert!(!fresh.remove_if_fresh(&theirs)?);
        assert!(theirs.exists());
        Ok(())
    }

    #[test]
    fn a_store_with_a_row_or_in_use_is_kept() -> TestResult {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("f.db");
        let fresh = FreshStores::new();
        let store = noting(&fresh).open(&db)?;
        // Another connection in a write transaction: the store is in use.
        let other = rusqlite::Connection::open(&db)?;
        other.execute_batch("BEGIN IMMEDIATE")?;
        drop(store);
        assert!(fresh.remove_if_fresh(&db).is_err(), "locked: kept");
        assert!(db.exists());
        other.execute_batch(
            "INSERT INTO chain_activity (chain_key, action, actor, at, to_version) \
             VALUES ('k', 'create', 'a', 'now', 1); COMMIT",
        )?;
        assert!(!fresh.remove_if_fresh(&db)?, "a row: kept");
        assert!(db.exists());
        Ok(())
    }
}
