//! `fabric snapshot create`: a FabricSnapshot of the store's report or of a report
//! file, optionally saved as the next version of a snapshot chain.

use std::path::{Path, PathBuf};

use fabric_core::chain::{SnapshotMetadata, Source};
use fabric_core::snapshot::FabricSnapshot;
use fabric_core::timestamp::Timestamp;
use fabric_store::chain::NewVersion;

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};
use crate::{exit, output};

/// Arguments of `fabric snapshot create`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Snapshot this report document instead of the store's report.
    #[arg(long, value_name = "FILE")]
    from_report: Option<PathBuf>,
    /// Also record the snapshot as the next version of the chain `--key`.
    #[arg(long)]
    save: bool,
    /// The chain to save into.
    #[arg(long, value_name = "KEY", default_value = "fabric", requires = "save")]
    key: String,
    /// Optimistic locking: save only if the chain's newest version is N (0: the
    /// chain must be empty); otherwise fail with VERSION_CONFLICT (exit 1).
    #[arg(long, value_name = "N", requires = "save")]
    expect_version: Option<i64>,
    /// Who saves it [default: $USER, else `fabric`].
    #[arg(long, value_name = "NAME", requires = "save")]
    actor: Option<String>,
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
    let clock = time::OffsetDateTime::now_utc();
    let now = Timestamp::from_utc(clock);
    let (report, source) = match &args.from_report {
        Some(path) => (read_json(path)?, Source::Manual),
        None => (
            super::report::from_store(ctx, super::report::Determinism::Reference)?
                .export_json(&now),
            Source::Api,
        ),
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
    if args.save {
        let metadata = SnapshotMetadata::new(source, clock, 1.0);
        let actor = super::chain::actor(args.actor);
        let mut new = NewVersion::new(&args.key, &document, &metadata, &actor, clock);
        new.expect_version = args.expect_version;
        let mut store = ctx.store_write()?;
        let saved = store.chain_create(&new)?;
        ctx.info(format_args!(
            "saved snapshot {} as {}@{}",
            snapshot.snapshot_id, saved.key, saved.version
        ));
    }
    output::print_json(&document)?;
    Ok(exit::SUCCESS)
}
