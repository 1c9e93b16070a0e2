//! Opening the database: the check the policy asks for, then the schema version.
//!
//! What opening checks is a process-wide [`CheckPolicy`] (`$FABRIC_CHECK` in the
//! CLI): `touched` (the default) checks the header, the schema and every page a
//! command reads or writes, at a cost that does not grow with the file; `quick` and
//! `full` add a scan of the whole file at every open.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use crate::error::{Error, Result};
use crate::schema::{self, JOBS_ONLY_VERSION, SCHEMA_VERSION};

/// How long a write waits for another process's lock before failing with
/// [`Error::Locked`] (SQLite's and Python's default).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The busy timeout in effect for this process, in milliseconds.
static BUSY_TIMEOUT_MS: AtomicU64 = AtomicU64::new(BUSY_TIMEOUT.as_millis() as u64);

/// Change the busy timeout of every store this process opens from now on (default
/// [`BUSY_TIMEOUT`]). Operators shorten it to fail fast; tests use it to see a
/// [`Error::Locked`] in milliseconds instead of seconds.
pub fn set_busy_timeout(timeout: Duration) {
    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    BUSY_TIMEOUT_MS.store(ms, Ordering::Relaxed);
}

/// The busy timeout in effect (see [`set_busy_timeout`]).
pub fn busy_timeout() -> Duration {
    Duration::from_millis(BUSY_TIMEOUT_MS.load(Ordering::Relaxed))
}

/// The page cap of every store opened for writing from now on (0: none).
static MAX_PAGE_COUNT: AtomicU64 = AtomicU64::new(0);

/// Cap every store this process opens for writing from now on at `pages` pages
/// (see [`Store::set_max_page_count`]; `None` lifts the cap). The CLI sets it from
/// `$FABRIC_SQLITE_MAX_PAGE_COUNT`, so that every write path (jobs, chains, the
/// exchange mirror) sees the same simulated full disk.
pub fn set_default_max_page_count(pages: Option<u64>) {
    MAX_PAGE_COUNT.store(pages.unwrap_or(0), Ordering::Relaxed);
}

/// The page size of stores created from now on (0: [`PAGE_SIZE`]).
static DEFAULT_PAGE_SIZE: AtomicU64 = AtomicU64::new(0);

/// Create every new store of this process from now on with `bytes`-byte pages (a
/// power of two from 512 to 65536; `None` or anything else: [`PAGE_SIZE`]). Files
/// that exist keep theirs. The CLI sets it from `$FABRIC_SQLITE_PAGE_SIZE`: small
/// pages suit a store of small jobs only, and make a page cap
/// ([`set_default_max_page_count`]) bite at small sizes in tests.
pub fn set_default_page_size(bytes: Option<u32>) {
    let valid = bytes.filter(|b| b.is_power_of_two() && (512..=65536).contains(b));
    DEFAULT_PAGE_SIZE.store(valid.map_or(0, u64::from), Ordering::Relaxed);
}

/// The page size a store created now gets (see [`set_default_page_size`]).
pub fn default_page_size() -> u32 {
    match DEFAULT_PAGE_SIZE.load(Ordering::Relaxed) {
        0 => PAGE_SIZE,
        n => u32::try_from(n).unwrap_or(PAGE_SIZE),
    }
}

/// The page cache of each connection, in KiB.
pub(crate) const CACHE_KIB: i64 = 64 * 1024;

/// The page size of a store this code creates (SQLite's default is 4 KiB; a file
/// keeps the size it was created with). An exchange mirror row is about 2 KB: with
/// 4 KiB pages one row fills a page and a million rows take 4 GB, with 32 KiB
/// pages they pack fifteen to a page. Measured here: the SQLite writes of a
/// million-record import 3.4x faster (33.7 s -> 10.0 s), its index builds 3.3x;
/// a report over a million stored jobs 1.4x faster (4.25 s -> 2.98 s, 13% smaller
/// file); ingest of 100,000 job files and chain creates unchanged within noise.
pub const PAGE_SIZE: u32 = 32 * 1024;

/// How much of a database file a read-only open maps into memory. Mapped pages
/// count as the process's resident memory, so the map is capped: a report over a
/// million jobs (a 1.1 GB file) must stay well under 1 GB of RSS.
const READ_MMAP_BYTES: u64 = 256 << 20;

/// How much of the file the check at open reads.
///
/// Every variant first reads the header and the schema through SQLite, with
/// `PRAGMA cell_size_check` on: a file that is not a store or whose header is
/// damaged is [`Error::Corrupt`] before anything else is read, and every page read
/// later is checked cell by cell as it is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpenCheck {
    /// `PRAGMA integrity_check`: every page, every index checked against its table
    /// (O(size), with the cross checks O(rows x indexes)). `fabric db check`.
    Integrity,
    /// `PRAGMA quick_check`: every page is still read and its structure checked
    /// (damaged pages, broken B-trees, bad free lists are still refused), but the
    /// index-versus-table cross checks and UNIQUE checks are skipped.
    Quick,
    /// No scan of the whole file: the header, the schema (`quick_check` of
    /// `sqlite_master`) and then each page as a command reads or writes it. The
    /// cost does not grow with the file. The default (see [`CheckPolicy`]).
    #[default]
    Touched,
    /// Like [`OpenCheck::Touched`] at open, and the caller runs [`check_file`]
    /// itself, on another thread while it reads, and must wait for its answer
    /// before it writes anything or reports a result (the exchange mirror does:
    /// see its `settle`).
    Caller,
}

/// What every store of this process checks when it opens: the operator's choice
/// (`$FABRIC_CHECK=full|quick|touched` in the CLI), set with [`set_check_policy`].
///
/// Whatever the policy, a store that is not a store, has a damaged header or
/// another schema version fails at open, chain payloads are re-hashed on every
/// read, and SQLite checks every page it loads; writes read back what they wrote
/// before they commit. `fabric db check` always runs the full check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckPolicy {
    /// `full`: `PRAGMA integrity_check` at every open (O(file size)).
    Full,
    /// `quick`: `PRAGMA quick_check` at every open (O(file size), no index cross
    /// checks).
    Quick,
    /// `touched`: only what each command reads or writes is checked (the default).
    #[default]
    Touched,
}

impl CheckPolicy {
    /// Every policy, in the order `--help` and errors list them.
    pub const ALL: [CheckPolicy; 3] = [CheckPolicy::Full, CheckPolicy::Quick, CheckPolicy::Touched];

    /// The policy named `name` (`full`, `quick`, `touched`), if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Its name, as `$FABRIC_CHECK` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckPolicy::Full => "full",
            CheckPolicy::Quick => "quick",
            CheckPolicy::Touched => "touched",
        }
    }

    /// The check a store opened under this policy runs at open.
    pub fn open_check(self) -> OpenCheck {
        match self {
            CheckPolicy::Full => OpenCheck::Integrity,
            CheckPolicy::Quick => OpenCheck::Quick,
            CheckPolicy::Touched => OpenCheck::Touched,
        }
    }
}

/// The policy in effect for this process (the index into [`CheckPolicy::ALL`]).
static CHECK_POLICY: AtomicU8 = AtomicU8::new(2);

/// Set what every store this process opens from now on checks at open (default
/// [`CheckPolicy::Touched`]).
pub fn set_check_policy(policy: CheckPolicy) {
    let index = CheckPolicy::ALL
        .iter()
        .position(|p| *p == policy)
        .unwrap_or(2);
    CHECK_POLICY.store(u8::try_from(index).unwrap_or(2), Ordering::Relaxed);
}

/// The policy in effect (see [`set_check_policy`]).
pub fn check_policy() -> CheckPolicy {
    CheckPolicy::ALL
        .get(usize::from(CHECK_POLICY.load(Ordering::Relaxed)))
        .copied()
        .unwrap_or_default()
}

/// Run `check` on the database file at `path` through a connection of its own
/// (read-only, no memory map), and return how long it took: corruption is
/// [`Error::Corrupt`]. Safe to run while another connection of this process reads
/// the file; a writer must wait for it (its shared lock blocks a commit).
pub fn check_file(path: &Path, check: OpenCheck) -> Result<Duration> {
    let conn = open_side_connection(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let started = std::time::Instant::now();
    check_integrity(&conn, path, check)?;
    Ok(started.elapsed())
}

/// An open Fabric database.
///
/// Opening runs the check of the process's [`CheckPolicy`] (corruption is an
/// error, never repaired), then checks `PRAGMA user_version` against
/// [`SCHEMA_VERSION`] and that every
/// table the version requires exists ([`Error::MissingTable`]). A missing path is
/// created by [`Store::open`] and refused by [`Store::open_read`]
/// ([`Error::NoStore`]); an empty file is a fresh store (the read gives an empty
/// in-memory store and writes nothing). A folder, FIFO, device, pseudo-file or
/// non-SQLite file at the path is [`Error::NotAStore`], from either.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Time spent in the check at open.
    integrity_check: Duration,
}

impl Store {
    /// Open `path` for reading and writing, creating its folder and the file (with the
    /// full schema) if they do not exist.
    ///
    /// What this creates is private: folders `0700`, the file `0600` (SQLite gives
    /// its journal the file's mode). Existing folders and files keep their modes.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_checked(path, check_policy().open_check())
    }

    /// [`Store::open`] with the given check at open (see [`OpenCheck`]).
    pub fn open_checked(path: impl AsRef<Path>, check: OpenCheck) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        presence(&path)?;
        create_private(&path).map_err(|e| Error::Open {
            path: path.clone(),
            source: Box::new(e),
        })?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|e| Error::Open {
            path: path.clone(),
            source: Box::new(e),
        })?;
        Self::init(conn, path, true, check)
    }

    /// [`Store::open_read`] for a dry run of a command that would create the
    /// store: a missing path gives an empty in-memory store (what the real run
    /// would start from), and nothing is created or written.
    pub fn open_read_or_empty(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Presence::Missing = presence(&path)? {
            let conn = Connection::open_in_memory().map_err(|e| Error::Open {
                path: path.clone(),
                source: Box::new(e),
            })?;
            return Self::init(conn, path, true, OpenCheck::Integrity);
        }
        Self::open_read(path)
    }

    /// Open `path` for reading only. A missing path is [`Error::NoStore`] (a read
    /// never creates a store); a 0-byte file gives an empty in-memory store
    /// (nothing is written to disk).
    pub fn open_read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        match presence(&path)? {
            Presence::Missing => return Err(Error::NoStore { path }),
            Presence::Data => {}
            Presence::Empty => {
                let conn = Connection::open_in_memory().map_err(|e| Error::Open {
                    path: path.clone(),
                    source: Box::new(e),
                })?;
                return Self::init(conn, path, true, OpenCheck::Touched);
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|e| Error::Open {
            path: path.clone(),
            source: Box::new(e),
        })?;
        if needs_rollback(&conn, &path)? {
            // A writer was killed mid-transaction and left a hot journal: a read-only
            // connection cannot roll it back (SQLITE_READONLY_ROLLBACK), so the first
            // reader after a crash would see "readonly", not the data. Roll it back
            // through a short read-write connection, then read as usual.
            drop(conn);
            roll_back_hot_journal(&path)?;
            let conn = Connection::open_with_flags(&path, flags).map_err(|e| Error::Open {
                path: path.clone(),
                source: Box::new(e),
            })?;
            return Self::init(conn, path, false, check_policy().open_check());
        }
        Self::init(conn, path, false, check_policy().open_check())
    }

    fn init(conn: Connection, path: PathBuf, may_create: bool, check: OpenCheck) -> Result<Self> {
        conn.busy_timeout(busy_timeout())
            .map_err(|e| classify(&path, "setting the busy timeout", e))?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(|e| classify(&path, "enabling foreign keys", e))?;
        // SQLite's default page cache is 2 MB: a batch of 100,000 jobs then rereads
        // index pages from the OS for every row. 64 MB keeps the indexes resident.
        conn.pragma_update(None, "cache_size", -CACHE_KIB)
            .map_err(|e| classify(&path, "setting cache_size", e))?;
        // Every page SQLite loads from now on is checked cell by cell (offsets and
        // sizes inside the page), not only its header: what a command reads or
        // writes is checked as it is read.
        conn.pragma_update(None, "cell_size_check", true)
            .map_err(|e| classify(&path, "enabling cell_size_check", e))?;
        if !may_create && check != OpenCheck::Touched {
            // A read-only open that scans the whole file for the check at open reads
            // it through a memory map instead of read() calls: that scan is about a
            // third faster. Writers and point reads keep plain I/O (mapped pages
            // count as resident memory).
            conn.query_row(&format!("PRAGMA mmap_size = {READ_MMAP_BYTES}"), [], |_| {
                Ok(())
            })
            .map_err(|e| classify(&path, "setting mmap_size", e))?;
        }
        let started = std::time::Instant::now();
        check_integrity(&conn, &path, check)?;
        let integrity_check = started.elapsed();
        let mut store = Store {
            conn,
            path,
            integrity_check,
        };
        let cap = MAX_PAGE_COUNT.load(Ordering::Relaxed);
        // The cap bounds the file; the empty in-memory store a read of a 0-byte
        // file gets is no file (capping it made that read fail as "full").
        let on_disk = store.conn.path().is_some_and(|p| !p.is_empty());
        if may_create && on_disk && cap > 0 {
            store.set_max_page_count(cap)?;
        }
        let found = store.user_version()?;
        match found {
            0 if may_create => store.create_schema()?,
            0 => {
                // A read-only open of a file that has no schema yet: only an empty
                // database file (no tables at all) is a fresh store.
                if store.table_count()? != 0 {
                    return Err(store.version_error(found));
                }
                let mem = Connection::open_in_memory()
                    .map_err(|e| classify(&store.path, "opening an in-memory store", e))?;
                store.conn = mem;
                store.create_schema()?;
            }
            v if v == SCHEMA_VERSION => store.check_tables(v)?,
            _ => return Err(store.version_error(found)),
        }
        Ok(store)
    }

    fn version_error(&self, found: i64) -> Error {
        Error::SchemaVersion {
            path: self.path.clone(),
            expected: SCHEMA_VERSION,
            found,
            hint: if found == JOBS_ONLY_VERSION {
                " (a version-1 job store: `fabric db upgrade` adds the snapshot-chain and exchange tables; nothing else changes)"
            } else {
                ""
            },
        }
    }

    /// Every table [`schema::REQUIRED_TABLES`] names exists, or
    /// [`Error::MissingTable`] naming the first one missing.
    fn check_tables(&self, version: i64) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")
            .map_err(|e| classify(&self.path, "listing tables", e))?;
        for table in schema::REQUIRED_TABLES {
            let present = stmt
                .exists([table])
                .map_err(|e| classify(&self.path, "listing tables", e))?;
            if !present {
                return Err(Error::MissingTable {
                    path: self.path.clone(),
                    table,
                    version,
                });
            }
        }
        Ok(())
    }

    fn user_version(&self) -> Result<i64> {
        self.conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|e| classify(&self.path, "reading the schema version", e))
    }

    fn table_count(&self) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |row| row.get(0),
            )
            .map_err(|e| classify(&self.path, "listing tables", e))
    }

    fn create_schema(&mut self) -> Result<()> {
        let path = self.path.clone();
        // Only takes effect on a file with nothing in it yet (another process may
        // have created the schema meanwhile: then it is a no-op).
        self.conn
            .pragma_update(None, "page_size", default_page_size())
            .map_err(|e| classify(&path, "setting the page size", e))?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| classify(&path, "starting the schema transaction", e))?;
        // Another process may have created the schema while we waited for the lock.
        let found: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|e| classify(&path, "reading the schema version", e))?;
        if found == 0 {
            schema::create(&tx).map_err(|e| classify(&path, "creating the schema", e))?;
        } else if found != SCHEMA_VERSION {
            drop(tx);
            return Err(self.version_error(found));
        }
        tx.commit()
            .map_err(|e| classify(&path, "committing the schema", e))
    }

    /// Upgrade a version-1 (jobs only, the reference system's) database file to
    /// [`SCHEMA_VERSION`] by adding the tables it lacks, in one transaction. The
    /// `jobs` table is not touched. Returns the version found before.
    pub fn upgrade(path: impl AsRef<Path>) -> Result<i64> {
        let path = path.as_ref().to_path_buf();
        if presence(&path)? == Presence::Missing {
            return Err(Error::NoStore { path });
        }
        let mut conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| Error::Open {
                path: path.clone(),
                source: Box::new(e),
            })?;
        conn.busy_timeout(busy_timeout())
            .map_err(|e| classify(&path, "setting the busy timeout", e))?;
        check_integrity(&conn, &path, OpenCheck::Integrity)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| classify(&path, "starting the upgrade", e))?;
        let found: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|e| classify(&path, "reading the schema version", e))?;
        match found {
            JOBS_ONLY_VERSION => {
                schema::add_version_2(&tx).map_err(|e| classify(&path, "upgrading", e))?
            }
            SCHEMA_VERSION => {}
            _ => {
                return Err(Error::SchemaVersion {
                    path,
                    expected: JOBS_ONLY_VERSION,
                    found,
                    hint: " (only version-1 files can be upgraded)",
                });
            }
        }
        tx.commit()
            .map_err(|e| classify(&path, "committing the upgrade", e))?;
        Ok(found)
    }

    /// Cap the database file at `pages` pages (`PRAGMA max_page_count`) for this
    /// connection: a write that needs more fails with [`Error::DiskFull`] and is
    /// rolled back. Operators use it to bound a store; tests use it to simulate a
    /// full disk.
    pub fn set_max_page_count(&self, pages: u64) -> Result<()> {
        self.conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
            .map_err(|e| classify(&self.path, "setting max_page_count", e))
    }

    /// The database file this store was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How long the check at open (see [`OpenCheck`]) took.
    pub fn integrity_check_duration(&self) -> Duration {
        self.integrity_check
    }

    /// The underlying connection, for the modules of this crate.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The underlying connection, mutably (transactions), for this crate's modules.
    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The connection and the path, borrowed apart (a transaction borrows the first).
    pub(crate) fn split(&mut self) -> (&mut Connection, &Path) {
        (&mut self.conn, &self.path)
    }

    /// Map a SQLite error on this store to the right [`Error`] variant.
    pub(crate) fn err(&self, context: impl Into<String>, e: rusqlite::Error) -> Error {
        classify(&self.path, context, e)
    }
}

/// What stands at a store path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
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
fn presence(path: &Path) -> Result<Presence> {
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    let not = |reason| Error::NotAStore {
        path: path.to_path_buf(),
        reason,
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Presence::Missing),
        Err(e) => {
            return Err(Error::Open {
                path: path.to_path_buf(),
                source: Box::new(e),
            });
        }
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
        .map_err(|e| Error::Open {
            path: path.to_path_buf(),
            source: Box::new(e),
        })?;
    if read > 0 {
        return Err(not(
            "it is a pseudo-file whose size is unknown (like those under /proc), not a database file",
        ));
    }
    Ok(Presence::Empty)
}

/// Create the missing folders of `path` (`0700`) and an empty file (`0600`) unless
/// one exists: SQLite would create them with the process's default modes.
fn create_private(path: &Path) -> std::io::Result<()> {
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
            crate::fresh::note_created(path, folders);
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
fn needs_rollback(conn: &Connection, path: &Path) -> Result<bool> {
    conn.busy_timeout(busy_timeout())
        .map_err(|e| classify(path, "setting the busy timeout", e))?;
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
            Err(classify(path, "reading the schema", e))
        }
        _ => Ok(false),
    }
}

/// A short-lived connection to an existing file (`flags` plus no mutex), with the
/// busy timeout in effect: for checks and recovery beside a store's own connection.
fn open_side_connection(path: &Path, flags: OpenFlags) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(
        |e| Error::Open {
            path: path.to_path_buf(),
            source: Box::new(e),
        },
    )?;
    conn.busy_timeout(busy_timeout())
        .map_err(|e| classify(path, "setting the busy timeout", e))?;
    Ok(conn)
}

/// Roll back the hot journal left by a killed writer: the first read on a read-write
/// connection does it (SQLite's own recovery). Nothing is created.
fn roll_back_hot_journal(path: &Path) -> Result<()> {
    let conn = open_side_connection(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
        row.get::<_, i64>(0)
    })
    .map(drop)
    .map_err(|e| classify(path, "rolling back an interrupted transaction", e))
}

fn check_integrity(conn: &Connection, path: &Path, check: OpenCheck) -> Result<()> {
    let pragma = match check {
        OpenCheck::Integrity => "PRAGMA integrity_check",
        OpenCheck::Quick => "PRAGMA quick_check",
        // The header (SQLite refuses a bad magic string, page size or page count
        // as it reads page 1) and the schema's own B-tree: a few pages.
        OpenCheck::Touched | OpenCheck::Caller => "PRAGMA quick_check(sqlite_master)",
    };
    let answer: rusqlite::Result<String> = conn.query_row(pragma, [], |row| row.get(0));
    match answer {
        Ok(first) if first == "ok" => Ok(()),
        Ok(first) => Err(Error::Corrupt {
            path: path.to_path_buf(),
            detail: first,
        }),
        Err(e) => match classify(path, "running the integrity check", e) {
            // A lock or a read failure is not corruption.
            err @ (Error::Locked { .. } | Error::Open { .. }) => Err(err),
            Error::Sqlite { source, .. } | Error::ReadOnly { source, .. } => Err(Error::Corrupt {
                path: path.to_path_buf(),
                detail: source.to_string(),
            }),
            other => Err(other),
        },
    }
}

/// Map a SQLite error to the variant that tells a user what happened.
pub(crate) fn classify(path: &Path, context: impl Into<String>, e: rusqlite::Error) -> Error {
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => Error::DiskFull { path, source: e },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::Locked {
            path,
            waited_ms: BUSY_TIMEOUT_MS.load(Ordering::Relaxed),
            source: e,
        },
        Some(ErrorCode::ReadOnly) => Error::ReadOnly { path, source: e },
        Some(ErrorCode::NotADatabase) => Error::NotAStore {
            path,
            reason: "it is not a SQLite database file (check the --db path or $FABRIC_DB)",
        },
        Some(ErrorCode::DatabaseCorrupt) => Error::Corrupt {
            path,
            detail: e.to_string(),
        },
        Some(ErrorCode::CannotOpen) => Error::Open {
            path,
            source: Box::new(e),
        },
        _ => Error::Sqlite {
            path,
            context: context.into(),
            source: e,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::Store;
    use crate::error::Error;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn mode(path: &std::path::Path) -> std::io::Result<u32> {
        Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
    }

    #[test]
    fn a_new_store_and_its_new_folders_are_owner_only() -> TestResult {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("a").join("b").join("fabric.db");
        let before = mode(dir.path())?;
        drop(Store::open(&db)?);
        assert_eq!(mode(&db)?, 0o600);
        assert_eq!(mode(&dir.path().join("a"))?, 0o700);
        assert_eq!(mode(&dir.path().join("a/b"))?, 0o700);
        assert_eq!(
            mode(dir.path())?,
            before,
            "an existing folder kept its mode"
        );
        Ok(())
    }

    #[test]
    fn a_read_of_a_missing_path_is_no_store_and_creates_nothing() -> TestResult {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("no").join("fabric.db");
        let err = Store::open_read(&db).err();
        assert!(matches!(err, Some(Error::NoStore { .. })), "{err:?}");
        assert!(!dir.path().join("no").exists());
        Ok(())
    }

    #[test]
    fn what_is_not_a_database_file_is_not_a_store_for_reads_and_writes() -> TestResult {
        let dir = tempfile::tempdir()?;
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "plain text, long enough to hold a header")?;
        for path in [
            dir.path().to_path_buf(),
            std::path::PathBuf::from("/dev/zero"),
            std::path::PathBuf::from("/proc/self/status"),
            text,
        ] {
            for err in [Store::open_read(&path).err(), Store::open(&path).err()] {
                assert!(
                    matches!(err, Some(Error::NotAStore { .. })),
                    "{path:?}: {err:?}"
                );
            }
        }
        Ok(())
    }

    #[test]
    fn a_missing_required_table_is_named_at_open() -> TestResult {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("fabric.db");
        drop(Store::open(&db)?);
        rusqlite::Connection::open(&db)?.execute_batch("DROP TABLE chain_payloads")?;
        for err in [Store::open_read(&db).err(), Store::open(&db).err()] {
            assert!(
                matches!(
                    err,
                    Some(Error::MissingTable {
                        table: "chain_payloads",
                        ..
                    })
                ),
                "{err:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn an_existing_store_keeps_its_mode() -> TestResult {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("fabric.db");
        drop(Store::open(&db)?);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640))?;
        drop(Store::open(&db)?);
        assert_eq!(mode(&db)?, 0o640);
        Ok(())
    }
}
