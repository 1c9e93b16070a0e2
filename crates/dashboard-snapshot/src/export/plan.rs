//! The pre-flight plan: every dataset's policy decision (and a dry run of its
//! serializer) before a single byte is written. A fatal plan lists every blocking
//! dataset with its reason code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CountingSink, DatasetSpec, ExportContext, FailurePolicy, Registry};
use crate::contract::{Readiness, SnapshotBundle};
use crate::error::{Error, Result};
use crate::parity;
use crate::reason::ExportReason;

/// State of one projection as a dataset sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectionState {
    /// Readiness (`unavailable` when it has no status or no value).
    pub status: Readiness,
    /// The projection's reason code.
    pub reason_code: Option<String>,
}

/// What happens to one dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetDecision {
    /// Written.
    Include,
    /// Left out, listed in the manifest.
    Exclude(ExportReason),
}

/// One dataset of the plan.
#[derive(Debug, Clone)]
pub struct PlannedDataset {
    /// The spec.
    pub spec: DatasetSpec,
    /// Include or exclude.
    pub decision: DatasetDecision,
    /// Worst state of the required projections (`ready` when none).
    pub projection_state: Readiness,
    /// Required projections' states.
    pub required: BTreeMap<String, ProjectionState>,
    /// Optional projections' states (recorded, never blocking).
    pub optional: BTreeMap<String, ProjectionState>,
}

/// The decided plan (no fatal dataset).
#[derive(Debug, Clone)]
pub struct ExportPlan {
    /// Profile name.
    pub profile: String,
    /// Datasets in ZIP order.
    pub datasets: Vec<PlannedDataset>,
    /// The projection digests `plan_export` computed to check the bundle, with
    /// the fingerprint they gave (reused by the ZIP writer for that bundle).
    pub(crate) checked: Option<(String, BTreeMap<String, String>)>,
}

/// A projection that blocks a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockingProjection {
    /// Projection key.
    pub projection: String,
    /// Its state.
    pub status: Readiness,
    /// Its reason code.
    pub reason_code: Option<String>,
}

/// A dataset that makes the export fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocking {
    /// Dataset id.
    pub dataset_id: String,
    /// Export reason code.
    pub reason_code: ExportReason,
    /// The projections behind it (empty for a serializer error).
    pub projections: Vec<BlockingProjection>,
    /// Serializer message, if that was the cause.
    pub message: Option<String>,
}

/// A deterministic export failure: the first blocking dataset in registry order is
/// the primary reason; `blocking` lists them all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportFailure {
    /// Profile name.
    pub export_profile: String,
    /// Primary reason code.
    pub reason_code: ExportReason,
    /// Primary dataset.
    pub dataset_id: String,
    /// Every blocking dataset.
    pub blocking: Vec<Blocking>,
}

impl std::fmt::Display for Blocking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: dataset {}", self.reason_code, self.dataset_id)?;
        if let Some(p) = self.projections.first() {
            write!(
                f,
                " requires {} ({}/{})",
                p.projection,
                p.status.as_str(),
                p.reason_code.as_deref().unwrap_or("none")
            )?;
        }
        if let Some(m) = &self.message {
            write!(f, " ({m})")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for ExportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.blocking.first() {
            Some(b) => b.fmt(f),
            None => write!(f, "{}: dataset {}", self.reason_code, self.dataset_id),
        }
    }
}

fn state(bundle: &SnapshotBundle, key: &str) -> ProjectionState {
    match bundle.projection_statuses.get(key) {
        Some(s) if s.status.is_usable() && !bundle.projections.contains_key(key) => {
            ProjectionState {
                status: Readiness::Unavailable,
                reason_code: s.reason_code.map(|r| r.as_str().to_owned()),
            }
        }
        Some(s) => ProjectionState {
            status: s.status,
            reason_code: s.reason_code.map(|r| r.as_str().to_owned()),
        },
        None => ProjectionState {
            status: Readiness::Unavailable,
            reason_code: None,
        },
    }
}

impl Readiness {
    fn is_usable(self) -> bool {
        matches!(self, Readiness::Ready | Readiness::Partial)
    }

    fn severity(self) -> u8 {
        match self {
            Readiness::Ready => 0,
            Readiness::Partial => 1,
            Readiness::Failed => 2,
            Readiness::Unavailable => 3,
        }
    }
}

/// The policy table : `Ok(decision)` or `Err(fatal reason)`.
fn decide(
    policy: FailurePolicy,
    worst: Readiness,
) -> std::result::Result<DatasetDecision, ExportReason> {
    use FailurePolicy as P;
    use Readiness as R;
    match (worst, policy) {
        (R::Ready, _) | (R::Partial, P::AcceptPartial | P::AllowPartialWithManifest) => {
            Ok(DatasetDecision::Include)
        }
        (R::Partial, P::FailClosed) => Err(ExportReason::RequiredProjectionPartial),
        (R::Failed | R::Unavailable, P::AllowPartialWithManifest) => Ok(DatasetDecision::Exclude(
            ExportReason::DatasetPolicyExcluded,
        )),
        (R::Failed, _) => Err(ExportReason::RequiredProjectionFailed),
        (R::Unavailable, _) => Err(ExportReason::RequiredProjectionUnavailable),
    }
}

/// Evaluate every dataset of `profile` without checking the bundle's fingerprint:
/// the plan and the list of blocking datasets.
pub(crate) fn evaluate(
    reg: &Registry,
    bundle: &SnapshotBundle,
    profile: &str,
) -> Result<(ExportPlan, Vec<Blocking>)> {
    let ctx = ExportContext::new(bundle);
    let mut datasets = Vec::new();
    let mut blocking = Vec::new();
    for spec in reg.datasets_for(profile)? {
        let required: BTreeMap<String, ProjectionState> = spec
            .required_projections
            .iter()
            .map(|k| ((*k).to_owned(), state(bundle, k)))
            .collect();
        let optional: BTreeMap<String, ProjectionState> = spec
            .optional_projections
            .iter()
            .map(|k| ((*k).to_owned(), state(bundle, k)))
            .collect();
        let worst = required
            .values()
            .map(|s| s.status)
            .max_by_key(|s| s.severity())
            .unwrap_or(Readiness::Ready);
        let mut decision = decide(spec.failure_policy, worst);
        let mut message = None;
        if decision == Ok(DatasetDecision::Include)
            && let Err(e) = spec
                .serializer
                .write_rows(&ctx, &mut CountingSink::default())
        {
            message = Some(e.to_string());
            decision = match spec.failure_policy {
                FailurePolicy::AllowPartialWithManifest => {
                    Ok(DatasetDecision::Exclude(ExportReason::SerializerError))
                }
                _ => Err(ExportReason::SerializerError),
            };
        }
        let decision = match decision {
            Ok(d) => d,
            Err(reason_code) => {
                let projections = required
                    .iter()
                    .filter(|(_, s)| s.status != Readiness::Ready)
                    .map(|(k, s)| BlockingProjection {
                        projection: k.clone(),
                        status: s.status,
                        reason_code: s.reason_code.clone(),
                    })
                    .collect();
                blocking.push(Blocking {
                    dataset_id: spec.dataset_id.to_owned(),
                    reason_code,
                    projections: if reason_code == ExportReason::SerializerError {
                        Vec::new()
                    } else {
                        projections
                    },
                    message,
                });
                DatasetDecision::Exclude(reason_code)
            }
        };
        datasets.push(PlannedDataset {
            spec: spec.clone(),
            decision,
            projection_state: worst,
            required,
            optional,
        });
    }
    Ok((
        ExportPlan {
            profile: profile.to_owned(),
            datasets,
            checked: None,
        },
        blocking,
    ))
}

/// Check the bundle's fingerprint, then decide every dataset. Any fatal dataset
/// makes the whole export fail (`Error::ExportBlocked`), listing all of them.
pub fn plan_export(reg: &Registry, bundle: &SnapshotBundle, profile: &str) -> Result<ExportPlan> {
    let computed = parity::bundle_report(bundle);
    if computed.bundle_fingerprint != bundle.parity.bundle_fingerprint {
        return Err(Error::BundleTampered {
            stored: bundle.parity.bundle_fingerprint.clone(),
            computed: computed.bundle_fingerprint,
        });
    }
    let (mut plan, blocking) = evaluate(reg, bundle, profile)?;
    plan.checked = Some((computed.bundle_fingerprint, computed.components));
    match blocking.first() {
        None => Ok(plan),
        Some(first) => Err(Error::ExportBlocked(Box::new(ExportFailure {
            export_profile: profile.to_owned(),
            reason_code: first.reason_code,
            dataset_id: first.dataset_id.clone(),
            blocking,
        }))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy table, cell by cell.
    #[test]
    fn policy_table() {
        use DatasetDecision::{Exclude, Include};
        use ExportReason as E;
        use FailurePolicy as P;
        use Readiness as R;
        let table = [
            (R::Ready, P::FailClosed, Ok(Include)),
            (R::Ready, P::AcceptPartial, Ok(Include)),
            (R::Ready, P::AllowPartialWithManifest, Ok(Include)),
            (R::Partial, P::FailClosed, Err(E::RequiredProjectionPartial)),
            (R::Partial, P::AcceptPartial, Ok(Include)),
            (R::Partial, P::AllowPartialWithManifest, Ok(Include)),
            (R::Failed, P::FailClosed, Err(E::RequiredProjectionFailed)),
            (
                R::Failed,
                P::AcceptPartial,
                Err(E::RequiredProjectionFailed),
            ),
            (
                R::Failed,
                P::AllowPartialWithManifest,
                Ok(Exclude(E::DatasetPolicyExcluded)),
            ),
            (
                R::Unavailable,
                P::FailClosed,
                Err(E::RequiredProjectionUnavailable),
            ),
            (
                R::Unavailable,
                P::AcceptPartial,
                Err(E::RequiredProjectionUnavailable),
            ),
            (
                R::Unavailable,
                P::AllowPartialWithManifest,
                Ok(Exclude(E::DatasetPolicyExcluded)),
            ),
        ];
        for (worst, policy, expected) in table {
            assert_eq!(
                decide(policy, worst),
                expected,
                "{worst:?} under {policy:?}"
            );
        }
    }

    #[test]
    fn worst_state_order() {
        let mut states = [
            Readiness::Partial,
            Readiness::Unavailable,
            Readiness::Ready,
            Readiness::Failed,
        ];
        states.sort_by_key(|s| s.severity());
        assert_eq!(
            states,
            [
                Readiness::Ready,
                Readiness::Partial,
                Readiness::Failed,
                Readiness::Unavailable
            ]
        );
    }
}
