//! The operator report: its numbers, computed by a streaming
//! [`ReportBuilder`] that sees one job's facts at a time, in store order, and never
//! needs all jobs or any outputs in memory. Exports live in [`export`].
//!
//! ```
//! use fabric_core::model::FinalStatus;
//! use fabric_core::report::{JobFacts, ReportBuilder};
//!
//! let mut builder = ReportBuilder::new();
//! builder.push(JobFacts {
//!     job_id: "j1",
//!     final_status: FinalStatus::Failed,
//!     canonical_proxy_profile: Some("proxy_h264_low"),
//!     fingerprint: None,
//!     engine_used: Some("ffmpeg"),
//!     validation_error: None,
//!     completed_clips: 0,
//!     failed_clips: 1,
//! });
//! let report = builder.finish();
//! assert_eq!(report.execution_summary.failed, 1);
//! assert_eq!(report.failure_summary.top_failure_reasons, ["<no failure reason>"]);
//! ```

mod determinism;
pub mod export;

use std::collections::{BTreeMap, BTreeSet};

use determinism::Detector;

use crate::index::FabricIndex;
use crate::index::queries::VALID_ENGINES;
use crate::model::{FinalStatus, IngestedJob};

/// The reason a failure without `validation_error` is counted under.
pub const NO_FAILURE_REASON: &str = "<no failure reason>";

/// The facts of one job a report needs (no outputs, no timestamps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobFacts<'a> {
    /// The job id.
    pub job_id: &'a str,
    /// Its final status.
    pub final_status: FinalStatus,
    /// `canonical_proxy_profile`.
    pub canonical_proxy_profile: Option<&'a str>,
    /// `fingerprint`.
    pub fingerprint: Option<&'a str>,
    /// `engine_used`.
    pub engine_used: Option<&'a str>,
    /// `validation_error`.
    pub validation_error: Option<&'a str>,
    /// `completed_clips` (part of the determinism outcome).
    pub completed_clips: i64,
    /// `failed_clips` (part of the determinism outcome).
    pub failed_clips: i64,
}

impl<'a> From<&'a IngestedJob> for JobFacts<'a> {
    fn from(job: &'a IngestedJob) -> Self {
        JobFacts {
            job_id: &job.job_id,
            final_status: job.final_status,
            canonical_proxy_profile: job.canonical_proxy_profile.as_deref(),
            fingerprint: job.fingerprint.as_deref(),
            engine_used: job.engine_used.as_deref(),
            validation_error: job.validation_error.as_deref(),
            completed_clips: job.completed_clips,
            failed_clips: job.failed_clips,
        }
    }
}

/// How non-deterministic jobs are detected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeterminismMode {
    /// The reference algorithm (order-dependent; the default).
    #[default]
    Reference,
    /// Flag every member of a (fingerprint, profile) group that has two
    /// or more distinct outcomes, whatever the order.
    Strict,
}

/// `execution_summary`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecutionSummary {
    /// All jobs.
    pub total_jobs: u64,
    /// COMPLETED jobs.
    pub completed: u64,
    /// FAILED jobs.
    pub failed: u64,
    /// PARTIAL jobs.
    pub validation_failed: u64,
}

/// `failure_summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureSummary {
    /// `ffmpeg` and `resolve` (always both): reason -> number of failed jobs.
    pub by_engine: BTreeMap<String, BTreeMap<String, u64>>,
    /// Every reason of both engines, by summed count descending, then reason.
    pub top_failure_reasons: Vec<String>,
}

/// one engine's health.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EngineHealth {
    /// Jobs with this engine (all statuses).
    pub jobs: u64,
    /// Its FAILED and PARTIAL jobs.
    pub failures: u64,
    /// `failures / jobs`, `0.0` when there is no job.
    pub failure_rate: f64,
}

/// one profile's stability.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProfileStability {
    /// Jobs with this profile.
    pub jobs: u64,
    /// FAILED and PARTIAL jobs over `jobs`.
    pub failure_rate: f64,
}

/// The report: every number of the operator report (`docs/formats/report.md`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FabricReport {
    /// `execution_summary`.
    pub execution_summary: ExecutionSummary,
    /// `failure_summary`.
    pub failure_summary: FailureSummary,
    /// `engine_health`: `ffmpeg` and `resolve`, always both.
    pub engine_health: BTreeMap<String, EngineHealth>,
    /// `proxy_profile_stability`: every non-empty profile, sorted.
    pub proxy_profile_stability: BTreeMap<String, ProfileStability>,
    /// `determinism`: flagged job ids, sorted, deduplicated.
    pub non_deterministic_jobs: Vec<String>,
    /// Every distinct non-empty engine present (not only the valid ones).
    pub engines: Vec<String>,
}

impl FabricReport {
    /// The report over every job of `index`, in store order (reference determinism).
    pub fn from_index(index: &FabricIndex) -> FabricReport {
        Self::from_index_with(index, DeterminismMode::Reference)
    }

    /// The report over every job of `index` with the given determinism mode.
    pub fn from_index_with(index: &FabricIndex, mode: DeterminismMode) -> FabricReport {
        let mut builder = ReportBuilder::with_mode(mode);
        for job in index.jobs() {
            builder.push(JobFacts::from(job));
        }
        builder.finish()
    }

    /// Sorted distinct non-empty profiles.
    pub fn profiles(&self) -> impl Iterator<Item = &str> {
        self.proxy_profile_stability.keys().map(String::as_str)
    }
}

/// Per-engine running counts.
#[derive(Debug, Default)]
struct EngineTally {
    jobs: u64,
    failures: u64,
    reasons: BTreeMap<String, u64>,
}

/// Accumulates a [`FabricReport`] from [`JobFacts`] pushed in store order.
///
/// Memory is bounded by the distinct profiles, engines, reasons and
/// (fingerprint, profile) groups, never by the outputs.
#[derive(Debug, Default)]
pub struct ReportBuilder {
    summary: ExecutionSummary,
    /// `ffmpeg`, `resolve`.
    engines: [EngineTally; 2],
    other_engines: BTreeSet<String>,
    profiles: BTreeMap<String, (u64, u64)>,
    detector: Detector,
}

impl ReportBuilder {
    /// A builder with the reference determinism algorithm.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder with the given determinism mode.
    pub fn with_mode(mode: DeterminismMode) -> Self {
        ReportBuilder {
            detector: Detector::new(mode),
            ..Self::default()
        }
    }

    /// Count one job; call in store order.
    pub fn push(&mut self, facts: JobFacts<'_>) {
        let failure = facts.final_status.is_failure();
        match facts.final_status {
            FinalStatus::Completed => self.summary.completed += 1,
            FinalStatus::Failed => self.summary.failed += 1,
            FinalStatus::Partial => self.summary.validation_failed += 1,
        }
        if let Some(engine) = facts.engine_used.filter(|e| !e.is_empty()) {
            match VALID_ENGINES.iter().position(|v| *v == engine) {
                Some(i) => {
                    if let Some(tally) = self.engines.get_mut(i) {
                        tally.jobs += 1;
                        if failure {
                            tally.failures += 1;
                            let reason = facts
                                .validation_error
                                .filter(|r| !r.is_empty())
                                .unwrap_or(NO_FAILURE_REASON);
                            increment(&mut tally.reasons, reason);
                        }
                    }
                }
                None => {
                    if !self.other_engines.contains(engine) {
                        self.other_engines.insert(engine.to_owned());
                    }
                }
            }
        }
        if let Some(profile) = facts.canonical_proxy_profile.filter(|p| !p.is_empty()) {
            let entry = match self.profiles.get_mut(profile) {
                Some(entry) => entry,
                None => self.profiles.entry(profile.to_owned()).or_default(),
            };
            entry.0 += 1;
            if failure {
                entry.1 += 1;
            }
        }
        self.detector.push(&facts);
    }

    /// The finished report.
    pub fn finish(self) -> FabricReport {
        let mut summary = self.summary;
        summary.total_jobs = summary.completed + summary.failed + summary.validation_failed;
        let mut by_engine = BTreeMap::new();
        let mut engine_health = BTreeMap::new();
        let mut combined: BTreeMap<&str, u64> = BTreeMap::new();
        let mut engines: BTreeSet<String> = self.other_engines;
        for (name, tally) in VALID_ENGINES.iter().zip(&self.engines) {
            for (reason, count) in &tally.reasons {
                *combined.entry(reason.as_str()).or_default() += count;
            }
            engine_health.insert(
                (*name).to_owned(),
                EngineHealth {
                    jobs: tally.jobs,
                    failures: tally.failures,
                    failure_rate: rate(tally.failures, tally.jobs),
                },
            );
            if tally.jobs > 0 {
                engines.insert((*name).to_owned());
            }
        }
        let top_failure_reasons = sorted_by_count(combined.into_iter())
            .into_iter()
            .map(|(reason, _)| reason.to_owned())
            .collect();
        for (name, tally) in VALID_ENGINES.iter().zip(self.engines) {
            by_engine.insert((*name).to_owned(), tally.reasons);
        }
        let proxy_profile_stability = self
            .profiles
            .into_iter()
            .map(|(profile, (jobs, failures))| {
                let stability = ProfileStability {
                    jobs,
                    failure_rate: rate(failures, jobs),
                };
                (profile, stability)
            })
            .collect();
        FabricReport {
            execution_summary: summary,
            failure_summary: FailureSummary {
                by_engine,
                top_failure_reasons,
            },
            engine_health,
            proxy_profile_stability,
            non_deterministic_jobs: self.detector.finish(),
            engines: engines.into_iter().collect(),
        }
    }
}

/// `(reason, count)` pairs by count descending, then reason ascending.
pub(crate) fn sorted_by_count<'a>(
    counts: impl Iterator<Item = (&'a str, u64)>,
) -> Vec<(&'a str, u64)> {
    let mut pairs: Vec<(&str, u64)> = counts.collect();
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    pairs
}

fn increment(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_owned(), 1);
        }
    }
}

/// IEEE `part / whole` (Python's int/int true division), `0.0` for no jobs.
fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests;
