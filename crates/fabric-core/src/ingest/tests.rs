//! Unit tests for strict ingestion and the stored spellings.

use super::*;
use crate::error::Error;

fn now() -> Timestamp {
    Timestamp::from_utc(time::macros::datetime!(2025-03-02 00:00:00 UTC))
}

fn parse(doc: &str) -> Result<IngestedJob> {
    parse_job("r.json", doc.as_bytes(), now(), "/work")
}

fn reason(doc: &str) -> String {
    match parse(doc) {
        Err(Error::Ingest { file, reason, .. }) => {
            assert_eq!(file, "r.json");
            reason
        }
        Err(other) => format!("unexpected error {other}"),
        Ok(job) => format!("accepted {}", job.job_id),
    }
}

const CLIP: &str =
    r#"{"source_path": "a.mov", "resolved_output_path": "/p/a.mov", "status": "FAILED"}"#;

fn doc(extra: &str) -> String {
    format!(
        r#"{{"job_id": "j1", "final_status": "FAILED", "started_at": "2025-03-01T08:00:00Z", "clips": [{CLIP}]{extra}}}"#
    )
}

#[test]
fn defaults_come_from_clips() -> Result<()> {
    let job = parse(&doc(""))?;
    assert_eq!(
        (job.total_clips, job.completed_clips, job.failed_clips),
        (1, 0, 1)
    );
    assert_eq!(job.completed_at, None);
    assert_eq!(job.fingerprint, None);
    assert_eq!(job.outputs[0].clip_id, clip_id("/work/a.mov", "/"));
    assert_eq!(job.ingested_at, now());
    assert!(!job.success());
    Ok(())
}

#[test]
fn counters_win_over_clips() -> Result<()> {
    let job = parse(&doc(r#", "failed_clips": 0, "total_clips": 7"#))?;
    assert_eq!(
        (job.total_clips, job.completed_clips, job.failed_clips),
        (7, 0, 0)
    );
    Ok(())
}

#[test]
fn falsy_completed_at_is_none() -> Result<()> {
    for v in ["null", "\"\"", "false", "0", "0.0", "[]", "{}"] {
        let job = parse(&doc(&format!(r#", "completed_at": {v}"#)))?;
        assert_eq!(job.completed_at, None, "completed_at {v}");
    }
    let job = parse(&doc(r#", "completed_at": "2025-03-01T08:01:35.250000Z""#))?;
    assert_eq!(job.duration_seconds(), Some(95.25));
    Ok(())
}

#[test]
fn metadata_is_read_from_metadata_only() -> Result<()> {
    let job = parse(&doc(
        r#", "fingerprint": "top", "_metadata": {"fingerprint": "", "proxy_profile_used": "p", "engine_used": null}"#,
    ))?;
    assert_eq!(job.fingerprint, None);
    assert_eq!(job.canonical_proxy_profile.as_deref(), Some("p"));
    assert_eq!(job.engine_used, None);
    let job = parse(&doc(r#", "_metadata": {"fingerprint": "fp-1"}"#))?;
    assert_eq!(job.fingerprint.as_deref(), Some("fp-1"));
    Ok(())
}

#[test]
fn last_duplicate_key_wins() -> Result<()> {
    let job = parse(&doc(r#", "job_id": "j2""#))?;
    assert_eq!(job.job_id, "j2");
    Ok(())
}

#[test]
fn rejections_name_the_rule() {
    let cases = [
        (
            r#"{"final_status": "FAILED"}"#.to_owned(),
            "missing required keys: job_id, clips, started_at",
        ),
        (
            doc(r#", "total_clips": null"#),
            "total_clips must be an integer, found null",
        ),
        (
            doc(r#", "failed_clips": 1.0"#),
            "failed_clips must be an integer, found a number",
        ),
        (
            doc(r#", "completed_clips": "2""#),
            "completed_clips must be an integer, found a string",
        ),
        (
            doc(r#", "total_clips": true"#),
            "total_clips must be an integer, found a boolean",
        ),
        (
            doc(r#", "total_clips": 99999999999999999999"#),
            "total_clips 99999999999999999999 does not fit in a 64-bit integer",
        ),
        (
            doc(r#", "_metadata": {"engine_used": 3}"#),
            "_metadata.engine_used must be a string or null, found a number",
        ),
        (
            doc(r#", "_metadata": {"fingerprint": ["a"]}"#),
            "_metadata.fingerprint must be a string or null, found an array",
        ),
        (
            doc(r#", "completed_at": "soon""#),
            "completed_at is not an ISO-8601 timestamp",
        ),
        (
            doc(r#", "completed_at": 5"#),
            "completed_at must be an ISO-8601 timestamp string, found a number",
        ),
        (
            doc(r#", "clips": [{}, 1]"#),
            "clip 0: missing required keys: source_path, resolved_output_path, status",
        ),
        (
            doc(&format!(r#", "clips": [{CLIP}, 1]"#)),
            "clip 1: must be an object, found a number",
        ),
        (
            doc(
                r#", "clips": [{"source_path": "a", "resolved_output_path": "b", "status": "FAILED", "output_size_bytes": "1"}]"#,
            ),
            "clip 0: output_size_bytes must be an integer or null, found a string",
        ),
        (
            doc(
                r#", "clips": [{"source_path": "a", "resolved_output_path": "b", "status": "FAILED", "engine_used": 1}]"#,
            ),
            "clip 0: engine_used must be a string or null, found a number",
        ),
        (
            doc(r#", "final_status": "RUNNING""#),
            "final_status must be one of COMPLETED, FAILED, PARTIAL, found \"RUNNING\"",
        ),
        (
            "[1]".to_owned(),
            "top-level value is an array, not an object",
        ),
        ("NaN".to_owned(), "not valid JSON"),
        (doc(r#", "total_clips": NaN"#), "not valid JSON"),
    ];
    for (input, expected) in cases {
        assert_eq!(reason(&input), expected, "{input}");
    }
}

#[test]
fn error_message_names_file_and_reason() {
    let text = parse("").err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(text, "rejected r.json: empty file: not a JSON document");
}

#[test]
fn outputs_json_round_trips_in_python_spelling() -> Result<()> {
    let job = parse(&doc(
        r#", "clips": [{"source_path": "/m/é😀\"x", "resolved_output_path": "/p", "status": "COMPLETED", "output_exists": true, "output_size_bytes": 12, "engine_used": "ffmpeg"}]"#,
    ))?;
    let text = outputs_to_json(&job.outputs);
    let expected = format!(
        r#"[{{"job_id": "j1", "clip_id": "{}", "source_path": "/m/\u00e9\ud83d\ude00\"x", "output_path": "/p", "output_exists": true, "output_size_bytes": 12, "status": "COMPLETED", "failure_reason": null, "engine_used": "ffmpeg", "proxy_profile_used": null, "resolve_preset_used": null}}]"#,
        job.outputs[0].clip_id
    );
    assert_eq!(text, expected);
    assert_eq!(outputs_from_json("j1", &text)?, job.outputs);
    // Any valid JSON spelling reads back.
    let compact: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::StoredOutputs {
            job_id: "j1".into(),
            reason: "test".into(),
            source: Some(e),
        })?;
    assert_eq!(outputs_from_json("j1", &compact.to_string())?, job.outputs);
    Ok(())
}

#[test]
fn outputs_json_errors_name_the_job() {
    for (text, expected) in [
        ("{", "stored outputs of job \"j9\": not valid JSON"),
        ("{}", "stored outputs of job \"j9\": not a JSON array"),
        (
            "[{\"job_id\": \"j9\"}]",
            "stored outputs of job \"j9\": output 0 lacks key clip_id",
        ),
    ] {
        let got = outputs_from_json("j9", text).err().map(|e| e.to_string());
        assert_eq!(got.as_deref(), Some(expected));
    }
}
