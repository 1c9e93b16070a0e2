//! Content-addressed snapshots of a report.
//!
//! `snapshot_id` = SHA-256 of the canonical JSON of the report minus its
//! top-level `generated_at`: keys sorted at every depth, no whitespace,
//! ASCII-escaped strings, integers as written, floats in Python repr.
//!
//! ```
//! use fabric_core::snapshot::{snapshot_id, FabricSnapshot};
//! use fabric_core::timestamp::Timestamp;
//!
//! let a: serde_json::Value = serde_json::from_str(r#"{"generated_at": "x", "b": 1, "a": 0.5}"#).unwrap();
//! let b: serde_json::Value = serde_json::from_str(r#"{"a": 0.50, "b": 1}"#).unwrap();
//! assert_eq!(snapshot_id(&a).unwrap(), snapshot_id(&b).unwrap());
//!
//! let at = Timestamp::parse("2025-01-01T00:00:00Z").unwrap();
//! let snap = FabricSnapshot::create_from_report(a, &at).unwrap();
//! let back = FabricSnapshot::from_json(&snap.to_json()).unwrap();
//! assert_eq!(back, snap);
//! ```

mod typed;

use serde_json::{Map, Value};

use crate::diff;
use crate::error::{Result, SnapshotError};
use crate::json::writer as canonical;
use crate::report::FabricReport;
use crate::timestamp::Timestamp;

/// The top-level report key left out of the hash.
const GENERATED_AT: &str = "generated_at";

/// The `snapshot_id` of a report document. The report must be an
/// object without NaN or infinite numbers.
pub fn snapshot_id(report: &Value) -> Result<String> {
    let mut writer = canonical::Writer::hashing();
    write_report(&mut writer, report)?;
    Ok(writer.finish_hash())
}

/// The exact bytes [`snapshot_id`] hashes: the canonical JSON of the report
/// without its top-level `generated_at`.
pub fn canonical_report_bytes(report: &Value) -> Result<Vec<u8>> {
    let mut writer = canonical::Writer::bytes();
    write_report(&mut writer, report)?;
    Ok(writer.into_bytes())
}

fn write_report<'a>(writer: &mut canonical::Writer<'a>, report: &'a Value) -> Result<()> {
    if !report.is_object() {
        return Err(SnapshotError::NotAnObject {
            what: "report".to_owned(),
        }
        .into());
    }
    writer
        .value_without(report, Some(GENERATED_AT))
        .map_err(|canonical::NonFinite| {
            let path = find_non_finite(report, "report").unwrap_or_else(|| "report".to_owned());
            SnapshotError::NonFiniteNumber { path }.into()
        })
}

/// The path of the first NaN/infinite number in `value`.
fn find_non_finite(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::Number(n) if !crate::json::is_finite_number(n) => Some(path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_non_finite(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, v)| find_non_finite(v, &format!("{path}.{k}"))),
        _ => None,
    }
}

impl FabricReport {
    /// The `snapshot_id` of this report's `export_json` document, computed
    /// straight from the typed report (no JSON tree is built): equal to
    /// [`snapshot_id`] of `self.export_json(t)` for every `t`.
    pub fn snapshot_id(&self) -> String {
        let mut writer = canonical::Writer::hashing();
        typed::write_report(&mut writer, self);
        writer.finish_hash()
    }

    /// The bytes [`FabricReport::snapshot_id`] hashes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4096);
        typed::write_report(&mut out, self);
        out
    }
}

/// An immutable capture of a report: its id, when it was taken, and the
/// report document exactly as captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FabricSnapshot {
    /// SHA-256 of the report's canonical JSON (without `generated_at`).
    pub snapshot_id: String,
    /// When the snapshot was created (informational, not hashed).
    pub generated_at: String,
    /// The report document as captured, including its own `generated_at`.
    pub report: Value,
}

impl FabricSnapshot {
    /// Snapshot a computed report: its `export_json(generated_at)` document, the
    /// id computed from the typed report (same bytes, faster).
    pub fn create(report: &FabricReport, generated_at: &Timestamp) -> Self {
        FabricSnapshot {
            snapshot_id: report.snapshot_id(),
            generated_at: generated_at.to_string(),
            report: report.export_json(generated_at),
        }
    }

    /// Snapshot a report document taken as is, whatever its keys (it must be an
    /// object without NaN or infinite numbers).
    pub fn create_from_report(report: Value, generated_at: &Timestamp) -> Result<Self> {
        let snapshot_id = snapshot_id(&report)?;
        Ok(FabricSnapshot {
            snapshot_id,
            generated_at: generated_at.to_string(),
            report,
        })
    }

    /// The snapshot document: `snapshot_id`, `generated_at`, `report`, in that order.
    pub fn to_json(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("snapshot_id".into(), self.snapshot_id.clone().into());
        doc.insert("generated_at".into(), self.generated_at.clone().into());
        doc.insert("report".into(), self.report.clone());
        Value::Object(doc)
    }

    /// Read a snapshot document, verifying that `snapshot_id` is the hash of its
    /// report and that the diffed report sections have the types a diff reads
    pub fn from_json(doc: &Value) -> Result<Self> {
        let Value::Object(obj) = doc else {
            return Err(SnapshotError::NotAnObject {
                what: "snapshot".to_owned(),
            }
            .into());
        };
        let text = |key: &'static str| -> Result<String, SnapshotError> {
            obj.get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(SnapshotError::BadKey {
                    key,
                    expected: "a string",
                })
        };
        let found = text("snapshot_id")?;
        let generated_at = text("generated_at")?;
        let report = match obj.get("report") {
            Some(report @ Value::Object(_)) => report.clone(),
            _ => {
                return Err(SnapshotError::BadKey {
                    key: "report",
                    expected: "an object",
                }
                .into());
            }
        };
        let expected = snapshot_id(&report)?;
        if expected != found {
            return Err(SnapshotError::IdMismatch { expected, found }.into());
        }
        diff::check_report(&report)?;
        Ok(FabricSnapshot {
            snapshot_id: found,
            generated_at,
            report,
        })
    }
}

#[cfg(test)]
mod tests;
