//! The report's two exports: the JSON document and the text report.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::{FabricReport, sorted_by_count};
use crate::json::{keyed, object, py_float, strings};
use crate::timestamp::Timestamp;

impl FabricReport {
    /// The report document (`docs/formats/report.md`): `generated_at` first, then the sections in
    /// contract order; rates are floats spelled as Python repr, counts integers.
    pub fn export_json(&self, generated_at: &Timestamp) -> Value {
        let mut doc = Map::new();
        doc.insert("generated_at".into(), generated_at.to_string().into());
        let s = &self.execution_summary;
        doc.insert(
            "execution_summary".into(),
            object([
                ("total_jobs", s.total_jobs.into()),
                ("completed", s.completed.into()),
                ("failed", s.failed.into()),
                ("validation_failed", s.validation_failed.into()),
            ]),
        );
        let by_engine = keyed(&self.failure_summary.by_engine, |reasons| {
            keyed(reasons, |count| Value::from(*count))
        });
        doc.insert(
            "failure_summary".into(),
            object([
                ("by_engine", by_engine),
                (
                    "top_failure_reasons",
                    strings(&self.failure_summary.top_failure_reasons),
                ),
            ]),
        );
        let health = keyed(&self.engine_health, |h| {
            object([
                ("jobs", h.jobs.into()),
                ("failures", h.failures.into()),
                ("failure_rate", float(h.failure_rate)),
            ])
        });
        doc.insert("engine_health".into(), health);
        let profiles = keyed(&self.proxy_profile_stability, |p| {
            object([
                ("jobs", p.jobs.into()),
                ("failure_rate", float(p.failure_rate)),
            ])
        });
        doc.insert("proxy_profile_stability".into(), profiles);
        doc.insert(
            "determinism".into(),
            object([
                (
                    "non_deterministic_jobs",
                    strings(&self.non_deterministic_jobs),
                ),
                ("count", self.non_deterministic_jobs.len().into()),
            ]),
        );
        Value::Object(doc)
    }

    /// The text report, byte-exact, without a trailing newline.
    pub fn export_text(&self) -> String {
        let mut out = String::with_capacity(1024);
        let s = &self.execution_summary;
        let _ = write!(
            out,
            "FABRIC OPERATOR REPORT\n======================\n\n\
             Execution Summary\n-----------------\n\
             Total jobs: {}\nCompleted: {}\nFailed: {}\nValidation failed: {}\n\n\
             Engine Health\n-------------\n",
            s.total_jobs, s.completed, s.failed, s.validation_failed
        );
        for (i, (engine, h)) in self.engine_health.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let _ = write!(
                out,
                "{}:\n  Jobs: {}\n  Failures: {}\n  Failure rate: {:.3}\n",
                heading(engine),
                h.jobs,
                h.failures,
                h.failure_rate
            );
        }
        out.push_str("\nFailure Summary\n---------------\n");
        let mut blocks = 0;
        for (engine, reasons) in &self.failure_summary.by_engine {
            if reasons.is_empty() {
                continue;
            }
            if blocks > 0 {
                out.push('\n');
            }
            blocks += 1;
            let _ = writeln!(out, "{}:", heading(engine));
            let counts = reasons.iter().map(|(r, n)| (r.as_str(), *n));
            for (reason, count) in sorted_by_count(counts) {
                let _ = writeln!(out, "  {reason}: {count}");
            }
        }
        if blocks == 0 {
            out.push_str("No failures recorded.\n");
        }
        out.push_str("\nProxy Profile Stability\n-----------------------\n");
        for (i, (profile, p)) in self.proxy_profile_stability.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let _ = write!(
                out,
                "{profile}:\n  Jobs: {}\n  Failure rate: {:.3}\n",
                p.jobs, p.failure_rate
            );
        }
        if self.proxy_profile_stability.is_empty() {
            out.push_str("No profiles recorded.\n");
        }
        let _ = write!(
            out,
            "\nDeterminism\n-----------\nNon-deterministic jobs: {}",
            self.non_deterministic_jobs.len()
        );
        if !self.non_deterministic_jobs.is_empty() {
            out.push_str("\n\nAffected jobs:");
            for id in &self.non_deterministic_jobs {
                out.push_str("\n  ");
                out.push_str(id);
            }
        }
        out
    }
}

/// A Python-spelled float; rates are finite by construction (null otherwise).
fn float(x: f64) -> Value {
    py_float(x).map_or(Value::Null, Value::Number)
}

/// `ffmpeg` -> `Ffmpeg`: first letter upper-cased, the rest lower-cased.
fn heading(engine: &str) -> String {
    let mut chars = engine.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}
