//! Every case of `tests/vectors/fabric/cases`: report, text, canonical bytes,
//! snapshot id, snapshot document and diff from the previous case.

use fabric_core::diff::diff_snapshots;
use fabric_core::report::FabricReport;
use fabric_core::snapshot::{FabricSnapshot, canonical_report_bytes, snapshot_id};
use fabric_core::timestamp::Timestamp;

use crate::common::{TestResult, cases, index_of, json, name, pretty, text};

fn vector_time() -> TestResult<Timestamp> {
    Ok(Timestamp::parse("2025-01-01T00:00:00+00:00")?)
}

#[test]
fn every_case_with_results_matches_the_reference() -> TestResult {
    let at = vector_time()?;
    let mut checked = 0;
    for case in cases()? {
        if !case.join("results").is_dir() {
            continue;
        }
        let case_name = name(&case);
        let report = FabricReport::from_index(&index_of(&case)?);
        let mut doc = report.export_json(&at);
        let expected_text = text(&case, "report.json")?;
        let mut without = doc.clone();
        if let Some(map) = without.as_object_mut() {
            map.shift_remove("generated_at");
        }
        assert_eq!(pretty(&without)?, expected_text, "{case_name}: report.json");
        assert_eq!(
            report.export_text(),
            text(&case, "report.txt")?,
            "{case_name}: report.txt"
        );
        let canonical = canonical_report_bytes(&doc)?;
        assert_eq!(
            String::from_utf8(canonical)?,
            text(&case, "snapshot_canonical.json")?,
            "{case_name}: canonical bytes"
        );
        let id = snapshot_id(&doc)?;
        assert_eq!(
            id,
            text(&case, "snapshot_id.txt")?.trim_end(),
            "{case_name}: id"
        );
        // generated_at is not hashed.
        if let Some(map) = doc.as_object_mut() {
            map.insert("generated_at".into(), "2030-01-01T00:00:00+00:00".into());
        }
        assert_eq!(
            snapshot_id(&doc)?,
            id,
            "{case_name}: id ignores generated_at"
        );
        let snapshot = FabricSnapshot::create(&report, &at);
        assert_eq!(
            pretty(&snapshot.to_json())?,
            text(&case, "snapshot.json")?,
            "{case_name}: snapshot.json"
        );
        checked += 1;
    }
    assert_eq!(checked, 7, "cases 01-07 ship their results");
    Ok(())
}

#[test]
fn every_case_report_hashes_to_its_id() -> TestResult {
    for case in cases()? {
        let report = json(&case, "report.json")?;
        let id = snapshot_id(&report)?;
        assert_eq!(
            id,
            text(&case, "snapshot_id.txt")?.trim_end(),
            "{}",
            name(&case)
        );
        let canonical = canonical_report_bytes(&report)?;
        assert_eq!(
            String::from_utf8(canonical)?,
            text(&case, "snapshot_canonical.json")?
        );
        assert_eq!(
            fabric_core::json::to_canonical_string(&report),
            text(&case, "snapshot_canonical.json")?,
            "{}: json::to_canonical_string agrees",
            name(&case)
        );
    }
    Ok(())
}

#[test]
fn every_snapshot_verifies_and_every_diff_matches() -> TestResult {
    let mut previous: Option<FabricSnapshot> = None;
    let mut diffs = 0;
    for case in cases()? {
        let snapshot = FabricSnapshot::from_json(&json(&case, "snapshot.json")?)?;
        assert_eq!(
            snapshot.snapshot_id,
            text(&case, "snapshot_id.txt")?.trim_end()
        );
        assert_eq!(pretty(&snapshot.to_json())?, text(&case, "snapshot.json")?);
        if let Some(prev) = &previous {
            let diff = diff_snapshots(prev, &snapshot)?;
            assert_eq!(
                pretty(&diff.to_json())?,
                text(&case, "diff_from_prev.json")?,
                "{}",
                name(&case)
            );
            assert!(diff.has_changes());
            diffs += 1;
        }
        previous = Some(snapshot);
    }
    assert_eq!(diffs, 7);
    Ok(())
}
