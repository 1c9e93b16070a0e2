//! Write-back started early. A bulk load writes gigabytes through SQLite into
//! the kernel's page cache, and the commit's fsync then waited for all of it at
//! once: 3.0 s of a 1,000,000-record import, with both cores idle. While a
//! mirror transaction is open, a thread asks the kernel to write the store
//! file's dirty pages out each time the file has grown by [`STEP`], so the disk
//! works while the import computes and the commit's fsync finds little left.
//!
//! Only the moment a page reaches the disk moves: SQLite's rollback journal
//! already lets any page it has written to the database file reach the disk at
//! any time (the journal holding the old content is synced first, and pages
//! past the old end are cut off by a rollback), so a crash at any point leaves
//! the same store as before.
//!
//! On Linux the same thread also reserves the disk blocks ahead of the growing
//! file ([`AHEAD`] past its end, `fallocate` with `FALLOC_FL_KEEP_SIZE`: the
//! file's size, all SQLite sees of it, does not change). Without it ext4 chose
//! blocks for each page as it was written back, and SQLite's writes, on the
//! command's critical thread, waited for those choices: about 50 ms at every
//! write-back above, half a second of a 1,000,000-record import (0.928 of the
//! time without, in pairs of four runs each just after the previous store was
//! deleted; 0.98 with the disk settled). The reservation is given back
//! ([`Writeback::release`]) before the transaction commits, while SQLite still
//! holds the write lock, by setting the file's length to itself (ext4 then
//! frees the blocks past the end) and deallocating the range past the end. A rollback, or the next open's rollback of a
//! killed command, cuts the file back to its size before the transaction, which
//! frees them as well.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Growth of the file between two write-backs.
const STEP: u64 = 256 << 20;

/// How often the thread looks at the file's size.
const POLL: Duration = Duration::from_millis(100);

/// How far past the file's end its blocks are reserved (renewed when less than
/// half of it is left).
const AHEAD: u64 = 512 << 20;

/// Growth of the file before anything is reserved: a small write never is.
const RESERVE_AFTER: u64 = 64 << 20;

/// Nothing is reserved when the file system has less free than this many times
/// [`AHEAD`]: the reservation must not be what fills a disk.
const FREE_FACTOR: u64 = 8;

/// The write-back thread of one transaction; stopped and joined on drop.
#[derive(Debug)]
pub(super) struct Writeback {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Write-backs done so far (the tests watch it).
    #[cfg_attr(not(test), allow(dead_code))]
    syncs: Arc<AtomicU64>,
    /// The file and its reservation; the thread and [`Writeback::release`] take
    /// turns.
    reserve: Arc<Mutex<Reserve>>,
}

/// The sizes a [`Writeback`] works by.
#[derive(Debug, Clone, Copy)]
struct Steps {
    /// Growth between two write-backs ([`STEP`]).
    sync: u64,
    /// Reserved past the end ([`AHEAD`]).
    ahead: u64,
    /// Growth before the first reservation ([`RESERVE_AFTER`]).
    after: u64,
}

/// The blocks reserved past the end of the file.
#[derive(Debug)]
struct Reserve {
    file: File,
    /// The file's length when the reservation may start again.
    from: u64,
    /// Reserved up to here (0: nothing is).
    to: u64,
    /// How far past the end to reserve (`ahead`), after how much growth
    /// past `from` (`after`).
    steps: Steps,
    /// Released for good: the transaction is committing.
    closed: bool,
}

impl Reserve {
    /// Reserve `ahead` past `len`, the file's length, when it has grown past
    /// `from` by `after` and less than half of the last reservation is left.
    /// Any failure (a file system without `fallocate`, a full disk) only leaves
    /// the blocks to be chosen as the pages are written back.
    #[cfg(target_os = "linux")]
    fn ahead(&mut self, len: u64) {
        use rustix::fs::{FallocateFlags, fallocate, fstatvfs};
        let Steps { ahead, after, .. } = self.steps;
        if self.closed
            || len < self.from.saturating_add(after)
            || len.saturating_add(ahead / 2) <= self.to
        {
            return;
        }
        let free = fstatvfs(&self.file).map_or(0, |st| st.f_bavail.saturating_mul(st.f_frsize));
        if free >= ahead.saturating_mul(FREE_FACTOR)
            && fallocate(&self.file, FallocateFlags::KEEP_SIZE, len, ahead).is_ok()
        {
            self.to = len.saturating_add(ahead);
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn ahead(&mut self, _len: u64) {}

    /// Give back the blocks reserved past the end, and start again from here:
    /// the length is set to itself (ext4 frees the blocks past it then; it
    /// ignores a hole punched past the end), and the range past the end is
    /// deallocated (`FALLOC_FL_PUNCH_HOLE`, for a file system that keeps them
    /// through a truncation to the same length). A failure of both keeps the
    /// reservation for the next release to try: it costs disk space past the
    /// end of the file, never a byte of the store, so it does not fail a commit.
    fn release(&mut self) {
        let Ok(len) = self.file.metadata().map(|m| m.len()) else {
            return;
        };
        self.from = len;
        if self.to == 0 {
            return;
        }
        let truncated = self.file.set_len(len).is_ok();
        let punched = self.to > len && punch_past(&self.file, len, self.to);
        if truncated || punched || self.to <= len {
            self.to = 0;
        }
    }
}

/// Deallocate `from..to` of `file`, past its end, keeping its length.
#[cfg(target_os = "linux")]
fn punch_past(file: &File, from: u64, to: u64) -> bool {
    use rustix::fs::{FallocateFlags, fallocate};
    let flags = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
    fallocate(file, flags, from, to - from).is_ok()
}

#[cfg(not(target_os = "linux"))]
fn punch_past(_file: &File, _from: u64, _to: u64) -> bool {
    false
}

impl Writeback {
    /// Start writing back the file at `path` as it grows; `None` when it cannot
    /// be opened (an in-memory store) or no thread can be started: the commit's
    /// fsync then does all of it, as before.
    pub(super) fn start(path: &Path) -> Option<Self> {
        Self::every(
            path,
            Steps {
                sync: STEP,
                ahead: AHEAD,
                after: RESERVE_AFTER,
            },
        )
    }

    /// [`Writeback::start`] with other steps (the tests' are small).
    fn every(path: &Path, steps: Steps) -> Option<Self> {
        // Written to only by `fallocate` and the same-length truncation.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .ok()?;
        let from = file.metadata().ok()?.len();
        let reserve = Arc::new(Mutex::new(Reserve {
            file,
            from,
            to: 0,
            steps,
            closed: false,
        }));
        let (stop, stopped) = channel();
        let syncs = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&syncs);
        let shared = Arc::clone(&reserve);
        let thread = std::thread::Builder::new()
            .name("store-writeback".to_owned())
            .spawn(move || run(&shared, steps.sync, &stopped, &count))
            .ok()?;
        Some(Writeback {
            stop: Some(stop),
            thread: Some(thread),
            syncs,
            reserve,
        })
    }

    /// Give back the blocks reserved past the file's end. Called with SQLite's
    /// write lock held (before the commit), so no other process is growing the
    /// file meanwhile. `last`: the commit ends the transaction, and nothing is
    /// reserved again (once the lock is given up another process may grow the
    /// file); otherwise (a checkpoint) reserving starts again once the file has
    /// grown further.
    ///
    /// The thread and its file stay open until the transaction is dropped:
    /// closing any descriptor of the store file would drop the process's POSIX
    /// locks on it, SQLite's write lock among them.
    pub(super) fn release(&self, last: bool) {
        let mut reserve = lock(&self.reserve);
        reserve.release();
        reserve.closed |= last;
    }

    /// How far past the file's end blocks are reserved.
    #[cfg(test)]
    fn reserved_past_end(&self) -> u64 {
        let r = lock(&self.reserve);
        let len = r.file.metadata().map_or(0, |m| m.len());
        r.to.saturating_sub(len)
    }

    /// Write-backs done so far.
    #[cfg(test)]
    fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

/// The reservation, whoever held it before (a panic while holding it left
/// nothing half-done: at worst a reservation the next release gives back).
fn lock(reserve: &Mutex<Reserve>) -> std::sync::MutexGuard<'_, Reserve> {
    reserve.lock().unwrap_or_else(PoisonError::into_inner)
}

fn run(reserve: &Mutex<Reserve>, step: u64, stopped: &Receiver<()>, syncs: &AtomicU64) {
    let Ok(file) = lock(reserve).file.try_clone() else {
        return;
    };
    let size = || file.metadata().map_or(0, |m| m.len());
    let mut written = size();
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(POLL) {
        let now = size();
        lock(reserve).ahead(now);
        if now >= written.saturating_add(step) {
            // A failure here is the commit's to report: its own fsync runs after.
            let _ = file.sync_data();
            syncs.fetch_add(1, Ordering::Relaxed);
            written = now;
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Steps {
        Steps {
            sync: 64 << 10,
            ahead: 1 << 20,
            after: 64 << 10,
        }
    }

    /// The file written back while a transaction grows it, many times: a
    /// rollback still leaves the store as it was, whole, and a commit keeps
    /// every row.
    #[test]
    fn a_transaction_written_back_midway_still_rolls_back_whole()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("store.db");
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(
            "PRAGMA cache_size = -256; CREATE TABLE t (x TEXT NOT NULL); INSERT INTO t VALUES ('kept');",
        )?;
        let fill = |conn: &rusqlite::Connection| -> Result<u64, Box<dyn std::error::Error>> {
            let writeback = Writeback::every(&path, small()).ok_or("no write-back thread")?;
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let row = "x".repeat(2000);
            let mut insert = conn.prepare("INSERT INTO t VALUES (?1)")?;
            // Until the thread has written back twice, growing the file.
            for _ in 0..200_000 {
                for _ in 0..64 {
                    insert.execute([&row])?;
                }
                if writeback.syncs() >= 2 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(writeback.syncs())
        };
        let syncs = fill(&conn)?;
        assert!(syncs >= 2, "the file was written back midway ({syncs})");
        conn.execute_batch("ROLLBACK")?;
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        assert_eq!(check, "ok");
        let rows: Vec<String> = conn
            .prepare("SELECT x FROM t")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        assert_eq!(rows, ["kept"]);
        fill(&conn)?;
        conn.execute_batch("COMMIT")?;
        let count: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
        assert!(count > 64, "{count}");
        Ok(())
    }

    /// Blocks are reserved past the end of a growing store file, and given back
    /// by the release before a commit, or by a rollback: the file then takes no
    /// more disk than its length.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_space_reserved_ahead_is_given_back() -> Result<(), Box<dyn std::error::Error>> {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("store.db");
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch("PRAGMA cache_size = -256; CREATE TABLE t (x TEXT NOT NULL)")?;
        // Bytes allocated to the file past its length.
        let past_end = || -> std::io::Result<u64> {
            let m = std::fs::metadata(&path)?;
            Ok((m.blocks() * 512).saturating_sub(m.len()))
        };
        let row = "x".repeat(2000);
        for end in ["release", "rollback"] {
            let writeback = Writeback::every(&path, small()).ok_or("no write-back thread")?;
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let mut insert = conn.prepare("INSERT INTO t VALUES (?1)")?;
            // Until the thread has reserved ahead.
            for _ in 0..20_000 {
                for _ in 0..64 {
                    insert.execute([&row])?;
                }
                if writeback.reserved_past_end() > 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let reserved = writeback.reserved_past_end();
            assert!(reserved > 0, "{end}: nothing was reserved");
            assert!(
                past_end()? >= small().ahead / 4,
                "{end}: {} bytes allocated past the end, {reserved} reserved",
                past_end()?
            );
            if end == "release" {
                writeback.release(true);
                assert_eq!(writeback.reserved_past_end(), 0);
                assert!(
                    past_end()? < 64 << 10,
                    "{end}: {} bytes past the end",
                    past_end()?
                );
                // SQLite's locks are still held by this process: no descriptor
                // of the file was closed (which would drop them all).
                let held = posix_locks_held(&path)?;
                assert!(held > 0, "{end}: the process holds no lock on the store");
                drop(insert);
                conn.execute_batch("COMMIT")?;
            } else {
                drop(insert);
                conn.execute_batch("ROLLBACK")?;
                drop(writeback);
                assert!(
                    past_end()? < 64 << 10,
                    "{end}: {} bytes past the end",
                    past_end()?
                );
            }
        }
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        assert_eq!(check, "ok");
        Ok(())
    }

    /// The POSIX locks this process holds on the file at `path`, as the kernel
    /// lists them (another connection of the same process would not see a lock
    /// lost: SQLite shares lock state between them).
    #[cfg(target_os = "linux")]
    fn posix_locks_held(path: &Path) -> std::io::Result<usize> {
        use std::os::unix::fs::MetadataExt;
        let inode = format!(":{}", std::fs::metadata(path)?.ino());
        let pid = std::process::id().to_string();
        let locks = std::fs::read_to_string("/proc/locks")?;
        Ok(locks
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| {
                f.get(1) == Some(&"POSIX")
                    && f.get(4) == Some(&pid.as_str())
                    && f.get(5).is_some_and(|d| d.ends_with(&inode))
            })
            .count())
    }
}
