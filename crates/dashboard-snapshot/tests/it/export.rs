//! Export: the three profiles on the example, every CSV and the manifest as
//! snapshots, byte-identical ZIPs, header-only datasets, verify and tampering.

use std::io::{Cursor, Read, Write};

use dashboard_snapshot::export::{Registry, plan_export, verify_zip, write_zip};
use dashboard_snapshot::parity::{ParityStatus, compare};
use dashboard_snapshot::{Error, ExportReason, SnapshotBundle, Telemetry};
use serde_json::json;

use crate::{TestResult, example_bundle};

/// SHA-256 of the `instructor_best_effort` ZIP of the example. A dependency bump
/// (zip, flate2, miniz_oxide) or a format change that alters bytes fails here.
const GOLDEN_ZIP_SHA256: &str = "a171ebf54f838220017a7c272160f77c3d3a85b1847d8dafd7a5f3f79ef58269";

fn export(
    bundle: &SnapshotBundle,
    profile: &str,
) -> Result<(Vec<u8>, dashboard_snapshot::export::ExportManifest), Error> {
    let plan = plan_export(&Registry::instructor(), bundle, profile)?;
    let mut out = Cursor::new(Vec::new());
    let manifest = write_zip(&plan, bundle, &mut out, &Telemetry::none())?;
    Ok((out.into_inner(), manifest))
}

fn entries(zip: &[u8]) -> Result<Vec<(String, String)>, Box<dyn std::error::Error>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip))?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i)?;
        let mut text = String::new();
        entry.read_to_string(&mut text)?;
        out.push((entry.name().to_owned(), text));
    }
    Ok(out)
}

#[test]
fn best_effort_export_matches_the_readme() -> TestResult {
    let bundle = example_bundle()?;
    let (zip, manifest) = export(&bundle, "instructor_best_effort")?;
    let files = entries(&zip)?;
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "dashboard_metadata.csv",
            "course_summary_metrics.csv",
            "student_progress.csv",
            "student_support_summary.csv",
            "student_support_list.csv",
            "challenging_objectives.csv",
            "manifest.json",
        ]
    );
    let rows: Vec<(String, Option<u64>, String)> = manifest
        .datasets
        .iter()
        .map(|d| {
            (
                d.dataset_id.clone(),
                d.row_count,
                d.projection_state.as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows[0],
        ("dashboard_metadata".into(), Some(17), "ready".into())
    );
    assert_eq!(
        rows[1],
        ("course_summary_metrics".into(), Some(4), "partial".into())
    );
    assert_eq!(
        rows[2],
        ("student_progress".into(), Some(5), "partial".into())
    );
    assert_eq!(rows[3].1, Some(4));
    assert_eq!(rows[4].1, Some(40));
    assert_eq!(rows[5].1, Some(3));
    assert_eq!(
        (
            manifest.totals.datasets,
            manifest.totals.included,
            manifest.totals.excluded
        ),
        (8, 6, 2)
    );
    for d in &manifest.datasets[6..] {
        assert_eq!(d.status, "excluded");
        assert_eq!(d.reason_code.as_deref(), Some("dataset_policy_excluded"));
        assert_eq!(d.projection_state.as_str(), "failed");
    }
    assert_eq!(manifest.generated_at, "2026-03-16T14:00:00Z");
    assert_eq!(manifest.parity.comparison.status, ParityStatus::Match);
    let (_, metrics) = &files[1];
    assert!(metrics.contains("\r\naverage_assessment_score,,percent\r\n"));
    let (_, objectives) = &files[5];
    assert_eq!(
        objectives,
        "objective_id,label,objective,sub_objective,dominant_level,low,medium,high,not_enough_data\r\n\
         211,1.1,Describe the structure of a plant cell,Identify organelles involved in photosynthesis,low,18,12,6,4\r\n\
         202,LO 2,Explain photosynthesis,,low,17,11,8,4\r\n\
         221,2.1,Explain photosynthesis,Balance the photosynthesis equation,low,21,9,6,4\r\n"
    );
    let (_, list) = &files[4];
    for probe in [
        "5017,\"'=HYPERLINK(\"\"http://example.invalid\"\",\"\"x\"\") Test\",excelling,",
        "5008,\"Diego O'Brien, Jr.\",",
        "5023,\"Sam \"\"Sammy\"\" Eze\",",
        "5029,Zoë Müller,",
    ] {
        assert!(list.contains(probe), "{probe}");
    }
    for (name, text) in &files {
        let name = name.replace('.', "_");
        insta::assert_snapshot!(format!("best_effort_{name}"), text);
    }
    Ok(())
}

#[test]
fn two_exports_are_byte_identical_and_match_the_golden_hash() -> TestResult {
    let bundle = example_bundle()?;
    let (a, _) = export(&bundle, "instructor_best_effort")?;
    let (b, _) = export(
        &SnapshotBundle::from_json_str(&bundle.to_json_string()?)?,
        "instructor_best_effort",
    )?;
    assert_eq!(a, b);
    assert_eq!(fabric_core::json::sha256_hex(&a), GOLDEN_ZIP_SHA256);
    Ok(())
}

#[test]
fn accept_partial_profile_is_blocked_by_assessments() -> TestResult {
    let bundle = example_bundle()?;
    match export(&bundle, "instructor") {
        Err(Error::ExportBlocked(f)) => {
            assert_eq!(f.reason_code, ExportReason::RequiredProjectionFailed);
            assert_eq!(f.dataset_id, "assessment_score_distribution");
            let ids: Vec<&str> = f.blocking.iter().map(|b| b.dataset_id.as_str()).collect();
            assert_eq!(ids, ["assessment_score_distribution", "assessment_summary"]);
            insta::assert_snapshot!("blocked_instructor", blocked_text(&f)?);
        }
        other => {
            return Err(format!("expected a blocked export, got {:?}", other.map(|m| m.1)).into());
        }
    }
    Ok(())
}

#[test]
fn strict_profile_is_blocked_by_partial_summary_first() -> TestResult {
    let bundle = example_bundle()?;
    match export(&bundle, "instructor_strict") {
        Err(Error::ExportBlocked(f)) => {
            assert_eq!(f.reason_code, ExportReason::RequiredProjectionPartial);
            assert_eq!(f.dataset_id, "course_summary_metrics");
            let ids: Vec<&str> = f.blocking.iter().map(|b| b.dataset_id.as_str()).collect();
            assert_eq!(
                ids,
                [
                    "course_summary_metrics",
                    "student_progress",
                    "assessment_score_distribution",
                    "assessment_summary"
                ]
            );
            insta::assert_snapshot!("blocked_instructor_strict", blocked_text(&f)?);
        }
        other => {
            return Err(format!("expected a blocked export, got {:?}", other.map(|m| m.1)).into());
        }
    }
    Ok(())
}

fn blocked_text(
    f: &dashboard_snapshot::export::ExportFailure,
) -> Result<String, serde_json::Error> {
    let mut text = format!("error: export failed: {f}\n");
    for b in &f.blocking {
        text.push_str(&format!("  blocking: {b}\n"));
    }
    text.push_str(&serde_json::to_string_pretty(&json!({
        "ok": false, "reason_code": f.reason_code, "dataset_id": f.dataset_id, "blocking": f.blocking,
    }))?);
    Ok(text)
}

#[test]
fn unknown_profile_is_an_error() -> TestResult {
    assert!(matches!(
        export(&example_bundle()?, "nope"),
        Err(Error::UnknownProfile { .. })
    ));
    Ok(())
}

#[test]
fn empty_dataset_is_written_header_only() -> TestResult {
    let mut bundle = example_bundle()?;
    let objectives = bundle
        .projections
        .get_mut("challenging_objectives")
        .ok_or("objectives")?;
    objectives["rows"] = json!([]);
    bundle.parity = dashboard_snapshot::parity::bundle_report(&bundle);
    let (zip, manifest) = export(&bundle, "instructor_best_effort")?;
    let files = entries(&zip)?;
    let (_, text) = files
        .iter()
        .find(|(n, _)| n == "challenging_objectives.csv")
        .ok_or("file")?;
    assert_eq!(
        text,
        "objective_id,label,objective,sub_objective,dominant_level,low,medium,high,not_enough_data\r\n"
    );
    let d = manifest
        .datasets
        .iter()
        .find(|d| d.dataset_id == "challenging_objectives")
        .ok_or("entry")?;
    assert_eq!(d.row_count, Some(0));
    Ok(())
}

#[test]
fn an_edited_bundle_fails_with_parity_mismatch() -> TestResult {
    let mut bundle = example_bundle()?;
    bundle.projections.get_mut("progress").ok_or("progress")?["items"][0]["students_completed"] =
        json!(32);
    assert!(matches!(
        export(&bundle, "instructor_best_effort"),
        Err(Error::BundleTampered { .. })
    ));
    Ok(())
}

#[test]
fn verify_matches_then_names_the_tampered_dataset() -> TestResult {
    let bundle = example_bundle()?;
    let registry = Registry::instructor();
    let (zip, _) = export(&bundle, "instructor_best_effort")?;
    let report = verify_zip(&registry, &bundle, Cursor::new(&zip), &Telemetry::none())?;
    assert_eq!(report.comparison.status, ParityStatus::Match);
    assert_eq!(report.expected_fingerprint, report.actual_fingerprint);

    // Rewrite the archive with one CSV cell changed.
    let mut archive = zip::ZipArchive::new(Cursor::new(&zip))?;
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i)?;
        let mut text = String::new();
        entry.read_to_string(&mut text)?;
        if entry.name() == "student_progress.csv" {
            text = text.replace(",31,40,77.5", ",39,40,97.5");
        }
        out.start_file(entry.name(), zip::write::SimpleFileOptions::default())?;
        out.write_all(text.as_bytes())?;
    }
    let tampered = out.finish()?.into_inner();
    let report = verify_zip(
        &registry,
        &bundle,
        Cursor::new(&tampered),
        &Telemetry::none(),
    )?;
    assert_eq!(report.comparison.status, ParityStatus::Mismatch);
    let names: Vec<&str> = report
        .comparison
        .mismatches
        .iter()
        .map(|m| m.component.as_str())
        .collect();
    assert_eq!(names, ["dataset:student_progress"]);
    Ok(())
}

#[test]
fn compare_names_every_drifted_component() {
    let a = [
        ("projection:a", "1"),
        ("projection:b", "2"),
        ("dataset:x", "3"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into();
    let b = [
        ("projection:a", "1"),
        ("projection:b", "9"),
        ("dataset:y", "3"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into();
    let c = compare(&a, &b);
    assert_eq!(c.status, ParityStatus::Mismatch);
    let names: Vec<(&str, Option<&str>, Option<&str>)> = c
        .mismatches
        .iter()
        .map(|m| {
            (
                m.component.as_str(),
                m.expected.as_deref(),
                m.actual.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("dataset:x", Some("3"), None),
            ("dataset:y", None, Some("3")),
            ("projection:b", Some("2"), Some("9"))
        ]
    );
}

#[test]
fn manifest_records_the_parity_fingerprints() -> TestResult {
    let bundle = example_bundle()?;
    let (_, manifest) = export(&bundle, "instructor_best_effort")?;
    assert_eq!(
        manifest.parity.bundle_fingerprint,
        bundle.parity.bundle_fingerprint
    );
    assert_eq!(manifest.parity.components.len(), 5 + 8);
    assert!(
        manifest
            .parity
            .components
            .contains_key("dataset:student_support_list")
    );
    Ok(())
}

fn with_grades() -> Result<SnapshotBundle, Box<dyn std::error::Error>> {
    let hist = |counts: [u64; 10]| -> serde_json::Value {
        dashboard_snapshot::instructor::HISTOGRAM_BINS
            .iter()
            .zip(counts)
            .map(|(b, c)| ((*b).to_owned(), json!(c)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let grades = json!({"grades": [
        {"assessment_id": 303, "title": "Midterm Exam", "available_at": "2026-03-01T00:00:00Z",
         "due_at": "2026-03-10T23:59:00Z", "minimum": 12.0, "median": 64.5, "mean": 61.25, "maximum": 98.0,
         "standard_deviation": 17.34, "histogram": hist([0, 1, 2, 3, 4, 5, 6, 5, 3, 1]), "completed_count": 30, "total_students": 40},
        {"assessment_id": 399, "histogram": hist([0; 10]), "completed_count": 10, "total_students": 40},
        {"assessment_id": 301, "due_at": "2026-02-10T23:59:00Z", "minimum": 40.0, "median": 80.0, "mean": 78.75,
         "maximum": 100.0, "standard_deviation": 9.0, "histogram": hist([0, 0, 0, 0, 2, 4, 8, 10, 8, 6]),
         "completed_count": 38, "total_students": 40},
        {"assessment_id": 302, "title": "=cmd|' /C calc'!A0", "available_at": "2026-02-20T00:00:00Z",
         "mean": -3.5, "histogram": hist([20, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "completed_count": 20, "total_students": 40},
    ]});
    let mut doc = crate::oracles_value()?;
    for r in crate::results_mut(&mut doc)? {
        if r["oracle_key"] == "grades" {
            *r = json!({"oracle_key": "grades", "status": "ok", "payload": grades.clone()});
        }
    }
    Ok(crate::assemble_with(&doc)?)
}

#[test]
fn assessments_with_grades_export_under_the_default_profile() -> TestResult {
    let bundle = with_grades()?;
    assert_eq!(
        bundle.projection_statuses["assessments"].status.as_str(),
        "ready"
    );
    assert_eq!(
        bundle.projection_statuses["summary"].status.as_str(),
        "ready"
    );
    let rows = bundle.projections["assessments"]["rows"]
        .as_array()
        .ok_or("rows")?;
    let order: Vec<u64> = rows
        .iter()
        .filter_map(|r| r["assessment_id"].as_u64())
        .collect();
    assert_eq!(
        order,
        [301, 302, 303, 399],
        "due/available date ascending, undated last"
    );
    assert_eq!(
        rows[0]["title"], "Quiz 1: Cell Structure",
        "title falls back to the scope page"
    );
    assert_eq!(rows[3]["title"], "Assessment 399");
    assert_eq!(
        rows[1]["completion"]["status"], "good",
        "50 % meets the 50 % threshold"
    );
    assert_eq!(rows[3]["completion"]["status"], "bad");
    // (78.75 + -3.5 + 61.25) / 3 = 45.5: the same number on screen and in the CSV.
    assert_eq!(
        bundle.projections["summary"]["metrics"]["average_assessment_score"].as_f64(),
        Some(45.5)
    );

    let (zip, manifest) = export(&bundle, "instructor")?;
    assert_eq!(manifest.totals.included, 8);
    let files = entries(&zip)?;
    let (_, summary) = files
        .iter()
        .find(|(n, _)| n == "course_summary_metrics.csv")
        .ok_or("summary")?;
    assert!(summary.contains("\r\naverage_assessment_score,45.5,percent\r\n"));
    let (_, dist) = files
        .iter()
        .find(|(n, _)| n == "assessment_score_distribution.csv")
        .ok_or("dist")?;
    assert_eq!(
        dist.lines().count(),
        1 + 4 * 10,
        "every assessment keeps all 10 bins"
    );
    let (_, table) = files
        .iter()
        .find(|(n, _)| n == "assessment_summary.csv")
        .ok_or("summary")?;
    assert!(
        table.contains("302,'=cmd|' /C calc'!A0,"),
        "text guarded: {table}"
    );
    assert!(
        table.contains(",-3.5,"),
        "negative number untouched: {table}"
    );
    insta::assert_snapshot!("grades_assessment_summary_csv", table);
    insta::assert_snapshot!("grades_assessment_score_distribution_csv", dist);
    Ok(())
}

/// Serializers read the projections' typed rows: a field the row lacks (a renamed
/// one, say) blocks the dataset with a serializer error naming it, where reading
/// JSON by key would have written an empty cell.
#[test]
fn a_projection_row_missing_a_field_is_a_serializer_error_not_an_empty_cell() -> TestResult {
    let mut bundle = example_bundle()?;
    let item = bundle.projections.get_mut("progress").ok_or("progress")?["items"][0]
        .as_object_mut()
        .ok_or("item")?;
    let title = item.remove("title").ok_or("title")?;
    item.insert("name".to_owned(), title);
    bundle.parity = dashboard_snapshot::parity::bundle_report(&bundle);
    match plan_export(&Registry::instructor(), &bundle, "instructor") {
        Err(Error::ExportBlocked(failure)) => {
            let b = failure
                .blocking
                .iter()
                .find(|b| b.dataset_id == "student_progress")
                .ok_or("student_progress is not blocking")?;
            assert_eq!(b.reason_code, ExportReason::SerializerError);
            let message = b.message.as_deref().unwrap_or("");
            assert!(message.contains("title"), "{message}");
        }
        other => return Err(format!("expected a blocked export, got {other:?}").into()),
    }
    Ok(())
}
