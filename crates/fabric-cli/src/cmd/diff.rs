//! `fabric diff`.

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};

/// Arguments of `fabric diff`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `fabric diff`.
pub fn run(_ctx: &Ctx, _args: Args) -> CmdResult {
    Err(CliError::Usage("not built yet".into()))
}
