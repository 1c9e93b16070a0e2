//! The job model: what one ingested JobExecutionResult becomes.

use crate::timestamp::Timestamp;

/// A job's final status (`final_status`), case-sensitive on input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FinalStatus {
    /// `COMPLETED`.
    Completed,
    /// `FAILED`.
    Failed,
    /// `PARTIAL` (counted as "validation failed" in reports).
    Partial,
}

impl FinalStatus {
    /// Every status, in the order they are listed in help and errors.
    pub const ALL: [FinalStatus; 3] = [
        FinalStatus::Completed,
        FinalStatus::Failed,
        FinalStatus::Partial,
    ];

    /// The spelling in files, the store and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            FinalStatus::Completed => "COMPLETED",
            FinalStatus::Failed => "FAILED",
            FinalStatus::Partial => "PARTIAL",
        }
    }

    /// Parse the exact spelling; anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "COMPLETED" => Some(FinalStatus::Completed),
            "FAILED" => Some(FinalStatus::Failed),
            "PARTIAL" => Some(FinalStatus::Partial),
            _ => None,
        }
    }

    /// FAILED or PARTIAL: what every report counts as a failure.
    pub fn is_failure(self) -> bool {
        !matches!(self, FinalStatus::Completed)
    }
}

/// A clip's status: only `COMPLETED` or `FAILED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClipStatus {
    /// `COMPLETED`.
    Completed,
    /// `FAILED`.
    Failed,
}

impl ClipStatus {
    /// The spelling in files and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            ClipStatus::Completed => "COMPLETED",
            ClipStatus::Failed => "FAILED",
        }
    }

    /// Parse the exact spelling; anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "COMPLETED" => Some(ClipStatus::Completed),
            "FAILED" => Some(ClipStatus::Failed),
            _ => None,
        }
    }
}

/// One clip's output; field order is the printed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestedOutput {
    /// The parent job's id.
    pub job_id: String,
    /// First 16 hex chars of SHA-256 of the lexically normalised absolute source path.
    pub clip_id: String,
    /// `source_path` as given.
    pub source_path: String,
    /// `resolved_output_path` as given.
    pub output_path: String,
    /// `output_exists` (default false).
    pub output_exists: bool,
    /// `output_size_bytes` (default none).
    pub output_size_bytes: Option<i64>,
    /// The clip's status.
    pub status: ClipStatus,
    /// The clip's failure reason (stored, never used by a report).
    pub failure_reason: Option<String>,
    /// The clip's engine.
    pub engine_used: Option<String>,
    /// The clip's proxy profile.
    pub proxy_profile_used: Option<String>,
    /// The clip's Resolve preset.
    pub resolve_preset_used: Option<String>,
}

/// One ingested job; field order is the printed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestedJob {
    /// Primary key.
    pub job_id: String,
    /// Final status.
    pub final_status: FinalStatus,
    /// Start time, as parsed (offset kept).
    pub started_at: Timestamp,
    /// `_metadata.proxy_profile_used`.
    pub canonical_proxy_profile: Option<String>,
    /// `_metadata.fingerprint` (absent, null and "" are none).
    pub fingerprint: Option<String>,
    /// `_metadata.validation_stage`.
    pub validation_stage: Option<String>,
    /// `_metadata.validation_error`: the failure reason in every report.
    pub validation_error: Option<String>,
    /// `_metadata.engine_used`.
    pub engine_used: Option<String>,
    /// `_metadata.resolve_preset_used`.
    pub resolve_preset_used: Option<String>,
    /// `_metadata.jobspec_version`.
    pub jobspec_version: Option<String>,
    /// Completion time, if any.
    pub completed_at: Option<Timestamp>,
    /// When Fabric ingested the file (UTC, passed in by the caller).
    pub ingested_at: Timestamp,
    /// `total_clips` (default: number of clips).
    pub total_clips: i64,
    /// `completed_clips` (default: clips with status COMPLETED).
    pub completed_clips: i64,
    /// `failed_clips` (default: clips with status FAILED).
    pub failed_clips: i64,
    /// The clips' outputs, in clip order.
    pub outputs: Vec<IngestedOutput>,
}

impl IngestedJob {
    /// `completed_at - started_at` in seconds, none without
    /// `completed_at`. A naive time is treated as UTC.
    pub fn duration_seconds(&self) -> Option<f64> {
        self.completed_at
            .as_ref()
            .map(|end| end.seconds_since(&self.started_at))
    }

    /// `final_status == COMPLETED` and `failed_clips == 0`.
    pub fn success(&self) -> bool {
        self.final_status == FinalStatus::Completed && self.failed_clips == 0
    }
}
