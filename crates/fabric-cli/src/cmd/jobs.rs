//! `fabric jobs` (ids, filtered) and `fabric job ID` (one job as JSON).

use fabric_core::index::{FabricIndex, JobFilter};
use fabric_core::model::FinalStatus;

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};
use crate::{exit, output};

/// Arguments of `fabric jobs`. Filters combine with AND.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only jobs with this final status (COMPLETED, FAILED or PARTIAL).
    #[arg(long, value_name = "S")]
    status: Option<String>,
    /// Only jobs run by this engine (exact value; any engine string).
    #[arg(long, value_name = "E")]
    engine: Option<String>,
    /// Only jobs with this canonical proxy profile (exact value).
    #[arg(long, value_name = "P")]
    profile: Option<String>,
    /// Only jobs with this fingerprint (exact value).
    #[arg(long, value_name = "F")]
    fingerprint: Option<String>,
    /// Only FAILED or PARTIAL jobs whose validation error contains SUBSTR
    /// (case-insensitive).
    #[arg(long, value_name = "SUBSTR")]
    reason: Option<String>,
}

/// Arguments of `fabric job`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The job id.
    id: String,
    /// json (the job with its outputs) or text.
    #[arg(long, value_enum, default_value_t = super::Format::Json)]
    format: super::Format,
}

/// Run `fabric jobs`.
pub fn list(ctx: &Ctx, args: ListArgs) -> CmdResult {
    for (flag, value) in [
        ("--status", &args.status),
        ("--engine", &args.engine),
        ("--profile", &args.profile),
        ("--fingerprint", &args.fingerprint),
        ("--reason", &args.reason),
    ] {
        if value.as_deref() == Some("") {
            return Err(CliError::Usage(format!("{flag} needs a non-empty value")));
        }
    }
    let status = match args.status.as_deref() {
        None => None,
        Some(s) => Some(FinalStatus::parse(s).ok_or_else(|| {
            CliError::Usage(format!(
                "--status {s:?} is not one of COMPLETED, FAILED, PARTIAL"
            ))
        })?),
    };
    let store = ctx.store_read()?;
    let index = FabricIndex::from_jobs(store.jobs()?);
    let filter = JobFilter {
        status,
        engine: args.engine,
        profile: args.profile,
        fingerprint: args.fingerprint,
        reason: args.reason,
    };
    let ids = index.filter_jobs(&filter)?;
    if ctx.json {
        output::print_json(&serde_json::json!(ids))?;
    } else if !ids.is_empty() {
        output::print_text(&ids.join("\n"))?;
    }
    Ok(exit::SUCCESS)
}

/// Run `fabric job`.
pub fn show(ctx: &Ctx, args: ShowArgs) -> CmdResult {
    let store = ctx.store_read()?;
    let job = store
        .job(&args.id)?
        .ok_or_else(|| CliError::Usage(format!("no job {:?} in {}", args.id, ctx.db.display())))?;
    if args.format == super::Format::Text && !ctx.json {
        output::print_text(&fabric_core::ingest::job_to_text(&job))?;
    } else {
        output::print_json(&fabric_core::ingest::job_to_json(&job))?;
    }
    Ok(exit::SUCCESS)
}
