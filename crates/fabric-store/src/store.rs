//! Opening the database: the check the options ask for, then the schema version.
//!
//! What opening checks is the [`CheckPolicy`] of the [`StoreOptions`] it is given
//! (`$FABRIC_CHECK` in the CLI): `touched` (the default) checks the header, the
//! schema and every page a command reads or writes, at a cost that does not grow
//! with the file; `quick` and `full` add a scan of the whole file at every open.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::check::{BackgroundCheck, check_integrity};
use crate::error::{At, Error, Result};
use crate::file::{Presence, create_private, open_error, presence};
use crate::options::{CheckPolicy, OpenCheck, StoreOptions};
use crate::schema::{self, JOBS_ONLY_VERSION, SCHEMA_VERSION};

/// The page cache of each connection, in KiB.
pub(crate) const CACHE_KIB: i64 = 64 * 1024;

/// How much of a database file a read-only open maps into memory. Mapped pages
/// count as the process's resident memory, so the map is capped: a report over a
/// million jobs (a 1.1 GB file) must stay well under 1 GB of RSS.
const READ_MMAP_BYTES: u64 = 256 << 20;

/// An open Fabric database.
///
/// Opening runs the check of its options' [`CheckPolicy`] (corruption is an
/// error, never repaired), then checks `PRAGMA user_version` against
/// [`SCHEMA_VERSION`] and that every
/// table the version requires exists ([`Error::MissingTable`]). A missing path is
/// created by [`Store::open`] and refused by [`Store::open_read`]
/// ([`Error::NoStore`]); an empty file is a fresh store (the read gives an empty
/// in-memory store and writes nothing). A folder, FIFO, device, pseudo-file or
/// non-SQLite file at the path is [`Error::NotAStore`], from either.
///
/// `Store::open`, `open_read` and `open_read_or_empty` use
/// [`StoreOptions::default`]; the same opens with other options are methods of
/// [`StoreOptions`].
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    options: StoreOptions,
    /// Time spent in the check at open.
    integrity_check: Duration,
    /// The whole-file check running beside the command ([`OpenCheck::Background`]).
    background: Option<BackgroundCheck>,
}

impl Store {
    /// Open `path` for reading and writing with the default [`StoreOptions`],
    /// creating its folder and the file (with the full schema) if they do not exist.
    ///
    /// What this creates is private: folders `0700`, the file `0600` (SQLite gives
    /// its journal the file's mode). Existing folders and files keep their modes.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        StoreOptions::default().open(path)
    }

    /// [`Store::open`] with `options` and the check at open `check`.
    pub(crate) fn open_with(
        path: impl AsRef<Path>,
        options: &StoreOptions,
        check: OpenCheck,
    ) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        presence(&path)?;
        create_private(&path, options.fresh.as_ref()).map_err(|e| open_error(&path, e))?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|e| open_error(&path, e))?;
        let mut store = Self::init(conn, path, options, true, check)?;
        if check == OpenCheck::Background && options.check != CheckPolicy::Touched {
            store.background = Some(BackgroundCheck::start(
                &store.path,
                options,
                options.check.open_check(),
            )?);
        }
        Ok(store)
    }

    /// [`Store::open_read`] for a dry run of a command that would create the
    /// store: a missing path gives an empty in-memory store (what the real run
    /// would start from), and nothing is created or written.
    pub fn open_read_or_empty(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_read_or_empty_with(path, &StoreOptions::default())
    }

    pub(crate) fn open_read_or_empty_with(
        path: impl AsRef<Path>,
        options: &StoreOptions,
    ) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Presence::Missing = presence(&path)? {
            let conn = Connection::open_in_memory().map_err(|e| open_error(&path, e))?;
            return Self::init(conn, path, options, true, OpenCheck::Integrity);
        }
        Self::open_read_with(path, options)
    }

    /// Open `path` for reading only, with the default [`StoreOptions`]. A missing
    /// path is [`Error::NoStore`] (a read never creates a store); a 0-byte file
    /// gives an empty in-memory store (nothing is written to disk).
    pub fn open_read(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_read_with(path, &StoreOptions::default())
    }

    pub(crate) fn open_read_with(path: impl AsRef<Path>, options: &StoreOptions) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        match presence(&path)? {
            Presence::Missing => return Err(Error::NoStore { path }),
            Presence::Data => {}
            Presence::Empty => {
                let conn = Connection::open_in_memory().map_err(|e| open_error(&path, e))?;
                return Self::init(conn, path, options, true, OpenCheck::Touched);
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(|e| open_error(&path, e))?;
        let busy = options.busy_timeout;
        let check = options.check.open_check();
        if crate::file::needs_rollback(&conn, At::new(&path, busy), busy)? {
            // A writer was killed mid-transaction and left a hot journal: a read-only
            // connection cannot roll it back (SQLITE_READONLY_ROLLBACK), so the first
            // reader after a crash would see "readonly", not the data. Roll it back
            // through a short read-write connection, then read as usual.
            drop(conn);
            crate::file::roll_back_hot_journal(&path, busy)?;
            let conn =
                Connection::open_with_flags(&path, flags).map_err(|e| open_error(&path, e))?;
            return Self::init(conn, path, options, false, check);
        }
        Self::init(conn, path, options, false, check)
    }

    fn init(
        conn: Connection,
        path: PathBuf,
        options: &StoreOptions,
        may_create: bool,
        check: OpenCheck,
    ) -> Result<Self> {
        let at = At::new(&path, options.busy_timeout);
        conn.busy_timeout(options.busy_timeout)
            .map_err(|e| at.err("setting the busy timeout", e))?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(|e| at.err("enabling foreign keys", e))?;
        // SQLite's default page cache is 2 MB: a batch of 100,000 jobs then rereads
        // index pages from the OS for every row. 64 MB keeps the indexes resident.
        conn.pragma_update(None, "cache_size", -CACHE_KIB)
            .map_err(|e| at.err("setting cache_size", e))?;
        // Every page SQLite loads from now on is checked cell by cell (offsets and
        // sizes inside the page), not only its header: what a command reads or
        // writes is checked as it is read.
        conn.pragma_update(None, "cell_size_check", true)
            .map_err(|e| at.err("enabling cell_size_check", e))?;
        if !may_create && check != OpenCheck::Touched {
            // A read-only open that scans the whole file for the check at open reads
            // it through a memory map instead of read() calls: that scan is about a
            // third faster. Writers and point reads keep plain I/O (mapped pages
            // count as resident memory).
            conn.query_row(&format!("PRAGMA mmap_size = {READ_MMAP_BYTES}"), [], |_| {
                Ok(())
            })
            .map_err(|e| at.err("setting mmap_size", e))?;
        }
        let started = std::time::Instant::now();
        check_integrity(&conn, at, check)?;
        let integrity_check = started.elapsed();
        let mut store = Store {
            conn,
            path,
            options: options.clone(),
            integrity_check,
            background: None,
        };
        // The cap bounds the file; the empty in-memory store a read of a 0-byte
        // file gets is no file (capping it made that read fail as "full").
        let on_disk = store.conn.path().is_some_and(|p| !p.is_empty());
        if may_create
            && on_disk
            && let Some(cap) = options.max_page_count.filter(|c| *c > 0)
        {
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
                    .map_err(|e| store.err("opening an in-memory store", e))?;
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
            .map_err(|e| self.err("listing tables", e))?;
        for table in schema::REQUIRED_TABLES {
            let present = stmt
                .exists([table])
                .map_err(|e| self.err("listing tables", e))?;
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
            .map_err(|e| self.err("reading the schema version", e))
    }

    fn table_count(&self) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |row| row.get(0),
            )
            .map_err(|e| self.err("listing tables", e))
    }

    fn create_schema(&mut self) -> Result<()> {
        let page_size = self.options.effective_page_size();
        let (conn, at) = self.split();
        // Only takes effect on a file with nothing in it yet (another process may
        // have created the schema meanwhile: then it is a no-op).
        conn.pragma_update(None, "page_size", page_size)
            .map_err(|e| at.err("setting the page size", e))?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| at.err("starting the schema transaction", e))?;
        // Another process may have created the schema while we waited for the lock.
        let found: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|e| at.err("reading the schema version", e))?;
        if found == 0 {
            schema::create(&tx).map_err(|e| at.err("creating the schema", e))?;
        } else if found != SCHEMA_VERSION {
            drop(tx);
            return Err(self.version_error(found));
        }
        tx.commit().map_err(|e| at.err("committing the schema", e))
    }

    /// Upgrade a version-1 (jobs only, the reference system's) database file to
    /// [`SCHEMA_VERSION`] by adding the tables it lacks, in one transaction. The
    /// `jobs` table is not touched. Returns the version found before.
    pub fn upgrade(path: impl AsRef<Path>, options: &StoreOptions) -> Result<i64> {
        let path = path.as_ref().to_path_buf();
        if presence(&path)? == Presence::Missing {
            return Err(Error::NoStore { path });
        }
        let at = At::new(&path, options.busy_timeout);
        let mut conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| open_error(&path, e))?;
        conn.busy_timeout(options.busy_timeout)
            .map_err(|e| at.err("setting the busy timeout", e))?;
        check_integrity(&conn, at, OpenCheck::Integrity)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| at.err("starting the upgrade", e))?;
        let found: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|e| at.err("reading the schema version", e))?;
        match found {
            JOBS_ONLY_VERSION => schema::add_version_2(&tx).map_err(|e| at.err("upgrading", e))?,
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
            .map_err(|e| at.err("committing the upgrade", e))?;
        Ok(found)
    }

    /// Cap the database file at `pages` pages (`PRAGMA max_page_count`) for this
    /// connection: a write that needs more fails with [`Error::DiskFull`] and is
    /// rolled back. Operators use it to bound a store; tests use it to simulate a
    /// full disk.
    pub fn set_max_page_count(&self, pages: u64) -> Result<()> {
        self.conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
            .map_err(|e| self.err("setting max_page_count", e))
    }

    /// The database file this store was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options this store was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// How long the check at open (see [`OpenCheck`]) took.
    pub fn integrity_check_duration(&self) -> Duration {
        self.integrity_check
    }

    /// The whole-file check running beside the command, if any (a store opened
    /// with [`OpenCheck::Background`] under `quick` or `full`).
    pub(crate) fn background_check(&self) -> Option<&BackgroundCheck> {
        self.background.as_ref()
    }

    /// How long the whole-file check running beside the command took, once it has
    /// answered `ok` (a write, a commit or a read's answer waited for it); `None`
    /// before, or when none ran.
    pub fn background_check_duration(&self) -> Option<Duration> {
        self.background.as_ref().and_then(BackgroundCheck::took)
    }

    /// The underlying connection, for the modules of this crate.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Where this store's errors happen (its path and busy timeout).
    pub(crate) fn at(&self) -> At<'_> {
        At::new(&self.path, self.options.busy_timeout)
    }

    /// The connection and where its errors happen, borrowed apart (a transaction
    /// borrows the first).
    pub(crate) fn split(&mut self) -> (&mut Connection, At<'_>) {
        (
            &mut self.conn,
            At::new(&self.path, self.options.busy_timeout),
        )
    }

    /// Map a SQLite error on this store to the right [`Error`] variant.
    pub(crate) fn err(&self, context: impl Into<String>, e: rusqlite::Error) -> Error {
        self.at().err(context, e)
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

    /// Options belong to the store they open, not to the process: beside a
    /// capped store an uncapped one takes the write the capped one refuses, and
    /// each store waiting for a lock reports its own busy timeout.
    #[test]
    fn options_belong_to_the_store_they_open() -> TestResult {
        use crate::mirror::tests::row_ref;
        use crate::mirror::{MirrorWriteRef, TableName};
        use crate::options::StoreOptions;
        use std::time::Duration;

        let dir = tempfile::tempdir()?;
        let table = TableName::new("lake", "RawExchangeRecord")?;
        let (capped_db, free_db) = (dir.path().join("capped.db"), dir.path().join("free.db"));
        let small = StoreOptions {
            page_size: Some(4096),
            ..StoreOptions::default()
        };
        let pages: u64 =
            small
                .open(&capped_db)?
                .conn()
                .query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let capped = StoreOptions {
            max_page_count: Some(pages + 2),
            ..small.clone()
        };
        let payload = "x".repeat(64 * 1024);
        let hash = "a".repeat(64);
        let row = row_ref("00000000-0000-4000-8000-000000000001", &hash, &payload);
        let write = |store: &mut Store| -> crate::Result<()> {
            let mut tx = store.mirror(&table).begin()?;
            tx.write_batch(&[MirrorWriteRef::Insert(row)])?;
            tx.commit()
        };
        let mut full = capped.open(&capped_db)?;
        let mut free = small.open(&free_db)?;
        assert!(matches!(write(&mut full), Err(Error::DiskFull { .. })));
        write(&mut free)?;
        assert_eq!(free.mirror(&table).reader()?.count(None)?, 1);

        // One writer holds the lock; two others wait their own timeouts.
        let _held = free.mirror(&table).begin()?;
        for ms in [30, 90] {
            let waiting = StoreOptions {
                busy_timeout: Duration::from_millis(ms),
                ..StoreOptions::default()
            };
            let mut other = waiting.open(&free_db)?;
            match other.mirror(&table).begin() {
                Err(Error::Locked { waited_ms, .. }) => assert_eq!(waited_ms, ms),
                other => panic!("expected a lock error, got {other:?}"),
            }
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
