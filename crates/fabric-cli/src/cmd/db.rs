//! `fabric db`: creating an empty store, the integrity check and the explicit
//! schema upgrade.

use clap::Subcommand;

use crate::context::Ctx;
use crate::error::CmdResult;
use crate::exit;
use crate::output;

/// `fabric db ...`
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an empty store at --db (its folders too); a store that is already
    /// there is checked and left as it is.
    Init,
    /// Open the store: integrity check, schema version and tables; prints what it
    /// found. A missing path or one that is not a database file is exit 2.
    Check,
    /// Upgrade a version-1 store (the reference system's jobs-only file) to the
    /// current schema by adding the missing tables. Never drops anything.
    Upgrade,
}

/// Run a `fabric db` command.
pub fn run(ctx: &Ctx, command: Command) -> CmdResult {
    match command {
        Command::Init => {
            let existed = ctx.db.exists();
            drop(ctx.store_write()?);
            if ctx.json {
                output::print_json(&serde_json::json!({
                    "path": ctx.db.display().to_string(),
                    "created": !existed,
                    "schema_version": fabric_store::schema::SCHEMA_VERSION,
                }))?;
            } else {
                output::print_text(&format!(
                    "{}: {} (schema version {})",
                    ctx.db.display(),
                    if existed {
                        "already a store; left as it is"
                    } else {
                        "created an empty store"
                    },
                    fabric_store::schema::SCHEMA_VERSION
                ))?;
            }
            Ok(exit::SUCCESS)
        }
        Command::Check => {
            let store = ctx.store_read()?;
            let ms = store.integrity_check_duration().as_secs_f64() * 1000.0;
            if ctx.json {
                output::print_json(&serde_json::json!({
                    "path": ctx.db.display().to_string(),
                    "schema_version": fabric_store::schema::SCHEMA_VERSION,
                    "integrity": "ok",
                    "integrity_check_ms": (ms * 1000.0).round() / 1000.0,
                }))?;
            } else {
                output::print_text(&format!(
                    "{}: integrity ok, schema version {} ({ms:.1} ms)",
                    ctx.db.display(),
                    fabric_store::schema::SCHEMA_VERSION
                ))?;
            }
            Ok(exit::SUCCESS)
        }
        Command::Upgrade => {
            let found = fabric_store::Store::upgrade(&ctx.db)?;
            let to = fabric_store::schema::SCHEMA_VERSION;
            if ctx.json {
                output::print_json(&serde_json::json!({"from": found, "to": to}))?;
            } else if found == to {
                output::print_text(&format!("{}: already at version {to}", ctx.db.display()))?;
            } else {
                output::print_text(&format!(
                    "{}: upgraded from version {found} to {to}",
                    ctx.db.display()
                ))?;
            }
            Ok(exit::SUCCESS)
        }
    }
}
