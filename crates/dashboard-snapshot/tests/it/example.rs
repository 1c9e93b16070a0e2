//! The example vector (tests/vectors/dashboard/example/README.md): exact statuses
//! and numbers, and each listed variant as its own test.

use dashboard_snapshot::{Error, OracleReason, OracleState, ProjectionReason, Readiness};
use serde_json::{Value, json};

use crate::{TestResult, assemble_with, example_bundle, oracles_value, results_mut};

fn at<'a>(v: &'a Value, pointer: &str) -> Result<&'a Value, String> {
    v.pointer(pointer).ok_or_else(|| format!("no {pointer}"))
}

#[test]
fn oracle_statuses_match_the_readme() -> TestResult {
    let bundle = example_bundle()?;
    let s = &bundle.snapshot.oracle_statuses;
    let expect = [
        (
            "grades",
            OracleState::Failed,
            Some(OracleReason::OracleTimeout),
        ),
        ("objectives_proficiency", OracleState::Ready, None),
        ("progress_bins", OracleState::Ready, None),
        ("progress_proficiency", OracleState::Ready, None),
        ("recommendation", OracleState::Ready, None),
        (
            "schedule_position",
            OracleState::Unavailable,
            Some(OracleReason::MissingOraclePayload),
        ),
        ("scope_resources", OracleState::Ready, None),
        ("student_info", OracleState::Ready, None),
    ];
    assert_eq!(s.len(), expect.len());
    for (key, state, reason) in expect {
        let status = s.get(key).ok_or(key)?;
        assert_eq!(
            (status.status, status.reason_code),
            (state, reason),
            "{key}"
        );
    }
    assert!(s["objectives_proficiency"].stale, "stale flag kept");
    assert_eq!(s["progress_proficiency"].oracle_version, 2);
    assert_eq!(s["schedule_position"].oracle_version, 0);
    assert!(
        !bundle.snapshot.oracles.contains_key("grades"),
        "no payload for an errored oracle"
    );
    assert_eq!(
        bundle.snapshot.metadata.generated_at,
        "2026-03-16T14:00:00Z"
    );
    Ok(())
}

#[test]
fn projection_statuses_match_the_readme() -> TestResult {
    let bundle = example_bundle()?;
    let p = &bundle.projection_statuses;
    let expect: [(&str, Readiness, Option<ProjectionReason>, &[&str]); 5] = [
        (
            "summary",
            Readiness::Partial,
            Some(ProjectionReason::DependencyUnavailable),
            &["grades"],
        ),
        (
            "progress",
            Readiness::Partial,
            Some(ProjectionReason::DependencyUnavailable),
            &["schedule_position"],
        ),
        ("student_support", Readiness::Ready, None, &[]),
        (
            "assessments",
            Readiness::Failed,
            Some(ProjectionReason::DependencyFailed),
            &["grades"],
        ),
        ("challenging_objectives", Readiness::Ready, None, &[]),
    ];
    assert_eq!(p.len(), expect.len());
    for (key, status, reason, missing) in expect {
        let s = p.get(key).ok_or(key)?;
        assert_eq!((s.status, s.reason_code), (status, reason), "{key}");
        assert_eq!(s.missing, missing, "{key}");
    }
    assert!(
        !bundle.projections.contains_key("assessments"),
        "failed projections have no value"
    );
    Ok(())
}

#[test]
fn summary_numbers() -> TestResult {
    let bundle = example_bundle()?;
    let s = bundle.projections.get("summary").ok_or("summary")?;
    assert_eq!(at(s, "/total_students")?, &json!(40));
    assert_eq!(
        at(s, "/metrics/average_student_progress")?.as_f64(),
        Some(60.9)
    );
    assert_eq!(
        at(s, "/metrics/average_class_proficiency")?.as_f64(),
        Some(52.8)
    );
    assert_eq!(at(s, "/metrics/average_assessment_score")?, &Value::Null);
    let cards = at(s, "/cards")?.as_array().ok_or("cards")?;
    let card = cards
        .iter()
        .find(|c| c["id"] == "average_assessment_score")
        .ok_or("assessment card")?;
    assert_eq!(card["status"], "unavailable");
    Ok(())
}

#[test]
fn progress_numbers() -> TestResult {
    let bundle = example_bundle()?;
    let p = bundle.projections.get("progress").ok_or("progress")?;
    let items = at(p, "/items")?.as_array().ok_or("items")?;
    let got: Vec<(u64, f64)> = items
        .iter()
        .map(|i| {
            (
                i["students_completed"].as_u64().unwrap_or(999),
                i["completion_rate_pct"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(31, 77.5), (24, 60.0), (15, 37.5), (6, 15.0), (0, 0.0)]
    );
    assert_eq!(at(p, "/schedule_marker")?, &Value::Null);
    Ok(())
}

#[test]
fn student_support_numbers() -> TestResult {
    let bundle = example_bundle()?;
    let s = bundle
        .projections
        .get("student_support")
        .ok_or("student_support")?;
    let buckets = at(s, "/buckets")?.as_array().ok_or("buckets")?;
    let got: Vec<(String, u64, u64, u64, f64)> = buckets
        .iter()
        .map(|b| {
            (
                b["id"].as_str().unwrap_or("").to_owned(),
                b["count"].as_u64().unwrap_or(0),
                b["active_count"].as_u64().unwrap_or(0),
                b["inactive_count"].as_u64().unwrap_or(0),
                b["pct"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    let want = [
        ("struggling", 9, 7, 2, 22.5),
        ("on_track", 19, 17, 2, 47.5),
        ("excelling", 8, 6, 2, 20.0),
        ("not_enough_information", 4, 4, 0, 10.0),
    ];
    let want: Vec<(String, u64, u64, u64, f64)> = want
        .iter()
        .map(|(a, b, c, d, e)| ((*a).to_owned(), *b, *c, *d, *e))
        .collect();
    assert_eq!(got, want);
    assert_eq!(at(s, "/totals/total")?, &json!(40));
    assert_eq!(at(s, "/totals/active")?, &json!(34));
    assert_eq!(at(s, "/totals/inactive")?, &json!(6));
    assert_eq!(at(s, "/default_bucket_id")?, &json!("struggling"));

    let bucket_of = |id: u64| -> Option<(String, bool)> {
        buckets.iter().find_map(|b| {
            b["students"]
                .as_array()?
                .iter()
                .find(|st| st["student_id"] == id)
                .map(|st| {
                    (
                        b["id"].as_str().unwrap_or("").to_owned(),
                        st["inactive"].as_bool().unwrap_or(false),
                    )
                })
        })
    };
    let boundary = [
        (5011, "struggling"),
        (5012, "excelling"),
        (5013, "on_track"),
        (5014, "on_track"),
        (5028, "not_enough_information"),
        (5005, "not_enough_information"),
        (5020, "not_enough_information"),
        (5034, "not_enough_information"),
    ];
    for (id, bucket) in boundary {
        assert_eq!(
            bucket_of(id).map(|b| b.0).as_deref(),
            Some(bucket),
            "student {id}"
        );
    }
    let mut inactive: Vec<u64> = buckets
        .iter()
        .flat_map(|b| b["students"].as_array().cloned().unwrap_or_default())
        .filter(|st| st["inactive"] == true)
        .filter_map(|st| st["student_id"].as_u64())
        .collect();
    inactive.sort_unstable();
    assert_eq!(inactive, vec![5003, 5014, 5016, 5022, 5030, 5037]);
    let first: Vec<u64> = at(s, "/buckets/0/students")?
        .as_array()
        .ok_or("students")?
        .iter()
        .take(3)
        .filter_map(|st| st["student_id"].as_u64())
        .collect();
    assert_eq!(
        first,
        vec![5003, 5016, 5011],
        "inactive first, then by lower-cased name"
    );
    assert_eq!(at(s, "/buckets/0/students/0/name")?, &json!("Priya Raman"));
    Ok(())
}

#[test]
fn challenging_objectives_numbers() -> TestResult {
    let bundle = example_bundle()?;
    let o = bundle
        .projections
        .get("challenging_objectives")
        .ok_or("objectives")?;
    assert_eq!(at(o, "/state")?, &json!("populated"));
    assert_eq!(at(o, "/low_count")?, &json!(3));
    assert_eq!(at(o, "/rows/0/objective_id")?, &json!(201));
    assert_eq!(at(o, "/rows/0/dominant_level")?, &json!("medium"));
    assert_eq!(at(o, "/rows/0/numbering")?, &json!("1"));
    assert_eq!(at(o, "/rows/0/children/0/objective_id")?, &json!(211));
    assert_eq!(at(o, "/rows/0/children/0/numbering")?, &json!("1.1"));
    assert_eq!(at(o, "/rows/1/objective_id")?, &json!(202));
    assert_eq!(at(o, "/rows/1/numbering")?, &json!("2"));
    assert_eq!(at(o, "/rows/1/children/0/objective_id")?, &json!(221));
    assert_eq!(at(o, "/rows/1/children/0/numbering")?, &json!("2.1"));
    assert_eq!(
        at(o, "/rows")?.as_array().map(Vec::len),
        Some(2),
        "203 and 204 do not qualify"
    );
    Ok(())
}

#[test]
fn objective_levels_and_numbering_of_non_qualifying_rows() {
    use dashboard_snapshot::instructor::dominant_level;
    assert_eq!(
        dominant_level([8, 14, 14, 4]),
        "medium",
        "objective 212: medium/high tie -> medium"
    );
    assert_eq!(dominant_level([5, 9, 22, 4]), "high", "objective 203");
    assert_eq!(
        dominant_level([0, 0, 0, 40]),
        "not_enough_data",
        "objective 204"
    );
    assert_eq!(
        dominant_level([0, 0, 0, 0]),
        "not_enough_data",
        "empty distribution"
    );
    assert_eq!(
        dominant_level([10, 10, 0, 0]),
        "low",
        "ties go to the more concerning level"
    );
}

#[test]
fn variant_without_student_info_makes_support_unavailable() -> TestResult {
    let mut doc = oracles_value()?;
    results_mut(&mut doc)?.retain(|r| r["oracle_key"] != "student_info");
    let bundle = assemble_with(&doc)?;
    let s = &bundle.projection_statuses["student_support"];
    assert_eq!(s.status, Readiness::Unavailable);
    assert_eq!(s.reason_code, Some(ProjectionReason::MissingOraclePayload));
    assert_eq!(s.missing, vec!["student_info"]);
    assert!(!bundle.projections.contains_key("student_support"));
    assert_eq!(
        bundle.projection_statuses["progress"].status,
        Readiness::Partial,
        "others unaffected"
    );
    Ok(())
}

#[test]
fn variant_proficiency_140_is_invalid_projection_data() -> TestResult {
    let mut doc = oracles_value()?;
    let results = results_mut(&mut doc)?;
    let pp = results
        .iter_mut()
        .find(|r| r["oracle_key"] == "progress_proficiency")
        .ok_or("progress_proficiency")?;
    *pp.pointer_mut("/payload/0/proficiency_pct")
        .ok_or("row 0")? = json!(140);
    let bundle = assemble_with(&doc)?;
    let s = &bundle.projection_statuses["student_support"];
    assert_eq!(s.status, Readiness::Failed);
    assert_eq!(s.reason_code, Some(ProjectionReason::InvalidProjectionData));
    let message = s.message.as_deref().unwrap_or("");
    assert!(
        message.contains("progress_proficiency"),
        "names the oracle: {message}"
    );
    assert!(
        message.contains("/0/proficiency_pct"),
        "names the JSON pointer: {message}"
    );
    assert_eq!(
        bundle.projection_statuses["challenging_objectives"].status,
        Readiness::Ready
    );
    Ok(())
}

#[test]
fn variant_other_request_token_is_rejected() -> TestResult {
    let mut doc = oracles_value()?;
    doc["request_token"] = json!("req-someone-else");
    match assemble_with(&doc) {
        Err(Error::ForeignResults { field, .. }) => assert_eq!(field, "request_token"),
        other => return Err(format!("expected ForeignResults, got {other:?}").into()),
    }
    Ok(())
}

#[test]
fn variant_other_container_is_rejected() -> TestResult {
    let mut doc = oracles_value()?;
    doc["container"] = json!({"type": "container", "id": 7});
    assert!(matches!(
        assemble_with(&doc),
        Err(Error::ForeignResults {
            field: "container",
            ..
        })
    ));
    Ok(())
}

#[test]
fn variant_duplicate_grades_is_rejected() -> TestResult {
    let mut doc = oracles_value()?;
    let results = results_mut(&mut doc)?;
    let grades = results
        .iter()
        .find(|r| r["oracle_key"] == "grades")
        .cloned()
        .ok_or("grades")?;
    results.push(grades);
    match assemble_with(&doc) {
        Err(Error::DuplicateOracle { key, first, second }) => {
            assert_eq!((key.as_str(), first, second), ("grades", 5, 7));
        }
        other => return Err(format!("expected DuplicateOracle, got {other:?}").into()),
    }
    Ok(())
}

#[test]
fn variant_assembling_twice_gives_identical_bytes() -> TestResult {
    let a = example_bundle()?.to_json_string()?;
    let b = example_bundle()?.to_json_string()?;
    assert_eq!(a, b);
    Ok(())
}

#[test]
fn bundle_json_snapshot() -> TestResult {
    let text = example_bundle()?.to_json_string()?;
    insta::assert_snapshot!("example_bundle", text);
    Ok(())
}
