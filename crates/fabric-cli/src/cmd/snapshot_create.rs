//! `fabric snapshot create`: a FabricSnapshot of the store's report or of a report
//! file, optionally saved as the next version of a snapshot chain.

use std::path::{Path, PathBuf};

use fabric_core::chain::{SnapshotMetadata, Source};
use fabric_core::snapshot::FabricSnapshot;
use fabric_core::timestamp::Timestamp;
use fabric_store::chain::{ChainKind, NewVersion};

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};
use crate::{exit, output};

/// Arguments of `fabric snapshot create`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Snapshot this report document instead of the store's report.
    #[arg(long, value_name = "FILE")]
    from_report: Option<PathBuf>,
    /// Also record the snapshot as the next version of the chain `--key` (a
    /// fabric-report chain: the report is checked before it is saved).
    #[arg(long)]
    save: bool,
    /// The chain to save into.
    #[arg(long, value_name = "KEY", default_value = "fabric", requires = "save")]
    key: String,
    /// Optimistic locking: save only if the chain's ACTIVE version is N (0: the
    /// chain must be empty); otherwise fail with VERSION_CONFLICT (exit 1). After
    /// a rollback the active version is not the newest one: the new version
    /// descends from the active one.
    #[arg(long, value_name = "N", requires = "save")]
    expect_version: Option<i64>,
    /// Who saves it [default: $USER, else `fabric`].
    #[arg(long, value_name = "NAME", requires = "save")]
    actor: Option<String>,
    /// Metadata source: api, manual, import or migration [default: api for the
    /// store's report, manual for --from-report].
    #[arg(long, value_name = "SOURCE", requires = "save")]
    source: Option<String>,
    /// Metadata confidence, in [0, 1].
    #[arg(
        long,
        value_name = "X",
        default_value_t = 1.0,
        allow_negative_numbers = true,
        requires = "save"
    )]
    confidence: f64,
    /// Metadata data provider.
    #[arg(long, value_name = "NAME", requires = "save")]
    data_provider: Option<String>,
    /// Metadata API version.
    #[arg(long, value_name = "VERSION", requires = "save")]
    api_version: Option<String>,
    /// A metadata warning (repeat for several).
    #[arg(long = "warning", value_name = "TEXT", requires = "save")]
    warnings: Vec<String>,
}

/// Read a JSON document from `path`, naming the file in every error.
pub fn read_json(path: &Path) -> Result<serde_json::Value, CliError> {
    let bytes = crate::input::read_document(path, "report")?;
    serde_json::from_slice(&bytes).map_err(|e| CliError::Input {
        path: path.to_path_buf(),
        what: "not a JSON document:",
        source: Box::new(e),
    })
}

/// Run `fabric snapshot create`.
pub fn run(ctx: &Ctx, args: Args) -> CmdResult {
    let started = std::time::Instant::now();
    let clock = time::OffsetDateTime::now_utc();
    let now = Timestamp::from_utc(clock);
    // Refuse bad metadata before the report is even computed.
    let metadata = if args.save {
        Some(metadata(&args, clock)?)
    } else {
        None
    };
    let report = match &args.from_report {
        Some(path) => read_json(path)?,
        None => {
            super::report::from_store(ctx, super::report::Determinism::Reference)?.export_json(&now)
        }
    };
    let snapshot = FabricSnapshot::create_from_report(report, &now).map_err(|e| {
        match &args.from_report {
            // Name the file the report came from (exit 2 either way).
            Some(path) => CliError::Input {
                path: path.clone(),
                what: "cannot snapshot the report in",
                source: Box::new(e),
            },
            None => e.into(),
        }
    })?;
    let document = snapshot.to_json();
    let Some(mut metadata) = metadata else {
        output::print_json(&document)?;
        return Ok(exit::SUCCESS);
    };
    // processingTime: reading or computing the report and snapshotting it.
    // Whole microseconds: the float noise below them is not a measurement.
    let micros = started.elapsed().as_micros() as f64;
    metadata.processing_ms = Some(micros / 1000.0);
    let actor = super::chain::actor(args.actor);
    let mut new = NewVersion::new(&args.key, &document, &metadata, &actor, clock);
    new.expect_version = args.expect_version;
    new.kind = ChainKind::FabricReport;
    let mut store = ctx.store_write()?;
    let saved = store.chain_create(&new)?;
    ctx.info(format_args!(
        "saved snapshot {} as {}@{}",
        snapshot.snapshot_id, saved.key, saved.version
    ));
    if ctx.json {
        output::print_json(&serde_json::json!({
            "saved": {
                "key": saved.key,
                "version": saved.version,
                "parent_version": saved.parent_version,
                "checksum": saved.checksum,
            },
            "snapshot": document,
        }))?;
    } else {
        output::print_json(&document)?;
    }
    Ok(exit::SUCCESS)
}

/// The metadata `--save` records, from the flags; validated (exit 2 naming the
/// field) before anything is computed or written.
fn metadata(args: &Args, clock: time::OffsetDateTime) -> Result<SnapshotMetadata, CliError> {
    let invalid = |source| {
        CliError::Store(fabric_store::Error::InvalidMetadata {
            key: args.key.clone(),
            source,
        })
    };
    let source = match &args.source {
        Some(text) => Source::parse(text).map_err(invalid)?,
        None if args.from_report.is_some() => Source::Manual,
        None => Source::Api,
    };
    let mut metadata = SnapshotMetadata::new(source, clock, args.confidence);
    metadata.data_provider.clone_from(&args.data_provider);
    metadata.api_version.clone_from(&args.api_version);
    metadata.warnings.clone_from(&args.warnings);
    metadata.validate().map_err(invalid)?;
    Ok(metadata)
}
