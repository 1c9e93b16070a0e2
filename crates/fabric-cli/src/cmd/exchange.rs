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
    /// The archive (its suffix becomes .zip; .zip.enc with --encrypt).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Encrypt with the passphrase in SNAPSHOT_ENCRYPTION_KEY.
    #[arg(long)]
    encrypt: bool,
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
    let options = exchange_sync::add::AddOptions {
        dry_run: a.dry_run,
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
    if ctx.json {
        print_json(&report.to_json())?;
    } else {
        print_text(&format!(
            "{} {} record(s) ({} redacted) to {}{}",
            if a.dry_run { "would add" } else { "added" },
            report.added,
            report.redacted,
            dataset_dir(&a.manifest).display(),
            if report.chunks.is_empty() {
                String::new()
            } else {
                format!(" in {} chunk(s)", report.chunks.len())
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
    let mut mirror = open_target(ctx, a.target.as_deref(), &manifest)?;
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
    let report =
        exchange_sync::sync::sync(&a.manifest, mirror.as_mut(), &options, &now, &mut progress)?;
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

fn passphrase() -> Result<exchange_sync::crypto::Zeroizing<Vec<u8>>, CliError> {
    exchange_sync::crypto::passphrase_from_env(exchange_sync::crypto::KEY_ENV).ok_or_else(|| {
        exchange_sync::Error::MissingKey {
            var: exchange_sync::crypto::KEY_ENV.into(),
        }
        .into()
    })
}

/// The `--out` to give `pack`: a FIFO, device or folder at the archive's path is
/// refused (an archive is a regular file, written by rename), and a link is
/// followed so that its target, not the link, is replaced.
fn pack_target(out: &Path, encrypt: bool) -> Result<PathBuf, CliError> {
    use exchange_sync::archive::output_path;
    let archive = output_path(out, encrypt);
    match crate::output::output_target("--out", &archive, false)? {
        crate::output::OutputTarget::File(file) if file == archive => Ok(out.to_path_buf()),
        crate::output::OutputTarget::File(file) if output_path(&file, encrypt) == file => Ok(file),
        other => Err(CliError::Usage(format!(
            "--out {}: it links to {other:?}, whose name does not end in the archive's suffix; give the target's path",
            archive.display()
        ))),
    }
}

fn pack(ctx: &Ctx, a: PackArgs) -> CmdResult {
    let named = archive_name(&a.out, a.encrypt)?;
    let key = if a.encrypt { Some(passphrase()?) } else { None };
    let bar = ctx.progress_bytes(0, "pack");
    let mut progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let out = pack_target(&named, a.encrypt)?;
    let outcome = exchange_sync::archive::pack(
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
            if outcome.encrypted { ", encrypted" } else { "" }
        ))?;
    }
    Ok(exit::SUCCESS)
}

/// The `--out` of `pack` as the library takes it: a plain archive must be named
/// `NAME.zip`; an encrypted one `NAME.zip.enc`, or `NAME.zip`, which is then
/// written as `NAME.zip.enc` (the original tools' naming). Anything else is
/// refused rather than renamed.
fn archive_name(out: &Path, encrypt: bool) -> Result<PathBuf, CliError> {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = name.unwrap_or_default();
    let stem_ok = |suffix: &str| name.len() > suffix.len() && name.ends_with(suffix);
    if encrypt && stem_ok(".zip.enc") {
        return Ok(out.with_file_name(&name[..name.len() - ".enc".len()]));
    }
    if stem_ok(".zip") {
        return Ok(out.to_path_buf());
    }
    Err(CliError::Usage(format!(
        "--out {}: an archive is a zip; name it NAME.zip{}",
        out.display(),
        if encrypt {
            " or NAME.zip.enc (an encrypted NAME.zip is written as NAME.zip.enc)"
        } else {
            ""
        }
    )))
}

fn unpack(ctx: &Ctx, a: UnpackArgs) -> CmdResult {
    let key = exchange_sync::crypto::passphrase_from_env(exchange_sync::crypto::KEY_ENV);
    let size = std::fs::metadata(&a.input).map_or(0, |m| m.len());
    let what = format!("unpacking {}", a.input.display());
    let bar = crate::progress::spinner(ctx.bars(), &what, size);
    let path = exchange_sync::archive::unpack(
        &a.input,
        &a.out,
        key.as_deref().map(Vec::as_slice),
        a.dry_run,
    )?;
    bar.finish_and_clear();
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
    let mut mirror = open_target(ctx, a.target.as_deref(), &manifest)?;
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
