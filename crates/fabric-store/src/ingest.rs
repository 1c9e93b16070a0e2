//! Ingest: JobExecutionResult files into the store as one batch.
//!
//! The batch follows [`BatchPolicy`] (fabric-core): explicit files in the order
//! given, each folder's `*.json` files in [`sort_found`] order; a bad file aborts
//! the batch (nothing is written) or, with `keep_going`, is rejected and the
//! others are stored. Files are read and parsed on the `rayon` pool while the
//! calling thread writes them, in file order, into one transaction
//! ([`crate::jobs::JobBatch`]): all or nothing.
//!
//! The pool is `rayon`'s, not threads of its own: measured side by side on 100,000
//! files of about 4 KB (a release build, whole process, 2 cores under load, 9 and
//! 11 alternating pairs), the rayon pool took 0.89x and 0.97x the wall time of the
//! hand-made pool it replaced and 0.97x and 1.00x its CPU time. Reproduce with
//! `cargo xtask bench jobs`, or `hyperfine` on `fabric ingest` of a
//! `gen_corpus.py` corpus against a build of the previous commit.
//!
//! Reading a file is the caller's (`read`), so that its size limit and the kinds
//! of file it refuses are the caller's policy; the errors it gives come back in
//! [`FileError::Read`] untouched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use fabric_core::ingest::batch::{BadFile, BatchPolicy, is_job_file, sort_found};
use fabric_core::model::IngestedJob;
use fabric_core::timestamp::Timestamp;
use rayon::prelude::*;

use crate::jobs::BatchSummary;
use crate::store::Store;

/// Parsed files that may wait for the writer: enough to keep the pool busy while
/// the writer commits, few enough that memory stays flat in the batch size.
const AHEAD: usize = 1024;

/// A path given to [`collect_files`] that could not be read (or walked).
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}", path.display())]
pub struct UnreadablePath {
    /// The path.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Why one file of the batch was not stored.
#[derive(Debug)]
pub enum FileError<E> {
    /// The caller's `read` failed (the file is unreadable, too large, a FIFO...).
    Read(E),
    /// The file is not a valid JobExecutionResult.
    Parse(fabric_core::Error),
}

/// A file left out of the batch, and why.
#[derive(Debug)]
pub struct Rejected<E> {
    /// The file.
    pub file: PathBuf,
    /// Why.
    pub error: FileError<E>,
}

/// What a batch did.
#[derive(Debug)]
pub struct IngestOutcome<E> {
    /// Files in the batch.
    pub files_read: usize,
    /// Jobs inserted and replaced.
    pub summary: BatchSummary,
    /// Files left out (only under `keep_going`), in file order.
    pub rejected: Vec<Rejected<E>>,
}

/// Why a batch wrote nothing.
#[derive(Debug)]
pub enum IngestError<E> {
    /// The store failed (the transaction was rolled back).
    Store(crate::Error),
    /// A bad file aborted the batch (not under `keep_going`).
    File(Rejected<E>),
}

impl<E> From<crate::Error> for IngestError<E> {
    fn from(e: crate::Error) -> Self {
        IngestError::Store(e)
    }
}

/// What a batch needs besides its files.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// What a bad file does.
    pub policy: BatchPolicy,
    /// The ingestion time stamped on every job (the caller reads the clock).
    pub ingested_at: Timestamp,
    /// The absolute folder relative `source_path`s are joined to.
    pub cwd: String,
}

/// Expand `paths` into the batch's file list: a file as given, a folder walked
/// recursively (links followed) for its `*.json` files in [`sort_found`] order.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, UnreadablePath> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| UnreadablePath {
            path: path.clone(),
            source: Box::new(e),
        })?;
        if !meta.is_dir() {
            files.push(path.clone());
            continue;
        }
        let mut found = Vec::new();
        for entry in walkdir::WalkDir::new(path).follow_links(true) {
            let entry = entry.map_err(|e| UnreadablePath {
                path: e.path().map_or_else(|| path.clone(), Path::to_path_buf),
                source: Box::new(e),
            })?;
            if entry.file_type().is_file() && is_job_file(entry.path()) {
                found.push(entry.into_path());
            }
        }
        sort_found(path, &mut found);
        files.extend(found);
    }
    Ok(files)
}

/// Ingest `files` into `store` as one batch under `options`; `read` gives a
/// file's bytes, `progress` is called once per file handled, in order.
///
/// Nothing is written unless the whole batch commits: a store failure, or a bad
/// file when the policy aborts, rolls the transaction back.
///
/// Call it from an ordinary thread, not from a task of the global `rayon` pool:
/// this thread writes while the pool parses.
pub fn ingest<E: Send>(
    store: &mut Store,
    files: &[PathBuf],
    options: &IngestOptions,
    read: impl Fn(&Path) -> Result<Vec<u8>, E> + Sync,
    mut progress: impl FnMut(),
) -> Result<IngestOutcome<E>, IngestError<E>> {
    let mut batch = store.begin_jobs()?;
    let mut rejected = Vec::new();
    let mut failure: Option<IngestError<E>> = None;
    let parse = |path: &PathBuf| -> Result<IngestedJob, FileError<E>> {
        let bytes = read(path).map_err(FileError::Read)?;
        fabric_core::ingest::parse_job(
            &path.display().to_string(),
            &bytes,
            options.ingested_at,
            &options.cwd,
        )
        .map_err(FileError::Parse)
    };
    parse_in_order(files, &parse, &mut |index, parsed| {
        progress();
        let error = match parsed {
            Ok(job) => match batch.put(&job) {
                Ok(()) => return true,
                Err(e) => {
                    failure = Some(IngestError::Store(e));
                    return false;
                }
            },
            Err(error) => error,
        };
        let bad = Rejected {
            file: files[index].clone(),
            error,
        };
        match options.policy.on_bad_file() {
            BadFile::Reject => {
                rejected.push(bad);
                true
            }
            BadFile::Abort => {
                failure = Some(IngestError::File(bad));
                false
            }
        }
    });
    if let Some(failure) = failure {
        // Dropping the batch rolls the transaction back: nothing was written.
        drop(batch);
        return Err(failure);
    }
    let summary = batch.commit()?;
    Ok(IngestOutcome {
        files_read: files.len(),
        summary,
        rejected,
    })
}

/// Parse `files` on the `rayon` pool and hand each result to `sink` in file
/// order on this thread; `sink` returns false to stop (no further file is handed
/// out to the pool).
///
/// The files are handed out in order, one at a time, to whichever pool thread is
/// free (`par_bridge`), so results arrive nearly in order: at most [`AHEAD`] wait
/// in the channel, and the few that overtake a slow file wait in `pending`.
fn parse_in_order<T: Send>(
    files: &[PathBuf],
    parse: &(dyn Fn(&PathBuf) -> T + Sync),
    sink: &mut dyn FnMut(usize, T) -> bool,
) {
    let (tx, rx) = mpsc::sync_channel::<(usize, T)>(AHEAD);
    rayon::in_place_scope(|scope| {
        scope.spawn(move |_| {
            // A hang-up of the receiver (an early stop) ends the hand-out.
            let _ = files
                .iter()
                .enumerate()
                .par_bridge()
                .try_for_each_with(tx, |tx, (i, path)| tx.send((i, parse(path))));
        });
        // Owned here, so that stopping early drops it and a parser blocked on the
        // full channel sees the hang-up instead of waiting for ever.
        let rx = rx;
        let mut pending = BTreeMap::new();
        let mut want = 0usize;
        while let Ok((i, parsed)) = rx.recv() {
            pending.insert(i, parsed);
            while let Some(parsed) = pending.remove(&want) {
                if !sink(want, parsed) {
                    drop(rx);
                    return;
                }
                want += 1;
            }
        }
    });
}

#[cfg(test)]
mod tests;
