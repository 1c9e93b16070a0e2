//! The projection framework: the `Projection` trait, the registry of
//! projections, and `derive_all` with the status decision table. Each projection is
//! isolated: an error or a panic (caught with `catch_unwind`) fails that projection
//! only.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::compact::SupportRows;
use crate::contract::{OracleState, OracleStatus, ProjectionStatus, Readiness, Scope, Snapshot};
use crate::error::{Error, Result};
use crate::payload::Payload;
use crate::reason::ProjectionReason;
use crate::telemetry::{Outcome, Telemetry, TelemetryEvent, elapsed_ms};

/// One capability projection over the snapshot's oracle payloads.
pub trait Projection: Send + Sync {
    /// The capability key, e.g. `progress`.
    fn key(&self) -> &'static str;
    /// Oracles without which the projection has no value.
    fn required_oracles(&self) -> &'static [&'static str];
    /// Oracles that enrich the value; missing ones make it `partial`.
    fn optional_oracles(&self) -> &'static [&'static str];
    /// Called only when every required oracle is ready. `input.optional` holds the
    /// ready optional payloads.
    fn derive(&self, input: &ProjectionInput<'_>) -> Result<Derived, DeriveError>;
    /// [`Projection::derive`] with the value's large row lists typed instead of
    /// JSON (the instructor `student_support` has them: its buckets' `students`
    /// are then empty arrays in the JSON). By default the JSON value alone.
    fn derive_rows(
        &self,
        input: &ProjectionInput<'_>,
    ) -> Result<(Derived, Option<SupportRows>), DeriveError> {
        Ok((self.derive(input)?, None))
    }
}

/// Ready payloads by oracle key.
#[derive(Debug, Clone, Default)]
pub struct OracleView<'a> {
    payloads: BTreeMap<&'a str, (&'a Payload, OnceCell<Value>)>,
}

impl<'a> OracleView<'a> {
    /// The payload of `key` as a JSON tree, if ready (built on first use; a
    /// large payload is better read through [`OracleView::payload`]).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.payloads
            .get(key)
            .map(|(payload, tree)| tree.get_or_init(|| payload.to_value()))
    }

    /// The payload of `key` as JSON text, if ready.
    pub fn payload(&self, key: &str) -> Option<&'a Payload> {
        self.payloads.get(key).map(|(payload, _)| *payload)
    }
}

/// What a projection sees.
#[derive(Debug)]
pub struct ProjectionInput<'a> {
    /// Scope, including the filters every projection honours.
    pub scope: &'a Scope,
    /// The request token.
    pub request_token: &'a str,
    /// Required payloads (all ready).
    pub required: OracleView<'a>,
    /// Ready optional payloads.
    pub optional: OracleView<'a>,
    /// Every oracle status.
    pub oracle_statuses: &'a BTreeMap<String, OracleStatus>,
}

/// A projection's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Derived {
    /// Everything was there.
    Complete(Value),
    /// A value, knowingly incomplete.
    Degraded {
        /// The value.
        value: Value,
        /// What is missing.
        message: String,
    },
}

/// Why a projection has no value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeriveError {
    /// A payload has the wrong shape or an out-of-range value.
    #[error("oracle {oracle} at {pointer}: {message}")]
    InvalidData {
        /// The oracle key.
        oracle: String,
        /// JSON pointer into the payload.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// Any other failure.
    #[error("{0}")]
    Failed(String),
}

/// The registered projections, in registry order.
#[derive(Clone, Default)]
pub struct ProjectionSet {
    projections: Vec<Arc<dyn Projection>>,
}

impl std::fmt::Debug for ProjectionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.projections.iter().map(|p| p.key()))
            .finish()
    }
}

impl ProjectionSet {
    /// A set from `projections`; keys must be unique.
    pub fn new(projections: Vec<Arc<dyn Projection>>) -> Result<Self> {
        let mut seen = BTreeSet::new();
        for p in &projections {
            if !seen.insert(p.key()) {
                return Err(Error::Registry(format!(
                    "projection {} registered twice",
                    p.key()
                )));
            }
        }
        Ok(ProjectionSet { projections })
    }

    /// The default instructor set: summary, progress, student_support, assessments,
    /// challenging_objectives.
    pub fn instructor() -> Self {
        ProjectionSet {
            projections: crate::instructor::all(),
        }
    }

    /// Keys in registry order.
    pub fn keys(&self) -> Vec<&'static str> {
        self.projections.iter().map(|p| p.key()).collect()
    }

    /// The projection registered under `key` (`unsupported_projection` otherwise).
    pub fn get(&self, key: &str) -> Result<&Arc<dyn Projection>> {
        self.projections
            .iter()
            .find(|p| p.key() == key)
            .ok_or_else(|| Error::UnknownProjection {
                key: key.to_owned(),
            })
    }

    /// Every oracle a projection declares (required or optional), sorted.
    pub fn all_oracles(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self
            .projections
            .iter()
            .flat_map(|p| p.required_oracles().iter().chain(p.optional_oracles()))
            .copied()
            .collect();
        set.into_iter().map(str::to_owned).collect()
    }

    /// Derive every projection independently.
    pub fn derive_all(
        &self,
        snapshot: &Snapshot,
        telemetry: &Telemetry<'_>,
    ) -> (BTreeMap<String, Value>, BTreeMap<String, ProjectionStatus>) {
        let (values, statuses, _) = self.derive_all_with(snapshot, telemetry, false);
        (values, statuses)
    }

    /// [`ProjectionSet::derive_all`]; with `typed`, row lists a projection holds
    /// typed stay typed (the JSON value then has them as empty arrays).
    pub(crate) fn derive_all_with(
        &self,
        snapshot: &Snapshot,
        telemetry: &Telemetry<'_>,
        typed: bool,
    ) -> (
        BTreeMap<String, Value>,
        BTreeMap<String, ProjectionStatus>,
        Option<SupportRows>,
    ) {
        let mut values = BTreeMap::new();
        let mut statuses = BTreeMap::new();
        let mut rows = None;
        for p in &self.projections {
            let (value, status, held) = derive_with(p.as_ref(), snapshot, telemetry, typed);
            if let Some(value) = value {
                values.insert(p.key().to_owned(), value);
            }
            if held.is_some() {
                rows = held;
            }
            statuses.insert(p.key().to_owned(), status);
        }
        (values, statuses, rows)
    }

    /// Derive one projection by key.
    pub fn derive(
        &self,
        snapshot: &Snapshot,
        key: &str,
        telemetry: &Telemetry<'_>,
    ) -> Result<(Option<Value>, ProjectionStatus)> {
        Ok(derive_one(self.get(key)?.as_ref(), snapshot, telemetry))
    }
}

/// Derive `projection` from `snapshot`, applying the status table.
pub fn derive_one(
    projection: &dyn Projection,
    snapshot: &Snapshot,
    telemetry: &Telemetry<'_>,
) -> (Option<Value>, ProjectionStatus) {
    let (value, status, _) = derive_with(projection, snapshot, telemetry, false);
    (value, status)
}

fn derive_with(
    projection: &dyn Projection,
    snapshot: &Snapshot,
    telemetry: &Telemetry<'_>,
    typed: bool,
) -> (Option<Value>, ProjectionStatus, Option<SupportRows>) {
    let start = std::time::Instant::now();
    let ((value, status, error_type), rows) = decide(projection, snapshot, typed);
    let oracle_count = projection.required_oracles().len() + projection.optional_oracles().len();
    let status_str = status.status.as_str();
    let reason = status.reason_code.map(ProjectionReason::as_str);
    telemetry.emit(TelemetryEvent::ProjectionStop {
        duration_ms: elapsed_ms(start),
        capability_key: projection.key(),
        status: status_str,
        outcome: if value.is_some() {
            Outcome::Ok
        } else {
            Outcome::Error
        },
        reason_code: reason,
        error_type,
        oracle_count,
    });
    telemetry.emit(TelemetryEvent::ProjectionStatus {
        capability_key: projection.key(),
        status: status_str,
        reason_code: reason,
    });
    (value, status, rows)
}

fn state_of(snapshot: &Snapshot, key: &str) -> Option<OracleState> {
    let status = snapshot.oracle_statuses.get(key)?.status;
    if status == OracleState::Ready && !snapshot.oracles.contains_key(key) {
        return Some(OracleState::Unavailable);
    }
    Some(status)
}

type Decision = (Option<Value>, ProjectionStatus, Option<&'static str>);

/// The decision, and the typed rows when `typed` and the projection has them
/// (else they are put back into the value).
fn decide(
    projection: &dyn Projection,
    snapshot: &Snapshot,
    typed: bool,
) -> (Decision, Option<SupportRows>) {
    let mut rows = None;
    let decision = decide_value(projection, snapshot, &mut rows);
    match (decision, rows) {
        ((Some(value), status, e), Some(held)) if !typed => {
            let full = SupportRows {
                skeleton: value,
                students: held.students,
            };
            ((Some(full.to_value()), status, e), None)
        }
        ((Some(value), status, e), Some(held)) => {
            let rows = SupportRows {
                skeleton: value.clone(),
                students: held.students,
            };
            ((Some(value), status, e), Some(rows))
        }
        (decision, _) => (decision, None),
    }
}

fn decide_value(
    projection: &dyn Projection,
    snapshot: &Snapshot,
    rows: &mut Option<SupportRows>,
) -> Decision {
    let required = projection.required_oracles();
    let failed: Vec<String> = required
        .iter()
        .filter(|k| state_of(snapshot, k) == Some(OracleState::Failed))
        .map(|k| (*k).to_owned())
        .collect();
    if !failed.is_empty() {
        let s = ProjectionStatus::not_ready(
            Readiness::Failed,
            ProjectionReason::DependencyFailed,
            sorted(failed),
            None,
        );
        return (None, s, None);
    }
    let missing: Vec<String> = required
        .iter()
        .filter(|k| state_of(snapshot, k) != Some(OracleState::Ready))
        .map(|k| (*k).to_owned())
        .collect();
    if !missing.is_empty() {
        let s = ProjectionStatus::not_ready(
            Readiness::Unavailable,
            ProjectionReason::MissingOraclePayload,
            sorted(missing),
            None,
        );
        return (None, s, None);
    }
    let view = |keys: &[&'static str]| OracleView {
        payloads: keys
            .iter()
            .filter_map(|k| snapshot.oracles.get(*k).map(|v| (*k, (v, OnceCell::new()))))
            .collect(),
    };
    let input = ProjectionInput {
        scope: &snapshot.scope,
        request_token: &snapshot.request_token,
        required: view(required),
        optional: view(projection.optional_oracles()),
        oracle_statuses: &snapshot.oracle_statuses,
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| projection.derive_rows(&input)));
    let (value, degraded) = match outcome {
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "projection panicked".to_owned());
            let s = ProjectionStatus::not_ready(
                Readiness::Failed,
                ProjectionReason::ProjectionDerivationFailed,
                Vec::new(),
                Some(format!("panic: {message}")),
            );
            return (None, s, Some("panic"));
        }
        Ok(Err(e @ DeriveError::InvalidData { .. })) => {
            let s = ProjectionStatus::not_ready(
                Readiness::Failed,
                ProjectionReason::InvalidProjectionData,
                Vec::new(),
                Some(e.to_string()),
            );
            return (None, s, Some("invalid_data"));
        }
        Ok(Err(DeriveError::Failed(message))) => {
            let s = ProjectionStatus::not_ready(
                Readiness::Failed,
                ProjectionReason::ProjectionDerivationFailed,
                Vec::new(),
                Some(message),
            );
            return (None, s, Some("error"));
        }
        Ok(Ok((derived, held))) => {
            *rows = held;
            match derived {
                Derived::Complete(value) => (value, None),
                Derived::Degraded { value, message } => (value, Some(message)),
            }
        }
    };
    let value = with_header(projection.key(), snapshot, value);
    let optional_missing: Vec<String> = projection
        .optional_oracles()
        .iter()
        .filter(|k| state_of(snapshot, k) != Some(OracleState::Ready))
        .map(|k| (*k).to_owned())
        .collect();
    if optional_missing.is_empty() && degraded.is_none() {
        return (Some(value), ProjectionStatus::ready(), None);
    }
    let s = ProjectionStatus::not_ready(
        Readiness::Partial,
        ProjectionReason::DependencyUnavailable,
        sorted(optional_missing),
        degraded,
    );
    (Some(value), s, None)
}

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys.dedup();
    keys
}

fn with_header(key: &str, snapshot: &Snapshot, value: Value) -> Value {
    let mut out = Map::new();
    out.insert("capability".into(), Value::from(key));
    out.insert(
        "request_token".into(),
        Value::from(snapshot.request_token.as_str()),
    );
    out.insert(
        "snapshot_version".into(),
        Value::from(snapshot.snapshot_version),
    );
    out.insert(
        "projection_version".into(),
        Value::from(snapshot.projection_version),
    );
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.entry(k).or_insert(v);
            }
        }
        other => {
            out.insert("value".into(), other);
        }
    }
    Value::Object(out)
}
