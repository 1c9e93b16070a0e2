//! Unit tests for the index and its queries.

use super::*;
use crate::error::{Error, Result, ValidationError};
use crate::timestamp::Timestamp;

fn job(
    id: &str,
    status: FinalStatus,
    fp: Option<&str>,
    profile: Option<&str>,
    engine: Option<&str>,
    reason: Option<&str>,
) -> IngestedJob {
    let t = Timestamp::from_utc(time::macros::datetime!(2025-03-01 08:00:00 UTC));
    IngestedJob {
        job_id: id.to_owned(),
        final_status: status,
        started_at: t,
        canonical_proxy_profile: profile.map(str::to_owned),
        fingerprint: fp.map(str::to_owned),
        validation_stage: None,
        validation_error: reason.map(str::to_owned),
        engine_used: engine.map(str::to_owned),
        resolve_preset_used: None,
        jobspec_version: None,
        completed_at: None,
        ingested_at: t,
        total_clips: 0,
        completed_clips: 0,
        failed_clips: 0,
        outputs: Vec::new(),
    }
}

fn sample() -> FabricIndex {
    use FinalStatus::*;
    FabricIndex::from_jobs([
        job(
            "b",
            Completed,
            Some("fp1"),
            Some("p1"),
            Some("ffmpeg"),
            None,
        ),
        job(
            "a",
            Failed,
            Some("fp1"),
            Some("p2"),
            Some("resolve"),
            Some("Decoder ERROR here"),
        ),
        job(
            "c",
            Partial,
            Some(""),
            Some(""),
            Some(""),
            Some("decoder error"),
        ),
        job(
            "d",
            Completed,
            None,
            None,
            Some("ffmpeg_nvenc"),
            Some("decoder error"),
        ),
    ])
}

fn ids(jobs: Vec<&IngestedJob>) -> Vec<&str> {
    jobs.into_iter().map(|j| j.job_id.as_str()).collect()
}

#[test]
fn lookups_are_sorted_and_skip_empty_values() {
    let index = sample();
    assert_eq!(index.len(), 4);
    assert_eq!(ids(index.jobs_by_fingerprint("fp1")), ["a", "b"]);
    assert!(index.jobs_by_fingerprint("").is_empty());
    assert!(index.jobs_by_profile("").is_empty());
    assert_eq!(ids(index.jobs_by_engine("ffmpeg_nvenc")), ["d"]);
    assert_eq!(ids(index.completed_jobs()), ["b", "d"]);
    assert_eq!(ids(index.failed_jobs()), ["a"]);
    assert_eq!(ids(index.partial_jobs()), ["c"]);
    assert_eq!(index.count_jobs_by_status(FinalStatus::Completed), 2);
    assert_eq!(index.all_engines(), ["ffmpeg", "ffmpeg_nvenc", "resolve"]);
    assert_eq!(index.all_profiles(), ["p1", "p2"]);
    assert_eq!(ids(index.all_jobs()), ["b", "a", "c", "d"]);
    assert!(index.outputs_for_job("zzz").is_empty());
    assert!(index.get_job("zzz").is_none());
    assert_eq!(index.job_history("a").map(|j| j.job_id.as_str()), Some("a"));
}

#[test]
fn validated_queries() -> Result<()> {
    let index = sample();
    assert!(index.has_fingerprint_been_seen("fp1")?);
    assert!(!index.has_fingerprint_been_seen("fp2")?);
    assert_eq!(index.list_jobs_for_fingerprint("fp1")?, ["a", "b"]);
    assert_eq!(index.list_jobs_by_proxy_profile("p2")?, ["a"]);
    assert_eq!(index.list_jobs_by_engine("ffmpeg")?, ["b"]);
    assert_eq!(
        index.list_jobs_failed_for_reason("DECODER error")?,
        ["a", "c"]
    );
    assert!(matches!(
        index.list_jobs_by_engine("ffmpeg_nvenc"),
        Err(Error::Validation(ValidationError::UnknownEngine { .. }))
    ));
    let message = index.list_jobs_by_engine("x").err().map(|e| e.to_string());
    assert_eq!(
        message.as_deref(),
        Some("unknown engine \"x\": valid engines are ffmpeg, resolve")
    );
    for result in [
        index.has_fingerprint_been_seen("").map(|_| ()),
        index.list_jobs_for_fingerprint("").map(|_| ()),
        index.list_jobs_by_proxy_profile("").map(|_| ()),
        index.list_jobs_failed_for_reason("").map(|_| ()),
    ] {
        assert!(matches!(
            result,
            Err(Error::Validation(ValidationError::Empty { .. }))
        ));
    }
    Ok(())
}

#[test]
fn filters_combine_with_and() -> Result<()> {
    let index = sample();
    let filter = JobFilter {
        reason: Some("decoder".into()),
        ..JobFilter::default()
    };
    assert_eq!(index.filter_jobs(&filter)?, ["a", "c"]);
    let filter = JobFilter {
        status: Some(FinalStatus::Completed),
        engine: Some("ffmpeg_nvenc".into()),
        ..JobFilter::default()
    };
    assert_eq!(index.filter_jobs(&filter)?, ["d"]);
    let filter = JobFilter {
        profile: Some(String::new()),
        ..JobFilter::default()
    };
    assert!(index.filter_jobs(&filter).is_err());
    Ok(())
}

#[test]
fn re_adding_moves_to_the_end_and_unindexes() {
    let mut index = sample();
    let old = index.add_job(job("b", FinalStatus::Failed, Some("fp2"), None, None, None));
    assert_eq!(old.map(|j| j.final_status), Some(FinalStatus::Completed));
    assert_eq!(ids(index.all_jobs()), ["a", "c", "d", "b"]);
    assert_eq!(ids(index.jobs_by_fingerprint("fp1")), ["a"]);
    assert_eq!(ids(index.jobs_by_fingerprint("fp2")), ["b"]);
    assert!(index.jobs_by_profile("p1").is_empty());
    assert_eq!(index.all_profiles(), ["p2"]);
    assert_eq!(ids(index.completed_jobs()), ["d"]);
    assert_eq!(index.len(), 4);
}

#[test]
fn many_re_adds_keep_order_after_compaction() {
    let mut index = FabricIndex::new();
    for round in 0..5 {
        for i in 0..100 {
            let id = format!("j{i:03}");
            if round == 0 || i % 3 == 0 {
                index.add_job(job(&id, FinalStatus::Completed, None, None, None, None));
            }
        }
    }
    assert_eq!(index.len(), 100);
    let order = ids(index.all_jobs());
    let expected: Vec<String> = (0..100)
        .filter(|i| i % 3 != 0)
        .chain((0..100).filter(|i| i % 3 == 0))
        .map(|i| format!("j{i:03}"))
        .collect();
    assert_eq!(order, expected);
    for id in &expected {
        assert_eq!(
            index.get_job(id).map(|j| j.job_id.as_str()),
            Some(id.as_str())
        );
    }
}
