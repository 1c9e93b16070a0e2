//! The sync engine (Fabric fixes): JSON → SQL (`import`),
//! SQL → JSON (`export`) and both (`sync`), in one mirror transaction per command.
//!
//! * The view of SQL is kept current while importing (hashes and natural keys this
//!   run wrote count at once), so a dry run reports exactly what a real run does.
//! * Conflicts under `fail` abort with nothing written (the transaction is rolled
//!   back after every conflict has been found and reported).
//! * Hashes are recomputed on import; records outside the manifest scope are refused.
//! * Export appends to the manifest's own folder (new chunks, extended index), so a
//!   second sync with nothing changed writes nothing.

mod export;
mod import;
pub(crate) mod pipeline;
mod policy;
mod report;
mod session;

use std::path::Path;

use time::OffsetDateTime;

pub use pipeline::error_chain;
pub use policy::{Decision, decide};
pub use report::{Conflict, ExportCounts, ImportCounts, Outcome, Resolution, SyncReport};

use crate::error::Result;
use crate::manifest::{ConflictStrategy, Direction, Manifest, dataset_dir};
use crate::mirror::Mirror;
use export::{IndexHashes, export};
use import::import;
use session::Session;

/// How a sync runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOptions {
    /// Which halves run.
    pub direction: Direction,
    /// Conflict strategy.
    pub conflict: ConflictStrategy,
    /// Compute everything, write nothing.
    pub dry_run: bool,
    /// Skip malformed pack lines with a warning instead of failing.
    pub lenient: bool,
    /// Records per chunk for export.
    pub chunk_size: usize,
    /// `None` (the default): the whole import is one transaction, all or nothing.
    /// `Some(n)`: commit after each write batch (512 lines) that brings the
    /// uncommitted writes to `n` or more, so locks and the log stay small
    /// on a large import; a failed run keeps the batches it committed, and a re-run
    /// skips them (rows are keyed by `exchange_id` and content hash). The whole pack
    /// is checked first ([`crate::preflight`]), so a bad record stops the run
    /// before the first commit.
    pub batch_commit: Option<usize>,
}

/// Progress callbacks: `(phase, done, total)`; `total` is 0 when unknown.
pub type ProgressFn<'a> = &'a mut dyn FnMut(&str, u64, u64);

/// Run `sync` for `manifest`, read from the file at `manifest_path` (its folder is
/// the pack: the caller read it once, e.g. to choose the target, and it is not
/// read again), against `mirror`. `clock` gives the current time (report stamps,
/// chunk dates, manifest stamps).
///
/// Bad input (malformed line, hash mismatch, out-of-scope record) is an `Err` and
/// nothing is written. Conflicts under `fail` are reported in
/// [`SyncReport::errors`] with nothing written, and the report's
/// [`SyncReport::outcome`] is [`Outcome::Aborted`].
pub fn sync(
    manifest: &Manifest,
    manifest_path: &Path,
    mirror: &mut dyn Mirror,
    options: &SyncOptions,
    clock: &dyn Fn() -> OffsetDateTime,
    progress: ProgressFn<'_>,
) -> Result<SyncReport> {
    let dir = dataset_dir(manifest_path);
    // Held for the whole command: a writer's if this run may append to the pack.
    let _lock = if options.direction != Direction::JsonToSql && !options.dry_run {
        crate::pack::PackLock::writer(&dir)?
    } else {
        crate::pack::PackLock::reader(&dir)?
    };
    let scope = manifest.scope();
    let mut report = SyncReport {
        direction: options.direction,
        dry_run: options.dry_run,
        started_at: clock(),
        completed_at: clock(),
        json_to_sql: ImportCounts::default(),
        sql_to_json: ExportCounts::default(),
        conflicts: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
        json_record_count: 0,
        sql_record_count: 0,
        outcome: Outcome::Completed,
    };
    if let Some(n) = options.batch_commit
        && !options.dry_run
        && options.direction != Direction::SqlToJson
    {
        refuse_refused_records(manifest, &dir, n, options.conflict)?;
    }
    let mut session = Session::open(mirror, &scope, options.dry_run)?;
    let result = (|| -> Result<()> {
        let mut import_counts = (0, 0);
        // The hashes in scope once the import is done (kept as it ran), so that the
        // export need not read them from SQL again.
        let mut in_sql = None;
        let mut in_index = None;
        if options.direction != Direction::SqlToJson {
            // Both ways: the export compares with the index's hashes, which the
            // import does not change; read them on a thread of their own while the
            // import runs (the last serial second of a no-op sync otherwise).
            let both = options.direction == Direction::Bidirectional;
            let (imported, index) = std::thread::scope(|s| {
                let index = both.then(|| s.spawn(|| IndexHashes::read(&dir)));
                let imported = import(&dir, &scope, &mut session, options, &mut report, progress);
                (imported, index.map(std::thread::ScopedJoinHandle::join))
            });
            let hashes = imported?;
            in_index = match index {
                Some(Ok(read)) => Some(read?),
                Some(Err(_)) => {
                    return Err(crate::Error::Internal(
                        "the thread reading index.jsonl stopped unexpectedly".into(),
                    ));
                }
                None => None,
            };
            in_sql = Some(hashes);
            import_counts = (report.json_record_count, report.sql_record_count);
        }
        if options.direction != Direction::JsonToSql && report.outcome == Outcome::Completed {
            export(
                &dir,
                manifest,
                &scope,
                session.reads(),
                options,
                &mut report,
                clock,
                in_sql.take().map(|sql| (sql, in_index.take())),
                progress,
            )?;
            report.json_record_count = report.json_record_count.max(import_counts.0);
            report.sql_record_count = report.sql_record_count.max(import_counts.1);
        }
        Ok(())
    })();
    match result {
        // Conflicts under `fail`: reported, nothing written.
        Ok(()) if report.outcome == Outcome::Aborted => session.rollback()?,
        // Deferred index builds find a duplicate only at the commit.
        Ok(()) => session.commit().map_err(|e| collision(&dir, e))?,
        Err(e) => {
            // Rolled back as it drops.
            drop(session);
            return Err(collision(&dir, at_pack_line(&dir, e)));
        }
    }
    report.completed_at = clock();
    Ok(report)
}

/// A uniqueness violation of the mirror while importing is bad input, not a
/// broken store: [`crate::Error::Collision`] naming the pack lines of that
/// `exchange_id` and the stored row it met. Other errors pass through.
fn collision(dir: &Path, e: crate::Error) -> crate::Error {
    let crate::Error::Store(fabric_store::Error::MirrorConstraint { exchange_id, .. }) = &e else {
        return e;
    };
    let mut lines = Vec::new();
    if let Ok(reader) = crate::pack::PackReader::open(dir) {
        let _ = reader.for_each_line(|line| {
            if let Ok(r) = crate::line::read_record(&line.text)
                && r.exchange_id == *exchange_id
            {
                lines.push(format!("{} line {}", line.file, line.line));
            }
            Ok(())
        });
    }
    let stored = match lines.len() {
        0 | 1 => "a row already stored with that exchange_id or content hash".to_owned(),
        _ => format!("the row written from {} in this import", lines[0]),
    };
    crate::Error::Collision {
        exchange_id: exchange_id.clone(),
        lines,
        stored,
        source: Box::new(e),
    }
}

/// A write the mirror refused, located in the pack: the chunk and line of the
/// record it names (found by reading the pack again, on this failure path only).
/// Any other error, or a record no line holds, is returned as it is.
fn at_pack_line(dir: &Path, e: crate::Error) -> crate::Error {
    let crate::Error::MirrorWrite { exchange_id, .. } = &e else {
        return e;
    };
    let needle = format!("\"{exchange_id}\"");
    let mut found = None;
    let scan = crate::pack::PackReader::open(dir).and_then(|reader| {
        reader.for_each_line(|line| {
            if found.is_none()
                && line.text.contains(&needle)
                && crate::line::read_record(&line.text)
                    .is_ok_and(|r| r.exchange_id == exchange_id.as_str())
            {
                found = Some((line.file, line.line));
            }
            Ok(())
        })
    });
    match (scan, found) {
        (Ok(()), Some((file, line))) => crate::Error::RecordRefused {
            file,
            line,
            exchange_id: exchange_id.clone(),
            source: Box::new(e),
        },
        _ => e,
    }
}

/// Before a `--batch-commit` import (whose early commits stay): refuse a pack that
/// holds any record an import would refuse, naming the first.
fn refuse_refused_records(
    manifest: &Manifest,
    dir: &Path,
    batch: usize,
    conflict: ConflictStrategy,
) -> Result<()> {
    let report = crate::preflight::check_manifest(manifest, dir, Some(conflict))?;
    match report.failures.first() {
        None => Ok(()),
        Some(f) => Err(crate::Error::Invalid {
            what: format!("--batch-commit {batch}"),
            reason: format!(
                "{} record(s) would be refused, first {} line {}: {}; nothing was written \
                 (`fabric exchange check` lists them all)",
                report.failed, f.file, f.line, f.reason
            ),
        }),
    }
}
