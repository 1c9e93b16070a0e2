//! Integration tests of dashboard-snapshot: the example vector, its variants, the
//! projection framework, CSV encoding, the ZIP export and parity.

mod csv_encoding;
mod example;
mod export;
mod framework;
mod hostile;
mod streamed;

use std::path::PathBuf;

use dashboard_snapshot::{ProjectionSet, SnapshotBundle, Telemetry, assemble_bundle};
use serde_json::Value;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The repository's copy of the dashboard example vector.
pub fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/dashboard/example")
}

pub fn scope_text() -> Result<String, std::io::Error> {
    std::fs::read_to_string(example_dir().join("scope.json"))
}

pub fn oracles_text() -> Result<String, std::io::Error> {
    std::fs::read_to_string(example_dir().join("oracles.json"))
}

pub fn oracles_value() -> Result<Value, Box<dyn std::error::Error>> {
    Ok(serde_json::from_str(&oracles_text()?)?)
}

/// Assemble the example scope with `oracles`.
pub fn assemble_with(oracles: &Value) -> Result<SnapshotBundle, dashboard_snapshot::Error> {
    let scope = scope_text().map_err(|e| dashboard_snapshot::Error::Io {
        entry: "scope.json".into(),
        source: e,
    })?;
    assemble_bundle(
        &ProjectionSet::instructor(),
        &scope,
        &oracles.to_string(),
        None,
        &Telemetry::none(),
    )
}

/// The example bundle.
pub fn example_bundle() -> Result<SnapshotBundle, Box<dyn std::error::Error>> {
    Ok(assemble_bundle(
        &ProjectionSet::instructor(),
        &scope_text()?,
        &oracles_text()?,
        None,
        &Telemetry::none(),
    )?)
}

/// The results array of an oracles document, mutably.
pub fn results_mut(doc: &mut Value) -> Result<&mut Vec<Value>, Box<dyn std::error::Error>> {
    doc.get_mut("results")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| "no results array".into())
}
