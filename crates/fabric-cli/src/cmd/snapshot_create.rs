//! `fabric snapshot_create`.

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};

/// Arguments of `fabric snapshot_create`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `fabric snapshot_create`.
pub fn run(_ctx: &Ctx, _args: Args) -> CmdResult {
    Err(CliError::Usage("not built yet".into()))
}
