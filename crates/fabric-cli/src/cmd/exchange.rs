//! `fabric exchange`: filled in by the exchange work.

use clap::Subcommand;

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};

/// `fabric exchange ...`
#[derive(Debug, Subcommand)]
pub enum Command {}

/// Run a `fabric exchange` command.
pub fn run(_ctx: &Ctx, command: Command) -> CmdResult {
    match command {}
    #[allow(unreachable_code)] // reason: no subcommands yet
    Err(CliError::Usage(String::new()))
}
