//! `fabric diff A B`: the FabricDiff of two snapshots (ids verified).

use std::path::PathBuf;

use fabric_core::diff::diff_snapshots;
use fabric_core::snapshot::FabricSnapshot;

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};
use crate::{exit, output};

/// Arguments of `fabric diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The earlier snapshot: a FabricSnapshot JSON file.
    a: PathBuf,
    /// The later snapshot: a FabricSnapshot JSON file.
    b: PathBuf,
    /// Exit 1 when the diff is not empty (any non-zero delta or determinism change).
    #[arg(long)]
    exit_code: bool,
}

fn load(path: &std::path::Path) -> Result<FabricSnapshot, CliError> {
    let doc = super::snapshot_create::read_json(path)?;
    FabricSnapshot::from_json(&doc).map_err(|e| CliError::Input {
        path: path.to_path_buf(),
        what: "not a valid snapshot:",
        source: Box::new(e),
    })
}

/// Run `fabric diff`.
pub fn run(_ctx: &Ctx, args: Args) -> CmdResult {
    let a = load(&args.a)?;
    let b = load(&args.b)?;
    let diff = diff_snapshots(&a, &b)?;
    output::print_json(&diff.to_json())?;
    Ok(if args.exit_code && diff.has_changes() {
        exit::PROBLEM
    } else {
        exit::SUCCESS
    })
}
