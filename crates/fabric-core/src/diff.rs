//! Factual diffs between two snapshots.
//!
//! Every delta is B minus A. Counts are not rounded and integer minus integer
//! stays an integer; `failure_rate_delta` is Python `round(B - A, 4)`. Missing or
//! null values read as zero; engines and profiles are the sorted union of both
//! sides; the determinism lists are sorted and deduplicated.
//!
//! ```
//! use fabric_core::diff::round4;
//! assert_eq!(round4(0.03125).to_string(), "0.0312");
//! assert!(round4(1.0 / 143.0 - 1.0 / 142.0).is_sign_negative());
//! ```

mod text;
mod view;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use serde_json::{Number, Value};
use view::Num;

use crate::error::{DiffError, Result, SnapshotError};
use crate::json::{keyed, object, py_float, strings};
use crate::snapshot::FabricSnapshot;

/// One delta: an integer when both sides were integers, a float otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delta {
    /// Integer minus integer.
    Int(i128),
    /// Any float involved (printed as Python repr; `-0.0` is kept).
    Float(f64),
}

impl Delta {
    /// Whether the delta is zero (`-0.0` included).
    pub fn is_zero(self) -> bool {
        match self {
            Delta::Int(i) => i == 0,
            Delta::Float(x) => x == 0.0,
        }
    }

    /// The JSON number (Python spelling for floats).
    pub fn to_value(self) -> Value {
        let number = match self {
            Delta::Int(i) => Number::from_str(&i.to_string()).ok(),
            Delta::Float(x) => py_float(x),
        };
        number.map_or(Value::Null, Value::Number)
    }
}

/// `execution_summary` deltas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExecutionDelta {
    /// `completed_delta`.
    pub completed_delta: Delta,
    /// `failed_delta`.
    pub failed_delta: Delta,
    /// `validation_failed_delta`.
    pub validation_failed_delta: Delta,
    /// `total_jobs_delta`.
    pub total_jobs_delta: Delta,
}

/// One engine's deltas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineDelta {
    /// `jobs_delta`.
    pub jobs_delta: Delta,
    /// `failures_delta`.
    pub failures_delta: Delta,
    /// `failure_rate_delta`, rounded to 4 decimals.
    pub failure_rate_delta: Delta,
}

/// One profile's deltas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProfileDelta {
    /// `jobs_delta`.
    pub jobs_delta: Delta,
    /// `failure_rate_delta`, rounded to 4 decimals.
    pub failure_rate_delta: Delta,
}

/// What changed from snapshot A to snapshot B.
#[derive(Debug, Clone, PartialEq)]
pub struct FabricDiff {
    /// A's `snapshot_id`, as given.
    pub from_snapshot: String,
    /// B's `snapshot_id`, as given.
    pub to_snapshot: String,
    /// `changes.execution_summary`.
    pub execution_summary: ExecutionDelta,
    /// `changes.engine_health`: union of both sides' engines, sorted.
    pub engine_health: BTreeMap<String, EngineDelta>,
    /// `changes.proxy_profile_stability`: union of both sides' profiles, sorted.
    pub proxy_profile_stability: BTreeMap<String, ProfileDelta>,
    /// Flagged in B, not in A; sorted, deduplicated.
    pub new_non_deterministic_jobs: Vec<String>,
    /// Flagged in A, not in B; sorted, deduplicated.
    pub resolved_non_deterministic_jobs: Vec<String>,
}

/// Diff snapshot `a` (from) to snapshot `b` (to). Pure: neither is changed.
pub fn diff_snapshots(a: &FabricSnapshot, b: &FabricSnapshot) -> Result<FabricDiff> {
    let va = view::read(&a.report).map_err(|source| invalid(a, source))?;
    let vb = view::read(&b.report).map_err(|source| invalid(b, source))?;
    let [ca, fa, pa, ta] = va.execution;
    let [cb, fb, pb, tb] = vb.execution;
    let path = "changes.execution_summary";
    let execution_summary = ExecutionDelta {
        completed_delta: sub(cb, ca, path)?,
        failed_delta: sub(fb, fa, path)?,
        validation_failed_delta: sub(pb, pa, path)?,
        total_jobs_delta: sub(tb, ta, path)?,
    };
    let empty_engine = [Num::Int(0), Num::Int(0), Num::Float(0.0)];
    let mut engine_health = BTreeMap::new();
    let engines: BTreeSet<&str> = va
        .engines
        .keys()
        .chain(vb.engines.keys())
        .copied()
        .collect();
    for engine in engines {
        let [ja, xa, ra] = va.engines.get(engine).copied().unwrap_or(empty_engine);
        let [jb, xb, rb] = vb.engines.get(engine).copied().unwrap_or(empty_engine);
        let path = format!("changes.engine_health.{engine}");
        let delta = EngineDelta {
            jobs_delta: sub(jb, ja, &path)?,
            failures_delta: sub(xb, xa, &path)?,
            failure_rate_delta: rate_delta(rb, ra, &path)?,
        };
        engine_health.insert(engine.to_owned(), delta);
    }
    let empty_profile = [Num::Int(0), Num::Float(0.0)];
    let mut proxy_profile_stability = BTreeMap::new();
    let profiles: BTreeSet<&str> = va
        .profiles
        .keys()
        .chain(vb.profiles.keys())
        .copied()
        .collect();
    for profile in profiles {
        let [ja, ra] = va.profiles.get(profile).copied().unwrap_or(empty_profile);
        let [jb, rb] = vb.profiles.get(profile).copied().unwrap_or(empty_profile);
        let path = format!("changes.proxy_profile_stability.{profile}");
        let delta = ProfileDelta {
            jobs_delta: sub(jb, ja, &path)?,
            failure_rate_delta: rate_delta(rb, ra, &path)?,
        };
        proxy_profile_stability.insert(profile.to_owned(), delta);
    }
    let new_non_deterministic_jobs = vb
        .non_deterministic
        .difference(&va.non_deterministic)
        .map(|s| (*s).to_owned())
        .collect();
    let resolved_non_deterministic_jobs = va
        .non_deterministic
        .difference(&vb.non_deterministic)
        .map(|s| (*s).to_owned())
        .collect();
    Ok(FabricDiff {
        from_snapshot: a.snapshot_id.clone(),
        to_snapshot: b.snapshot_id.clone(),
        execution_summary,
        engine_health,
        proxy_profile_stability,
        new_non_deterministic_jobs,
        resolved_non_deterministic_jobs,
    })
}

impl FabricDiff {
    /// The diff document with the exact key order of `docs/formats/snapshot.md`.
    pub fn to_json(&self) -> Value {
        let e = &self.execution_summary;
        let execution = object([
            ("completed_delta", e.completed_delta.to_value()),
            ("failed_delta", e.failed_delta.to_value()),
            (
                "validation_failed_delta",
                e.validation_failed_delta.to_value(),
            ),
            ("total_jobs_delta", e.total_jobs_delta.to_value()),
        ]);
        let engines = keyed(&self.engine_health, |d| {
            object([
                ("jobs_delta", d.jobs_delta.to_value()),
                ("failures_delta", d.failures_delta.to_value()),
                ("failure_rate_delta", d.failure_rate_delta.to_value()),
            ])
        });
        let profiles = keyed(&self.proxy_profile_stability, |d| {
            object([
                ("jobs_delta", d.jobs_delta.to_value()),
                ("failure_rate_delta", d.failure_rate_delta.to_value()),
            ])
        });
        let determinism = object([
            (
                "new_non_deterministic_jobs",
                strings(&self.new_non_deterministic_jobs),
            ),
            (
                "resolved_non_deterministic_jobs",
                strings(&self.resolved_non_deterministic_jobs),
            ),
        ]);
        let changes = object([
            ("execution_summary", execution),
            ("engine_health", engines),
            ("proxy_profile_stability", profiles),
            ("determinism", determinism),
        ]);
        object([
            ("from_snapshot", Value::String(self.from_snapshot.clone())),
            ("to_snapshot", Value::String(self.to_snapshot.clone())),
            ("changes", changes),
        ])
    }

    /// Whether anything moved: a non-zero delta or a new/resolved job (for
    /// `fabric diff --exit-code`).
    pub fn has_changes(&self) -> bool {
        let e = &self.execution_summary;
        let exec = [
            e.completed_delta,
            e.failed_delta,
            e.validation_failed_delta,
            e.total_jobs_delta,
        ];
        exec.iter().any(|d| !d.is_zero())
            || self.engine_health.values().any(|d| {
                [d.jobs_delta, d.failures_delta, d.failure_rate_delta]
                    .iter()
                    .any(|d| !d.is_zero())
            })
            || self
                .proxy_profile_stability
                .values()
                .any(|d| !d.jobs_delta.is_zero() || !d.failure_rate_delta.is_zero())
            || !self.new_non_deterministic_jobs.is_empty()
            || !self.resolved_non_deterministic_jobs.is_empty()
    }
}

/// Python `round(x, 4)`: the exact binary value rounded to 4 decimals, ties to
/// even, back to the nearest `f64`.
pub fn round4(x: f64) -> f64 {
    format!("{x:.4}").parse().unwrap_or(x)
}

/// Check that a report has the shape a diff reads (used when reading snapshots).
pub(crate) fn check_report(report: &Value) -> Result<(), SnapshotError> {
    view::read(report).map(|_| ())
}

fn invalid(snap: &FabricSnapshot, source: SnapshotError) -> DiffError {
    DiffError::InvalidReport {
        snapshot_id: snap.snapshot_id.clone(),
        source,
    }
}

/// `b - a`: integer when both are integers.
fn sub(b: Num, a: Num, path: &str) -> Result<Delta, DiffError> {
    let overflow = || DiffError::Overflow {
        path: path.to_owned(),
    };
    match (b, a) {
        (Num::Int(b), Num::Int(a)) => b.checked_sub(a).map(Delta::Int).ok_or_else(overflow),
        _ => {
            let x = b.as_f64() - a.as_f64();
            if x.is_finite() {
                Ok(Delta::Float(x))
            } else {
                Err(overflow())
            }
        }
    }
}

/// `round(b - a, 4)`; integers stay integers (Python's `round(int, 4)`).
fn rate_delta(b: Num, a: Num, path: &str) -> Result<Delta, DiffError> {
    Ok(match sub(b, a, &format!("{path}.failure_rate_delta"))? {
        Delta::Float(x) => Delta::Float(round4(x)),
        int => int,
    })
}

#[cfg(test)]
mod tests;
