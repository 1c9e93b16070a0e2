//! `fabric jobs` (ids, filtered) and `fabric job ID` (one job as JSON).

use fabric_core::index::FabricIndex;
use fabric_core::model::FinalStatus;
use std::collections::BTreeSet;

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
    let q = index.queries();
    let mut sets: Vec<BTreeSet<String>> = Vec::new();
    let owned = |ids: Vec<String>| ids.into_iter().collect::<BTreeSet<String>>();
    if let Some(s) = status {
        sets.push(owned(q.job_ids_by_status(s)));
    }
    if let Some(e) = &args.engine {
        sets.push(owned(q.job_ids_by_engine(e)));
    }
    if let Some(p) = &args.profile {
        sets.push(owned(q.job_ids_by_profile(p)));
    }
    if let Some(f) = &args.fingerprint {
        sets.push(owned(q.job_ids_by_fingerprint(f)));
    }
    if let Some(r) = &args.reason {
        sets.push(owned(q.list_jobs_failed_for_reason(r)?));
    }
    let ids: Vec<String> = match sets.split_first() {
        None => owned(q.all_job_ids()).into_iter().collect(),
        Some((first, rest)) => first
            .iter()
            .filter(|id| rest.iter().all(|s| s.contains(*id)))
            .cloned()
            .collect(),
    };
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
    output::print_json(&fabric_core::ingest::job_to_json(&job))?;
    Ok(exit::SUCCESS)
}
