//! `fabric jobs` (ids, filtered) and `fabric job ID` (one job as JSON).

use fabric_core::index::{FabricIndex, JobFilter};
use fabric_core::model::FinalStatus;

use crate::context::Ctx;
use crate::error::{CliError, CmdResult};
use crate::{exit, output};

/// Arguments of `fabric jobs`. Filters combine with AND.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only jobs with this final status: COMPLETED, FAILED or PARTIAL, in any case;
    /// the report's "Validation failed" is PARTIAL.
    #[arg(long, value_name = "S")]
    status: Option<String>,
    /// Only jobs run by this engine (any engine string, in any case: the report's
    /// `Ffmpeg` is `ffmpeg`).
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
    let status = args.status.as_deref().map(parse_status).transpose()?;
    let store = ctx.store_read()?;
    let index = FabricIndex::from_jobs(store.jobs()?);
    // The report prints engines capitalised (`Ffmpeg`): an engine matches
    // whatever its case, and each stored spelling that matches is listed.
    let engines: Vec<Option<String>> = match &args.engine {
        None => vec![None],
        Some(given) => {
            let wanted = given.to_lowercase();
            let found: Vec<Option<String>> = index
                .all_engines()
                .into_iter()
                .filter(|e| e.to_lowercase() == wanted)
                .map(|e| Some(e.to_owned()))
                .collect();
            if found.is_empty() {
                ctx.info(format_args!(
                    "note: no job ran on engine {given:?}; engines in the store: {}",
                    index.all_engines().join(", ")
                ));
                vec![Some(given.clone())]
            } else {
                found
            }
        }
    };
    let mut ids = Vec::new();
    for engine in engines {
        let filter = JobFilter {
            status,
            engine,
            profile: args.profile.clone(),
            fingerprint: args.fingerprint.clone(),
            reason: args.reason.clone(),
        };
        ids.extend(index.filter_jobs(&filter)?);
    }
    ids.sort_unstable();
    ids.dedup();
    if ctx.json {
        output::print_json(&serde_json::json!(ids))?;
    } else if !ids.is_empty() {
        output::print_text(&ids.join("\n"))?;
    }
    Ok(exit::SUCCESS)
}

/// A `--status` value: COMPLETED, FAILED or PARTIAL in any case, or the words
/// the report uses for them ("Completed", "Failed", "Validation failed").
fn parse_status(given: &str) -> Result<FinalStatus, CliError> {
    let word = given.trim().to_uppercase().replace(['_', '-'], " ");
    let canonical = match word.as_str() {
        "VALIDATION FAILED" => "PARTIAL",
        other => other,
    };
    FinalStatus::parse(canonical).ok_or_else(|| {
        CliError::Usage(format!(
            "--status {given:?} is not one of COMPLETED, FAILED, PARTIAL (the report's \"Validation failed\" is PARTIAL; any case)"
        ))
    })
}

/// Run `fabric job`.
pub fn show(ctx: &Ctx, args: ShowArgs) -> CmdResult {
    let store = ctx.store_read()?;
    let job = store.job(&args.id)?.ok_or_else(|| {
        CliError::NotFound(format!(
            "no job {:?} in {} (`fabric jobs` lists the ids)",
            args.id,
            ctx.db.display()
        ))
    })?;
    if args.format == super::Format::Text && !ctx.json {
        output::print_text(&fabric_core::ingest::job_to_text(&job))?;
    } else {
        output::print_json(&fabric_core::ingest::job_to_json(&job))?;
    }
    Ok(exit::SUCCESS)
}
