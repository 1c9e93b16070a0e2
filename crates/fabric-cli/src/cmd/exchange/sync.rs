//! `fabric exchange import`, `export`, `sync` (a pack against a mirror table) and
//! `verify` (a pack against itself).

use std::path::PathBuf;

use clap::Args as ClapArgs;
use exchange_sync::manifest::{ConflictStrategy, Direction, Manifest, ManifestFile, dataset_dir};
use exchange_sync::pack::DEFAULT_CHUNK_SIZE;
use exchange_sync::sync::{SyncOptions, SyncReport};
use exchange_sync::target::Target;
use indicatif::ProgressBar;

use super::{TARGET_LONG_HELP, now, open_target};
use crate::context::Ctx;
use crate::error::{CliError, CmdResult};
use crate::exit;
use crate::output::{print_json, print_text};

/// `--manifest M`.
#[derive(Debug, ClapArgs)]
pub struct ManifestArg {
    /// The dataset's manifest.json.
    #[arg(long, value_name = "FILE")]
    manifest: PathBuf,
}

/// `exchange import|export|sync`.
#[derive(Debug, ClapArgs)]
pub struct SyncArgs {
    /// The dataset's manifest.json.
    #[arg(long, value_name = "FILE")]
    manifest: PathBuf,
    /// bidirectional, json_to_sql or sql_to_json (sync only; default from the manifest).
    #[arg(long)]
    direction: Option<String>,
    /// prefer_newest, prefer_sql, prefer_json or fail (default from the manifest).
    #[arg(long)]
    conflict: Option<String>,
    /// sqlite://PATH (default: the --db file), mssql://..., an ADO connection string or postgres://...
    #[arg(long, value_name = "URL", long_help = TARGET_LONG_HELP)]
    target: Option<String>,
    /// Compute the same counts; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Skip malformed pack lines with a warning instead of failing.
    #[arg(long)]
    lenient: bool,
    /// Records per chunk file for export.
    #[arg(long, default_value_t = DEFAULT_CHUNK_SIZE)]
    chunk_size: usize,
    /// Commit every N records written instead of once at the end.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), long_help = BATCH_COMMIT_HELP)]
    batch_commit: Option<u64>,
}

/// `--batch-commit --help`: the trade-off.
const BATCH_COMMIT_HELP: &str = concat!(
    "Commit every N records written instead of once at the end.\n\n",
    "Without it an import is all or nothing: one transaction, and a failure leaves the table ",
    "as it was. On a large import into SQL Server that one transaction escalates its locks ",
    "(readers of the table wait for the whole run) and the transaction log grows with every ",
    "record until the commit.\n\n",
    "With it, the import commits at the end of each batch of records (the engine writes 512 ",
    "at a time) once N or more are uncommitted, so locks and log stay small, ",
    "but a failed or interrupted run keeps the batches it ",
    "committed. Running the same command again resumes: rows are keyed by exchange_id and ",
    "content hash, so the committed records are skipped. The whole pack is checked first ",
    "(as `fabric exchange check` does), so a record the table would refuse stops the run ",
    "before the first commit."
);

pub(super) fn sync(ctx: &Ctx, a: SyncArgs, fixed: Option<Direction>) -> CmdResult {
    let manifest = Manifest::load(&a.manifest)?;
    let direction = match (fixed, &a.direction) {
        (Some(_), Some(_)) => {
            return Err(CliError::Usage(
                "--direction is only for `fabric exchange sync`".into(),
            ));
        }
        (Some(d), None) => d,
        (None, Some(d)) => d.parse::<Direction>()?,
        (None, None) => manifest.direction_default,
    };
    let conflict = match &a.conflict {
        Some(c) => c.parse::<ConflictStrategy>()?,
        None => manifest.conflict_strategy,
    };
    let options = SyncOptions {
        direction,
        conflict,
        dry_run: a.dry_run,
        lenient: a.lenient,
        chunk_size: a.chunk_size.max(1),
        batch_commit: a
            .batch_commit
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    };
    if direction == Direction::SqlToJson {
        // An export only reads the store: a mistyped path is not an empty store.
        if let Target::Sqlite(db) =
            Target::resolve(a.target.as_deref(), &ctx.db, |k| std::env::var(k).ok())?
            && !db.exists()
        {
            return Err(fabric_store::Error::NoStore { path: db }.into());
        }
    }
    let mut mirror = open_target(ctx, a.target.as_deref(), &manifest, a.dry_run)?;
    let mut bar: Option<(String, ProgressBar)> = None;
    let mut progress = |phase: &str, done: u64, total: u64| {
        if bar.as_ref().is_none_or(|(p, _)| p != phase) {
            if let Some((_, b)) = bar.take() {
                b.finish_and_clear();
            }
            // The import half counts bytes of the pack, the export half records.
            let b = if phase == "import" {
                ctx.progress_bytes(total, phase)
            } else {
                ctx.progress(total, phase)
            };
            bar = Some((phase.to_owned(), b));
        }
        if let Some((_, b)) = &bar {
            b.set_position(done);
        }
    };
    // The manifest was read once, above; the engine works from that reading.
    let report = exchange_sync::sync::sync(
        &manifest,
        &a.manifest,
        mirror.as_mut(),
        &options,
        &now,
        &mut progress,
    )?;
    if let Some((_, b)) = bar.take() {
        b.finish_and_clear();
    }
    for w in &report.warnings {
        ctx.info(format!("warning: {w}"));
    }
    print_report(ctx, &report)?;
    Ok(if report.errors.is_empty() {
        exit::SUCCESS
    } else {
        exit::PROBLEM
    })
}

fn print_report(ctx: &Ctx, report: &SyncReport) -> Result<(), CliError> {
    if ctx.json {
        print_json(&report.to_json())
    } else {
        print_text(&report.to_text())
    }
}

pub(super) fn verify(ctx: &Ctx, a: ManifestArg) -> CmdResult {
    Manifest::load(&a.manifest)?;
    let bar = ctx.progress_bytes(0, "verify");
    let report = exchange_sync::verify::verify_with_progress(
        &dataset_dir(&a.manifest),
        &mut crate::progress::follow(&bar),
    );
    bar.finish_and_clear();
    let report = report?;
    if ctx.json {
        print_json(&report.to_json())?;
    } else {
        print_text(&report.to_text())?;
    }
    Ok(if report.ok() {
        exit::SUCCESS
    } else {
        exit::PROBLEM
    })
}
