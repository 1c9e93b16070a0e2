//! `fabric version`: what this binary is, and with `--verbose` what it was built
//! from and with.

use crate::context::Ctx;
use crate::error::CmdResult;
use crate::exit;
use crate::output::{print_json, print_text};

/// Print the version; `--verbose` (or `--json`) adds the commit, the enabled
/// `--target` backends and the SQLite library version.
pub fn run(ctx: &Ctx) -> CmdResult {
    let version = env!("CARGO_PKG_VERSION");
    let commit = option_env!("FABRIC_BUILD_COMMIT");
    let backends = exchange_sync::target::BACKENDS;
    let sqlite = fabric_store::sqlite_version();
    if ctx.json {
        print_json(&serde_json::json!({
            "version": version,
            "commit": commit,
            "backends": backends,
            "sqlite": sqlite,
        }))?;
    } else if ctx.verbose {
        print_text(&format!(
            "fabric {version}\ncommit:   {}\nbackends: {}\nsqlite:   {sqlite}",
            commit.unwrap_or("unknown (built outside a git checkout)"),
            backends.join(", "),
        ))?;
    } else {
        print_text(&format!("fabric {version}"))?;
    }
    Ok(exit::SUCCESS)
}
