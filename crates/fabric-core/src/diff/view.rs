//! Reading the diffed parts of a report document leniently where the reference is
//! lenient (missing or null is zero, a non-object engine/profile entry is empty)
//! and strictly where it would crash (a section that is not an object, a value
//! that is not a number).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::error::SnapshotError;
use crate::json::is_float_text;

/// A number read from a report: integers stay integers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    pub(super) fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(x) => x,
        }
    }
}

const ZERO: Num = Num::Int(0);
const ZERO_RATE: Num = Num::Float(0.0);

/// The diffed facts of one report.
#[derive(Debug, Default)]
pub(super) struct View<'a> {
    /// completed, failed, validation_failed, total_jobs.
    pub(super) execution: [Num; 4],
    /// engine -> jobs, failures, failure_rate.
    pub(super) engines: BTreeMap<&'a str, [Num; 3]>,
    /// profile -> jobs, failure_rate.
    pub(super) profiles: BTreeMap<&'a str, [Num; 2]>,
    pub(super) non_deterministic: BTreeSet<&'a str>,
}

impl Default for Num {
    fn default() -> Self {
        ZERO
    }
}

/// Read a snapshot's `report` (null is an empty report).
pub(super) fn read(report: &Value) -> Result<View<'_>, SnapshotError> {
    let mut view = View::default();
    let root = match report {
        Value::Null => return Ok(view),
        Value::Object(map) => map,
        _ => return Err(bad("report", "an object")),
    };
    if let Some(s) = section(root, "execution_summary")? {
        let path = "report.execution_summary";
        view.execution = [
            num(s, "completed", path, ZERO)?,
            num(s, "failed", path, ZERO)?,
            num(s, "validation_failed", path, ZERO)?,
            num(s, "total_jobs", path, ZERO)?,
        ];
    }
    if let Some(s) = section(root, "engine_health")? {
        for (engine, entry) in s {
            let path = format!("report.engine_health.{engine}");
            let values = match entry {
                Value::Object(e) => [
                    num(e, "jobs", &path, ZERO)?,
                    num(e, "failures", &path, ZERO)?,
                    num(e, "failure_rate", &path, ZERO_RATE)?,
                ],
                _ => [ZERO, ZERO, ZERO_RATE],
            };
            view.engines.insert(engine.as_str(), values);
        }
    }
    if let Some(s) = section(root, "proxy_profile_stability")? {
        for (profile, entry) in s {
            let path = format!("report.proxy_profile_stability.{profile}");
            let values = match entry {
                Value::Object(e) => [
                    num(e, "jobs", &path, ZERO)?,
                    num(e, "failure_rate", &path, ZERO_RATE)?,
                ],
                _ => [ZERO, ZERO_RATE],
            };
            view.profiles.insert(profile.as_str(), values);
        }
    }
    if let Some(s) = section(root, "determinism")? {
        match s.get("non_deterministic_jobs") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let id = item.as_str().ok_or_else(|| {
                        bad(
                            &format!("report.determinism.non_deterministic_jobs[{i}]"),
                            "a string",
                        )
                    })?;
                    view.non_deterministic.insert(id);
                }
            }
            Some(_) => {
                return Err(bad(
                    "report.determinism.non_deterministic_jobs",
                    "a list of strings",
                ));
            }
        }
    }
    Ok(view)
}

fn bad(path: &str, expected: &'static str) -> SnapshotError {
    SnapshotError::BadSection {
        path: path.to_owned(),
        expected,
    }
}

/// A top-level section: missing or null is none; anything but an object is an error.
fn section<'a>(
    root: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, SnapshotError> {
    match root.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(bad(&format!("report.{key}"), "an object")),
    }
}

/// A count or rate: missing or null is `default`; a non-number is an error.
fn num(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
    default: Num,
) -> Result<Num, SnapshotError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => {
            let text = n.as_str();
            if is_float_text(n) {
                match text.parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(Num::Float(x)),
                    _ => Err(SnapshotError::NonFiniteNumber {
                        path: format!("{path}.{key}"),
                    }),
                }
            } else {
                text.parse::<i128>()
                    .map(Num::Int)
                    .map_err(|_| bad(&format!("{path}.{key}"), "an integer within 128 bits"))
            }
        }
        Some(_) => Err(bad(&format!("{path}.{key}"), "a number")),
    }
}
