//! `fabric dashboard`: filled in by the dashboard work.

use clap::Subcommand;

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};

/// `fabric dashboard ...`
#[derive(Debug, Subcommand)]
pub enum Command {}

/// Run a `fabric dashboard` command.
pub fn run(_ctx: &Ctx, command: Command) -> CmdResult {
    match command {}
    #[allow(unreachable_code)] // reason: no subcommands yet
    Err(CliError::Usage(String::new()))
}
