//! Parity fingerprints: SHA-256 over canonical JSON of per-component
//! digests, so a comparison names the projection or dataset that drifted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use fabric_core::json::{sha256_hex, to_canonical_string, write_ascii_string, write_canonical};
use sha2::{Digest, Sha256};

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
        Some(v) => out.canonical(v),
        None => out.buf.push_str("null"),
    })
}

/// SHA-256 of the canonical `{reason_code, status, value}`, `value` written by
/// `write_value`.
fn component(
    status: &str,
    reason_code: Option<&str>,
    write_value: impl FnOnce(&mut Chunked),
) -> String {
    let mut out = Chunked::default();
    out.buf.push_str("{\"reason_code\":");
    match reason_code {
        Some(r) => write_ascii_string(&mut out.buf, r),
        None => out.buf.push_str("null"),
    }
    out.buf.push_str(",\"status\":");
    write_ascii_string(&mut out.buf, status);
    out.buf.push_str(",\"value\":");
    write_value(&mut out);
    out.buf.push('}');
    out.finish()
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

fn support_value(out: &mut Chunked, support: &crate::compact::SupportRows) {
    out.object(&support.skeleton, |out, key, value| {
        if key != "buckets" {
            return false;
        }
        let Value::Array(buckets) = value else {
            return false;
        };
        out.buf.push('[');
        for (i, bucket) in buckets.iter().enumerate() {
            if i > 0 {
                out.buf.push(',');
            }
            let rows = support
                .students
                .get(i)
                .map(Vec::as_slice)
                .unwrap_or_default();
            out.object(bucket, |out, key, _| {
                if key != "students" {
                    return false;
                }
                out.buf.push('[');
                for (j, row) in rows.iter().enumerate() {
                    if j > 0 {
                        out.buf.push(',');
                    }
                    row.write_canonical(&mut out.buf);
                    out.flush_if_full();
                }
                out.buf.push(']');
                true
            });
        }
        out.buf.push(']');
        true
    });
}

/// Canonical JSON (as `write_canonical` spells it) fed to SHA-256 a chunk at a time.
#[derive(Default)]
struct Chunked {
    buf: String,
    hasher: Sha256,
}

impl Chunked {
    const CHUNK: usize = 1 << 16;

    fn canonical(&mut self, value: &Value) {
        match value {
            Value::Array(items) => {
                self.buf.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(',');
                    }
                    self.canonical(item);
                }
                self.buf.push(']');
            }
            Value::Object(_) => self.object(value, |_, _, _| false),
            scalar => write_canonical(&mut self.buf, scalar),
        }
        self.flush_if_full();
    }

    /// An object in canonical form; `special(out, key, value)` may write an
    /// entry's value itself (returning true), else it is written canonically.
    fn object(&mut self, value: &Value, special: impl Fn(&mut Self, &str, &Value) -> bool) {
        let Value::Object(map) = value else {
            self.canonical(value);
            return;
        };
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        self.buf.push('{');
        for (i, (key, item)) in entries.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            write_ascii_string(&mut self.buf, key);
            self.buf.push(':');
            if !special(self, key, item) {
                self.canonical(item);
            }
        }
        self.buf.push('}');
    }

    fn flush_if_full(&mut self) {
        if self.buf.len() >= Self::CHUNK {
            self.hasher.update(self.buf.as_bytes());
            self.buf.clear();
        }
    }

    fn finish(mut self) -> String {
        self.hasher.update(self.buf.as_bytes());
        hex::encode(self.hasher.finalize())
    }
}

/// Digest of one dataset component: `{status, reason_code, sha256}`.
pub fn dataset_component(status: &str, reason_code: Option<&str>, sha256: Option<&str>) -> String {
    digest(&json!({"status": status, "reason_code": reason_code, "sha256": sha256}))
}

fn digest(value: &Value) -> String {
    sha256_hex(to_canonical_string(value).as_bytes())
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
