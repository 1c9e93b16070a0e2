//! Unit tests for the report numbers and the determinism modes.

use super::*;

fn facts<'a>(
    id: &'a str,
    status: FinalStatus,
    fp: Option<&'a str>,
    profile: Option<&'a str>,
    failed_clips: i64,
) -> JobFacts<'a> {
    JobFacts {
        job_id: id,
        final_status: status,
        canonical_proxy_profile: profile,
        fingerprint: fp,
        engine_used: Some("ffmpeg"),
        validation_error: None,
        completed_clips: 1,
        failed_clips,
    }
}

fn flagged(mode: DeterminismMode, jobs: &[JobFacts<'_>]) -> Vec<String> {
    let mut builder = ReportBuilder::with_mode(mode);
    for job in jobs {
        builder.push(*job);
    }
    builder.finish().non_deterministic_jobs
}

use FinalStatus::{Completed as C, Failed as F};

#[test]
fn reference_mode_is_order_dependent() {
    let aab = [
        facts("1", C, Some("fp"), Some("p"), 0),
        facts("2", C, Some("fp"), Some("p"), 0),
        facts("3", F, Some("fp"), Some("p"), 0),
    ];
    assert_eq!(flagged(DeterminismMode::Reference, &aab), ["1", "3"]);
    assert_eq!(flagged(DeterminismMode::Strict, &aab), ["1", "2", "3"]);
    let baa = [
        facts("1", F, Some("fp"), Some("p"), 0),
        facts("2", C, Some("fp"), Some("p"), 0),
        facts("3", C, Some("fp"), Some("p"), 0),
    ];
    assert_eq!(flagged(DeterminismMode::Reference, &baa), ["1", "2", "3"]);
    assert_eq!(flagged(DeterminismMode::Strict, &baa), ["1", "2", "3"]);
}

#[test]
fn groups_split_by_profile_and_ignore_empty_fingerprints() {
    let jobs = [
        facts("a", C, Some("fp"), Some("p"), 0),
        facts("b", F, Some("fp"), Some("q"), 0),
        facts("c", F, Some("fp"), None, 0),
        facts("d", C, Some("fp"), None, 1),
        facts("e", C, Some(""), None, 0),
        facts("f", F, Some(""), None, 0),
        facts("g", C, None, Some("p"), 5),
    ];
    assert_eq!(flagged(DeterminismMode::Reference, &jobs), ["c", "d"]);
    assert_eq!(flagged(DeterminismMode::Strict, &jobs), ["c", "d"]);
}

#[test]
fn numbers_of_sections_5_and_6() {
    let mut builder = ReportBuilder::new();
    let mut push = |id, status, engine, profile, reason| {
        builder.push(JobFacts {
            job_id: id,
            final_status: status,
            canonical_proxy_profile: profile,
            fingerprint: None,
            engine_used: engine,
            validation_error: reason,
            completed_clips: 0,
            failed_clips: 0,
        });
    };
    push("1", C, Some("ffmpeg"), Some("p"), None);
    push("2", F, Some("ffmpeg"), Some("p"), Some("x"));
    push(
        "3",
        FinalStatus::Partial,
        Some("resolve"),
        Some(""),
        Some(""),
    );
    push("4", F, Some("ffmpeg_nvenc"), None, Some("y"));
    push("5", F, None, Some("q"), Some("x"));
    push("6", F, Some("resolve"), None, Some("x"));
    let report = builder.finish();
    let s = report.execution_summary;
    assert_eq!(
        (s.total_jobs, s.completed, s.failed, s.validation_failed),
        (6, 1, 4, 1)
    );
    assert_eq!(
        report.failure_summary.top_failure_reasons,
        ["x", "<no failure reason>"]
    );
    let resolve = &report.failure_summary.by_engine["resolve"];
    assert_eq!(resolve.get(NO_FAILURE_REASON), Some(&1));
    assert_eq!(resolve.get("x"), Some(&1));
    let ffmpeg = report.engine_health["ffmpeg"];
    assert_eq!(
        (ffmpeg.jobs, ffmpeg.failures, ffmpeg.failure_rate),
        (2, 1, 0.5)
    );
    assert_eq!(report.proxy_profile_stability["p"].failure_rate, 0.5);
    assert_eq!(report.proxy_profile_stability["q"].failure_rate, 1.0);
    assert_eq!(report.profiles().collect::<Vec<_>>(), ["p", "q"]);
    assert_eq!(report.engines, ["ffmpeg", "ffmpeg_nvenc", "resolve"]);
}

#[test]
fn empty_report_has_both_engines() {
    let report = ReportBuilder::new().finish();
    assert_eq!(report.engine_health.len(), 2);
    assert_eq!(report.failure_summary.by_engine.len(), 2);
    assert_eq!(report.engine_health["resolve"].failure_rate, 0.0);
    assert!(report.engines.is_empty());
}
