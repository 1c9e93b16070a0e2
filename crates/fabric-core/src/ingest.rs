//! Strict ingestion of one JobExecutionResult file, and the JSON
//! spellings of a job: the stored `outputs_json` column and what
//! `fabric job ID` prints.
//!
//! ```
//! use fabric_core::ingest::parse_job;
//! use fabric_core::timestamp::Timestamp;
//!
//! let doc = br#"{"job_id": "j1", "final_status": "COMPLETED", "started_at": "2025-03-01T08:00:00Z",
//!   "clips": [{"source_path": "a.mov", "resolved_output_path": "/p/a.mov", "status": "COMPLETED"}]}"#;
//! let now = Timestamp::parse("2025-03-02T00:00:00Z").unwrap();
//! let job = parse_job("r1.json", doc, now, "/srv").unwrap();
//! assert_eq!(job.completed_clips, 1);
//! assert_eq!(job.outputs[0].clip_id.len(), 16);
//! ```

pub mod batch;
mod path;
mod stored;
mod text;

use serde_json::{Map, Value};

pub use path::{clip_id, normalize_path};
pub use stored::{job_to_json, outputs_from_json, outputs_to_json};
pub use text::job_to_text;

use crate::error::{Error, Result};
use crate::model::{ClipStatus, FinalStatus, IngestedJob, IngestedOutput};
use crate::timestamp::Timestamp;

/// The required top-level keys, in the order a missing-keys message names them.
const REQUIRED: [&str; 4] = ["job_id", "final_status", "clips", "started_at"];

/// Parse and validate one JobExecutionResult file.
///
/// `file` names the file in error messages; `ingested_at` is the ingestion time
/// (UTC, passed in by the caller); `cwd` is the absolute directory relative
/// `source_path`s are joined to for `clip_id`.
///
/// Every ingestion rule is checked; the first failure is returned as
/// [`Error::Ingest`] naming the file and the reason.
pub fn parse_job(
    file: &str,
    bytes: &[u8],
    ingested_at: Timestamp,
    cwd: &str,
) -> Result<IngestedJob> {
    let doc = decode(file, bytes)?;
    let obj = match &doc {
        Value::Object(map) => map,
        other => {
            return Err(Error::ingest(
                file,
                format!("top-level value is {}, not an object", kind(other)),
            ));
        }
    };
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|k| !obj.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        let noun = if missing.len() == 1 { "key" } else { "keys" };
        return Err(Error::ingest(
            file,
            format!("missing required {noun}: {}", missing.join(", ")),
        ));
    }
    let job = JobReader { file, obj };
    let job_id = job.job_id()?;
    let final_status = job.final_status()?;
    let started_at = job.started_at()?;
    let completed_at = job.completed_at()?;
    let clips = job.clips(&job_id, cwd)?;
    let meta = job.metadata()?;
    let count = |status| clips.iter().filter(|c| c.status == status).count() as i64;
    let total_clips = job.counter("total_clips", clips.len() as i64)?;
    let completed_clips = job.counter("completed_clips", count(ClipStatus::Completed))?;
    let failed_clips = job.counter("failed_clips", count(ClipStatus::Failed))?;
    let fingerprint = meta.string("fingerprint")?.filter(|s| !s.is_empty());
    Ok(IngestedJob {
        job_id,
        final_status,
        started_at,
        canonical_proxy_profile: meta.string("proxy_profile_used")?,
        fingerprint,
        validation_stage: meta.string("validation_stage")?,
        validation_error: meta.string("validation_error")?,
        engine_used: meta.string("engine_used")?,
        resolve_preset_used: meta.string("resolve_preset_used")?,
        jobspec_version: meta.string("jobspec_version")?,
        completed_at,
        ingested_at,
        total_clips,
        completed_clips,
        failed_clips,
        outputs: clips,
    })
}

/// Bytes to one JSON value: UTF-8, no BOM, strict RFC 8259, nothing after it.
fn decode(file: &str, bytes: &[u8]) -> Result<Value> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return Err(Error::ingest(
            file,
            "starts with a UTF-8 byte order mark, which is not JSON",
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Ingest {
        file: file.to_owned(),
        reason: "not valid UTF-8".to_owned(),
        source: Some(Box::new(e)),
    })?;
    if text.trim_matches([' ', '\t', '\n', '\r']).is_empty() {
        return Err(Error::ingest(file, "empty file: not a JSON document"));
    }
    serde_json::from_str(text).map_err(|e| Error::Ingest {
        file: file.to_owned(),
        reason: "not valid JSON".to_owned(),
        source: Some(Box::new(e)),
    })
}

/// The JSON type name of a value, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Python truthiness of a JSON value (for `completed_at`).
fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_str().parse::<f64>().is_ok_and(|x| x == 0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// A JSON integer that fits in `i64` (no fraction, no exponent, no bool).
fn as_integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) if !crate::json::is_float_text(n) => n.as_str().parse().ok(),
        _ => None,
    }
}

/// Reads the top-level keys of one document.
struct JobReader<'a> {
    file: &'a str,
    obj: &'a Map<String, Value>,
}

impl JobReader<'_> {
    fn fail(&self, reason: String) -> Error {
        Error::ingest(self.file, reason)
    }

    fn job_id(&self) -> Result<String> {
        match self.obj.get("job_id") {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::String(_)) => Err(self.fail("job_id is an empty string".into())),
            Some(v) => Err(self.fail(format!("job_id must be a string, found {}", kind(v)))),
            None => Err(self.fail("missing required key: job_id".into())),
        }
    }

    fn final_status(&self) -> Result<FinalStatus> {
        let v = self.obj.get("final_status").unwrap_or(&Value::Null);
        v.as_str().and_then(FinalStatus::parse).ok_or_else(|| {
            self.fail(format!(
                "final_status must be one of COMPLETED, FAILED, PARTIAL, found {v}"
            ))
        })
    }

    fn timestamp(&self, key: &str, v: &Value) -> Result<Timestamp> {
        match v {
            Value::String(s) => Timestamp::parse(s).map_err(|e| Error::Ingest {
                file: self.file.to_owned(),
                reason: format!("{key} is not an ISO-8601 timestamp"),
                source: Some(Box::new(e)),
            }),
            other => Err(self.fail(format!(
                "{key} must be an ISO-8601 timestamp string, found {}",
                kind(other)
            ))),
        }
    }

    fn started_at(&self) -> Result<Timestamp> {
        self.timestamp(
            "started_at",
            self.obj.get("started_at").unwrap_or(&Value::Null),
        )
    }

    fn completed_at(&self) -> Result<Option<Timestamp>> {
        match self.obj.get("completed_at") {
            Some(v) if !is_falsy(v) => self.timestamp("completed_at", v).map(Some),
            _ => Ok(None),
        }
    }

    fn counter(&self, key: &str, default: i64) -> Result<i64> {
        match self.obj.get(key) {
            None => Ok(default),
            Some(v) => as_integer(v).ok_or_else(|| match v {
                Value::Number(n) if !crate::json::is_float_text(n) => {
                    self.fail(format!("{key} {n} does not fit in a 64-bit integer"))
                }
                _ => self.fail(format!("{key} must be an integer, found {}", kind(v))),
            }),
        }
    }

    fn metadata(&self) -> Result<MetaReader<'_>> {
        match self.obj.get("_metadata") {
            None => Ok(MetaReader {
                file: self.file,
                obj: None,
            }),
            Some(Value::Object(map)) => Ok(MetaReader {
                file: self.file,
                obj: Some(map),
            }),
            Some(v) => Err(self.fail(format!("_metadata must be an object, found {}", kind(v)))),
        }
    }

    fn clips(&self, job_id: &str, cwd: &str) -> Result<Vec<IngestedOutput>> {
        let clips = match self.obj.get("clips") {
            Some(Value::Array(items)) => items,
            Some(v) => {
                return Err(self.fail(format!("clips must be an array, found {}", kind(v))));
            }
            None => return Err(self.fail("missing required key: clips".into())),
        };
        clips
            .iter()
            .enumerate()
            .map(|(i, clip)| self.clip(i, clip, job_id, cwd))
            .collect()
    }

    fn clip(&self, index: usize, clip: &Value, job_id: &str, cwd: &str) -> Result<IngestedOutput> {
        let fail = |reason: String| self.fail(format!("clip {index}: {reason}"));
        let obj = match clip {
            Value::Object(map) => map,
            other => return Err(fail(format!("must be an object, found {}", kind(other)))),
        };
        let missing: Vec<&str> = ["source_path", "resolved_output_path", "status"]
            .into_iter()
            .filter(|k| !obj.contains_key(*k))
            .collect();
        if !missing.is_empty() {
            let noun = if missing.len() == 1 { "key" } else { "keys" };
            return Err(fail(format!(
                "missing required {noun}: {}",
                missing.join(", ")
            )));
        }
        let path = |key: &str| -> Result<String> {
            match obj.get(key) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(Value::String(_)) => Err(fail(format!("{key} is an empty string"))),
                Some(v) => Err(fail(format!("{key} must be a string, found {}", kind(v)))),
                None => Err(fail(format!("missing required key: {key}"))),
            }
        };
        let source_path = path("source_path")?;
        let output_path = path("resolved_output_path")?;
        let status_value = obj.get("status").unwrap_or(&Value::Null);
        let status = status_value
            .as_str()
            .and_then(ClipStatus::parse)
            .ok_or_else(|| {
                fail(format!(
                    "status must be COMPLETED or FAILED, found {status_value}"
                ))
            })?;
        let output_exists = match obj.get("output_exists") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                return Err(fail(format!(
                    "output_exists must be a boolean, found {}",
                    kind(v)
                )));
            }
        };
        let output_size_bytes = match obj.get("output_size_bytes") {
            None | Some(Value::Null) => None,
            Some(v) => Some(as_integer(v).ok_or_else(|| {
                fail(format!(
                    "output_size_bytes must be an integer or null, found {}",
                    kind(v)
                ))
            })?),
        };
        let text = |key: &str| -> Result<Option<String>> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(v) => Err(fail(format!(
                    "{key} must be a string or null, found {}",
                    kind(v)
                ))),
            }
        };
        Ok(IngestedOutput {
            job_id: job_id.to_owned(),
            clip_id: clip_id(&source_path, cwd),
            source_path,
            output_path,
            output_exists,
            output_size_bytes,
            status,
            failure_reason: text("failure_reason")?,
            engine_used: text("engine_used")?,
            proxy_profile_used: text("proxy_profile_used")?,
            resolve_preset_used: text("resolve_preset_used")?,
        })
    }
}

/// Reads `_metadata` (a missing one is empty).
struct MetaReader<'a> {
    file: &'a str,
    obj: Option<&'a Map<String, Value>>,
}

impl MetaReader<'_> {
    /// A string-or-null key; absent and null are none, anything else is rejected.
    fn string(&self, key: &str) -> Result<Option<String>> {
        match self.obj.and_then(|m| m.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(Error::ingest(
                self.file,
                format!(
                    "_metadata.{key} must be a string or null, found {}",
                    kind(v)
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests;
