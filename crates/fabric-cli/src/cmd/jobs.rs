//! `fabric jobs` and `fabric job ID`.

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};

/// Arguments of `fabric jobs`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {}

/// Arguments of `fabric job`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {}

/// Run `fabric jobs`.
pub fn list(_ctx: &Ctx, _args: ListArgs) -> CmdResult {
    Err(CliError::Usage("not built yet".into()))
}

/// Run `fabric job`.
pub fn show(_ctx: &Ctx, _args: ShowArgs) -> CmdResult {
    Err(CliError::Usage("not built yet".into()))
}
