//! `fabric ingest PATH...`: JobExecutionResult files into the store, one batch.
//!
//! Files are parsed on every core while this thread writes them, in order, into one
//! transaction: all or nothing, unless `--keep-going` (valid files stored, bad ones
//! reported, exit 1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use fabric_core::model::IngestedJob;
use fabric_core::timestamp::Timestamp;
use serde_json::json;

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};
use crate::{exit, output};

/// Arguments of `fabric ingest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// JobExecutionResult JSON files, or folders searched recursively for `*.json`.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Store the valid files and report the bad ones (exit 1) instead of aborting
    /// the whole batch on the first bad file (exit 2).
    #[arg(long)]
    keep_going: bool,
}

/// A file that was not ingested, and why.
#[derive(Debug)]
struct Rejected {
    file: PathBuf,
    reason: String,
}

/// Run `fabric ingest`.
pub fn run(ctx: &Ctx, args: Args) -> CmdResult {
    let files = collect_files(&args.paths)?;
    let ingested_at = Timestamp::from_utc(time::OffsetDateTime::now_utc());
    let cwd = std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/".to_owned());

    // A failed batch leaves no new store file behind either (main undoes it).
    write_batch(ctx, &args, &files, &ingested_at, &cwd)
}

/// Parse `files` and write them as one batch; print the summary.
fn write_batch(
    ctx: &Ctx,
    args: &Args,
    files: &[PathBuf],
    ingested_at: &Timestamp,
    cwd: &str,
) -> CmdResult {
    let mut store = ctx.store_write()?;
    let bar = ctx.progress(files.len() as u64, "ingest");
    let mut rejected: Vec<Rejected> = Vec::new();
    let mut batch = store.begin_jobs()?;
    let mut failure: Option<CliError> = None;
    parse_in_parallel(files, ingested_at, cwd, |index, parsed| {
        bar.inc(1);
        match parsed {
            Ok(job) => {
                if let Err(e) = batch.put(&job) {
                    failure = Some(e.into());
                    return false;
                }
            }
            Err(err) => {
                if !args.keep_going {
                    failure = Some(err);
                    return false;
                }
                rejected.push(Rejected {
                    file: files[index].clone(),
                    reason: reason_of(&err),
                });
            }
        }
        true
    });
    bar.finish_and_clear();
    if let Some(err) = failure {
        // Dropping the batch rolls the transaction back: nothing was written.
        drop(batch);
        return Err(err);
    }
    let summary = batch.commit()?;

    if ctx.json {
        output::print_json(&json!({
            "files_read": files.len(),
            "inserted": summary.inserted,
            "replaced": summary.replaced,
            "rejected": rejected.len(),
            "rejections": rejected
                .iter()
                .map(|r| json!({"file": r.file.display().to_string(), "reason": r.reason}))
                .collect::<Vec<_>>(),
        }))?;
    } else {
        for r in &rejected {
            ctx.info(format_args!("rejected {}: {}", r.file.display(), r.reason));
        }
        output::print_text(&format!(
            "files read: {}\njobs inserted: {}\njobs replaced: {}\nfiles rejected: {}",
            files.len(),
            summary.inserted,
            summary.replaced,
            rejected.len()
        ))?;
    }
    Ok(if rejected.is_empty() {
        exit::SUCCESS
    } else {
        exit::PROBLEM
    })
}

/// Expand the arguments into the batch's file list: explicit files in
/// the order given; each folder walked recursively, its `*.json` files sorted by
/// relative path compared component by component, by code point.
fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| CliError::Input {
            path: path.clone(),
            what: "cannot read",
            source: Box::new(e),
        })?;
        if !meta.is_dir() {
            files.push(path.clone());
            continue;
        }
        let mut found: Vec<(Vec<String>, PathBuf)> = Vec::new();
        for entry in walkdir::WalkDir::new(path).follow_links(true) {
            let entry = entry.map_err(|e| CliError::Input {
                path: e.path().map_or_else(|| path.clone(), Path::to_path_buf),
                what: "cannot read",
                source: Box::new(e),
            })?;
            let p = entry.path();
            if entry.file_type().is_file() && p.extension().is_some_and(|x| x == "json") {
                let rel = p.strip_prefix(path).unwrap_or(p);
                let key = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                found.push((key, p.to_path_buf()));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        files.extend(found.into_iter().map(|(_, p)| p));
    }
    Ok(files)
}

/// Parse `files` on all cores; call `sink` with each result in file order, on this
/// thread. `sink` returns false to stop early.
fn parse_in_parallel(
    files: &[PathBuf],
    ingested_at: &Timestamp,
    cwd: &str,
    mut sink: impl FnMut(usize, Result<IngestedJob, CliError>) -> bool,
) {
    let workers = std::thread::available_parallelism()
        .map_or(2, std::num::NonZero::get)
        .clamp(1, 8);
    let next = AtomicUsize::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(usize, Result<IngestedJob, CliError>)>(1024);
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let parsed = parse_file(path, ingested_at, cwd);
                    if tx.send((i, parsed)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Reorder: results arrive in any order, the batch is written in file order.
        let mut pending: BTreeMap<usize, Result<IngestedJob, CliError>> = BTreeMap::new();
        let mut want = 0usize;
        for (i, parsed) in rx {
            pending.insert(i, parsed);
            while let Some(parsed) = pending.remove(&want) {
                if !sink(want, parsed) {
                    stop.store(true, Ordering::Relaxed);
                    return;
                }
                want += 1;
            }
        }
    });
}

fn parse_file(path: &Path, ingested_at: &Timestamp, cwd: &str) -> Result<IngestedJob, CliError> {
    let bytes = std::fs::read(path).map_err(|e| CliError::Input {
        path: path.to_path_buf(),
        what: "cannot read",
        source: Box::new(e),
    })?;
    Ok(fabric_core::ingest::parse_job(
        &path.display().to_string(),
        &bytes,
        *ingested_at,
        cwd,
    )?)
}

/// Why a file was rejected, without the file name (listed beside it).
fn reason_of(err: &CliError) -> String {
    // The reason and every cause after it: a JSON syntax error keeps its line and
    // column ("not valid JSON: expected ident at line 4 column 0").
    let (mut reason, mut cause) = match err {
        CliError::Core(e @ fabric_core::Error::Ingest { reason, .. }) => {
            (reason.clone(), std::error::Error::source(e))
        }
        CliError::Input { source, .. } => (source.to_string(), source.source()),
        other => (other.to_string(), std::error::Error::source(other)),
    };
    while let Some(c) = cause {
        reason = format!("{reason}: {c}");
        cause = c.source();
    }
    reason
}
