//! The JSON spellings of a job: the stored `outputs_json` column and
//! the document `fabric job ID` prints.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::json::{py_float, write_ascii_string};
use crate::model::{ClipStatus, IngestedJob, IngestedOutput};

/// The keys of one output, in order.
const OUTPUT_KEYS: [&str; 11] = [
    "job_id",
    "clip_id",
    "source_path",
    "output_path",
    "output_exists",
    "output_size_bytes",
    "status",
    "failure_reason",
    "engine_used",
    "proxy_profile_used",
    "resolve_preset_used",
];

/// The `outputs_json` column: a JSON array with one object per output, keys in
/// the order of `fabric job`'s outputs, `null` for none, ASCII-escaped, `", "` and `": "` separators
/// (Python's `json.dumps` defaults, as the reference writes it).
///
/// ```
/// use fabric_core::ingest::outputs_to_json;
/// assert_eq!(outputs_to_json(&[]), "[]");
/// ```
pub fn outputs_to_json(outputs: &[IngestedOutput]) -> String {
    let mut out = String::with_capacity(64 + outputs.len() * 400);
    out.push('[');
    for (i, o) in outputs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let opt = |out: &mut String, v: &Option<String>| match v {
            Some(s) => write_ascii_string(out, s),
            None => out.push_str("null"),
        };
        out.push_str("{\"job_id\": ");
        write_ascii_string(&mut out, &o.job_id);
        out.push_str(", \"clip_id\": ");
        write_ascii_string(&mut out, &o.clip_id);
        out.push_str(", \"source_path\": ");
        write_ascii_string(&mut out, &o.source_path);
        out.push_str(", \"output_path\": ");
        write_ascii_string(&mut out, &o.output_path);
        out.push_str(", \"output_exists\": ");
        out.push_str(if o.output_exists { "true" } else { "false" });
        out.push_str(", \"output_size_bytes\": ");
        match o.output_size_bytes {
            Some(n) => {
                let _ = write!(out, "{n}");
            }
            None => out.push_str("null"),
        }
        out.push_str(", \"status\": ");
        write_ascii_string(&mut out, o.status.as_str());
        out.push_str(", \"failure_reason\": ");
        opt(&mut out, &o.failure_reason);
        out.push_str(", \"engine_used\": ");
        opt(&mut out, &o.engine_used);
        out.push_str(", \"proxy_profile_used\": ");
        opt(&mut out, &o.proxy_profile_used);
        out.push_str(", \"resolve_preset_used\": ");
        opt(&mut out, &o.resolve_preset_used);
        out.push('}');
    }
    out.push(']');
    out
}

/// Read an `outputs_json` column back (any valid JSON spelling). Every key
/// must be present with its type; `job_id` names the row in errors.
pub fn outputs_from_json(job_id: &str, text: &str) -> Result<Vec<IngestedOutput>> {
    let fail = |reason: String| Error::StoredOutputs {
        job_id: job_id.to_owned(),
        reason,
        source: None,
    };
    let value: Value = serde_json::from_str(text).map_err(|e| Error::StoredOutputs {
        job_id: job_id.to_owned(),
        reason: "not valid JSON".to_owned(),
        source: Some(e),
    })?;
    let Value::Array(items) = value else {
        return Err(fail("not a JSON array".to_owned()));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::Object(obj) = item else {
                return Err(fail(format!("output {i} is not an object")));
            };
            if let Some(key) = OUTPUT_KEYS.iter().find(|k| !obj.contains_key(**k)) {
                return Err(fail(format!("output {i} lacks key {key}")));
            }
            let bad =
                |key: &str, expected: &str| fail(format!("output {i}: {key} is not {expected}"));
            let string = |key: &'static str| -> Result<String> {
                obj.get(key)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| bad(key, "a string"))
            };
            let opt_string = |key: &'static str| -> Result<Option<String>> {
                match obj.get(key) {
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(Value::Null) | None => Ok(None),
                    Some(_) => Err(bad(key, "a string or null")),
                }
            };
            let output_size_bytes = match obj.get("output_size_bytes") {
                Some(Value::Null) | None => None,
                Some(v) => Some(
                    v.as_i64()
                        .ok_or_else(|| bad("output_size_bytes", "an integer"))?,
                ),
            };
            let status = obj
                .get("status")
                .and_then(Value::as_str)
                .and_then(ClipStatus::parse)
                .ok_or_else(|| bad("status", "COMPLETED or FAILED"))?;
            Ok(IngestedOutput {
                job_id: string("job_id")?,
                clip_id: string("clip_id")?,
                source_path: string("source_path")?,
                output_path: string("output_path")?,
                output_exists: obj
                    .get("output_exists")
                    .and_then(Value::as_bool)
                    .ok_or_else(|| bad("output_exists", "a boolean"))?,
                output_size_bytes,
                status,
                failure_reason: opt_string("failure_reason")?,
                engine_used: opt_string("engine_used")?,
                proxy_profile_used: opt_string("proxy_profile_used")?,
                resolve_preset_used: opt_string("resolve_preset_used")?,
            })
        })
        .collect()
}

/// What `fabric job ID` prints: the fields in order (times in the printed form),
/// then `duration_seconds` (float or null) and `success`; outputs as objects in
/// output-key order.
pub fn job_to_json(job: &IngestedJob) -> Value {
    let opt = |v: &Option<String>| v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()));
    let mut m = Map::new();
    m.insert("job_id".into(), job.job_id.clone().into());
    m.insert("final_status".into(), job.final_status.as_str().into());
    m.insert("started_at".into(), job.started_at.to_string().into());
    m.insert(
        "canonical_proxy_profile".into(),
        opt(&job.canonical_proxy_profile),
    );
    m.insert("fingerprint".into(), opt(&job.fingerprint));
    m.insert("validation_stage".into(), opt(&job.validation_stage));
    m.insert("validation_error".into(), opt(&job.validation_error));
    m.insert("engine_used".into(), opt(&job.engine_used));
    m.insert("resolve_preset_used".into(), opt(&job.resolve_preset_used));
    m.insert("jobspec_version".into(), opt(&job.jobspec_version));
    m.insert(
        "completed_at".into(),
        job.completed_at
            .map_or(Value::Null, |t| t.to_string().into()),
    );
    m.insert("ingested_at".into(), job.ingested_at.to_string().into());
    m.insert("total_clips".into(), job.total_clips.into());
    m.insert("completed_clips".into(), job.completed_clips.into());
    m.insert("failed_clips".into(), job.failed_clips.into());
    let outputs = job
        .outputs
        .iter()
        .map(|o| {
            let mut m = Map::new();
            m.insert("job_id".into(), o.job_id.clone().into());
            m.insert("clip_id".into(), o.clip_id.clone().into());
            m.insert("source_path".into(), o.source_path.clone().into());
            m.insert("output_path".into(), o.output_path.clone().into());
            m.insert("output_exists".into(), o.output_exists.into());
            m.insert(
                "output_size_bytes".into(),
                o.output_size_bytes.map_or(Value::Null, Value::from),
            );
            m.insert("status".into(), o.status.as_str().into());
            m.insert("failure_reason".into(), opt(&o.failure_reason));
            m.insert("engine_used".into(), opt(&o.engine_used));
            m.insert("proxy_profile_used".into(), opt(&o.proxy_profile_used));
            m.insert("resolve_preset_used".into(), opt(&o.resolve_preset_used));
            Value::Object(m)
        })
        .collect();
    m.insert("outputs".into(), Value::Array(outputs));
    m.insert(
        "duration_seconds".into(),
        job.duration_seconds()
            .and_then(py_float)
            .map_or(Value::Null, Value::Number),
    );
    m.insert("success".into(), job.success().into());
    Value::Object(m)
}
