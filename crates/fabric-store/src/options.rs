//! How a store is opened: [`StoreOptions`] (busy timeout, page cap, page size,
//! the [`CheckPolicy`] and the [`FreshStores`] list that notes created stores),
//! passed to every open. Nothing here is process-wide: two stores of one process
//! may be opened with different options.
//!
//! ```
//! use std::time::Duration;
//! use fabric_store::{CheckPolicy, StoreOptions};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let options = StoreOptions {
//!     busy_timeout: Duration::from_millis(200),
//!     check: CheckPolicy::Quick,
//!     ..StoreOptions::default()
//! };
//! let store = options.open(dir.path().join("fabric.db")).unwrap();
//! assert_eq!(store.options().busy_timeout, Duration::from_millis(200));
//! ```

use std::path::Path;
use std::time::Duration;

use crate::error::Result;
use crate::fresh::FreshStores;
use crate::store::Store;

/// How long a write waits for another process's lock before failing with
/// [`crate::Error::Locked`] (SQLite's and Python's default).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The page size of a store this code creates (SQLite's default is 4 KiB; a file
/// keeps the size it was created with). An exchange mirror row is about 2 KB: with
/// 4 KiB pages one row fills a page and a million rows take 4 GB, with 32 KiB
/// pages they pack fifteen to a page. Measured here: the SQLite writes of a
/// million-record import 3.4x faster (33.7 s -> 10.0 s), its index builds 3.3x;
/// a report over a million stored jobs 1.4x faster (4.25 s -> 2.98 s, 13% smaller
/// file); ingest of 100,000 job files and chain creates unchanged within noise.
pub const PAGE_SIZE: u32 = 32 * 1024;

/// What opening a store does beyond the defaults. The CLI fills it from its
/// environment (`$FABRIC_SQLITE_BUSY_TIMEOUT_MS`, `$FABRIC_SQLITE_MAX_PAGE_COUNT`,
/// `$FABRIC_SQLITE_PAGE_SIZE`, `$FABRIC_CHECK`) and its run's [`FreshStores`]; a
/// library user builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// How long a write waits for another process's lock before failing with
    /// [`crate::Error::Locked`] (default [`BUSY_TIMEOUT`]). Operators shorten it to
    /// fail fast; tests use it to see a lock in milliseconds.
    pub busy_timeout: Duration,
    /// Cap a store opened for writing at this many pages (`PRAGMA max_page_count`):
    /// a write that needs more fails with [`crate::Error::DiskFull`] and is rolled
    /// back, on every write path (jobs, chains, the exchange mirror). `None` (the
    /// default): no cap.
    pub max_page_count: Option<u64>,
    /// The page size of a store created with these options: a power of two from
    /// 512 to 65536 (`None` or anything else: [`PAGE_SIZE`]). Files that exist keep
    /// theirs. Small pages suit a store of small jobs only, and make a page cap bite
    /// at small sizes in tests.
    pub page_size: Option<u32>,
    /// What opening checks (default [`CheckPolicy::Touched`]).
    pub check: CheckPolicy,
    /// Where a store file an open creates is noted, with the folders made for it,
    /// so that a failed command can remove it again ([`FreshStores::undo`]).
    /// `None` (the default): nothing is noted.
    pub fresh: Option<FreshStores>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            busy_timeout: BUSY_TIMEOUT,
            max_page_count: None,
            page_size: None,
            check: CheckPolicy::Touched,
            fresh: None,
        }
    }
}

impl StoreOptions {
    /// The page size a store created with these options gets (see
    /// [`StoreOptions::page_size`]).
    pub fn effective_page_size(&self) -> u32 {
        self.page_size
            .filter(|b| b.is_power_of_two() && (512..=65536).contains(b))
            .unwrap_or(PAGE_SIZE)
    }

    /// [`Store::open`] with these options.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(path, self, self.check.open_check())
    }

    /// [`Store::open`] with these options and the given check at open instead of
    /// the policy's.
    pub fn open_checked(&self, path: impl AsRef<Path>, check: OpenCheck) -> Result<Store> {
        Store::open_with(path, self, check)
    }

    /// [`Store::open_read`] with these options.
    pub fn open_read(&self, path: impl AsRef<Path>) -> Result<Store> {
        Store::open_read_with(path, self)
    }

    /// [`Store::open_read_or_empty`] with these options.
    pub fn open_read_or_empty(&self, path: impl AsRef<Path>) -> Result<Store> {
        Store::open_read_or_empty_with(path, self)
    }
}

/// How much of the file the check at open reads.
///
/// Every variant first reads the header and the schema through SQLite, with
/// `PRAGMA cell_size_check` on: a file that is not a store or whose header is
/// damaged is [`crate::Error::Corrupt`] before anything else is read, and every page
/// read later is checked cell by cell as it is loaded.
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
    /// Like [`OpenCheck::Touched`] at open, and the whole-file check of the
    /// policy runs on a thread of its own while the caller reads (see
    /// [`crate::check::BackgroundCheck`]): a write through the mirror's
    /// [`crate::mirror::MirrorTx`] and its commit wait for its answer, and so does
    /// every answer of a [`crate::mirror::MirrorReader`] outside a transaction.
    Background,
}

/// What a store checks when it opens: the operator's choice
/// (`$FABRIC_CHECK=full|quick|touched` in the CLI), in [`StoreOptions::check`].
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
