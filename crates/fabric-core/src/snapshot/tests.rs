//! Unit tests for snapshot ids, the fast canonical writer and snapshot documents.

use serde_json::{Value, json};

use super::*;
use crate::error::{Error, ExportError};
use crate::json::oracle::{python_float_repr, to_canonical_string};

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn snapshot_error(result: Result<impl std::fmt::Debug>) -> Option<SnapshotError> {
    match result {
        Err(Error::Export(ExportError::Snapshot(e))) => Some(e),
        _ => None,
    }
}

#[test]
fn fast_writer_matches_the_reference_serialiser() -> Result<()> {
    let docs = [
        r#"{"b": [1, 2.50, -0.0, -0, 0, 1E2, 1e-7, 123456789012345678901234567890], "a": "é😀\"\\\n\r\t\u0008\u000c\u0001\u007f/"}"#,
        r#"{"z": {"y": {"x": [{"b": 1, "a": 2}, {"d": null, "c": true, "e": false}]}}, "": 0.1}"#,
        r#"{"rates": [0.0001, 0.00009999000099990002, 1e16, 1e15, 123.0, 5e-324, 1.7976931348623157e308, 0.3333333333333333]}"#,
        r#"{"ｚ": 1, "z": 2, "🎬": 3, "～": 4, "é": 5, "e\u0301": 6}"#,
        r#"{}"#,
        // Found by the `canonical` fuzz target: 16 significant digits whose value
        // lies exactly between two shortest spellings (Python prints ...000.2).
        r#"{"failute_rate": 9.999000099990003e014, "x": 562949953421312.25}"#,
    ];
    for text in docs {
        let value = parse(text);
        let fast = String::from_utf8(canonical_report_bytes(&value)?).unwrap_or_default();
        assert_eq!(fast, to_canonical_string(&value), "{text}");
        assert_eq!(
            snapshot_id(&value)?,
            crate::json::sha256_hex(fast.as_bytes())
        );
    }
    Ok(())
}

#[test]
#[expect(
    clippy::excessive_precision,
    reason = "exact ties are written out in full"
)]
fn fast_float_matches_python_repr() {
    let values = [
        0.0,
        -0.0,
        1.0,
        0.1,
        1e-4,
        9.999e-5,
        1e-5,
        1.5e-7,
        1e15,
        1e16,
        1.2345678901234568e17,
        123456789012345.6,
        1234567890123456.0,
        5e-324,
        1.7976931348623157e308,
        1.0 / 3.0,
        -2.5,
        1.0 / 10001.0,
        1e100,
        1e-100,
        999_900_009_999_000.25,
        700_000_000_000_000.75,
    ];
    for x in values {
        let mut out = Vec::new();
        canonical::write_python_float(&mut out, x);
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            python_float_repr(x),
            "{x:e}"
        );
    }
}

#[test]
fn only_top_level_generated_at_is_dropped() -> Result<()> {
    let with = parse(r#"{"generated_at": "a", "x": {"generated_at": "b"}}"#);
    let without = parse(r#"{"x": {"generated_at": "b"}}"#);
    assert_eq!(snapshot_id(&with)?, snapshot_id(&without)?);
    assert_eq!(
        canonical_report_bytes(&with)?,
        br#"{"x":{"generated_at":"b"}}"#
    );
    Ok(())
}

#[test]
fn non_objects_and_non_finite_numbers_are_rejected() {
    for (value, expected) in [
        (
            json!([1]),
            SnapshotError::NotAnObject {
                what: "report".into(),
            },
        ),
        (
            Value::Null,
            SnapshotError::NotAnObject {
                what: "report".into(),
            },
        ),
        (
            parse(r#"{"engine_health": {"ffmpeg": {"failure_rate": 1e999}}}"#),
            SnapshotError::NonFiniteNumber {
                path: "report.engine_health.ffmpeg.failure_rate".into(),
            },
        ),
        (
            parse(r#"{"a": [0, -1e400]}"#),
            SnapshotError::NonFiniteNumber {
                path: "report.a[1]".into(),
            },
        ),
    ] {
        assert_eq!(snapshot_error(snapshot_id(&value)), Some(expected));
    }
}

#[test]
fn from_json_verifies_the_id() -> Result<()> {
    let at = Timestamp::parse("2025-01-01T00:00:00Z").map_err(|_| SnapshotError::BadKey {
        key: "generated_at",
        expected: "a timestamp",
    })?;
    let snap = FabricSnapshot::create(&crate::report::ReportBuilder::new().finish(), &at);
    let mut doc = snap.to_json();
    assert_eq!(FabricSnapshot::from_json(&doc)?, snap);
    if let Some(map) = doc.as_object_mut() {
        map.insert("snapshot_id".into(), "0".repeat(64).into());
    }
    let err = FabricSnapshot::from_json(&doc).err();
    let message = err
        .as_ref()
        .and_then(|e| std::error::Error::source(e))
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(matches!(
        err,
        Some(Error::Export(ExportError::Snapshot(
            SnapshotError::IdMismatch { .. }
        )))
    ));
    assert_eq!(
        message,
        format!(
            "snapshot id mismatch: expected {}, found {}",
            snap.snapshot_id,
            "0".repeat(64)
        )
    );
    Ok(())
}

#[test]
fn from_json_rejects_bad_documents() -> Result<()> {
    let with_report = |report: Value| -> Result<Value> {
        Ok(json!({"snapshot_id": snapshot_id(&report)?, "generated_at": "t", "report": report}))
    };
    let cases = [
        (
            json!([]),
            SnapshotError::NotAnObject {
                what: "snapshot".into(),
            },
        ),
        (
            json!({"generated_at": "t", "report": {}}),
            SnapshotError::BadKey {
                key: "snapshot_id",
                expected: "a string",
            },
        ),
        (
            json!({"snapshot_id": "x", "report": {}}),
            SnapshotError::BadKey {
                key: "generated_at",
                expected: "a string",
            },
        ),
        (
            json!({"snapshot_id": "x", "generated_at": "t"}),
            SnapshotError::BadKey {
                key: "report",
                expected: "an object",
            },
        ),
        (
            with_report(json!({"engine_health": []}))?,
            SnapshotError::BadSection {
                path: "report.engine_health".into(),
                expected: "an object",
            },
        ),
        (
            with_report(json!({"execution_summary": {"completed": "3"}}))?,
            SnapshotError::BadSection {
                path: "report.execution_summary.completed".into(),
                expected: "a number",
            },
        ),
        (
            with_report(json!({"determinism": {"non_deterministic_jobs": "a"}}))?,
            SnapshotError::BadSection {
                path: "report.determinism.non_deterministic_jobs".into(),
                expected: "a list of strings",
            },
        ),
    ];
    for (doc, expected) in cases {
        assert_eq!(
            snapshot_error(FabricSnapshot::from_json(&doc)),
            Some(expected),
            "{doc}"
        );
    }
    // Lenient where the reference is: non-object entries, nulls, missing sections.
    let lenient = with_report(
        json!({"engine_health": {"ffmpeg": 3}, "execution_summary": {"failed": null}}),
    )?;
    assert!(FabricSnapshot::from_json(&lenient).is_ok());
    Ok(())
}

#[test]
fn error_chain_reads_as_export_then_snapshot() {
    let err = snapshot_id(&json!(1)).err();
    let outer = err.as_ref().map(ToString::to_string).unwrap_or_default();
    let inner = err
        .as_ref()
        .and_then(|e| std::error::Error::source(e))
        .map(ToString::to_string)
        .unwrap_or_default();
    assert_eq!(outer, "snapshot failed");
    assert_eq!(inner, "report is not a JSON object");
}

#[test]
fn large_documents_hash_like_the_reference_serialiser() -> Result<()> {
    // Objects and arrays bigger than the flush size, sorted and not, nested, so
    // that rollbacks of out-of-order objects cross the point where sorted output
    // is handed to the hasher.
    let many = |prefix: &str| -> Value {
        Value::Array(
            (0..6_000)
                .map(|i| Value::String(format!("{prefix}-é-{i:05}")))
                .collect(),
        )
    };
    let sorted: serde_json::Map<String, Value> = (0..3_000)
        .map(|i| (format!("k{i:05}"), json!({"a": i, "b": [1.5, "x"]})))
        .collect();
    let unsorted: serde_json::Map<String, Value> = (0..3_000)
        .rev()
        .map(|i| (format!("k{i:05}"), json!({"b": i, "a": 0.1})))
        .collect();
    let doc = json!({
        "generated_at": "x",
        "z": {"late": many("z"), "early": many("e")},
        "a": [many("a"), {"sorted": sorted, "unsorted": unsorted}],
        "m": {"a": many("m"), "b": 1},
    });
    let mut expected = doc.clone();
    if let Some(map) = expected.as_object_mut() {
        map.shift_remove("generated_at");
    }
    let expected = to_canonical_string(&expected);
    assert!(expected.len() > 500_000);
    assert_eq!(
        String::from_utf8(canonical_report_bytes(&doc)?).unwrap_or_default(),
        expected
    );
    assert_eq!(
        snapshot_id(&doc)?,
        crate::json::sha256_hex(expected.as_bytes())
    );
    Ok(())
}
