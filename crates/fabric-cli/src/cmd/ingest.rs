//! `fabric ingest`.

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};

/// Arguments of `fabric ingest`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `fabric ingest`.
pub fn run(_ctx: &Ctx, _args: Args) -> CmdResult {
    Err(CliError::Usage("not built yet".into()))
}
