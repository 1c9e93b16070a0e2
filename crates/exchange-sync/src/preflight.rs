//! `fabric exchange check`: would an import of this pack be accepted? Answered with
//! no connection and no store.
//!
//! Every line of the pack goes through exactly what an import does to it before
//! writing: the parse, the scope, the recomputed hash, the time, and the column
//! limits of [`crate::limits`] (the same on SQLite and SQL Server, so the answer
//! holds for both). Natural keys are unique within a scope on both backends (a key
//! ending in a space, which SQL Server would merge with the key without it, is
//! refused by the limits); when the manifest's conflict strategy is `fail`, a key
//! that two records of the pack hold with different content is listed too, since
//! the import would stop on it (this needs memory for every key of the pack). Unlike an import, the check does not stop at the first bad
//! line: it lists every failing record by file and line (the first
//! [`MAX_LISTED`], with a count of the rest).
//!
//! ```no_run
//! let report = exchange_sync::preflight::check_pack(std::path::Path::new("ds/manifest.json"))?;
//! println!("{}", report.to_text());
//! assert_eq!(report.failed, 0);
//! # Ok::<(), exchange_sync::Error>(())
//! ```

use std::collections::HashMap;
use std::path::Path;

use serde_json::json;

use crate::error::{Error, Result};
use crate::hash::ContentHash;
use crate::manifest::{ConflictStrategy, Manifest, ManifestFile, dataset_dir};
use crate::pack::PackReader;
use crate::sync::pipeline::{error_chain, verify_line};

/// Failures listed one by one; past this only their number grows.
pub const MAX_LISTED: usize = 1_000;

/// One record an import would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The chunk, relative to the dataset folder, with `/`.
    pub file: String,
    /// 1-based line number in that chunk.
    pub line: u64,
    /// The record's `exchange_id`, when it could be read.
    pub exchange_id: Option<String>,
    /// Why it is refused.
    pub reason: String,
}

/// The outcome of [`check_pack`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The manifest's `sql_target`, `schema.table`.
    pub table: String,
    /// Lines read.
    pub records: u64,
    /// Lines an import would refuse.
    pub failed: u64,
    /// The first [`MAX_LISTED`] of them, in pack order.
    pub failures: Vec<Failure>,
}

impl CheckReport {
    /// Whether every record would be accepted.
    pub fn ok(&self) -> bool {
        self.failed == 0
    }

    /// The report as text: a summary line, then one line per listed failure.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}: {} of {} record(s) would be refused",
            self.table, self.failed, self.records
        );
        for f in &self.failures {
            out.push_str(&format!(
                "\n{} line {}{}: {}",
                f.file,
                f.line,
                f.exchange_id
                    .as_deref()
                    .map(|id| format!(" (record {id})"))
                    .unwrap_or_default(),
                f.reason
            ));
        }
        let unlisted = self.failed - self.failures.len() as u64;
        if unlisted > 0 {
            out.push_str(&format!("\n... and {unlisted} more"));
        }
        out
    }

    /// The report as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "table": self.table,
            "records": self.records,
            "failed": self.failed,
            "failures": self.failures.iter().map(|f| json!({
                "file": f.file,
                "line": f.line,
                "exchange_id": f.exchange_id,
                "reason": f.reason,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Check every record of the pack at `manifest_path` as an import would, on any
/// backend, under the manifest's conflict strategy. An unreadable manifest, chunk
/// or `sql_target` is an `Err`; refused records are listed in the report.
pub fn check_pack(manifest_path: &Path) -> Result<CheckReport> {
    check_pack_with(manifest_path, None)
}

/// [`check_pack`] under `conflict` (`None`: the manifest's strategy), as an import
/// with `--conflict` runs.
pub fn check_pack_with(
    manifest_path: &Path,
    conflict: Option<ConflictStrategy>,
) -> Result<CheckReport> {
    let manifest = Manifest::load(manifest_path)?;
    check_manifest(&manifest, &dataset_dir(manifest_path), conflict)
}

/// [`check_pack_with`] on a manifest already loaded, for the dataset folder `dir`.
pub fn check_manifest(
    manifest: &Manifest,
    dir: &Path,
    conflict: Option<ConflictStrategy>,
) -> Result<CheckReport> {
    let dir = dir.to_path_buf();
    manifest.sql_target.validate()?;
    let scope = manifest.scope();
    let mut report = CheckReport {
        table: format!(
            "{}.{}",
            manifest.sql_target.schema, manifest.sql_target.table
        ),
        records: 0,
        failed: 0,
        failures: Vec::new(),
    };
    // Under `fail`: key -> (hash, file, line) of the first record holding it.
    let keys_fail = conflict.unwrap_or(manifest.conflict_strategy) == ConflictStrategy::Fail;
    let mut keys: HashMap<String, (ContentHash, String, u64)> = HashMap::new();
    PackReader::open(&dir)?.for_each_line(|line| {
        report.records += 1;
        let (exchange_id, reason) = match verify_line(&dir, &scope, &line) {
            Ok(item) => {
                let r = item.record;
                let Some(key) = r.natural_key.filter(|_| keys_fail) else {
                    return Ok(());
                };
                match keys.get(&key) {
                    Some((hash, file, at)) if *hash != r.content_sha256 => (
                        Some(r.exchange_id),
                        format!(
                            "natural_key {key:?} is also held, with other content, by {file} \
                             line {at}: the import stops on it under conflict strategy 'fail'"
                        ),
                    ),
                    Some(_) => return Ok(()),
                    None => {
                        keys.insert(key, (r.content_sha256, line.file.clone(), line.line));
                        return Ok(());
                    }
                }
            }
            Err(e) => describe(e),
        };
        report.failed += 1;
        if report.failures.len() < MAX_LISTED {
            report.failures.push(Failure {
                file: line.file.clone(),
                line: line.line,
                exchange_id,
                reason,
            });
        }
        Ok(())
    })?;
    Ok(report)
}

/// The record's id (when known) and why it is refused, without the file and
/// line the report already gives.
fn describe(e: Error) -> (Option<String>, String) {
    match e {
        Error::Limit {
            exchange_id,
            violation,
            ..
        } => (Some(exchange_id), violation.to_string()),
        Error::Json { source, .. } => {
            let text = source.to_string();
            let hint = if text.contains("surrogate") || text.contains("hex escape") {
                " (an unpaired UTF-16 surrogate cannot round-trip through NVARCHAR)"
            } else {
                ""
            };
            (None, format!("not valid JSON: {text}{hint}"))
        }
        Error::Record {
            exchange_id,
            reason,
            ..
        } => (exchange_id, reason),
        Error::HashMismatch {
            exchange_id,
            detail,
            ..
        } => (Some(exchange_id), detail),
        Error::OutOfScope {
            exchange_id,
            found,
            expected,
            ..
        } => (
            Some(exchange_id),
            format!("outside the manifest scope: {found} (manifest: {expected})"),
        ),
        other => (None, error_chain(&other)),
    }
}
