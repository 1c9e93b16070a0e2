//! `fabric snapshot create`: a FabricSnapshot of the store's report or of a report
//! file.

use std::path::PathBuf;

use fabric_core::snapshot::FabricSnapshot;
use fabric_core::timestamp::Timestamp;

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};
use crate::{exit, output};

/// Arguments of `fabric snapshot create`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Snapshot this report document instead of the store's report.
    #[arg(long, value_name = "FILE")]
    from_report: Option<PathBuf>,
}

/// Read a JSON document from `path`, naming the file in every error.
pub fn read_json(path: &std::path::Path) -> Result<serde_json::Value, CliError> {
    let bytes = std::fs::read(path).map_err(|e| CliError::Input {
        path: path.to_path_buf(),
        what: "cannot read",
        source: Box::new(e),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| CliError::Input {
        path: path.to_path_buf(),
        what: "not a JSON document:",
        source: Box::new(e),
    })
}

/// Run `fabric snapshot create`.
pub fn run(ctx: &Ctx, args: Args) -> CmdResult {
    let now = Timestamp::from_utc(time::OffsetDateTime::now_utc());
    let report = match &args.from_report {
        Some(path) => read_json(path)?,
        None => {
            super::report::from_store(ctx, super::report::Determinism::Reference)?.export_json(&now)
        }
    };
    let snapshot = FabricSnapshot::create_from_report(report, &now)?;
    output::print_json(&snapshot.to_json())?;
    Ok(exit::SUCCESS)
}
