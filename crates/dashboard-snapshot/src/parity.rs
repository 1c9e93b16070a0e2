//! Parity fingerprints: SHA-256 over canonical JSON of per-component
//! digests, so a comparison names the projection or dataset that drifted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use fabric_core::json::{CanonicalWriter, canonical_sha256};

use crate::contract::SnapshotBundle;

/// The fingerprint algorithm tag.
pub const ALGORITHM: &str = "sha256-canonical-json/1";

/// The parity data stored in a bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParityReport {
    /// [`ALGORITHM`].
    pub algorithm: String,
    /// Fingerprint over identity and the projection components.
    pub bundle_fingerprint: String,
    /// `projection:<key>` -> digest.
    pub components: BTreeMap<String, String>,
}

/// `match`, `mismatch` or `not_checked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParityStatus {
    /// Every component agrees.
    Match,
    /// At least one component drifted.
    Mismatch,
    /// Nothing to compare against.
    NotChecked,
}

impl ParityStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ParityStatus::Match => "match",
            ParityStatus::Mismatch => "mismatch",
            ParityStatus::NotChecked => "not_checked",
        }
    }
}

/// One drifted component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// e.g. `dataset:student_support_list`.
    pub component: String,
    /// Digest on the expected side (`null` when absent there).
    pub expected: Option<String>,
    /// Digest on the actual side.
    pub actual: Option<String>,
}

/// Result of [`compare`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParityComparison {
    /// Overall status.
    pub status: ParityStatus,
    /// Drifted components, sorted by name.
    pub mismatches: Vec<Mismatch>,
}

impl ParityComparison {
    /// Nothing was compared.
    pub fn not_checked() -> Self {
        ParityComparison {
            status: ParityStatus::NotChecked,
            mismatches: Vec::new(),
        }
    }
}

/// Digest of one projection component: `{status, reason_code, value}`.
pub fn projection_component(
    status: &str,
    reason_code: Option<&str>,
    value: Option<&Value>,
) -> String {
    // The canonical JSON of `{reason_code, status, value}`, written directly so the
    // (possibly large) value is not cloned, and hashed in chunks as it is written
    // so it is never whole in memory.
    component(status, reason_code, |out| match value {
        Some(v) => out.value(v),
        None => out.raw("null"),
    })
}

/// SHA-256 of the canonical `{reason_code, status, value}`, `value` written by
/// `write_value`.
fn component<'a>(
    status: &str,
    reason_code: Option<&str>,
    write_value: impl FnOnce(&mut CanonicalWriter<'a>),
) -> String {
    let mut out = CanonicalWriter::sha256();
    out.raw("{\"reason_code\":");
    match reason_code {
        Some(r) => out.string(r),
        None => out.raw("null"),
    }
    out.raw(",\"status\":");
    out.string(status);
    out.raw(",\"value\":");
    write_value(&mut out);
    out.raw("}");
    out.finish_sha256()
}

/// [`projection_component`] of `student_support` held typed: the same canonical
/// JSON, the student rows written from their typed form.
fn support_component(
    status: &str,
    reason_code: Option<&str>,
    support: &crate::compact::SupportRows,
) -> String {
    component(status, reason_code, |out| support_value(out, support))
}

fn support_value<'a>(out: &mut CanonicalWriter<'a>, support: &'a crate::compact::SupportRows) {
    out.object_with(&support.skeleton, |out, key, value| {
        if key != "buckets" {
            return false;
        }
        let Value::Array(buckets) = value else {
            return false;
        };
        out.raw("[");
        for (i, bucket) in buckets.iter().enumerate() {
            if i > 0 {
                out.raw(",");
            }
            let rows = support
                .students
                .get(i)
                .map(Vec::as_slice)
                .unwrap_or_default();
            out.object_with(bucket, |out, key, _| {
                if key != "students" {
                    return false;
                }
                out.raw("[");
                for (j, row) in rows.iter().enumerate() {
                    if j > 0 {
                        out.raw(",");
                    }
                    row.write_canonical(out);
                }
                out.raw("]");
                true
            });
        }
        out.raw("]");
        true
    });
}

/// Digest of one dataset component: `{status, reason_code, sha256}`.
pub fn dataset_component(status: &str, reason_code: Option<&str>, sha256: Option<&str>) -> String {
    digest(&json!({"status": status, "reason_code": reason_code, "sha256": sha256}))
}

fn digest(value: &Value) -> String {
    canonical_sha256(value)
}

/// `projection:<key>` components of a bundle, from its content.
pub fn projection_components(bundle: &SnapshotBundle) -> BTreeMap<String, String> {
    bundle
        .projection_statuses
        .iter()
        .map(|(key, status)| {
            let typed = bundle
                .support_rows()
                .filter(|_| key == crate::compact::SUPPORT);
            let reason = status.reason_code.map(|r| r.as_str());
            let d = match typed {
                Some(support) => support_component(status.status.as_str(), reason, support),
                None => projection_component(
                    status.status.as_str(),
                    reason,
                    bundle.projections.get(key),
                ),
            };
            (format!("projection:{key}"), d)
        })
        .collect()
}

fn identity(bundle: &SnapshotBundle) -> Value {
    let s = &bundle.snapshot;
    json!({
        "algorithm": ALGORITHM,
        "request_token": s.request_token,
        "snapshot_version": s.snapshot_version,
        "projection_version": s.projection_version,
        "scope": {
            "context_type": s.scope.context.context_type,
            "context_id": s.scope.context.id.get(),
            "container_type": s.scope.container.type_name(),
            "container_id": s.scope.container.id(),
        },
    })
}

/// Recompute the bundle's parity report from its content.
pub fn bundle_report(bundle: &SnapshotBundle) -> ParityReport {
    let components = projection_components(bundle);
    let mut doc = identity(bundle);
    if let Value::Object(map) = &mut doc {
        map.insert("components".into(), json!(components));
    }
    ParityReport {
        algorithm: ALGORITHM.to_owned(),
        bundle_fingerprint: digest(&doc),
        components,
    }
}

/// The export fingerprint: identity, profile, projection and dataset components.
pub fn export_fingerprint(
    bundle: &SnapshotBundle,
    profile: &str,
    components: &BTreeMap<String, String>,
) -> String {
    let mut doc = identity(bundle);
    if let Value::Object(map) = &mut doc {
        map.insert("export_profile".into(), Value::from(profile));
        map.insert("components".into(), json!(components));
    }
    digest(&doc)
}

/// Compare two component maps key by key; a component on one side only is a
/// mismatch with `null` on the other.
pub fn compare(
    expected: &BTreeMap<String, String>,
    actual: &BTreeMap<String, String>,
) -> ParityComparison {
    let mut names: Vec<&String> = expected.keys().chain(actual.keys()).collect();
    names.sort();
    names.dedup();
    let mismatches: Vec<Mismatch> = names
        .into_iter()
        .filter_map(|name| {
            let (e, a) = (expected.get(name), actual.get(name));
            (e != a).then(|| Mismatch {
                component: name.clone(),
                expected: e.cloned(),
                actual: a.cloned(),
            })
        })
        .collect();
    ParityComparison {
        status: if mismatches.is_empty() {
            ParityStatus::Match
        } else {
            ParityStatus::Mismatch
        },
        mismatches,
    }
}
