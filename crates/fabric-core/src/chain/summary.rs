//! What the store hands back without reading a payload: version summaries, the
//! stored changes summary, activity log entries.

use serde::{Deserialize, Serialize};

use super::diff::Diff;

/// One version of a chain without its payload.
///
/// Field order is the JSON key order of `fabric snapshot list --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionSummary {
    /// The row id (unique across all chains, never reused).
    pub id: i64,
    /// The chain key.
    pub key: String,
    /// The version number: 1, 2, 3... without gaps.
    pub version: i64,
    /// The version that was active when this one was created (what it was diffed
    /// against), if any.
    pub parent_version: Option<i64>,
    /// Whether this is the chain's active version (exactly one per chain).
    pub is_active: bool,
    /// When it was created (UTC, `+00:00`).
    pub created_at: String,
    /// Who created it.
    pub created_by: String,
    /// SHA-256 over the full canonical payload.
    pub checksum: String,
    /// Bytes of the canonical payload.
    pub data_size: u64,
    /// Bytes actually stored (compressed).
    pub stored_size: u64,
    /// When it was deprecated, if it was.
    pub deprecated_at: Option<String>,
    /// Why it was deprecated, if it was.
    pub deprecated_reason: Option<String>,
}

impl VersionSummary {
    /// The share of bytes compression saved: `1 - stored / data` (0 for empty data).
    pub fn saving(&self) -> f64 {
        saving(self.data_size, self.stored_size)
    }
}

/// `1 - stored / data`, or 0 when `data` is 0.
pub fn saving(data: u64, stored: u64) -> f64 {
    if data == 0 {
        0.0
    } else {
        1.0 - stored as f64 / data as f64
    }
}

/// The diff from the parent as stored with a version: exact counts, and the paths
/// (at most [`ChangesSummary::MAX_PATHS`] per kind; `truncated` says when more
/// exist). The values are not stored: `compare` recomputes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangesSummary {
    /// Number of added paths.
    pub added: u64,
    /// Number of modified paths.
    pub modified: u64,
    /// Number of deleted paths.
    pub deleted: u64,
    /// Added paths (JSON pointers).
    pub added_paths: Vec<String>,
    /// Modified paths (JSON pointers).
    pub modified_paths: Vec<String>,
    /// Deleted paths (JSON pointers).
    pub deleted_paths: Vec<String>,
    /// Whether some paths were left out.
    pub truncated: bool,
}

impl ChangesSummary {
    /// The most paths kept per kind.
    pub const MAX_PATHS: usize = 1000;

    /// Summarise `diff`.
    pub fn from_diff(diff: &Diff) -> Self {
        let keep = |paths: Vec<&str>| -> Vec<String> {
            paths
                .into_iter()
                .take(Self::MAX_PATHS)
                .map(str::to_owned)
                .collect()
        };
        let counts = [diff.added.len(), diff.modified.len(), diff.deleted.len()];
        ChangesSummary {
            added: counts[0] as u64,
            modified: counts[1] as u64,
            deleted: counts[2] as u64,
            added_paths: keep(diff.added.iter().map(|c| c.path.as_str()).collect()),
            modified_paths: keep(diff.modified.iter().map(|c| c.path.as_str()).collect()),
            deleted_paths: keep(diff.deleted.iter().map(|c| c.path.as_str()).collect()),
            truncated: counts.iter().any(|&n| n > Self::MAX_PATHS),
        }
    }
}

/// What an activity log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A new version was created (`from` = the previously active version).
    Create,
    /// The active pointer moved from `from` to `to`.
    Rollback,
    /// Version `to` was deprecated.
    Deprecate,
}

impl Action {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Rollback => "rollback",
            Action::Deprecate => "deprecate",
        }
    }

    /// Parse the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [Action::Create, Action::Rollback, Action::Deprecate]
            .into_iter()
            .find(|a| a.as_str() == text)
    }
}

/// One entry of the activity log. Field order is the JSON key order of
/// `fabric snapshot log --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivityEntry {
    /// Log entry id (increasing).
    pub id: i64,
    /// The chain key.
    pub key: String,
    /// What happened.
    pub action: Action,
    /// Who did it.
    pub actor: String,
    /// When (UTC, `+00:00`).
    pub at: String,
    /// The version active before (create, rollback), if any.
    pub from_version: Option<i64>,
    /// The version created, made active, or deprecated.
    pub to_version: i64,
    /// The deprecation reason.
    pub reason: Option<String>,
}

/// How many paths of each kind a diff has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DiffCounts {
    /// Added paths.
    pub added: usize,
    /// Modified paths.
    pub modified: usize,
    /// Deleted paths.
    pub deleted: usize,
}

/// Two versions of a chain compared (`fabric snapshot compare`). Field order is
/// the JSON key order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The chain key.
    pub key: String,
    /// The version compared from (A).
    pub from_version: i64,
    /// The version compared to (B).
    pub to_version: i64,
    /// Counts per kind.
    pub summary: DiffCounts,
    /// Paths only in B, with their values.
    pub added: Vec<super::diff::Added>,
    /// Paths whose value differs, old and new.
    pub modified: Vec<super::diff::Modified>,
    /// Paths only in A, with their old values.
    pub deleted: Vec<super::diff::Deleted>,
}

impl Comparison {
    /// Wrap `diff` (from `from_version` to `to_version` of chain `key`).
    pub fn new(key: &str, from_version: i64, to_version: i64, diff: Diff) -> Self {
        Comparison {
            key: key.to_owned(),
            from_version,
            to_version,
            summary: DiffCounts {
                added: diff.added.len(),
                modified: diff.modified.len(),
                deleted: diff.deleted.len(),
            },
            added: diff.added,
            modified: diff.modified,
            deleted: diff.deleted,
        }
    }

    /// The diff again (for [`super::diff::apply`]).
    pub fn to_diff(&self) -> Diff {
        Diff {
            added: self.added.clone(),
            modified: self.modified.clone(),
            deleted: self.deleted.clone(),
        }
    }
}
