//! `fabric snapshot`: create a snapshot, and the versioned snapshot chains.

use clap::Subcommand;

use crate::context::Ctx;
use crate::error::CmdResult;

/// `fabric snapshot ...`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a FabricSnapshot of the store's report (or of `--from-report FILE`).
    Create(super::snapshot_create::Args),
    // ---- versioned snapshot chains (seed 002) ----
}

/// Run a `fabric snapshot` command.
pub fn run(ctx: &Ctx, command: Command) -> CmdResult {
    match command {
        Command::Create(args) => super::snapshot_create::run(ctx, args),
    }
}
