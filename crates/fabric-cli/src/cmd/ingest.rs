//! `fabric ingest PATH...`: JobExecutionResult files into the store, one batch.
//!
//! The batch (file order, parsing on every core, all or nothing unless
//! `--keep-going`) is `fabric_store::ingest`; this command reads the clock and the
//! working folder, gives it the bounded file reader, and prints what it did.

use std::path::PathBuf;

use fabric_core::ingest::batch::BatchPolicy;
use fabric_core::timestamp::Timestamp;
use fabric_store::ingest::{FileError, IngestError, IngestOptions, Rejected};
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

/// Run `fabric ingest`.
pub fn run(ctx: &Ctx, args: Args) -> CmdResult {
    let files = fabric_store::ingest::collect_files(&args.paths).map_err(|e| CliError::Input {
        path: e.path,
        what: "cannot read",
        source: e.source,
    })?;
    let options = IngestOptions {
        policy: BatchPolicy {
            keep_going: args.keep_going,
        },
        ingested_at: Timestamp::from_utc(time::OffsetDateTime::now_utc()),
        cwd: std::env::current_dir()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "/".to_owned()),
    };
    // A failed batch leaves no new store file behind either (main undoes it).
    let mut store = ctx.store_write()?;
    let bar = ctx.progress(files.len() as u64, "ingest");
    let outcome = fabric_store::ingest::ingest(
        &mut store,
        &files,
        &options,
        |path| crate::input::read_document(path, "job file"),
        || bar.inc(1),
    );
    bar.finish_and_clear();
    let outcome = outcome.map_err(|e| match e {
        IngestError::Store(e) => e.into(),
        IngestError::File(bad) => file_error(bad.error),
    })?;
    let rejected: Vec<(String, String)> = outcome
        .rejected
        .into_iter()
        .map(|Rejected { file, error }| (file.display().to_string(), reason_of(&file_error(error))))
        .collect();

    let summary = outcome.summary;
    if ctx.json {
        output::print_json(&json!({
            "files_read": outcome.files_read,
            "inserted": summary.inserted,
            "replaced": summary.replaced,
            "rejected": rejected.len(),
            "rejections": rejected
                .iter()
                .map(|(file, reason)| json!({"file": file, "reason": reason}))
                .collect::<Vec<_>>(),
        }))?;
    } else {
        for (file, reason) in &rejected {
            ctx.info(format_args!("rejected {file}: {reason}"));
        }
        output::print_text(&format!(
            "files read: {}\njobs inserted: {}\njobs replaced: {}\nfiles rejected: {}",
            outcome.files_read,
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

fn file_error(error: FileError<CliError>) -> CliError {
    match error {
        FileError::Read(e) => e,
        FileError::Parse(e) => e.into(),
    }
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
