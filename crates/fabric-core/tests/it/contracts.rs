//! Insta snapshots of every public JSON and text contract of fabric-core:
//! `export_json`, `export_text`, `job_to_json` and `job_to_text`, the snapshot
//! document and the diff document and text. The expected values also match the reference vectors (see
//! `vectors.rs`); these snapshots make any change visible in review.

use fabric_core::diff::diff_snapshots;
use fabric_core::ingest::{job_to_json, job_to_text, outputs_to_json};
use fabric_core::report::{DeterminismMode, FabricReport};
use fabric_core::snapshot::FabricSnapshot;
use fabric_core::timestamp::Timestamp;

use crate::common::{TestResult, cases, index_of, json};

fn case(prefix: &str) -> TestResult<std::path::PathBuf> {
    cases()?
        .into_iter()
        .find(|c| {
            c.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .ok_or_else(|| format!("no case {prefix}").into())
}

fn at() -> TestResult<Timestamp> {
    Ok(Timestamp::parse("2025-01-01T00:00:00.123456Z")?)
}

#[test]
fn export_json_typical_mix() -> TestResult {
    let report = FabricReport::from_index(&index_of(&case("03")?)?);
    insta::assert_snapshot!(serde_json::to_string_pretty(&report.export_json(&at()?))?);
    Ok(())
}

#[test]
fn export_json_unicode() -> TestResult {
    let report = FabricReport::from_index(&index_of(&case("05")?)?);
    insta::assert_snapshot!(serde_json::to_string_pretty(&report.export_json(&at()?))?);
    Ok(())
}

#[test]
fn export_text_typical_mix() -> TestResult {
    let report = FabricReport::from_index(&index_of(&case("03")?)?);
    insta::assert_snapshot!(report.export_text());
    Ok(())
}

#[test]
fn export_text_unicode() -> TestResult {
    let report = FabricReport::from_index(&index_of(&case("05")?)?);
    insta::assert_snapshot!(report.export_text());
    Ok(())
}

#[test]
fn export_text_empty() -> TestResult {
    let report = FabricReport::from_index(&index_of(&case("01")?)?);
    insta::assert_snapshot!(report.export_text());
    Ok(())
}

#[test]
fn strict_determinism_nondeterminism_case() -> TestResult {
    let index = index_of(&case("06")?)?;
    let reference = FabricReport::from_index(&index).non_deterministic_jobs;
    let strict =
        FabricReport::from_index_with(&index, DeterminismMode::Strict).non_deterministic_jobs;
    // Strict flags a superset of the reference.
    assert!(reference.iter().all(|id| strict.contains(id)));
    insta::assert_snapshot!(format!("reference: {reference:?}\nstrict:    {strict:?}"));
    Ok(())
}

#[test]
fn job_to_json_one_job() -> TestResult {
    let index = index_of(&case("02")?)?;
    let job = index.get_job("job-00001").ok_or("job-00001 is ingested")?;
    insta::assert_snapshot!(serde_json::to_string_pretty(&job_to_json(job))?);
    insta::assert_snapshot!("outputs_json_one_job", outputs_to_json(&job.outputs));
    Ok(())
}

#[test]
fn job_to_json_unicode_jobs() -> TestResult {
    let index = index_of(&case("05")?)?;
    let docs: Vec<serde_json::Value> = index.jobs().map(job_to_json).collect();
    insta::assert_snapshot!(serde_json::to_string_pretty(&docs)?);
    Ok(())
}

#[test]
fn snapshot_document() -> TestResult {
    let report = FabricReport::from_index(&index_of(&case("02")?)?);
    let snapshot = FabricSnapshot::create(&report, &at()?);
    insta::assert_snapshot!(serde_json::to_string_pretty(&snapshot.to_json())?);
    Ok(())
}

#[test]
fn diff_documents() -> TestResult {
    for (from, to) in [("06", "07"), ("07", "08"), ("03", "04")] {
        let a = FabricSnapshot::from_json(&json(&case(from)?, "snapshot.json")?)?;
        let b = FabricSnapshot::from_json(&json(&case(to)?, "snapshot.json")?)?;
        let diff = diff_snapshots(&a, &b)?;
        insta::assert_snapshot!(
            format!("diff_{from}_{to}"),
            serde_json::to_string_pretty(&diff.to_json())?
        );
    }
    Ok(())
}

#[test]
fn diff_texts() -> TestResult {
    // 07 -> 08: tiny rates (a rate delta that rounds to -0.0); 03 -> 04: jobs
    // re-ingested; 06 -> 07: determinism lists move.
    for (from, to) in [("06", "07"), ("07", "08"), ("03", "04")] {
        let a = FabricSnapshot::from_json(&json(&case(from)?, "snapshot.json")?)?;
        let b = FabricSnapshot::from_json(&json(&case(to)?, "snapshot.json")?)?;
        let diff = diff_snapshots(&a, &b)?;
        insta::assert_snapshot!(format!("diff_text_{from}_{to}"), diff.to_text());
    }
    Ok(())
}

#[test]
fn job_texts() -> TestResult {
    let index = index_of(&case("02")?)?;
    let job = index.get_job("job-00001").ok_or("job-00001 is ingested")?;
    insta::assert_snapshot!("job_text_one_job", job_to_text(job));
    let index = index_of(&case("05")?)?;
    let texts: Vec<String> = index.jobs().map(job_to_text).collect();
    insta::assert_snapshot!("job_text_unicode_jobs", texts.join("\n\n=====\n\n"));
    Ok(())
}
