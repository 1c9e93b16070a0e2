//! The contract and the projection framework: versions, status invariants, the
//! B4 decision table, isolation (errors and panics), filters, merge, telemetry.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use dashboard_snapshot::{
    DeriveError, Derived, Error, OracleOutcome, OracleResult, Projection, ProjectionInput,
    ProjectionReason, ProjectionSet, ProjectionStatus, Readiness, SnapshotBundle, Telemetry,
    TelemetryEvent, assemble, build_bundle, merge_oracle_results, parse_scope,
};
use serde_json::{Value, json};

use crate::{TestResult, example_bundle, oracles_text, oracles_value, scope_text};

struct Panics;
impl Projection for Panics {
    fn key(&self) -> &'static str {
        "panics"
    }
    fn required_oracles(&self) -> &'static [&'static str] {
        &["scope_resources"]
    }
    fn optional_oracles(&self) -> &'static [&'static str] {
        &[]
    }
    fn derive(&self, _input: &ProjectionInput<'_>) -> Result<Derived, DeriveError> {
        panic!("deliberate test panic");
    }
}

struct Fails;
impl Projection for Fails {
    fn key(&self) -> &'static str {
        "fails"
    }
    fn required_oracles(&self) -> &'static [&'static str] {
        &[]
    }
    fn optional_oracles(&self) -> &'static [&'static str] {
        &[]
    }
    fn derive(&self, _input: &ProjectionInput<'_>) -> Result<Derived, DeriveError> {
        Err(DeriveError::Failed("no".into()))
    }
}

struct Degrades;
impl Projection for Degrades {
    fn key(&self) -> &'static str {
        "degrades"
    }
    fn required_oracles(&self) -> &'static [&'static str] {
        &[]
    }
    fn optional_oracles(&self) -> &'static [&'static str] {
        &[]
    }
    fn derive(&self, input: &ProjectionInput<'_>) -> Result<Derived, DeriveError> {
        Ok(Derived::Degraded {
            value: json!({"threshold": input.scope.filters.completion_threshold_pct}),
            message: "half done".into(),
        })
    }
}

fn example_snapshot() -> Result<dashboard_snapshot::Snapshot, Box<dyn std::error::Error>> {
    let mut scope = parse_scope(&scope_text()?)?;
    scope.scope.expected_oracles = ProjectionSet::instructor().all_oracles();
    let oracles = dashboard_snapshot::parse_oracles(&oracles_text()?)?;
    Ok(assemble(
        &scope.scope,
        "req-bio101-s4102-20260316-0001",
        &oracles.results,
    )?)
}

#[test]
fn a_panicking_projection_never_blocks_the_others() -> TestResult {
    let mut list = dashboard_snapshot::instructor::all();
    list.insert(0, Arc::new(Panics));
    list.push(Arc::new(Fails));
    list.push(Arc::new(Degrades));
    let set = ProjectionSet::new(list)?;
    let bundle = build_bundle(&set, example_snapshot()?, &Telemetry::none());
    let p = &bundle.projection_statuses;
    assert_eq!(p["panics"].status, Readiness::Failed);
    assert_eq!(
        p["panics"].reason_code,
        Some(ProjectionReason::ProjectionDerivationFailed)
    );
    assert!(
        p["panics"]
            .message
            .as_deref()
            .unwrap_or("")
            .contains("deliberate test panic")
    );
    assert_eq!(
        p["fails"].reason_code,
        Some(ProjectionReason::ProjectionDerivationFailed)
    );
    assert_eq!(p["degrades"].status, Readiness::Partial);
    assert_eq!(
        p["degrades"].reason_code,
        Some(ProjectionReason::DependencyUnavailable)
    );
    assert_eq!(p["degrades"].message.as_deref(), Some("half done"));
    assert_eq!(p["student_support"].status, Readiness::Ready);
    assert_eq!(p["challenging_objectives"].status, Readiness::Ready);
    assert!(!bundle.projections.contains_key("panics"));
    assert_eq!(
        bundle.projections["degrades"]["capability"], "degrades",
        "the framework adds the header"
    );
    Ok(())
}

#[test]
fn unknown_projection_key_is_unsupported() -> TestResult {
    let set = ProjectionSet::instructor();
    match set.derive(&example_snapshot()?, "ai_context", &Telemetry::none()) {
        Err(Error::UnknownProjection { key }) => assert_eq!(key, "ai_context"),
        other => return Err(format!("expected UnknownProjection, got {other:?}").into()),
    }
    Ok(())
}

#[test]
fn non_ready_status_needs_a_reason_code() {
    assert!(ProjectionStatus::new(Readiness::Partial, None, vec![], None).is_err());
    assert!(
        ProjectionStatus::new(
            Readiness::Ready,
            Some(ProjectionReason::DependencyFailed),
            vec![],
            None
        )
        .is_err()
    );
    assert!(
        ProjectionStatus::new(
            Readiness::Failed,
            Some(ProjectionReason::DependencyFailed),
            vec![],
            None
        )
        .is_ok()
    );
    let parsed: Result<ProjectionStatus, _> =
        serde_json::from_value(json!({"status": "failed", "reason_code": null}));
    assert!(parsed.is_err(), "the invariant holds when reading too");
    let export_code: Result<ProjectionStatus, _> = serde_json::from_value(
        json!({"status": "failed", "reason_code": "dataset_policy_excluded"}),
    );
    assert!(
        export_code.is_err(),
        "export reason codes are not projection reason codes"
    );
    let loading: Result<ProjectionStatus, _> =
        serde_json::from_value(json!({"status": "loading", "reason_code": "dependency_failed"}));
    assert!(loading.is_err());
}

#[test]
fn unsupported_versions_are_rejected() -> TestResult {
    let text = example_bundle()?.to_json_string()?;
    let doc: Value = serde_json::from_str(&text)?;
    for (pointer, value) in [
        ("/snapshot/snapshot_version", json!(2)),
        ("/snapshot/projection_version", json!(9)),
        ("/format", json!("fabric.dashboard.bundle/2")),
    ] {
        let mut edited = doc.clone();
        *edited.pointer_mut(pointer).ok_or(pointer)? = value;
        assert!(
            matches!(
                SnapshotBundle::from_json_str(&edited.to_string()),
                Err(Error::UnsupportedVersion { .. })
            ),
            "{pointer}"
        );
    }
    assert_eq!(SnapshotBundle::from_json_str(&text)?, example_bundle()?);
    Ok(())
}

#[test]
fn scope_file_rules() -> TestResult {
    let scope: Value = serde_json::from_str(&scope_text()?)?;
    let mut unknown = scope.clone();
    unknown["colour"] = json!("red");
    assert!(matches!(
        parse_scope(&unknown.to_string()),
        Err(Error::UnknownKeys { .. })
    ));
    let mut course_with_id = scope.clone();
    course_with_id["container"] = json!({"type": "course", "id": 3});
    assert!(parse_scope(&course_with_id.to_string()).is_err());
    let mut no_clock = scope.clone();
    if let Some(map) = no_clock.as_object_mut() {
        map.remove("as_of");
    }
    assert!(
        parse_scope(&no_clock.to_string()).is_err(),
        "as_of is required"
    );
    let mut bad_filter = scope;
    bad_filter["filters"]["colour"] = json!(1);
    assert!(
        parse_scope(&bad_filter.to_string()).is_err(),
        "unknown filter keys rejected"
    );
    Ok(())
}

#[test]
fn nested_oracle_metadata_is_rejected() -> TestResult {
    let mut doc = oracles_value()?;
    doc["results"][0]["metadata"] = json!({"source": {"nested": true}});
    assert!(dashboard_snapshot::parse_oracles(&doc.to_string()).is_err());
    Ok(())
}

#[test]
fn merge_lets_incoming_win() {
    let result = |key: &str, v: i64| OracleResult {
        oracle_key: key.into(),
        outcome: OracleOutcome::Ok(json!(v).into()),
        oracle_version: 1,
        stale: false,
        metadata: BTreeMap::new(),
    };
    let existing: BTreeMap<String, OracleResult> = [
        ("a".to_owned(), result("a", 1)),
        ("b".to_owned(), result("b", 1)),
    ]
    .into();
    let incoming: BTreeMap<String, OracleResult> = [("b".to_owned(), result("b", 2))].into();
    let merged = merge_oracle_results(&existing, &incoming);
    assert_eq!(merged["a"].outcome, OracleOutcome::Ok(json!(1).into()));
    assert_eq!(merged["b"].outcome, OracleOutcome::Ok(json!(2).into()));
}

#[test]
fn scope_filters_reach_the_projections() -> TestResult {
    let mut scope: Value = serde_json::from_str(&scope_text()?)?;
    scope["filters"]["completion_threshold_pct"] = json!(80);
    scope["filters"]["support"]["inactivity_days"] = json!(30);
    let bundle = dashboard_snapshot::assemble_bundle(
        &ProjectionSet::instructor(),
        &scope.to_string(),
        &oracles_text()?,
        None,
        &Telemetry::none(),
    )?;
    let unit1 = &bundle.projections["progress"]["items"][0];
    assert_eq!(
        unit1["students_completed"],
        json!(35),
        "bins 100 (31) + 80 (4)"
    );
    assert_eq!(
        bundle.projections["student_support"]["totals"]["inactive"],
        json!(1),
        "only the student who never interacted"
    );
    Ok(())
}

#[test]
fn derived_token_is_content_addressed() -> TestResult {
    let mut scope: Value = serde_json::from_str(&scope_text()?)?;
    if let Some(map) = scope.as_object_mut() {
        map.remove("request_token");
    }
    let mut oracles = oracles_value()?;
    if let Some(map) = oracles.as_object_mut() {
        map.remove("request_token");
    }
    let build = || {
        dashboard_snapshot::assemble_bundle(
            &ProjectionSet::instructor(),
            &scope.to_string(),
            &oracles.to_string(),
            None,
            &Telemetry::none(),
        )
    };
    let a = build()?;
    assert!(a.snapshot.request_token.starts_with("auto-"));
    assert_eq!(a.snapshot.request_token.len(), 5 + 16);
    assert_eq!(a.to_json_string()?, build()?.to_json_string()?);
    Ok(())
}

#[test]
fn telemetry_carries_no_student_values() -> TestResult {
    let events: Mutex<Vec<TelemetryEvent>> = Mutex::new(Vec::new());
    let record = |e: &TelemetryEvent| {
        if let Ok(mut list) = events.lock() {
            list.push(e.clone());
        }
    };
    let telemetry = Telemetry::with_callback(&record);
    let bundle = dashboard_snapshot::assemble_bundle(
        &ProjectionSet::instructor(),
        &scope_text()?,
        &oracles_text()?,
        None,
        &telemetry,
    )?;
    let registry = dashboard_snapshot::export::Registry::instructor();
    let plan =
        dashboard_snapshot::export::plan_export(&registry, &bundle, "instructor_best_effort")?;
    dashboard_snapshot::export::write_zip(
        &plan,
        &bundle,
        std::io::Cursor::new(Vec::new()),
        &telemetry,
    )?;
    let events = events.into_inner().map_err(|_| "poisoned")?;
    assert_eq!(
        events.len(),
        1 + 2 * 5 + 2,
        "assembly, 5 x (stop + status), export, parity"
    );
    // Durations are numbers that could spell any digits; everything else must be clean.
    let mut values = serde_json::to_value(&events)?;
    for e in values.as_array_mut().ok_or("events")? {
        if let Some(map) = e.as_object_mut() {
            map.remove("duration_ms");
        }
    }
    let text = values.to_string();
    let oracles = oracles_value()?;
    let mut forbidden = vec![
        "req-bio101".to_owned(),
        "4102".to_owned(),
        "example.edu".to_owned(),
        "BIO 101".to_owned(),
    ];
    for s in oracles
        .pointer("/results/3/payload")
        .and_then(Value::as_array)
        .ok_or("student_info")?
    {
        for key in ["given_name", "family_name", "email"] {
            if let Some(v) = s[key].as_str() {
                forbidden.push(v.to_owned());
            }
        }
        forbidden.push(s["student_id"].to_string());
    }
    for needle in &forbidden {
        assert!(!text.contains(needle.as_str()), "telemetry leaked {needle}");
    }
    Ok(())
}
