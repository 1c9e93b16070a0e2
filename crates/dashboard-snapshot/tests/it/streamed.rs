//! Bundles read for export as they stream by (`from_reader_without_payloads`):
//! the same ZIP bytes, manifest and parity as the whole-document read, the same
//! answer (the projection kept as JSON) for anything the typed rows cannot hold
//! exactly, the same refusals for any other shape, and no way to write such a
//! bundle back.

use std::io::Cursor;

use dashboard_snapshot::export::{Registry, plan_export, verify_zip, write_zip};
use dashboard_snapshot::{Error, SnapshotBundle, Telemetry};
use serde_json::Value;

use crate::{TestResult, example_bundle};

fn zip_of(bundle: &SnapshotBundle, profile: &str) -> Result<Vec<u8>, Error> {
    let plan = plan_export(&Registry::instructor(), bundle, profile)?;
    let mut out = Cursor::new(Vec::new());
    write_zip(&plan, bundle, &mut out, &Telemetry::none())?;
    Ok(out.into_inner())
}

/// The ZIP's SHA-256, or the error's text.
fn outcome(bundle: &SnapshotBundle, profile: &str) -> String {
    match zip_of(bundle, profile) {
        Ok(zip) => fabric_core::json::sha256_hex(&zip),
        Err(e) => e.to_string(),
    }
}

fn streamed(text: &str) -> Result<SnapshotBundle, Error> {
    SnapshotBundle::from_reader_without_payloads(text.as_bytes())
}

#[test]
fn streamed_read_exports_the_same_bytes_under_every_profile() -> TestResult {
    let bundle = example_bundle()?;
    let text = bundle.to_json_string()?;
    let read = streamed(&text)?;
    assert!(read.snapshot.oracles.is_empty(), "payloads are skipped");
    for profile in ["instructor_best_effort", "instructor", "instructor_strict"] {
        assert_eq!(
            outcome(&bundle, profile),
            outcome(&read, profile),
            "{profile}"
        );
    }
    assert_eq!(
        dashboard_snapshot::parity::bundle_report(&read),
        dashboard_snapshot::parity::bundle_report(&bundle)
    );
    let zip = zip_of(&read, "instructor_best_effort")?;
    let report = verify_zip(
        &Registry::instructor(),
        &read,
        Cursor::new(zip),
        &Telemetry::none(),
    )?;
    assert!(report.comparison.mismatches.is_empty());
    Ok(())
}

#[test]
fn the_support_projection_is_not_handed_out_without_its_rows() -> TestResult {
    let read = streamed(&example_bundle()?.to_json_string()?)?;
    let ctx = dashboard_snapshot::export::ExportContext::new(&read);
    assert!(ctx.projection("student_support").is_none());
    assert!(ctx.projection("summary").is_some());
    Ok(())
}

#[test]
fn a_bundle_read_for_export_cannot_be_written_back() -> TestResult {
    let read = streamed(&example_bundle()?.to_json_string()?)?;
    assert!(read.to_json_string().is_err());
    Ok(())
}

/// The error's message with its causes.
fn chain(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// The streamed read answers `text` as the whole read does: both refuse it with
/// the same message, or both read it, with the same ZIP under every profile and
/// the same parity.
fn check(text: &str) -> Result<(), String> {
    check_with(text, streamed)?;
    check_with(text, |text| {
        SnapshotBundle::from_reader_for_export(text.as_bytes())
    })
    .map_err(|e| format!("read for export: {e}"))
}

/// [`check`] of one streamed reader.
fn check_with(
    text: &str,
    streamed: fn(&str) -> Result<SnapshotBundle, Error>,
) -> Result<(), String> {
    match (streamed(text), SnapshotBundle::from_json_str(text)) {
        (Err(s), Err(w)) if chain(&s) == chain(&w) => Ok(()),
        (Ok(s), Ok(w)) => {
            for profile in ["instructor_best_effort", "instructor", "instructor_strict"] {
                let (a, b) = (outcome(&s, profile), outcome(&w, profile));
                if a != b {
                    return Err(format!("{profile}: {a} streamed, {b} whole"));
                }
            }
            let parity = dashboard_snapshot::parity::bundle_report;
            if parity(&s) != parity(&w) {
                return Err("the parity differs".into());
            }
            Ok(())
        }
        (s, w) => Err(format!(
            "streamed {:?}, whole {:?}",
            s.as_ref().map(|_| ()).map_err(chain),
            w.as_ref().map(|_| ()).map_err(chain)
        )),
    }
}

/// `doc` with the value at `pointer` replaced by `value` (or removed), as text.
fn edited(doc: &Value, pointer: &str, value: Option<Value>) -> String {
    let mut doc = doc.clone();
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    match (doc.pointer_mut(parent), value) {
        (Some(Value::Object(map)), Some(value)) => {
            map.insert(key.to_owned(), value);
        }
        (Some(Value::Object(map)), None) => {
            map.remove(key);
        }
        (Some(Value::Array(items)), Some(value)) => {
            if let Some(slot) = key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *slot = value;
            }
        }
        _ => {}
    }
    doc.to_string()
}

/// Each edit is one the typed rows cannot hold exactly: the streamed read keeps
/// that projection as JSON and reads the bundle as the whole read does.
#[test]
fn rows_the_typed_form_cannot_hold_exactly_are_read_as_the_whole_read_does() -> TestResult {
    let text = example_bundle()?.to_json_string()?;
    let doc: Value = serde_json::from_str(&text)?;
    let first = "/projections/student_support/buckets/0/students/0";
    assert!(doc.pointer(first).is_some(), "the example has a student");
    let mut failures = Vec::new();
    let edits: [(&str, Option<Value>); 10] = [
        ("progress_pct", Some(Value::from(50))),
        ("proficiency_pct", Some(serde_json::from_str("1e999")?)),
        ("student_id", Some(Value::from("5001"))),
        ("student_id", Some(serde_json::from_str("5001.0")?)),
        ("name", Some(Value::Null)),
        ("inactive", Some(Value::from(1))),
        ("extra", Some(Value::from(true))),
        ("last_interaction_at", Some(Value::from(3))),
        ("last_interaction_at", None),
        ("name", None),
    ];
    for (field, value) in edits {
        let text = edited(&doc, &format!("{first}/{field}"), value.clone());
        assert!(
            streamed(&text)?.projections["student_support"]
                .pointer("/buckets/0/students/0")
                .is_some(),
            "{field}: the projection is held as JSON"
        );
        if let Err(e) = check(&text) {
            failures.push(format!("{field} = {value:?}: {e}"));
        }
    }
    // A key given twice keeps its last value, as in the whole read.
    let at = text
        .find("\"projections\": {")
        .and_then(|p| text[p..].find("\"student_support\": {").map(|s| p + s))
        .ok_or("no student_support projection")?;
    let (head, tail) = text.split_at(at);
    let twice = format!(
        "{head}{}",
        tail.replacen(
            "\"student_support\": {",
            "\"student_support\": {\"as_of\": \"x\",",
            1
        )
    );
    if let Err(e) = check(&twice) {
        failures.push(format!("a key given twice: {e}"));
    }
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}

/// Every part of another shape than `assemble` writes, down to the student
/// rows, and every document that is no bundle at all: the streamed read answers
/// as the whole read does.
#[test]
fn any_shape_is_read_as_the_whole_read_does() -> TestResult {
    let text = example_bundle()?.to_json_string()?;
    let doc: Value = serde_json::from_str(&text)?;
    let float: Value = serde_json::from_str("1.5")?;
    let odd = [
        Value::Null,
        float.clone(),
        serde_json::from_str("18446744073709551616")?,
        Value::from(-3),
        Value::from("x"),
        Value::Bool(true),
        serde_json::json!([]),
        serde_json::json!([1.5, {"a": 1}]),
        serde_json::json!({}),
    ];
    let mut failures = Vec::new();
    for pointer in [
        "/projections/student_support/buckets/0/students/0",
        "/projections/student_support/buckets/0/students",
        "/projections/student_support/buckets/0",
        "/projections/student_support/buckets",
        "/projections/student_support",
        "/projections/summary",
        "/projections",
        "/snapshot/oracles",
        "/snapshot/scope",
        "/snapshot/snapshot_version",
        "/snapshot",
        "/parity",
        "/format",
    ] {
        for value in odd.iter().cloned().map(Some).chain([None]) {
            let text = edited(&doc, pointer, value.clone());
            if let Err(e) = check(&text) {
                failures.push(format!("{pointer} = {value:?}: {e}"));
            }
        }
    }
    for value in &odd {
        if let Err(e) = check(&value.to_string()) {
            failures.push(format!("the document {value}: {e}"));
        }
    }
    for text in [
        "{not json".to_owned(),
        text[..text.len() / 2].to_owned(),
        format!("{text} {{}}"),
        text.replacen('{', "{\"format\": 1, ", 1),
        text.replacen('{', "{\"snapshot\": 1, ", 1),
        text.replacen('{', "{\"projections\": 1, ", 1),
        text.replacen(
            "\"oracles\": {",
            "\"oracles\": {\"x\": 1.5, \"x\": [1], ",
            1,
        ),
    ] {
        if let Err(e) = check(&text) {
            failures.push(format!("{}: {e}", &text[..text.len().min(60)]));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}

#[test]
fn streamed_read_checks_format_and_versions() -> TestResult {
    let doc: Value = serde_json::from_str(&example_bundle()?.to_json_string()?)?;
    for (pointer, value) in [
        ("/format", Value::from("fabric.dashboard.bundle/9")),
        ("/snapshot/snapshot_version", Value::from(99)),
        ("/snapshot/projection_version", Value::from(99)),
    ] {
        let mut edited = doc.clone();
        if let Some(slot) = edited.pointer_mut(pointer) {
            *slot = value;
        }
        match streamed(&edited.to_string()) {
            Err(Error::UnsupportedVersion { .. }) => {}
            other => panic!("{pointer}: {other:?}"),
        }
    }
    Ok(())
}

/// The bundle `fabric dashboard assemble` prints: student rows typed, everything
/// else as the whole-tree bundle has it.
fn typed_bundle(oracles: &str) -> Result<SnapshotBundle, Box<dyn std::error::Error>> {
    let set = dashboard_snapshot::ProjectionSet::instructor();
    let mut scope = dashboard_snapshot::parse_scope(&crate::scope_text()?)?;
    let oracles = dashboard_snapshot::parse_oracles_text(oracles.to_owned())?;
    if !scope.expected_given {
        scope.scope.expected_oracles = set.all_oracles();
    }
    let token = dashboard_snapshot::resolve_token(None, &scope, &oracles)?;
    let snapshot = dashboard_snapshot::assemble_owned(&scope.scope, &token, oracles.results)?;
    Ok(dashboard_snapshot::build_bundle_typed(
        &set,
        snapshot,
        &Telemetry::none(),
    ))
}

#[test]
fn typed_rows_print_fingerprint_and_export_as_the_tree_does() -> TestResult {
    let tree = example_bundle()?;
    let typed = typed_bundle(&crate::oracles_text()?)?;
    let students = |b: &SnapshotBundle| {
        b.projections["student_support"]
            .pointer("/buckets/0/students")
            .and_then(Value::as_array)
            .map(Vec::len)
    };
    assert!(students(&tree).is_some_and(|n| n > 0));
    assert_eq!(students(&typed), Some(0), "rows are held typed");
    assert_eq!(typed.to_json_string()?, tree.to_json_string()?);
    assert_eq!(typed.parity, tree.parity);
    for profile in ["instructor_best_effort", "instructor", "instructor_strict"] {
        assert_eq!(
            outcome(&typed, profile),
            outcome(&tree, profile),
            "{profile}"
        );
    }
    Ok(())
}

#[test]
fn a_payload_given_as_text_prints_sorted_and_normalised() -> TestResult {
    let mut doc: Value = serde_json::from_str(&crate::oracles_text()?)?;
    let results = doc
        .pointer_mut("/results")
        .and_then(Value::as_array_mut)
        .ok_or("results")?;
    results.push(serde_json::json!({
        "oracle_key": "extra_oracle",
        "status": "ok",
        "payload": "PAYLOAD"
    }));
    // As text: an integer -0, a float spelled 1.50, an escape, a repeated key.
    let text = serde_json::to_string_pretty(&doc)?.replace(
        "\"PAYLOAD\"",
        r#"{"z": [-0, 1.50, "\u00e9"], "a": {"y": null, "b": -0.0}, "a": {"c": 2}}"#,
    );
    let typed = typed_bundle(&text)?;
    let tree = dashboard_snapshot::assemble_bundle(
        &dashboard_snapshot::ProjectionSet::instructor(),
        &crate::scope_text()?,
        &text,
        None,
        &Telemetry::none(),
    )?;
    assert_eq!(typed.to_json_string()?, tree.to_json_string()?);
    let printed: Value = serde_json::from_str(&typed.to_json_string()?)?;
    assert_eq!(
        printed.pointer("/snapshot/oracles/extra_oracle/z/0"),
        Some(&serde_json::json!(0))
    );
    assert_eq!(
        printed.pointer("/snapshot/oracles/extra_oracle/a"),
        Some(&serde_json::json!({"c": 2}))
    );
    Ok(())
}

/// The payloads are parsed on another thread as they stream by, never skipped
/// unchecked: a bundle whose payload text is not JSON is refused.
#[test]
fn a_broken_payload_is_refused_though_payloads_are_skipped() -> TestResult {
    let text = example_bundle()?.to_json_string()?;
    assert!(text.contains("\"oracles\": {"));
    for broken in ["tru", "01", "\"\\x\"", "[1,]", "{\"a\" 1}"] {
        let bundle = text.replacen(
            "\"oracles\": {",
            &format!("\"oracles\": {{\"x\": {broken}, "),
            1,
        );
        assert!(streamed(&bundle).is_err(), "{broken} was accepted");
    }
    assert!(streamed(&text).is_ok());
    Ok(())
}

/// Bucket shapes that make the entry compressed while reading (for export)
/// differ from the serializer's: the export still writes the whole read's bytes.
#[test]
fn a_support_list_compressed_early_never_differs_from_the_serializer() -> TestResult {
    let text = example_bundle()?.to_json_string()?;
    let doc: Value = serde_json::from_str(&text)?;
    let buckets = "/projections/student_support/buckets";
    let first: serde_json::Map<String, Value> = doc
        .pointer(&format!("{buckets}/0"))
        .and_then(Value::as_object)
        .cloned()
        .ok_or("the example has a support bucket")?;
    let students = first
        .get("students")
        .cloned()
        .ok_or("a bucket has students")?;
    assert!(students.as_array().is_some_and(|s| !s.is_empty()));
    // The bucket's entries in another order, the `id` after the students.
    let mut id_last = serde_json::Map::new();
    for (k, v) in first.iter().filter(|(k, _)| *k != "id") {
        id_last.insert(k.clone(), v.clone());
    }
    id_last.insert("id".into(), first["id"].clone());
    let mut failures = Vec::new();
    let mut cases = vec![
        (
            "the id after the students",
            edited(&doc, &format!("{buckets}/0"), Some(Value::Object(id_last))),
        ),
        (
            "a numeric id",
            edited(&doc, &format!("{buckets}/0/id"), Some(Value::from(7))),
        ),
        (
            "no students",
            edited(
                &doc,
                &format!("{buckets}/0/students"),
                Some(serde_json::json!([])),
            ),
        ),
        (
            "no buckets",
            edited(&doc, buckets, Some(serde_json::json!([]))),
        ),
    ];
    // Keys given twice: the last value counts.
    let bucket_at = text.find("\"buckets\": [").ok_or("no buckets")?;
    let twice = |from: &str, to: &str| -> Result<String, String> {
        let at = text[bucket_at..].find(from).ok_or(format!("no {from}"))? + bucket_at;
        Ok(format!("{}{}{}", &text[..at], to, &text[at + from.len()..]))
    };
    let id = first["id"].as_str().ok_or("a string id")?;
    cases.push((
        "the id twice",
        twice(
            &format!("\"id\": \"{id}\""),
            &format!("\"id\": \"other\", \"id\": \"{id}\""),
        )?,
    ));
    cases.push((
        "the students twice",
        twice("\"students\": [", "\"students\": [], \"students\": [")?,
    ));
    cases.push((
        "the students twice, the first list not empty",
        twice(
            "\"students\": [",
            &format!("\"students\": {students}, \"students\": ["),
        )?,
    ));
    cases.push((
        "the projection twice",
        text.replacen(
            "\"student_support\": {",
            &format!("\"student_support\": {{\"buckets\": [{{\"id\": \"{id}\", \"students\": {students}}}]}}, \"student_support\": {{"),
            1,
        ),
    ));
    for (what, text) in cases {
        if let Err(e) = check(&text) {
            failures.push(format!("{what}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    Ok(())
}
