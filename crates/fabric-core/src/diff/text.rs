//! The text rendering of a diff (`fabric diff --format text`): the report's
//! sections and headings, each delta signed (`+3`, `-0.0139`, `0`).

use std::fmt::Write;

use super::{Delta, FabricDiff};
use crate::json::python_float_repr;

impl FabricDiff {
    /// The diff for people, without a trailing newline:
    ///
    /// ```text
    /// Diff 3bda5e169ed0 -> ba76851e3d77
    ///
    /// Execution Summary
    /// -----------------
    /// Total jobs: +10
    /// ...
    /// ```
    ///
    /// Deltas carry their sign; zero is `0` (or `0.0`, `-0.0` for rates). Every
    /// engine and profile of either side is listed, as in the JSON.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let short = |id: &str| id.chars().take(12).collect::<String>();
        let _ = writeln!(
            out,
            "Diff {} -> {}",
            short(&self.from_snapshot),
            short(&self.to_snapshot)
        );
        heading(&mut out, "Execution Summary");
        let e = &self.execution_summary;
        for (label, d) in [
            ("Total jobs", e.total_jobs_delta),
            ("Completed", e.completed_delta),
            ("Failed", e.failed_delta),
            ("Validation failed", e.validation_failed_delta),
        ] {
            let _ = writeln!(out, "{label}: {}", signed(d));
        }
        heading(&mut out, "Engine Health");
        blocks(
            &mut out,
            self.engine_health.iter().map(|(name, d)| {
                (
                    capitalised(name),
                    vec![
                        ("Jobs", d.jobs_delta),
                        ("Failures", d.failures_delta),
                        ("Failure rate", d.failure_rate_delta),
                    ],
                )
            }),
            "No engines recorded.",
        );
        heading(&mut out, "Proxy Profile Stability");
        blocks(
            &mut out,
            self.proxy_profile_stability.iter().map(|(name, d)| {
                (
                    name.clone(),
                    vec![
                        ("Jobs", d.jobs_delta),
                        ("Failure rate", d.failure_rate_delta),
                    ],
                )
            }),
            "No profiles recorded.",
        );
        heading(&mut out, "Determinism");
        for (label, ids) in [
            (
                "New non-deterministic jobs",
                &self.new_non_deterministic_jobs,
            ),
            (
                "Resolved non-deterministic jobs",
                &self.resolved_non_deterministic_jobs,
            ),
        ] {
            let _ = writeln!(out, "{label}: {}", ids.len());
            for id in ids {
                let _ = writeln!(out, "  {id}");
            }
        }
        out.truncate(out.trim_end_matches('\n').len());
        out
    }
}

fn heading(out: &mut String, title: &str) {
    let _ = writeln!(out, "\n{title}\n{}", "-".repeat(title.len()));
}

/// `Name:` then two-space indented `Label: delta` lines, a blank line between
/// blocks; `none` when there is no block.
fn blocks(
    out: &mut String,
    blocks: impl Iterator<Item = (String, Vec<(&'static str, Delta)>)>,
    none: &str,
) {
    let mut any = false;
    for (name, lines) in blocks {
        if any {
            out.push('\n');
        }
        any = true;
        let _ = writeln!(out, "{name}:");
        for (label, d) in lines {
            let _ = writeln!(out, "  {label}: {}", signed(d));
        }
    }
    if !any {
        let _ = writeln!(out, "{none}");
    }
}

/// `ffmpeg` -> `Ffmpeg`, as the report's text prints engines.
fn capitalised(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect()
    })
}

/// A delta with its sign: `+3`, `-2`, `0`, `+0.0312`, `-0.0`, `0.0`.
fn signed(d: Delta) -> String {
    match d {
        Delta::Int(i) if i > 0 => format!("+{i}"),
        Delta::Int(i) => i.to_string(),
        Delta::Float(x) if x > 0.0 => format!("+{}", python_float_repr(x)),
        Delta::Float(x) => python_float_repr(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_carry_their_sign() {
        assert_eq!(signed(Delta::Int(3)), "+3");
        assert_eq!(signed(Delta::Int(-2)), "-2");
        assert_eq!(signed(Delta::Int(0)), "0");
        assert_eq!(signed(Delta::Float(0.0312)), "+0.0312");
        assert_eq!(signed(Delta::Float(-0.0)), "-0.0");
        assert_eq!(signed(Delta::Float(0.0)), "0.0");
        assert_eq!(signed(Delta::Float(1e-05)), "+1e-05");
        assert_eq!(capitalised("ffmpeg"), "Ffmpeg");
        assert_eq!(capitalised("RESOLVE"), "Resolve");
    }
}
