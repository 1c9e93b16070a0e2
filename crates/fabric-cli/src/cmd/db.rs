//! `fabric db`: creating an empty store, the integrity check and the explicit
//! schema upgrade.

use clap::Subcommand;

use fabric_core::timestamp::Timestamp;
use fabric_store::check::CheckRecord;

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
    /// The full integrity check of the whole file (`PRAGMA integrity_check`),
    /// whatever `$FABRIC_CHECK` says, the schema version and the tables. A pass
    /// is recorded in the store; the output says how long it took and when the
    /// one before passed. A missing path or one that is not a database file is
    /// exit 2.
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
        Command::Check => check(ctx),
        Command::Upgrade => {
            let found = fabric_store::Store::upgrade(&ctx.db, &ctx.store)?;
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

/// `fabric db check`: open (header, schema version), then the full check on its
/// own connection while a spinner runs, then record the pass.
fn check(ctx: &Ctx) -> CmdResult {
    let store = ctx.store_read()?;
    let has_file = std::fs::metadata(&ctx.db).is_ok_and(|m| m.is_file() && m.len() > 0);
    let previous = if has_file { store.last_check()? } else { None };
    drop(store);
    let (took, recorded) = if has_file {
        let file_bytes = std::fs::metadata(&ctx.db).map_or(0, |m| m.len());
        let spinner = ctx.spinner(&check_message(file_bytes, previous.as_ref()));
        let took =
            fabric_store::check_file(&ctx.db, &ctx.store, fabric_store::OpenCheck::Integrity);
        spinner.finish_and_clear();
        let took = took?;
        let record = CheckRecord {
            passed_at: Timestamp::from_utc(time::OffsetDateTime::now_utc()).to_string(),
            duration: took,
            file_bytes,
        };
        // The check passed whatever happens to its record (a read-only file, a
        // writer holding the lock): say so, and still exit 0.
        let recorded = ctx
            .store
            .open_checked(&ctx.db, fabric_store::OpenCheck::Touched)
            .and_then(|mut store| store.record_check(&record));
        if let Err(e) = &recorded {
            ctx.info(format_args!("warning: the pass was not recorded: {e}"));
        }
        (took, recorded.is_ok().then_some(record))
    } else {
        (std::time::Duration::ZERO, None)
    };
    let ms = took.as_secs_f64() * 1000.0;
    let version = fabric_store::schema::SCHEMA_VERSION;
    if ctx.json {
        let previous = previous.map(|p| {
            serde_json::json!({
                "passed_at": p.passed_at,
                "integrity_check_ms": millis(p.duration),
                "file_bytes": p.file_bytes,
            })
        });
        output::print_json(&serde_json::json!({
            "path": ctx.db.display().to_string(),
            "schema_version": version,
            "integrity": "ok",
            "integrity_check_ms": (ms * 1000.0).round() / 1000.0,
            "recorded_at": recorded.map(|r| r.passed_at),
            "previous_pass": previous,
        }))?;
    } else {
        let mut text = format!(
            "{}: integrity ok, schema version {version} ({ms:.1} ms)",
            ctx.db.display()
        );
        if let Some(p) = previous {
            text.push_str(&format!(
                "\nprevious pass: {} ({:.1} ms over {} bytes)",
                p.passed_at,
                millis(p.duration),
                p.file_bytes
            ));
        }
        output::print_text(&text)?;
    }
    Ok(exit::SUCCESS)
}

/// What the spinner says while the check runs: the size, and how long the last
/// pass took scaled to today's size (the check reads every page once).
fn check_message(file_bytes: u64, previous: Option<&CheckRecord>) -> String {
    let mib = file_bytes as f64 / f64::from(1 << 20);
    match previous.filter(|p| p.file_bytes > 0) {
        Some(p) => {
            let expected = p.duration.as_secs_f64() * file_bytes as f64 / p.file_bytes as f64;
            format!("checking {mib:.0} MiB (about {expected:.0} s, from the last pass)")
        }
        None => format!("checking {mib:.0} MiB"),
    }
}

fn millis(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}
