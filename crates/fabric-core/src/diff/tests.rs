//! Unit tests for diffs and Python `round(x, 4)`.

use serde_json::{Value, json};

use super::*;
use crate::error::{Error, ExportError};

#[test]
fn round4_is_python_round() {
    for (x, expected) in [
        (0.03125, "0.0312"),
        (-0.03125, "-0.0312"),
        (0.09375, "0.0938"),
        (0.15625, "0.1562"),
        (1.0 / 143.0 - 1.0 / 142.0, "-0.0"),
        (-0.00004, "-0.0"),
        (0.00004, "0.0"),
        (0.00005, "0.0001"),
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (1.0 / 10001.0, "0.0001"),
        (0.1 + 0.2, "0.3"),
        (2.675, "2.675"),
        (1.00005, "1.0001"),
        (0.0125, "0.0125"),
        (1.0 / 32.0 - 1.0 / 30.0, "-0.0021"),
    ] {
        assert_eq!(
            crate::json::python_float_repr(round4(x)),
            expected,
            "round({x:e}, 4)"
        );
    }
}

fn snap(id: &str, report: Value) -> FabricSnapshot {
    FabricSnapshot {
        snapshot_id: id.to_owned(),
        generated_at: String::new(),
        report,
    }
}

#[test]
fn missing_and_null_read_as_zero_and_types_are_kept() -> Result<()> {
    let a = snap(
        "a",
        json!({
            "execution_summary": {"completed": 2, "failed": 1.0, "total_jobs": null},
            "engine_health": {"ffmpeg": {"jobs": 4, "failures": 1, "failure_rate": 0.25}, "other": "x"},
            "proxy_profile_stability": {"p": {"jobs": 4, "failure_rate": 0}},
            "determinism": {"non_deterministic_jobs": ["b", "a", "a"]}
        }),
    );
    let b = snap(
        "b",
        json!({
            "engine_health": {"resolve": {"jobs": 1, "failures": 1, "failure_rate": 1}},
            "proxy_profile_stability": {"p": {"jobs": 5, "failure_rate": 1}, "q": {"jobs": 1, "failure_rate": 1.0}},
            "determinism": {"non_deterministic_jobs": ["c", "a", "c"]}
        }),
    );
    let diff = diff_snapshots(&a, &b)?;
    let expected = json!({
        "from_snapshot": "a",
        "to_snapshot": "b",
        "changes": {
            "execution_summary": {
                "completed_delta": -2, "failed_delta": -1.0,
                "validation_failed_delta": 0, "total_jobs_delta": 0
            },
            "engine_health": {
                "ffmpeg": {"jobs_delta": -4, "failures_delta": -1, "failure_rate_delta": -0.25},
                "other": {"jobs_delta": 0, "failures_delta": 0, "failure_rate_delta": 0.0},
                "resolve": {"jobs_delta": 1, "failures_delta": 1, "failure_rate_delta": 1.0}
            },
            "proxy_profile_stability": {
                "p": {"jobs_delta": 1, "failure_rate_delta": 1},
                "q": {"jobs_delta": 1, "failure_rate_delta": 1.0}
            },
            "determinism": {
                "new_non_deterministic_jobs": ["c"],
                "resolved_non_deterministic_jobs": ["b"]
            }
        }
    });
    let text = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    assert_eq!(text(&diff.to_json()), text(&expected));
    assert!(diff.has_changes());
    Ok(())
}

#[test]
fn null_reports_are_empty_and_equal_snapshots_have_no_changes() -> Result<()> {
    let a = snap("a", Value::Null);
    let diff = diff_snapshots(&a, &a)?;
    assert!(!diff.has_changes());
    assert!(diff.engine_health.is_empty());
    Ok(())
}

#[test]
fn bad_sections_name_the_snapshot_and_path() {
    let a = snap("good", json!({}));
    let b = snap(
        "bad",
        json!({"proxy_profile_stability": {"p": {"jobs": true}}}),
    );
    let err = diff_snapshots(&a, &b).err();
    let expected = DiffError::InvalidReport {
        snapshot_id: "bad".into(),
        source: SnapshotError::BadSection {
            path: "report.proxy_profile_stability.p.jobs".into(),
            expected: "a number",
        },
    };
    assert!(
        matches!(&err, Some(Error::Export(ExportError::Diff(e))) if *e == expected),
        "{err:?}"
    );
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(message, "diff failed");
}
