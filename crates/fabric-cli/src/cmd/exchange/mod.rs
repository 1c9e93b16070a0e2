//! `fabric exchange`: exchange packs, JSON <-> SQL sync, cold storage.
//! Every subcommand parses, calls one exchange-sync function and prints; one
//! module per group of subcommands: `dataset` (init, add), `sync` (import,
//! export, sync, verify), `archive` (pack, unpack), `schema` (schema, check).

mod archive;
mod dataset;
mod schema;
mod sync;

use clap::Subcommand;
use exchange_sync::manifest::{Direction, Manifest};
use exchange_sync::target::Target;
use time::OffsetDateTime;

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};
use archive::{PackArgs, UnpackArgs};
use dataset::{AddArgs, InitArgs};
use schema::{CheckArgs, SchemaArgs};
use sync::{ManifestArg, SyncArgs};

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

/// `--target --help` (mssql branch): the SQLite form plus the SQL Server forms.
pub(super) const TARGET_LONG_HELP: &str = concat!(
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

/// Run a `fabric exchange` command.
pub fn run(ctx: &Ctx, command: Command) -> CmdResult {
    configure_from_env()?;
    match command {
        Command::Init(a) => dataset::init(ctx, a),
        Command::Add(a) => dataset::add(ctx, a),
        Command::Import(a) => sync::sync(ctx, a, Some(Direction::JsonToSql)),
        Command::Export(a) => sync::sync(ctx, a, Some(Direction::SqlToJson)),
        Command::Sync(a) => sync::sync(ctx, a, None),
        Command::Verify(a) => sync::verify(ctx, a),
        Command::Pack(a) => archive::pack(ctx, a),
        Command::Unpack(a) => archive::unpack(ctx, a),
        Command::Schema(a) => schema::schema(ctx, a),
        Command::Check(a) => schema::check(ctx, a),
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

pub(super) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Open the mirror `--target` names (default: the `--db` store) for the
/// manifest's table; `read_only` (a dry run, a printed schema) creates and writes
/// nothing.
pub(super) fn open_target(
    ctx: &Ctx,
    target: Option<&str>,
    manifest: &Manifest,
    read_only: bool,
) -> Result<Box<dyn exchange_sync::Mirror>, CliError> {
    let target = Target::resolve(target, &ctx.db, |k| std::env::var(k).ok())?;
    Ok(if read_only {
        target.open_for_dry_run(&manifest.sql_target, &ctx.store)?
    } else {
        target.open(&manifest.sql_target, &ctx.store)?
    })
}
