//! Every `fabric jobs` query over a [`FabricIndex`]. List results are job ids sorted
//! ascending by code point unless stated; `all_jobs` is in store order.

use crate::error::{Result, ValidationError};
use crate::index::FabricIndex;
use crate::model::{FinalStatus, IngestedJob, IngestedOutput};

/// The fixed set of valid engines, sorted.
pub const VALID_ENGINES: [&str; 2] = ["ffmpeg", "resolve"];

/// The `fabric jobs` filters, combined with AND. `None` means "any";
/// an empty string is a validation error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Exactly this final status.
    pub status: Option<FinalStatus>,
    /// Exactly this engine (any string).
    pub engine: Option<String>,
    /// Exactly this canonical proxy profile.
    pub profile: Option<String>,
    /// Exactly this fingerprint.
    pub fingerprint: Option<String>,
    /// FAILED or PARTIAL jobs whose `validation_error` contains this,
    /// case-insensitively.
    pub reason: Option<String>,
}

impl FabricIndex {
    /// The job with this id, if any.
    pub fn get_job(&self, job_id: &str) -> Option<&IngestedJob> {
        self.get(job_id)
    }

    /// Same as [`get_job`](Self::get_job): one record per id (re-ingestion overwrites).
    pub fn job_history(&self, job_id: &str) -> Option<&IngestedJob> {
        self.get(job_id)
    }

    /// Jobs with exactly this fingerprint, sorted by id.
    pub fn jobs_by_fingerprint(&self, fingerprint: &str) -> Vec<&IngestedJob> {
        self.resolve(Self::ids_of(&self.by_fingerprint, fingerprint))
    }

    /// Jobs with exactly this canonical proxy profile, sorted by id.
    pub fn jobs_by_profile(&self, profile: &str) -> Vec<&IngestedJob> {
        self.resolve(Self::ids_of(&self.by_profile, profile))
    }

    /// Jobs with exactly this engine, sorted by id.
    pub fn jobs_by_engine(&self, engine: &str) -> Vec<&IngestedJob> {
        self.resolve(Self::ids_of(&self.by_engine, engine))
    }

    /// Jobs with this final status, sorted by id.
    pub fn jobs_by_status(&self, status: FinalStatus) -> Vec<&IngestedJob> {
        self.resolve(self.status_ids(status))
    }

    /// COMPLETED jobs, sorted by id.
    pub fn completed_jobs(&self) -> Vec<&IngestedJob> {
        self.jobs_by_status(FinalStatus::Completed)
    }

    /// FAILED jobs, sorted by id.
    pub fn failed_jobs(&self) -> Vec<&IngestedJob> {
        self.jobs_by_status(FinalStatus::Failed)
    }

    /// PARTIAL jobs, sorted by id.
    pub fn partial_jobs(&self) -> Vec<&IngestedJob> {
        self.jobs_by_status(FinalStatus::Partial)
    }

    /// The job's outputs in clip order; empty for an unknown id.
    pub fn outputs_for_job(&self, job_id: &str) -> &[IngestedOutput] {
        self.get(job_id).map_or(&[], |job| job.outputs.as_slice())
    }

    /// Number of jobs with this status.
    pub fn count_jobs_by_status(&self, status: FinalStatus) -> usize {
        self.by_status.get(&status).map_or(0, |ids| ids.len())
    }

    /// Every job, in store order.
    pub fn all_jobs(&self) -> Vec<&IngestedJob> {
        self.jobs().collect()
    }

    /// Whether at least one job carries this fingerprint; empty is a validation error.
    pub fn has_fingerprint_been_seen(&self, fingerprint: &str) -> Result<bool> {
        non_empty("fingerprint", fingerprint)?;
        Ok(self.by_fingerprint.contains_key(fingerprint))
    }

    /// Sorted ids of the jobs with this fingerprint; empty is a validation error.
    pub fn list_jobs_for_fingerprint(&self, fingerprint: &str) -> Result<Vec<&str>> {
        non_empty("fingerprint", fingerprint)?;
        Ok(Self::ids_of(&self.by_fingerprint, fingerprint))
    }

    /// Sorted ids of the jobs with this profile; empty is a validation error.
    pub fn list_jobs_by_proxy_profile(&self, profile: &str) -> Result<Vec<&str>> {
        non_empty("proxy profile", profile)?;
        Ok(Self::ids_of(&self.by_profile, profile))
    }

    /// Sorted ids of the jobs with this engine, which must be `ffmpeg` or
    /// `resolve` (a validation error names the valid ones otherwise).
    pub fn list_jobs_by_engine(&self, engine: &str) -> Result<Vec<&str>> {
        if !VALID_ENGINES.contains(&engine) {
            return Err(ValidationError::UnknownEngine {
                engine: engine.to_owned(),
            }
            .into());
        }
        Ok(Self::ids_of(&self.by_engine, engine))
    }

    /// Sorted ids of FAILED or PARTIAL jobs whose `validation_error` contains
    /// `reason`, case-insensitively (Unicode lower-casing of both); empty is a
    /// validation error.
    pub fn list_jobs_failed_for_reason(&self, reason: &str) -> Result<Vec<&str>> {
        non_empty("reason", reason)?;
        let needle = reason.to_lowercase();
        let mut ids: Vec<&str> = self
            .jobs()
            .filter(|job| job.final_status.is_failure())
            .filter(|job| {
                job.validation_error
                    .as_deref()
                    .is_some_and(|e| e.to_lowercase().contains(&needle))
            })
            .map(|job| job.job_id.as_str())
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Sorted distinct non-empty engines present (any engine string).
    pub fn all_engines(&self) -> Vec<&str> {
        self.by_engine.keys().map(String::as_str).collect()
    }

    /// Sorted distinct non-empty profiles present.
    pub fn all_profiles(&self) -> Vec<&str> {
        self.by_profile.keys().map(String::as_str).collect()
    }

    /// Sorted ids of the jobs matching every set filter of `filter` (`fabric jobs`).
    pub fn filter_jobs(&self, filter: &JobFilter) -> Result<Vec<&str>> {
        for (name, value) in [
            ("engine", &filter.engine),
            ("proxy profile", &filter.profile),
            ("fingerprint", &filter.fingerprint),
            ("reason", &filter.reason),
        ] {
            if let Some(v) = value {
                non_empty(name, v)?;
            }
        }
        let needle = filter.reason.as_deref().map(str::to_lowercase);
        let mut ids: Vec<&str> = self
            .jobs()
            .filter(|job| filter.status.is_none_or(|s| job.final_status == s))
            .filter(|job| eq_opt(&filter.engine, &job.engine_used))
            .filter(|job| eq_opt(&filter.profile, &job.canonical_proxy_profile))
            .filter(|job| eq_opt(&filter.fingerprint, &job.fingerprint))
            .filter(|job| {
                needle.as_deref().is_none_or(|n| {
                    job.final_status.is_failure()
                        && job
                            .validation_error
                            .as_deref()
                            .is_some_and(|e| e.to_lowercase().contains(n))
                })
            })
            .map(|job| job.job_id.as_str())
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    fn status_ids(&self, status: FinalStatus) -> Vec<&str> {
        self.by_status
            .get(&status)
            .map(|ids| ids.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    fn resolve<'a>(&'a self, ids: Vec<&str>) -> Vec<&'a IngestedJob> {
        ids.into_iter().filter_map(|id| self.get(id)).collect()
    }
}

fn eq_opt(wanted: &Option<String>, actual: &Option<String>) -> bool {
    wanted.as_ref().is_none_or(|w| actual.as_ref() == Some(w))
}

fn non_empty(argument: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() {
        Err(ValidationError::Empty { argument })
    } else {
        Ok(())
    }
}
