//! `fabric exchange init` and `add`: a new dataset, records appended to it.

use std::path::{Path, PathBuf};

use clap::Args as ClapArgs;
use exchange_sync::manifest::{Manifest, dataset_dir};
use exchange_sync::pack::DEFAULT_CHUNK_SIZE;
use exchange_sync::record::Provenance;
use serde_json::json;

use super::now;
use crate::context::Ctx;
use crate::error::{CliError, CmdResult};
use crate::exit;
use crate::output::{print_json, print_text};

/// `exchange init`.
#[derive(Debug, ClapArgs)]
pub struct InitArgs {
    /// Dataset name (also its folder's name).
    #[arg(long)]
    name: String,
    /// source_system of the sync scope.
    #[arg(long)]
    source: String,
    /// entity_type of the sync scope.
    #[arg(long)]
    entity: String,
    /// exchange_type of the records (http, mediawiki, openalex, llm, file...).
    #[arg(long = "type")]
    exchange_type: String,
    /// Free description.
    #[arg(long, default_value = "")]
    description: String,
    /// Owner.
    #[arg(long, default_value = "")]
    owner: String,
    /// Parent folder of the dataset folder.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Say what would be created; create nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `exchange add`.
#[derive(Debug, ClapArgs)]
pub struct AddArgs {
    /// The dataset's manifest.json.
    #[arg(long, value_name = "FILE")]
    manifest: PathBuf,
    /// NDJSON records to add; `-` or nothing for stdin.
    input: Option<PathBuf>,
    /// Records per chunk file.
    #[arg(long, default_value_t = DEFAULT_CHUNK_SIZE)]
    chunk_size: usize,
    /// provenance.runner_name for records without one.
    #[arg(long, default_value = "fabric exchange add")]
    runner: String,
    /// Each line is a raw payload (any JSON value), stored as the `response` of a
    /// new envelope; without it, each line must be an envelope.
    #[arg(long)]
    raw: bool,
    /// Longest input line accepted, in bytes (default 256 MiB; also FABRIC_MAX_LINE_BYTES).
    #[arg(long, value_name = "BYTES")]
    max_line_bytes: Option<u64>,
    /// provenance.connector_version for records without one.
    #[arg(long)]
    connector_version: Option<String>,
    /// Check and count; write nothing.
    #[arg(long)]
    dry_run: bool,
}

pub(super) fn init(ctx: &Ctx, a: InitArgs) -> CmdResult {
    let mut manifest = Manifest::new(&a.name, &a.exchange_type, &a.source, &a.entity);
    manifest.description = a.description;
    manifest.owner = a.owner;
    exchange_sync::manifest::check_dataset_name(&a.name)
        .map_err(|why| CliError::Usage(format!("--name {why}")))?;
    let path = a
        .out
        .join(&a.name)
        .join(exchange_sync::manifest::MANIFEST_FILE);
    if !a.dry_run {
        exchange_sync::pack::init_dataset(&a.out, &mut manifest, now())?;
    }
    if ctx.json {
        print_json(&json!({"manifest": path, "dry_run": a.dry_run}))?;
    } else {
        print_text(&format!(
            "{}{}",
            if a.dry_run {
                "would create "
            } else {
                "created "
            },
            path.display()
        ))?;
    }
    Ok(exit::SUCCESS)
}

fn provenance(a: &AddArgs) -> Provenance {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok());
    let git_sha = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty());
    Provenance {
        runner_name: Some(a.runner.clone()),
        host,
        git_sha,
        connector_version: Some(
            a.connector_version
                .clone()
                .unwrap_or_else(|| format!("fabric {}", env!("CARGO_PKG_VERSION"))),
        ),
    }
}

/// A line that ends inside a JSON document (EOF while parsing) says what NDJSON
/// expects instead of only "EOF while parsing an object".
fn ndjson_hint(e: exchange_sync::Error) -> CliError {
    match e {
        exchange_sync::Error::Json { path, line, source } if source.is_eof() => {
            CliError::Ndjson { path, line, source }
        }
        other => other.into(),
    }
}

pub(super) fn add(ctx: &Ctx, a: AddArgs) -> CmdResult {
    if let Some(max) = a.max_line_bytes {
        exchange_sync::input_limits::set(exchange_sync::input_limits::Limits {
            line: max,
            ..exchange_sync::input_limits::get()
        });
    }
    let mut options = exchange_sync::add::AddOptions {
        dry_run: a.dry_run,
        raw: a.raw,
        chunk_size: a.chunk_size,
        provenance: provenance(&a),
        input_bytes: None,
    };
    let report = match a.input.as_deref().filter(|p| *p != Path::new("-")) {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|e| CliError::Input {
                path: path.to_path_buf(),
                what: "cannot read",
                source: Box::new(e),
            })?;
            // A FIFO or a device is read as a stream, like stdin: every line is
            // bounded by the line limit, so an endless one fails, never grows.
            // Progress in bytes of the input file (hidden when not a terminal).
            let meta = file.metadata().ok();
            let total = meta.as_ref().map_or(0, std::fs::Metadata::len);
            options.input_bytes = meta.filter(std::fs::Metadata::is_file).map(|m| m.len());
            let bar = ctx.progress_bytes(total, "add");
            // The bar counts each read of the file (8 KiB), not each line.
            let mut reader = std::io::BufReader::new(bar.wrap_read(file));
            let report = exchange_sync::add::add(&a.manifest, &mut reader, path, &options, now());
            bar.finish_and_clear();
            report.map_err(ndjson_hint)?
        }
        None => {
            let stdin = std::io::stdin();
            if std::io::IsTerminal::is_terminal(&stdin) && !ctx.quiet {
                eprintln!("reading NDJSON records from stdin; Ctrl-D to end");
            }
            // Read on a thread of its own (add's reader), so not through a lock.
            let mut reader = std::io::BufReader::new(stdin);
            exchange_sync::add::add(&a.manifest, &mut reader, Path::new("-"), &options, now())
                .map_err(ndjson_hint)?
        }
    };
    if report.redaction_off {
        // Not silenced by --quiet or --json: the user must know.
        eprintln!(
            "warning: {}: redaction_policy.enabled is false: records are stored unredacted",
            a.manifest.display()
        );
    }
    if ctx.json {
        print_json(&report.to_json())?;
    } else {
        print_text(&format!(
            "{} {} record(s) ({} redacted) to {}{}{}",
            if a.dry_run { "would add" } else { "added" },
            report.added,
            report.redacted,
            dataset_dir(&a.manifest).display(),
            if report.chunks.is_empty() {
                String::new()
            } else {
                format!(" in {} chunk(s)", report.chunks.len())
            },
            if report.duplicates == 0 {
                String::new()
            } else {
                format!(
                    "; {} duplicate(s) of an earlier record (written, indexed once)",
                    report.duplicates
                )
            }
        ))?;
    }
    Ok(exit::SUCCESS)
}
