//! The full check of a store file (`fabric db check`) and the record of its last
//! pass, kept in the file itself.
//!
//! Under the default [`crate::CheckPolicy::Touched`] no command reads the whole
//! file, so the full `PRAGMA integrity_check` is an operator's explicit act. Its
//! last pass is recorded in the one-row table `store_checks` (created by the first
//! recorded check; a store without it has simply never been checked), so an
//! operator can see how long ago the whole file was last known good and how long
//! the next check will take.
//!
//! ```
//! use std::time::Duration;
//! use fabric_store::check::CheckRecord;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("fabric.db");
//! let mut store = fabric_store::Store::open(&path).unwrap();
//! assert_eq!(store.last_check().unwrap(), None);
//! let options = fabric_store::StoreOptions::default();
//! let took = fabric_store::check_file(&path, &options, fabric_store::OpenCheck::Integrity).unwrap();
//! let record = CheckRecord {
//!     passed_at: "2026-12-06T12:00:00Z".to_owned(),
//!     duration: took,
//!     file_bytes: std::fs::metadata(&path).unwrap().len(),
//! };
//! store.record_check(&record).unwrap();
//! let last = store.last_check().unwrap().unwrap();
//! assert_eq!(last.passed_at, record.passed_at);
//! assert_eq!(last.duration.as_micros(), took.as_micros());
//! ```

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::{At, Error, Result};
use crate::options::{OpenCheck, StoreOptions};
use crate::store::Store;

/// The table that holds the last pass (not part of the required schema).
const TABLE: &str = "store_checks";

/// One passed full check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRecord {
    /// When it passed (RFC 3339 UTC, as the caller gave it: the store has no clock).
    pub passed_at: String,
    /// How long `PRAGMA integrity_check` took (kept to the microsecond).
    pub duration: Duration,
    /// The file's size when it was checked.
    pub file_bytes: u64,
}

impl Store {
    /// The last recorded passed full check, `None` if the file was never checked
    /// through [`Store::record_check`].
    pub fn last_check(&self) -> Result<Option<CheckRecord>> {
        let exists: bool = self
            .conn()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [TABLE],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.err("looking for the check record", e))?;
        if !exists {
            return Ok(None);
        }
        self.conn()
            .query_row(
                &format!("SELECT passed_at, duration_us, file_bytes FROM {TABLE} WHERE id = 1"),
                [],
                |row| {
                    let micros: i64 = row.get(1)?;
                    let bytes: i64 = row.get(2)?;
                    Ok(CheckRecord {
                        passed_at: row.get(0)?,
                        duration: Duration::from_micros(u64::try_from(micros).unwrap_or(0)),
                        file_bytes: u64::try_from(bytes).unwrap_or(0),
                    })
                },
            )
            .optional()
            .map_err(|e| self.err("reading the check record", e))
    }

    /// Record `record` as the last passed full check (replacing the one before),
    /// creating the table on first use. A short write transaction of its own.
    pub fn record_check(&mut self, record: &CheckRecord) -> Result<()> {
        let micros = i64::try_from(record.duration.as_micros()).unwrap_or(i64::MAX);
        let bytes = i64::try_from(record.file_bytes).unwrap_or(i64::MAX);
        let (conn, at) = self.split();
        let err = |e| at.err("recording the check", e);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (\
             id INTEGER PRIMARY KEY CHECK (id = 1), \
             passed_at TEXT NOT NULL, \
             duration_us INTEGER NOT NULL, \
             file_bytes INTEGER NOT NULL)"
        ))
        .map_err(err)?;
        tx.execute(
            &format!(
                "INSERT OR REPLACE INTO {TABLE} (id, passed_at, duration_us, file_bytes) \
                 VALUES (1, ?1, ?2, ?3)"
            ),
            rusqlite::params![record.passed_at, micros, bytes],
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }
}

/// Run `check` on the database file at `path` through a connection of its own
/// (read-only, no memory map, `options`' busy timeout), and return how long it
/// took: corruption is [`Error::Corrupt`]. Safe to run while another connection of
/// this process reads the file; a writer must wait for it (its shared lock blocks a
/// commit).
pub fn check_file(path: &Path, options: &StoreOptions, check: OpenCheck) -> Result<Duration> {
    let conn = crate::file::open_side_connection(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY,
        options.busy_timeout,
    )?;
    let started = Instant::now();
    check_integrity(&conn, At::new(path, options.busy_timeout), check)?;
    Ok(started.elapsed())
}

/// A whole-file check ([`check_file`]) running on a thread of its own while the
/// command reads: a store opened with [`OpenCheck::Background`] holds one, and
/// nothing is written or given as a result before it has answered `ok`: the
/// mirror's transaction waits for it before its first write and its commit, and a
/// read outside a transaction before it answers (see
/// [`crate::mirror::MirrorReader`]). Dropping it waits for the thread (its
/// connection holds a shared lock).
#[derive(Debug)]
pub struct BackgroundCheck {
    path: PathBuf,
    state: Mutex<CheckState>,
}

/// Where a [`BackgroundCheck`] stands.
#[derive(Debug, Default)]
struct CheckState {
    running: Option<JoinHandle<Result<Duration>>>,
    took: Option<Duration>,
}

impl BackgroundCheck {
    /// Start `check` of the file at `path` on a new thread.
    pub fn start(path: &Path, options: &StoreOptions, check: OpenCheck) -> Result<Self> {
        let thread_path = path.to_path_buf();
        let options = options.clone();
        let running = std::thread::Builder::new()
            .name("fabric-store-check".into())
            .spawn(move || check_file(&thread_path, &options, check))
            .map_err(|e| Error::CheckStopped {
                path: path.to_path_buf(),
                what: "could not start",
                source: Some(e),
            })?;
        Ok(BackgroundCheck {
            path: path.to_path_buf(),
            state: Mutex::new(CheckState {
                running: Some(running),
                took: None,
            }),
        })
    }

    /// Wait for the answer (once; later calls return at once): the check's
    /// failure, e.g. [`Error::Corrupt`].
    pub fn wait(&self) -> Result<()> {
        let stopped = || Error::CheckStopped {
            path: self.path.clone(),
            what: "stopped unexpectedly",
            source: None,
        };
        let mut state = self.state.lock().map_err(|_| stopped())?;
        let Some(running) = state.running.take() else {
            return Ok(());
        };
        state.took = Some(running.join().map_err(|_| stopped())??);
        Ok(())
    }

    /// How long the check took, once it has answered `ok`.
    pub fn took(&self) -> Option<Duration> {
        self.state.lock().ok().and_then(|state| state.took)
    }
}

impl Drop for BackgroundCheck {
    fn drop(&mut self) {
        // Do not leave the check's connection (and its shared lock) behind.
        let _ = self.wait();
    }
}

/// `result` once `check` (if any) has answered `ok`; the check's failure instead
/// when it fails (a damaged file explains a failed read better than the read).
pub(crate) fn after_check<T, E: From<Error>>(
    check: Option<&BackgroundCheck>,
    result: std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    if let Some(check) = check {
        check.wait()?;
    }
    result
}

/// [`after_check`] for a failure only: a success is given at once.
pub(crate) fn failure_after_check<T, E: From<Error>>(
    check: Option<&BackgroundCheck>,
    result: std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    match result {
        Ok(value) => Ok(value),
        Err(e) => after_check(check, Err(e)),
    }
}

/// Run the check at open `check` on `conn`.
pub(crate) fn check_integrity(conn: &Connection, at: At<'_>, check: OpenCheck) -> Result<()> {
    let pragma = match check {
        OpenCheck::Integrity => "PRAGMA integrity_check",
        OpenCheck::Quick => "PRAGMA quick_check",
        // The header (SQLite refuses a bad magic string, page size or page count
        // as it reads page 1) and the schema's own B-tree: a few pages.
        OpenCheck::Touched | OpenCheck::Background => "PRAGMA quick_check(sqlite_master)",
    };
    let answer: rusqlite::Result<String> = conn.query_row(pragma, [], |row| row.get(0));
    match answer {
        Ok(first) if first == "ok" => Ok(()),
        Ok(first) => Err(Error::Corrupt {
            path: at.path().to_path_buf(),
            detail: first,
        }),
        Err(e) => match at.err("running the integrity check", e) {
            // A lock or a read failure is not corruption.
            err @ (Error::Locked { .. } | Error::Open { .. }) => Err(err),
            Error::Sqlite { source, .. } | Error::ReadOnly { source, .. } => Err(Error::Corrupt {
                path: at.path().to_path_buf(),
                detail: source.to_string(),
            }),
            other => Err(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};

    use super::*;
    use crate::mirror::tests::row_ref;
    use crate::mirror::{MirrorWriteRef, TableName};
    use crate::options::CheckPolicy;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    /// A store whose `chain_activity` root page is damaged: a page the mirror
    /// never reads, so only a whole-file check sees it.
    fn damaged_store(dir: &Path) -> std::result::Result<PathBuf, Box<dyn std::error::Error>> {
        let db = dir.join("f.db");
        drop(Store::open(&db)?);
        let conn = Connection::open(&db)?;
        let root: u64 = conn.query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'chain_activity'",
            [],
            |r| r.get(0),
        )?;
        let page_size: u64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        drop(conn);
        let mut file = std::fs::OpenOptions::new().write(true).open(&db)?;
        file.seek(SeekFrom::Start((root - 1) * page_size))?;
        file.write_all(&[0xff; 16])?;
        Ok(db)
    }

    fn write_one(store: &mut Store) -> Result<()> {
        let table = TableName::new("lake", "RawExchangeRecord")?;
        let hash = "a".repeat(64);
        let row = row_ref("00000000-0000-4000-8000-000000000001", &hash, "{}");
        let mut tx = store.mirror(&table).begin()?;
        tx.write_batch(&[MirrorWriteRef::Insert(row)])?;
        tx.commit()
    }

    fn quick() -> StoreOptions {
        StoreOptions {
            check: CheckPolicy::Quick,
            ..StoreOptions::default()
        }
    }

    /// `result` is the whole-file check's answer: the file is corrupt.
    fn assert_corrupt<T: std::fmt::Debug>(result: Result<T>) {
        assert!(
            matches!(result, Err(Error::Corrupt { .. })),
            "expected the check's answer, got {result:?}"
        );
    }

    /// Outside a transaction every answer of a read waits for the whole-file
    /// check; inside one a count does not (the transaction's writes and commit
    /// wait), but the end of a scan does: its rows leave the store.
    #[test]
    fn answers_wait_for_the_check_running_beside_them() -> TestResult {
        let dir = tempfile::tempdir()?;
        let db = damaged_store(dir.path())?;
        let quick = quick();
        let table = TableName::new("lake", "RawExchangeRecord")?;
        let mut store = quick.open_checked(&db, OpenCheck::Background)?;
        assert_corrupt(store.mirror(&table).reader()?.count(None));
        drop(store);

        let mut store = quick.open_checked(&db, OpenCheck::Background)?;
        let mut tx = store.mirror(&table).begin()?;
        assert_eq!(tx.reader()?.count(None)?, 0);
        assert_corrupt(tx.reader()?.scan("s", "e", |_| Ok::<_, Error>(())));
        Ok(())
    }

    /// Under `quick`, a store opened with [`OpenCheck::Background`] opens at once,
    /// and the first write of a mirror transaction waits for the whole-file check:
    /// the damage it finds refuses the write, and nothing is committed. Under
    /// `touched` (no whole-file check) the same write goes through.
    #[test]
    fn a_write_waits_for_the_check_running_beside_it() -> TestResult {
        let dir = tempfile::tempdir()?;
        let db = damaged_store(dir.path())?;
        let quick = quick();
        assert!(matches!(quick.open(&db), Err(Error::Corrupt { .. })));
        let mut store = quick.open_checked(&db, OpenCheck::Background)?;
        assert_corrupt(write_one(&mut store));
        // The answer was given once; the store holds no row.
        let table = TableName::new("lake", "RawExchangeRecord")?;
        assert_eq!(store.mirror(&table).reader()?.count(None)?, 0);
        drop(store);

        let mut touched = StoreOptions::default().open_checked(&db, OpenCheck::Background)?;
        write_one(&mut touched)?;
        assert_eq!(touched.background_check_duration(), None);
        Ok(())
    }
}
