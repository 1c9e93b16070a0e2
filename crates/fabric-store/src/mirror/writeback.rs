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

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

/// Growth of the file between two write-backs.
const STEP: u64 = 256 << 20;

/// How often the thread looks at the file's size.
const POLL: Duration = Duration::from_millis(100);

/// The write-back thread of one transaction; stopped and joined on drop.
#[derive(Debug)]
pub(super) struct Writeback {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Write-backs done so far (the tests watch it).
    #[cfg_attr(not(test), allow(dead_code))]
    syncs: Arc<AtomicU64>,
}

impl Writeback {
    /// Start writing back the file at `path` as it grows; `None` when it cannot
    /// be opened (an in-memory store) or no thread can be started: the commit's
    /// fsync then does all of it, as before.
    pub(super) fn start(path: &Path) -> Option<Self> {
        Self::every(path, STEP)
    }

    /// [`Writeback::start`], each `step` bytes of growth.
    fn every(path: &Path, step: u64) -> Option<Self> {
        let file = File::open(path).ok()?;
        let (stop, stopped) = channel();
        let syncs = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&syncs);
        let thread = std::thread::Builder::new()
            .name("store-writeback".to_owned())
            .spawn(move || run(&file, step, &stopped, &count))
            .ok()?;
        Some(Writeback {
            stop: Some(stop),
            thread: Some(thread),
            syncs,
        })
    }

    /// Write-backs done so far.
    #[cfg(test)]
    fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

fn run(file: &File, step: u64, stopped: &Receiver<()>, syncs: &AtomicU64) {
    let size = || file.metadata().map_or(0, |m| m.len());
    let mut written = size();
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(POLL) {
        let now = size();
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
            let writeback = Writeback::every(&path, 64 << 10).ok_or("no write-back thread")?;
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
}
