//! How chain results are printed: JSON documents (with the compression saving)
//! and the human lines.

use serde_json::{Value, json};

use fabric_core::chain::{Comparison, VersionSummary, saving};
use fabric_core::json::py_float;
use fabric_store::chain::StoredVersion;

use crate::error::CliError;

pub fn to_json(value: &impl serde::Serialize) -> Result<Value, CliError> {
    serde_json::to_value(value).map_err(|e| CliError::Output {
        path: "<stdout>".into(),
        source: std::io::Error::other(e),
    })
}

pub fn pretty(value: &Value) -> Result<String, CliError> {
    serde_json::to_string_pretty(value).map_err(|e| CliError::Output {
        path: "<stdout>".into(),
        source: std::io::Error::other(e),
    })
}

/// The share saved by compression, rounded to 4 decimals, as a JSON float.
pub fn saving_json(data: u64, stored: u64) -> Value {
    py_float((saving(data, stored) * 10_000.0).round() / 10_000.0)
        .map_or(Value::Null, Value::Number)
}

pub fn with_saving(
    item: Result<Value, CliError>,
    data: u64,
    stored: u64,
) -> Result<Value, CliError> {
    let mut item = item?;
    if let Value::Object(map) = &mut item {
        map.insert("saving".into(), saving_json(data, stored));
    }
    Ok(item)
}

pub fn storage(data: u64, stored: u64) -> Value {
    json!({"data_size": data, "stored_size": stored, "saving": saving_json(data, stored)})
}

pub fn sizes(data: u64, stored: u64) -> String {
    format!(
        "{data} B canonical, {stored} B stored ({:.1}% saved)",
        saving(data, stored) * 100.0
    )
}

pub fn summary_line(v: &VersionSummary) -> String {
    let mut line = format!(
        "{}@{}{}  created {} by {}  parent {}  {}",
        v.key,
        v.version,
        if v.is_active { " (active)" } else { "" },
        v.created_at,
        v.created_by,
        v.parent_version
            .map_or_else(|| "-".to_owned(), |p| p.to_string()),
        sizes(v.data_size, v.stored_size)
    );
    if let (Some(at), Some(reason)) = (&v.deprecated_at, &v.deprecated_reason) {
        line.push_str(&format!("  DEPRECATED {at}: {reason}"));
    }
    line
}

pub fn version_json(stored: &StoredVersion) -> Result<Value, CliError> {
    let s = &stored.summary;
    let mut doc = with_saving(to_json(s), s.data_size, s.stored_size)?;
    if let Value::Object(map) = &mut doc {
        map.insert("metadata".into(), stored.body.metadata.to_json());
        map.insert("changes".into(), to_json(&stored.body.changes)?);
        map.insert("payload".into(), (*stored.body.payload).clone());
    }
    Ok(doc)
}

pub fn compare_text(cmp: &Comparison) -> Result<String, CliError> {
    let compact = |v: &Value| serde_json::to_string(v).unwrap_or_else(|_| "?".to_owned());
    let mut out = format!(
        "{} {} -> {}: {} added, {} modified, {} deleted",
        cmp.key,
        cmp.from_version,
        cmp.to_version,
        cmp.summary.added,
        cmp.summary.modified,
        cmp.summary.deleted
    );
    for a in &cmp.added {
        out.push_str(&format!(
            "\n+ {} = {}",
            display_path(&a.path),
            compact(&a.value)
        ));
    }
    for m in &cmp.modified {
        out.push_str(&format!(
            "\n~ {}: {} -> {}",
            display_path(&m.path),
            compact(&m.old),
            compact(&m.new)
        ));
    }
    for d in &cmp.deleted {
        out.push_str(&format!(
            "\n- {} (was {})",
            display_path(&d.path),
            compact(&d.old)
        ));
    }
    Ok(out)
}

pub fn display_path(path: &str) -> &str {
    if path.is_empty() {
        "/ (whole document)"
    } else {
        path
    }
}
