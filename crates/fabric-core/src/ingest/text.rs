//! The text rendering of one job (`fabric job ID --format text`).

use std::fmt::Write;

use crate::model::IngestedJob;
use crate::size::describe;

/// What `fabric job ID --format text` prints, without a trailing newline: one
/// `field  value` line per fact of the job (`-` for none), then one block per
/// output.
pub fn job_to_text(job: &IngestedJob) -> String {
    let none = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let mut out = format!("{}  {}\n", job.job_id, job.final_status.as_str());
    let duration = job.duration_seconds().map_or_else(
        || "-".to_owned(),
        |s| format!("{} s", crate::json::python_float_repr(s)),
    );
    let fields = [
        ("started_at", job.started_at.to_string()),
        (
            "completed_at",
            job.completed_at
                .map_or_else(|| "-".to_owned(), |t| t.to_string()),
        ),
        ("duration", duration),
        ("engine", none(&job.engine_used)),
        ("proxy_profile", none(&job.canonical_proxy_profile)),
        ("resolve_preset", none(&job.resolve_preset_used)),
        ("fingerprint", none(&job.fingerprint)),
        ("jobspec_version", none(&job.jobspec_version)),
        ("validation_stage", none(&job.validation_stage)),
        ("validation_error", none(&job.validation_error)),
        ("ingested_at", job.ingested_at.to_string()),
        (
            "clips",
            format!(
                "{} total, {} completed, {} failed",
                job.total_clips, job.completed_clips, job.failed_clips
            ),
        ),
        ("success", job.success().to_string()),
    ];
    for (label, value) in fields {
        let _ = writeln!(out, "{label:<18}{value}");
    }
    let _ = write!(out, "\nOutputs\n-------");
    if job.outputs.is_empty() {
        out.push_str("\nNo outputs recorded.");
    }
    for (i, o) in job.outputs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let size = o.output_size_bytes.map_or_else(
            || "size unknown".to_owned(),
            |b| u64::try_from(b).map_or_else(|_| format!("{b} bytes"), describe),
        );
        let _ = write!(out, "\n{}  {}  {size}", o.clip_id, o.status.as_str());
        let _ = write!(out, "\n  source  {}", o.source_path);
        let exists = if o.output_exists { "" } else { " (missing)" };
        let _ = write!(out, "\n  output  {}{exists}", o.output_path);
        for (label, value) in [
            ("reason", &o.failure_reason),
            ("engine", &o.engine_used),
            ("profile", &o.proxy_profile_used),
            ("preset", &o.resolve_preset_used),
        ] {
            if let Some(v) = value {
                let _ = write!(out, "\n  {label:<8}{v}");
            }
        }
    }
    out
}
