//! The report's two exports: the JSON document and the text report.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::{FabricReport, sorted_by_count};
use crate::json::py_float;
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
        let by_engine: Map<String, Value> = self
            .failure_summary
            .by_engine
            .iter()
            .map(|(engine, reasons)| {
                let reasons: Map<String, Value> = reasons
                    .iter()
                    .map(|(reason, count)| (reason.clone(), Value::from(*count)))
                    .collect();
                (engine.clone(), Value::Object(reasons))
            })
            .collect();
        let top: Vec<Value> = self
            .failure_summary
            .top_failure_reasons
            .iter()
            .map(|r| Value::String(r.clone()))
            .collect();
        doc.insert(
            "failure_summary".into(),
            object([
                ("by_engine", Value::Object(by_engine)),
                ("top_failure_reasons", Value::Array(top)),
            ]),
        );
        let health: Map<String, Value> = self
            .engine_health
            .iter()
            .map(|(engine, h)| {
                let entry = object([
                    ("jobs", h.jobs.into()),
                    ("failures", h.failures.into()),
                    ("failure_rate", float(h.failure_rate)),
                ]);
                (engine.clone(), entry)
            })
            .collect();
        doc.insert("engine_health".into(), Value::Object(health));
        let profiles: Map<String, Value> = self
            .proxy_profile_stability
            .iter()
            .map(|(profile, p)| {
                let entry = object([
                    ("jobs", p.jobs.into()),
                    ("failure_rate", float(p.failure_rate)),
                ]);
                (profile.clone(), entry)
            })
            .collect();
        doc.insert("proxy_profile_stability".into(), Value::Object(profiles));
        let flagged: Vec<Value> = self
            .non_deterministic_jobs
            .iter()
            .map(|id| Value::String(id.clone()))
            .collect();
        let count = flagged.len();
        doc.insert(
            "determinism".into(),
            object([
                ("non_deterministic_jobs", Value::Array(flagged)),
                ("count", count.into()),
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

/// An object with keys in the given order.
fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
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
