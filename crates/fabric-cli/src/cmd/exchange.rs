//! `fabric exchange`: exchange packs, JSON <-> SQL sync, cold storage.
//! Every subcommand parses, calls one exchange-sync function and prints.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use clap::{Args as ClapArgs, Subcommand};
use exchange_sync::manifest::{ConflictStrategy, Direction, Manifest, dataset_dir};
use exchange_sync::pack::DEFAULT_CHUNK_SIZE;
use exchange_sync::record::Provenance;
use exchange_sync::sync::{SyncOptions, SyncReport};
use exchange_sync::target::Target;
use indicatif::ProgressBar;
use serde_json::json;
use time::OffsetDateTime;

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};
use crate::exit;
use crate::output::{print_json, print_text};

/// `fabric exchange ...`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a dataset: OUT/NAME/manifest.json and an empty records/ folder.
    Init(InitArgs),
    /// Append ExchangeRecords (NDJSON, FILE or stdin) to a pack: redacted, hashed.
    Add(AddArgs),
    /// JSON -> SQL: import a pack into the mirror table.
    Import(SyncArgs),
    /// SQL -> JSON: append the mirror's rows the pack lacks.
    Export(SyncArgs),
    /// Both ways (or one, with --direction).
    Sync(SyncArgs),
    /// Recompute every hash and check the index against the chunks.
    Verify(ManifestArg),
    /// Pack a dataset into a deterministic zip (optionally encrypted).
    Pack(PackArgs),
    /// Extract an archive to OUT/<dataset_name>/.
    Unpack(UnpackArgs),
    /// Print or apply the mirror table's DDL.
    Schema(SchemaArgs),
    /// Would an import be accepted? Checks every record against the mirror's
    /// column limits (the same on every target) with no connection and no store.
    Check(CheckArgs),
}

/// `exchange check`.
#[derive(Debug, ClapArgs)]
pub struct CheckArgs {
    /// The dataset's manifest.json.
    #[arg(long, value_name = "FILE")]
    manifest: PathBuf,
    /// sqlite://PATH (default: the --db file), mssql://... or an ADO connection string;
    /// only its kind is used: nothing is opened or connected.
    #[arg(long, value_name = "URL", long_help = TARGET_LONG_HELP)]
    target: Option<String>,
}

/// `--manifest M`.
#[derive(Debug, ClapArgs)]
pub struct ManifestArg {
    /// The dataset's manifest.json.
    #[arg(long, value_name = "FILE")]
    manifest: PathBuf,
}

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

/// `exchange pack`.
#[derive(Debug, ClapArgs)]
pub struct PackArgs {
    /// The dataset's manifest.json.
    #[arg(long, value_name = "FILE")]
    manifest: PathBuf,
    /// The archive, written under exactly this name: NAME.zip, or NAME.zip.enc
    /// when encrypted (another ending is refused).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Encrypt (also the default when the manifest's encryption_policy.enabled is
    /// true). The passphrase comes from --key-file, SNAPSHOT_ENCRYPTION_KEY, the
    /// policy's key_file_path, or a prompt when stdin is a terminal.
    #[arg(long, conflicts_with = "no_encrypt")]
    encrypt: bool,
    /// Write a plaintext archive although the manifest's encryption_policy asks
    /// for encryption (the command says that it did).
    #[arg(long)]
    no_encrypt: bool,
    /// Read the passphrase from FILE (refused when group or others can read it).
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Say what would be written; write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `exchange unpack`.
#[derive(Debug, ClapArgs)]
pub struct UnpackArgs {
    /// The archive (.zip, or .zip.enc with SNAPSHOT_ENCRYPTION_KEY).
    #[arg(long = "in", value_name = "FILE")]
    input: PathBuf,
    /// Parent folder: the dataset lands in OUT/<dataset_name>/.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Read the passphrase of an encrypted archive from FILE (refused when group
    /// or others can read it); else SNAPSHOT_ENCRYPTION_KEY, else a prompt when
    /// stdin is a terminal.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Refuse an entry larger than this, declared or inflated (default 4 GiB).
    #[arg(long, value_name = "BYTES")]
    max_entry_bytes: Option<u64>,
    /// Refuse an entry over 1 MiB that inflates more than N times its compressed
    /// size (default 200).
    #[arg(long, value_name = "N")]
    max_ratio: Option<u64>,
    /// Refuse an archive whose entries hold more than this in total (default: the
    /// free space of OUT's filesystem minus 256 MiB).
    #[arg(long, value_name = "BYTES")]
    max_total_bytes: Option<u64>,
    /// Refuse an archive file larger than this (default 4 GiB; it is read whole).
    #[arg(long, value_name = "BYTES")]
    max_archive_bytes: Option<u64>,
    /// Check the archive; write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `--target --help` (mssql branch): the SQLite form plus the SQL Server forms.
const TARGET_LONG_HELP: &str = concat!(
    "sqlite://PATH: the embedded store (default: the --db file).\n",
    "mssql://USER:PASSWORD@HOST[:PORT]/DATABASE[?encrypt=true|false|strict&trustServerCertificate=true",
    "&connectTimeout=SECS&commandTimeout=SECS&packetSize=BYTES], or an ADO.NET/ODBC string ",
    "(Server=HOST,PORT;Database=..;User Id=..;Password=..;Encrypt=..;TrustServerCertificate=..): SQL Server.\n",
    "Without --target, INGEST_SQLSERVER_CONN_STR, or INGEST_SQLSERVER_HOST with _PORT (default 1434), ",
    "_DATABASE (Holocron), _USER (sa) and _PASSWORD, select SQL Server; otherwise SQLite. ",
    "INGEST_SQLSERVER_DRIVER and DRIVER= are accepted and ignored: Fabric uses its native driver, not ODBC.\n",
    "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require|verify-ca|verify-full",
    "&sslrootcert=FILE&options=-c%20statement_timeout%3D60000&connect_timeout=SECS] (also postgresql://; ",
    "a Unix socket folder as a %2F-encoded HOST or host=/run/postgresql): PostgreSQL. Settings the URL leaves out ",
    "come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, PGSSLROOTCERT, PGOPTIONS; ",
    "without --target (and no INGEST_SQLSERVER_*), PGHOST or PGDATABASE select PostgreSQL."
);

/// `exchange schema`.
#[derive(Debug, ClapArgs)]
pub struct SchemaArgs {
    /// The dataset's manifest.json (its sql_target names the table).
    #[arg(long, value_name = "FILE")]
    manifest: PathBuf,
    /// sqlite://PATH (default: the --db file), mssql://..., an ADO connection string or postgres://...
    #[arg(long, value_name = "URL", long_help = TARGET_LONG_HELP)]
    target: Option<String>,
    /// Print the DDL.
    #[arg(long, conflicts_with = "apply", required_unless_present = "apply")]
    print: bool,
    /// Create what is missing (never drops anything).
    #[arg(long)]
    apply: bool,
    /// With --apply: list what would be created.
    #[arg(long)]
    dry_run: bool,
}

/// Run a `fabric exchange` command.
pub fn run(ctx: &Ctx, command: Command) -> CmdResult {
    configure_from_env()?;
    match command {
        Command::Init(a) => init(ctx, a),
        Command::Add(a) => add(ctx, a),
        Command::Import(a) => sync(ctx, a, Some(Direction::JsonToSql)),
        Command::Export(a) => sync(ctx, a, Some(Direction::SqlToJson)),
        Command::Sync(a) => sync(ctx, a, None),
        Command::Verify(a) => verify(ctx, a),
        Command::Pack(a) => pack(ctx, a),
        Command::Unpack(a) => unpack(ctx, a),
        Command::Schema(a) => schema(ctx, a),
        Command::Check(a) => check(ctx, a),
    }
}

/// The pack lock wait and the input limits from the environment
/// (`FABRIC_LOCK_WAIT` seconds, `FABRIC_MAX_MANIFEST_BYTES`, `FABRIC_MAX_LINE_BYTES`).
fn configure_from_env() -> Result<(), CliError> {
    let number = |var: &str| -> Result<Option<u64>, CliError> {
        match std::env::var(var) {
            Ok(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| CliError::Usage(format!("{var}={v:?} is not a whole number"))),
            Err(_) => Ok(None),
        }
    };
    if let Some(secs) = number("FABRIC_LOCK_WAIT")? {
        exchange_sync::pack::set_lock_wait(std::time::Duration::from_secs(secs));
    }
    let mut limits = exchange_sync::input_limits::get();
    if let Some(n) = number("FABRIC_MAX_MANIFEST_BYTES")? {
        limits.manifest = n;
    }
    if let Some(n) = number("FABRIC_MAX_LINE_BYTES")? {
        limits.line = n;
    }
    exchange_sync::input_limits::set(limits);
    Ok(())
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn init(ctx: &Ctx, a: InitArgs) -> CmdResult {
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

fn add(ctx: &Ctx, a: AddArgs) -> CmdResult {
    if let Some(max) = a.max_line_bytes {
        exchange_sync::input_limits::set(exchange_sync::input_limits::Limits {
            line: max,
            ..exchange_sync::input_limits::get()
        });
    }
    let options = exchange_sync::add::AddOptions {
        dry_run: a.dry_run,
        raw: a.raw,
        chunk_size: a.chunk_size,
        provenance: provenance(&a),
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
            let total = file.metadata().map_or(0, |m| m.len());
            let bar = ctx.progress_bytes(total, "add");
            let mut reader = bar.wrap_read(std::io::BufReader::new(file));
            let report = exchange_sync::add::add(&a.manifest, &mut reader, path, &options, now());
            bar.finish_and_clear();
            report.map_err(ndjson_hint)?
        }
        None => {
            let stdin = std::io::stdin();
            if std::io::IsTerminal::is_terminal(&stdin) && !ctx.quiet {
                eprintln!("reading NDJSON records from stdin; Ctrl-D to end");
            }
            let mut reader: Box<dyn BufRead> = Box::new(stdin.lock());
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

fn open_target(
    ctx: &Ctx,
    target: Option<&str>,
    manifest: &Manifest,
) -> Result<Box<dyn exchange_sync::Mirror>, CliError> {
    let target = Target::resolve(target, &ctx.db, |k| std::env::var(k).ok())?;
    Ok(target.open(&manifest.sql_target)?)
}

/// [`open_target`] for a dry run: nothing is created or written.
fn open_target_read(
    ctx: &Ctx,
    target: Option<&str>,
    manifest: &Manifest,
) -> Result<Box<dyn exchange_sync::Mirror>, CliError> {
    let target = Target::resolve(target, &ctx.db, |k| std::env::var(k).ok())?;
    Ok(target.open_for_dry_run(&manifest.sql_target)?)
}

fn sync(ctx: &Ctx, a: SyncArgs, fixed: Option<Direction>) -> CmdResult {
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
    let mut mirror = if a.dry_run {
        open_target_read(ctx, a.target.as_deref(), &manifest)?
    } else {
        open_target(ctx, a.target.as_deref(), &manifest)?
    };
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
    let report = exchange_sync::sync::sync_manifest(
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

fn verify(ctx: &Ctx, a: ManifestArg) -> CmdResult {
    Manifest::load(&a.manifest)?;
    let bar = ctx.progress_bytes(0, "verify");
    let report = exchange_sync::verify::verify_with_progress(
        &dataset_dir(&a.manifest),
        &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
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

/// The passphrase: `--key-file`, else `SNAPSHOT_ENCRYPTION_KEY`, else the
/// manifest policy's `key_file_path`, else a prompt when stdin is a terminal.
fn passphrase(
    key_file: Option<&Path>,
    manifest: Option<&Manifest>,
) -> Result<exchange_sync::crypto::Zeroizing<Vec<u8>>, CliError> {
    use exchange_sync::crypto::{KEY_ENV, passphrase_from_env, passphrase_from_file};
    if let Some(path) = key_file {
        return Ok(passphrase_from_file(path)?);
    }
    if let Some(key) = passphrase_from_env(KEY_ENV) {
        return Ok(key);
    }
    let policy_file = manifest
        .and_then(|m| m.encryption_policy.get("key_file_path"))
        .and_then(serde_json::Value::as_str)
        .filter(|p| !p.is_empty());
    if let Some(path) = policy_file {
        return Ok(passphrase_from_file(Path::new(path))?);
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let term = console::Term::stderr();
        let _ = term.write_str("passphrase: ");
        if let Ok(line) = term.read_secure_line()
            && !line.is_empty()
        {
            return Ok(exchange_sync::crypto::Zeroizing::new(line.into_bytes()));
        }
    }
    Err(exchange_sync::Error::MissingKey {
        var: KEY_ENV.into(),
    }
    .into())
}

/// The `--out` to give `pack`: a FIFO, device or folder at the archive's path is
/// refused (an archive is a regular file, written by rename), and a link is
/// followed so that its target, not the link, is replaced.
fn pack_target(out: &Path, encrypt: bool) -> Result<PathBuf, CliError> {
    use exchange_sync::archive::name_fits;
    match crate::output::output_target("--out", out, false)? {
        crate::output::OutputTarget::File(file) if file == out => Ok(out.to_path_buf()),
        crate::output::OutputTarget::File(file) if name_fits(&file, encrypt) => Ok(file),
        other => Err(CliError::Usage(format!(
            "--out {}: it links to {other:?}, whose name does not end in {}; give the target's path",
            out.display(),
            exchange_sync::archive::archive_suffix(encrypt)
        ))),
    }
}

fn pack(ctx: &Ctx, a: PackArgs) -> CmdResult {
    use exchange_sync::archive::Encryption;
    let manifest = Manifest::load(&a.manifest)?;
    let policy = exchange_sync::archive::policy_requires_encryption(&manifest);
    let decision = Encryption::decide(policy, a.encrypt, a.no_encrypt)?;
    let key = match decision {
        Encryption::On => Some(passphrase(a.key_file.as_deref(), Some(&manifest))?),
        Encryption::Off | Encryption::Overridden => None,
    };
    if decision == Encryption::Overridden {
        // Not silenced by --quiet or --json: the user overrode a policy.
        eprintln!(
            "warning: --no-encrypt: {} asks for encryption (encryption_policy.enabled); \
             writing a plaintext archive",
            a.manifest.display()
        );
    }
    let named = archive_name(&a.out, decision == Encryption::On, policy)?;
    let bar = ctx.progress_bytes(0, "pack");
    let mut progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let out = pack_target(&named, decision == Encryption::On)?;
    let outcome = exchange_sync::archive::pack_manifest(
        &manifest,
        &a.manifest,
        &out,
        key.as_deref().map(Vec::as_slice),
        a.dry_run,
        &mut progress,
    )?;
    bar.finish_and_clear();
    // The size of the file written (none for a dry run), beside the dataset's.
    let written = if a.dry_run {
        None
    } else {
        Some(
            std::fs::metadata(&outcome.path)
                .map_err(|source| CliError::Output {
                    path: outcome.path.clone(),
                    source,
                })?
                .len(),
        )
    };
    if ctx.json {
        print_json(&json!({
            "path": outcome.path,
            "entries": outcome.entries,
            "bytes": written,
            "dataset_bytes": outcome.bytes,
            "encrypted": outcome.encrypted,
            "encryption_policy_overridden": decision == Encryption::Overridden,
            "dry_run": a.dry_run,
        }))?;
    } else {
        let size = written.map_or_else(
            || {
                format!(
                    "{} of dataset files",
                    fabric_core::size::describe(outcome.bytes)
                )
            },
            fabric_core::size::describe,
        );
        print_text(&format!(
            "{} {} ({} entries, {size}{})",
            if a.dry_run { "would write" } else { "wrote" },
            outcome.path.display(),
            outcome.entries,
            match decision {
                _ if outcome.encrypted => ", encrypted",
                Encryption::Overridden => ", NOT encrypted: --no-encrypt overrode the policy",
                _ => "",
            }
        ))?;
    }
    Ok(exit::SUCCESS)
}

/// `pack --out` is written under exactly the name given, so the name must say
/// what the file is: `NAME.zip.enc` for an encrypted archive (`--encrypt`, or
/// the manifest's encryption policy), `NAME.zip` for a plain one. Anything else
/// is refused (exit 2) with the ending that fits and how to get the other kind.
fn archive_name(out: &Path, encrypt: bool, policy: bool) -> Result<PathBuf, CliError> {
    use exchange_sync::archive::{archive_suffix, name_fits};
    if name_fits(out, encrypt) {
        return Ok(out.to_path_buf());
    }
    let why = match (encrypt, policy) {
        (true, true) => "the manifest's encryption_policy asks for encryption",
        (true, false) => "--encrypt writes an encrypted archive",
        (false, true) => "--no-encrypt writes a plain zip",
        (false, false) => "the archive is a plain zip",
    };
    let other = match (encrypt, policy) {
        (true, true) => "; for a plain NAME.zip add --no-encrypt",
        (true, false) => "; for a plain NAME.zip leave out --encrypt",
        (false, true) => "; for NAME.zip.enc leave out --no-encrypt",
        (false, false) => "; for NAME.zip.enc add --encrypt",
    };
    Err(CliError::Usage(format!(
        "--out {}: {why}: name it NAME{}{other}",
        out.display(),
        archive_suffix(encrypt)
    )))
}

fn unpack(ctx: &Ctx, a: UnpackArgs) -> CmdResult {
    let mut limits = exchange_sync::archive::UnpackLimits::default();
    if let Some(n) = a.max_entry_bytes {
        limits.max_entry = n;
    }
    if let Some(n) = a.max_ratio {
        limits.max_ratio = n;
    }
    limits.max_total = a.max_total_bytes;
    if let Some(n) = a.max_archive_bytes {
        exchange_sync::input_limits::set(exchange_sync::input_limits::Limits {
            archive: n,
            ..exchange_sync::input_limits::get()
        });
    }
    // The passphrase is asked for only when the archive is encrypted.
    let encrypted = a.input.to_string_lossy().ends_with(".enc")
        || exchange_sync::input_limits::open_regular(&a.input, "archive")
            .ok()
            .and_then(|mut f| {
                let mut magic = [0u8; 4];
                std::io::Read::read_exact(&mut f, &mut magic)
                    .ok()
                    .map(|()| magic != *b"PK\x03\x04")
            })
            .unwrap_or(false);
    // Without a key, the library still checks the file first (size, kind) and
    // then says that the key is missing.
    let key = if encrypted {
        match passphrase(a.key_file.as_deref(), None) {
            Ok(k) => Some(k),
            Err(CliError::Exchange(exchange_sync::Error::MissingKey { .. })) => None,
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    // The total is the entries' declared sizes, known once they are checked.
    let bar = ctx.progress_bytes(0, "unpack");
    let path = exchange_sync::archive::unpack_with_progress(
        &a.input,
        &a.out,
        key.as_deref().map(Vec::as_slice),
        a.dry_run,
        &limits,
        &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    );
    bar.finish_and_clear();
    let path = path?;
    if ctx.json {
        print_json(
            &json!({"path": path, "manifest": path.join("manifest.json"), "dry_run": a.dry_run}),
        )?;
    } else {
        print_text(&format!(
            "{}{}",
            if a.dry_run { "would unpack to " } else { "" },
            path.display()
        ))?;
    }
    Ok(exit::SUCCESS)
}

fn check(ctx: &Ctx, a: CheckArgs) -> CmdResult {
    // Only the kind of target matters: the limits are the same on every backend,
    // and nothing is opened or connected.
    let target = Target::resolve(a.target.as_deref(), &ctx.db, |k| std::env::var(k).ok())?;
    let kind = match target {
        Target::Sqlite(_) => "sqlite",
        Target::SqlServer(_) => "sqlserver",
        Target::Postgres(_) => "postgres",
    };
    let report = exchange_sync::preflight::check_pack(&a.manifest)?;
    if ctx.json {
        let mut value = report.to_json();
        if let Some(map) = value.as_object_mut() {
            map.insert("target".into(), json!(kind));
        }
        print_json(&value)?;
    } else {
        print_text(&format!("{kind} {}", report.to_text()))?;
    }
    Ok(if report.ok() {
        exit::SUCCESS
    } else {
        exit::PROBLEM
    })
}

fn schema(ctx: &Ctx, a: SchemaArgs) -> CmdResult {
    let manifest = Manifest::load(&a.manifest)?;
    // ---- mssql: --print needs no server (the DDL is a pure function) ----
    if a.print {
        let target = Target::resolve(a.target.as_deref(), &ctx.db, |k| std::env::var(k).ok())?;
        if let Target::SqlServer(conn) = &target {
            let (describe, ddl) =
                exchange_sync::target::mssql_schema_offline(conn.as_deref(), &manifest.sql_target)?;
            if ctx.json {
                print_json(&json!({"target": describe, "ddl": ddl}))?;
            } else {
                print_text(ddl.trim_end())?;
            }
            return Ok(exit::SUCCESS);
        }
        if let Target::Postgres(conn) = &target {
            let (describe, ddl) = exchange_sync::target::postgres_schema_offline(
                conn.as_deref(),
                &manifest.sql_target,
            )?;
            if ctx.json {
                print_json(&json!({"target": describe, "ddl": ddl}))?;
            } else {
                print_text(ddl.trim_end())?;
            }
            return Ok(exit::SUCCESS);
        }
    }
    // ---- end mssql ----
    // Printing the DDL needs no store (the SQLite DDL is a pure function of the
    // table name) and a dry run never creates one.
    if let Target::Sqlite(db) =
        Target::resolve(a.target.as_deref(), &ctx.db, |k| std::env::var(k).ok())?
    {
        if a.print {
            let sql = &manifest.sql_target;
            let table = fabric_store::mirror::table_name(&sql.schema, &sql.table)?;
            let ddl = fabric_store::mirror::ddl(&table);
            if ctx.json {
                let describe = format!("sqlite://{} ({table})", db.display());
                print_json(&json!({"target": describe, "ddl": ddl}))?;
            } else {
                print_text(ddl.trim_end())?;
            }
            return Ok(exit::SUCCESS);
        }
        if a.dry_run && !db.exists() {
            return Err(fabric_store::Error::NoStore { path: db }.into());
        }
    }
    let mut mirror = if a.dry_run || a.print {
        open_target_read(ctx, a.target.as_deref(), &manifest)?
    } else {
        open_target(ctx, a.target.as_deref(), &manifest)?
    };
    // Nothing to read in parallel with the store's check: wait for it now.
    mirror.settle()?;
    if a.print {
        let ddl = mirror.schema_script();
        if ctx.json {
            print_json(&json!({"target": mirror.describe(), "ddl": ddl}))?;
        } else {
            print_text(ddl.trim_end())?;
        }
        return Ok(exit::SUCCESS);
    }
    let objects = if a.dry_run {
        mirror.missing_schema_objects()?
    } else {
        mirror.apply_schema()?
    };
    if ctx.json {
        print_json(
            &json!({"target": mirror.describe(), "created": objects, "dry_run": a.dry_run}),
        )?;
    } else if objects.is_empty() {
        print_text(&format!("{}: nothing missing", mirror.describe()))?;
    } else {
        print_text(&format!(
            "{}: {} {}",
            mirror.describe(),
            if a.dry_run { "would create" } else { "created" },
            objects.join(", ")
        ))?;
    }
    Ok(exit::SUCCESS)
}
