//! `fabric diff A B`: the FabricDiff of two snapshots (ids verified).

use std::path::PathBuf;

use fabric_core::chain::parse_key_version;
use fabric_core::diff::diff_snapshots;
use fabric_core::snapshot::FabricSnapshot;
use fabric_store::chain::ChainKind;

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};
use crate::{exit, output};

/// Arguments of `fabric diff`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The earlier snapshot: a FabricSnapshot JSON file, or a saved version
    /// `KEY@VERSION` (e.g. `fabric@3`).
    a: String,
    /// The later snapshot, written the same way.
    b: String,
    /// Exit 1 when the diff is not empty (any non-zero delta or determinism change).
    #[arg(long)]
    exit_code: bool,
    /// json (the diff document) or text.
    #[arg(long, value_enum, default_value_t = super::Format::Json)]
    format: super::Format,
}

/// A snapshot from a file or, when no such file exists and the argument reads
/// `KEY@VERSION`, from the chain in the store (checksum verified on read).
fn load(ctx: &Ctx, arg: &str) -> Result<FabricSnapshot, CliError> {
    let path = PathBuf::from(arg);
    if !path.exists()
        && let Some((key, Some(version))) = parse_key_version(arg)
    {
        let store = ctx.store_read()?;
        if store.chain_kind(key)? == ChainKind::Json {
            return Err(CliError::Usage(format!(
                "{key:?} is a json chain (free-form documents, not FabricSnapshots): compare two of its versions with `fabric snapshot compare {key} A B`"
            )));
        }
        let stored = store.chain_get(key, Some(version))?;
        return FabricSnapshot::from_json(&stored.body.payload).map_err(|e| CliError::Input {
            path: arg.into(),
            what: "saved version is not a FabricSnapshot:",
            source: Box::new(e),
        });
    }
    let doc = super::snapshot_create::read_json(&path)?;
    FabricSnapshot::from_json(&doc).map_err(|e| CliError::Input {
        path,
        what: "not a valid snapshot:",
        source: Box::new(e),
    })
}

/// Run `fabric diff`.
pub fn run(ctx: &Ctx, args: Args) -> CmdResult {
    let a = load(ctx, &args.a)?;
    let b = load(ctx, &args.b)?;
    let diff = diff_snapshots(&a, &b)?;
    if args.format == super::Format::Text && !ctx.json {
        output::print_text(&diff.to_text())?;
    } else {
        output::print_json(&diff.to_json())?;
    }
    Ok(if args.exit_code && diff.has_changes() {
        exit::PROBLEM
    } else {
        exit::SUCCESS
    })
}
