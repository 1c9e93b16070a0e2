//! `fabric dashboard`: assemble a snapshot bundle from two JSON files, export it as
//! a deterministic CSV ZIP, verify a ZIP against its bundle, list export profiles.
//! The commands read and write files; `dashboard-snapshot` does the rest.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args as ClapArgs, Subcommand};
use dashboard_snapshot::export::{
    ExportManifest, ExportPlan, Registry, plan_export, verify_zip, write_zip,
};
use dashboard_snapshot::{
    Error as DashError, ProjectionSet, SnapshotBundle, Telemetry, assemble_owned,
    build_bundle_typed, check_identity, resolve_token,
};
use serde_json::json;

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};
use crate::exit;
use crate::output::{OutputTarget, output_target, print_json, print_text};

/// `fabric dashboard ...`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Assemble a snapshot bundle (snapshot, projections, statuses, parity) and
    /// print it as JSON on stdout.
    Assemble(AssembleArgs),
    /// Export a bundle as a CSV ZIP with its manifest (nothing is written when the
    /// plan has a blocking dataset).
    Export(ExportArgs),
    /// Recompute parity from a bundle and a ZIP; exit 1 naming every drifted
    /// component.
    Verify(VerifyArgs),
    /// The registered export profiles and their datasets.
    Profiles,
}

/// `fabric dashboard assemble`.
#[derive(Debug, ClapArgs)]
pub struct AssembleArgs {
    /// The scope file (`fabric.dashboard.scope/1`).
    #[arg(long, value_name = "FILE")]
    scope: PathBuf,
    /// The oracle results file (`fabric.dashboard.oracles/1`).
    #[arg(long, value_name = "FILE")]
    oracles: PathBuf,
    /// Request token (overrides the scope file's).
    #[arg(long, value_name = "T")]
    token: Option<String>,
}

/// `fabric dashboard export`.
#[derive(Debug, ClapArgs)]
pub struct ExportArgs {
    /// The bundle printed by `assemble`.
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    /// Export profile (see `fabric dashboard profiles`).
    #[arg(long, value_name = "NAME", default_value = "instructor")]
    profile: String,
    /// The ZIP to write (atomically: a regular file, or the file a link names, is
    /// replaced whole; a FIFO or a device such as /dev/null is written through).
    #[arg(long, value_name = "FILE.zip")]
    out: PathBuf,
}

/// `fabric dashboard verify`.
#[derive(Debug, ClapArgs)]
pub struct VerifyArgs {
    /// The bundle the ZIP was exported from.
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    /// The ZIP to check.
    #[arg(long, value_name = "FILE.zip")]
    zip: PathBuf,
}

/// Run a `fabric dashboard` command.
pub fn run(ctx: &Ctx, command: Command) -> CmdResult {
    match command {
        Command::Assemble(args) => assemble(ctx, &args),
        Command::Export(args) => export(ctx, &args),
        Command::Verify(args) => verify(ctx, &args),
        Command::Profiles => profiles(ctx),
    }
}

fn read(path: &Path) -> Result<String, CliError> {
    let bytes = crate::input::read_document(path, "input document")?;
    String::from_utf8(bytes).map_err(|e| CliError::Input {
        path: path.to_path_buf(),
        what: "cannot read",
        source: Box::new(e),
    })
}

fn with_file<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(DashError) -> CliError + 'a {
    move |e| match e {
        DashError::Json { .. }
        | DashError::Field { .. }
        | DashError::UnknownKeys { .. }
        | DashError::UnsupportedVersion { .. } => CliError::Input {
            path: path.to_path_buf(),
            what,
            source: Box::new(e),
        },
        other => CliError::Dashboard(other),
    }
}

/// Read a bundle for export or verification in one pass as it streams by, its
/// oracle payloads skipped (serializers read projections only); the reader
/// accepts and refuses what a whole read does, with the same messages. A
/// bundle that is not a regular file (a FIFO, a device) is read up to the input
/// limit, as a whole document would be.
/// A `Take` that leaves its remaining limit in `left` when it is dropped, so that
/// a reader handed away by value still tells whether the limit was reached.
struct LimitWatch<'a, R> {
    inner: std::io::Take<R>,
    left: &'a mut Option<u64>,
}

impl<R: Read> Read for LimitWatch<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl<R> Drop for LimitWatch<'_, R> {
    fn drop(&mut self) {
        *self.left = Some(self.inner.limit());
    }
}

/// Read the bundle at `path`, its payloads skipped; `for_export` starts
/// compressing the support list as its rows are read
/// (`SnapshotBundle::from_reader_for_export`).
fn load_bundle(path: &Path, for_export: bool) -> Result<SnapshotBundle, CliError> {
    let cannot_read = |e: std::io::Error| CliError::Input {
        path: path.to_path_buf(),
        what: "cannot read",
        source: Box::new(e),
    };
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    // The reader goes in by value: serde_json reads a byte at a time, and only a
    // `BufReader` it owns serves those bytes from its buffer without a call each
    // (through `&mut` the 1M-student export took 10.8 s instead of 7.5 s).
    let read = if file.metadata().is_ok_and(|meta| meta.is_file()) {
        read_bundle(file, for_export)
    } else {
        let limit = crate::input::max_input_bytes();
        let mut taken = None;
        let watch = LimitWatch {
            inner: file.take(limit.saturating_add(1)),
            left: &mut taken,
        };
        let read = read_bundle(watch, for_export);
        if taken == Some(0) {
            return Err(crate::input::too_large(path, "input document", limit));
        }
        read
    };
    read.map_err(|e| match e {
        DashError::Json { source, .. } if source.is_io() => cannot_read(source.into()),
        e => with_file(path, "invalid bundle")(e),
    })
}

/// The bundle read from `reader`, buffered (see `load_bundle`).
fn read_bundle<R: Read>(reader: R, for_export: bool) -> Result<SnapshotBundle, DashError> {
    let reader = std::io::BufReader::with_capacity(1 << 16, reader);
    if for_export {
        SnapshotBundle::from_reader_for_export(reader)
    } else {
        SnapshotBundle::from_reader_without_payloads(reader)
    }
}

fn assemble(ctx: &Ctx, args: &AssembleArgs) -> CmdResult {
    let set = ProjectionSet::instructor();
    // Each file is parsed once, on its own, so that a malformed one is named; its
    // text is dropped as soon as it is parsed.
    let mut scope = dashboard_snapshot::parse_scope(&read(&args.scope)?)
        .map_err(with_file(&args.scope, "invalid scope file"))?;
    let oracles = dashboard_snapshot::parse_oracles_text(read(&args.oracles)?)
        .map_err(with_file(&args.oracles, "invalid oracle results file"))?;
    if !scope.expected_given {
        scope.scope.expected_oracles = set.all_oracles();
    }
    let token = resolve_token(args.token.as_deref(), &scope, &oracles)?;
    check_identity(&scope.scope, &token, &oracles)?;
    let snapshot = assemble_owned(&scope.scope, &token, oracles.results)?;
    let bundle = build_bundle_typed(&set, snapshot, &Telemetry::none());
    // Printed as it is produced (the bundle of a large section is hundreds of MB).
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match bundle.write_json(&mut out) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(CliError::Output {
                path: "<stdout>".into(),
                source: e,
            });
        }
        _ => {}
    }
    drop(out);
    if !ctx.json {
        for (key, status) in &bundle.projection_statuses {
            let reason = status
                .reason_code
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            let missing = if status.missing.is_empty() {
                String::new()
            } else {
                format!(" missing [{}]", status.missing.join(", "))
            };
            ctx.info(format!(
                "{key:<24} {}{reason}{missing}",
                status.status.as_str()
            ));
        }
    }
    Ok(exit::SUCCESS)
}

fn export(ctx: &Ctx, args: &ExportArgs) -> CmdResult {
    // A file is written under the name given, so the name must say it is a zip
    // (a FIFO or device, e.g. `/dev/stdout`, takes the bytes whatever its name).
    let zip_name = args
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    let stream = std::fs::metadata(&args.out).is_ok_and(|m| !m.is_file() && !m.is_dir());
    if !stream && !zip_name.is_some_and(|n| n.len() > 4 && n.ends_with(".zip")) {
        return Err(CliError::Usage(format!(
            "--out {}: the export is a zip; name it NAME.zip",
            args.out.display()
        )));
    }
    let bundle = load_bundle(&args.bundle, true)?;
    let registry = Registry::instructor();
    let plan = match plan_export(&registry, &bundle, &args.profile) {
        Ok(plan) => plan,
        Err(DashError::ExportBlocked(failure)) => {
            errln!("error: export failed: {failure}");
            for b in &failure.blocking {
                errln!("  blocking: {b}");
            }
            if ctx.json {
                print_json(&json!({
                    "ok": false,
                    "reason_code": failure.reason_code,
                    "dataset_id": failure.dataset_id,
                    "export_profile": failure.export_profile,
                    "blocking": failure.blocking,
                }))?;
            }
            return Ok(exit::PROBLEM);
        }
        Err(e) => return Err(e.into()),
    };
    let out = &args.out;
    let manifest = match output_target("--out", out, true)? {
        OutputTarget::File(file) => export_file(&plan, &bundle, out, &file, ctx.bars())?,
        OutputTarget::Stream(stream) => export_stream(&plan, &bundle, out, &stream)?,
    };
    if ctx.json {
        print_text(manifest.to_json_string()?.trim_end_matches('\n'))?;
    } else {
        for d in &manifest.datasets {
            let detail = match (&d.row_count, &d.reason_code) {
                (Some(rows), _) => format!("{rows} rows, {}", d.projection_state.as_str()),
                (None, Some(reason)) => format!("{reason} ({})", d.projection_state.as_str()),
                (None, None) => d.projection_state.as_str().to_owned(),
            };
            print_text(&format!("{:<9} {:<34} {detail}", d.status, d.filename))?;
        }
        print_text(&format!(
            "wrote {}: {} included, {} excluded, export fingerprint {}",
            out.display(),
            manifest.totals.included,
            manifest.totals.excluded,
            manifest.parity.export_fingerprint
        ))?;
    }
    Ok(exit::SUCCESS)
}

/// Write the archive to the regular file `file` (`out`, or the file the link
/// `out` names) atomically, owner-only, through `fabric_store::atomic`.
fn export_file(
    plan: &ExportPlan,
    bundle: &SnapshotBundle,
    out: &Path,
    file: &Path,
    bars: bool,
) -> Result<ExportManifest, CliError> {
    let io_err = |source| CliError::Output {
        path: out.to_path_buf(),
        source,
    };
    // Dropped on an error below: the temporary file is removed.
    let mut tmp = fabric_store::atomic::AtomicFile::create(file).map_err(io_err)?;
    let bar = crate::progress::counter(bars, "export");
    let written = write_zip(plan, bundle, bar.wrap_write(&mut tmp), &Telemetry::none());
    bar.finish_and_clear();
    let manifest = written?;
    tmp.flush().and_then(|()| tmp.commit()).map_err(io_err)?;
    Ok(manifest)
}

/// Write the archive through a FIFO or a character device (`cat > PATH`): the
/// zip is built in memory (it needs to seek; an export is small), then written.
fn export_stream(
    plan: &ExportPlan,
    bundle: &SnapshotBundle,
    out: &Path,
    stream: &Path,
) -> Result<ExportManifest, CliError> {
    let mut zip = std::io::Cursor::new(Vec::new());
    let manifest = write_zip(plan, bundle, &mut zip, &Telemetry::none())?;
    crate::output::write_through(stream, zip.get_ref()).map_err(|source| CliError::Output {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(manifest)
}

fn verify(ctx: &Ctx, args: &VerifyArgs) -> CmdResult {
    let bundle = load_bundle(&args.bundle, false)?;
    let file = std::fs::File::open(&args.zip).map_err(|e| CliError::Input {
        path: args.zip.clone(),
        what: "cannot read",
        source: Box::new(e),
    })?;
    let report = verify_zip(
        &Registry::instructor(),
        &bundle,
        std::io::BufReader::new(file),
        &Telemetry::none(),
    )
    .map_err(|e| match e {
        DashError::Zip { .. } | DashError::Json { .. } | DashError::Io { .. } => CliError::Input {
            path: args.zip.clone(),
            what: "invalid export archive",
            source: Box::new(e),
        },
        other => CliError::Dashboard(other),
    })?;
    let drifted = !report.comparison.mismatches.is_empty();
    if ctx.json {
        print_json(&json!({
            "ok": !drifted,
            "export_profile": report.export_profile,
            "expected_fingerprint": report.expected_fingerprint,
            "actual_fingerprint": report.actual_fingerprint,
            "comparison": report.comparison,
        }))?;
    } else if !drifted {
        print_text(&format!(
            "parity match: profile {}, export fingerprint {}",
            report.export_profile, report.expected_fingerprint
        ))?;
    }
    if drifted {
        errln!(
            "error: parity mismatch: {} component(s) drifted",
            report.comparison.mismatches.len()
        );
        for m in &report.comparison.mismatches {
            errln!(
                "  {}: expected {}, actual {}",
                m.component,
                m.expected.as_deref().unwrap_or("(absent)"),
                m.actual.as_deref().unwrap_or("(absent)")
            );
        }
        return Ok(exit::PROBLEM);
    }
    Ok(exit::SUCCESS)
}

fn profiles(ctx: &Ctx) -> CmdResult {
    let registry = Registry::instructor();
    if ctx.json {
        let list: Vec<_> = registry
            .profiles()
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "description": p.description,
                    "datasets": p.datasets.iter().map(|d| json!({
                        "dataset_id": d.dataset_id,
                        "filename": d.filename,
                        "required_projections": d.required_projections,
                        "optional_projections": d.optional_projections,
                        "failure_policy": d.failure_policy.as_str(),
                        "columns": d.serializer.columns(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        print_json(&json!({ "profiles": list }))?;
        return Ok(exit::SUCCESS);
    }
    for p in registry.profiles() {
        print_text(&format!("{}: {}", p.name, p.description))?;
        for d in &p.datasets {
            print_text(&format!(
                "  {:<30} {:<36} required [{}] optional [{}] {}",
                d.dataset_id,
                d.filename,
                d.required_projections.join(", "),
                d.optional_projections.join(", "),
                d.failure_policy.as_str()
            ))?;
        }
    }
    Ok(exit::SUCCESS)
}
