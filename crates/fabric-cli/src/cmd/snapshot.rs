//! `fabric snapshot`: create a snapshot, and the versioned snapshot chains.

use clap::Subcommand;

use crate::context::Ctx;
use crate::error::CmdResult;

/// `fabric snapshot ...`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a FabricSnapshot of the store's report (or of `--from-report FILE`).
    Create(super::snapshot_create::Args),
    // ---- versioned snapshot chains ----
    /// List the chains, or one chain's versions (summaries only), newest first.
    List(super::chain::ListArgs),
    /// Show a saved version (the active one unless KEY@VERSION), checksum verified.
    Show(super::chain::ShowArgs),
    /// Make an earlier version the active one (recorded in the activity log).
    Rollback(super::chain::RollbackArgs),
    /// Compare two versions of a chain: added / modified / deleted paths.
    Compare(super::chain::CompareArgs),
    /// Re-check every stored checksum (exit 1 when something is damaged, 3 when the
    /// store cannot be opened).
    Verify(super::chain::VerifyArgs),
    /// The activity log: creates, rollbacks, deprecations, newest first.
    Log(super::chain::LogArgs),
    /// Deprecate a version (permanent; it can no longer be made active). The active
    /// version is refused (exit 1): roll back first.
    Deprecate(super::chain::DeprecateArgs),
    /// Turn a folder of report JSON files into a chain, oldest first (one transaction).
    ImportReports(super::chain::ImportArgs),
}

/// Run a `fabric snapshot` command.
pub fn run(ctx: &Ctx, command: Command) -> CmdResult {
    match command {
        Command::Create(args) => super::snapshot_create::run(ctx, args),
        Command::List(args) => super::chain::list(ctx, args),
        Command::Show(args) => super::chain::show(ctx, args),
        Command::Rollback(args) => super::chain::rollback(ctx, args),
        Command::Compare(args) => super::chain::compare(ctx, args),
        Command::Verify(args) => super::chain::verify(ctx, args),
        Command::Log(args) => super::chain::log(ctx, args),
        Command::Deprecate(args) => super::chain::deprecate(ctx, args),
        Command::ImportReports(args) => super::chain::import_reports(ctx, args),
    }
}
