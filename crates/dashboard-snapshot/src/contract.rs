//! The snapshot and bundle contract: versions, scope identity, oracle and
//! projection statuses. Every map is a `BTreeMap`, so serialisation is deterministic.

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::parity::ParityReport;
use crate::reason::{OracleReason, ProjectionReason};

/// Current snapshot contract version.
pub const SNAPSHOT_VERSION: u32 = 1;
/// Current projection contract version.
pub const PROJECTION_VERSION: u32 = 1;
/// Snapshot versions this crate reads.
pub const SUPPORTED_SNAPSHOT_VERSIONS: &[u32] = &[1];
/// Projection versions this crate reads.
pub const SUPPORTED_PROJECTION_VERSIONS: &[u32] = &[1];
/// Format tag of a bundle document.
pub const BUNDLE_FORMAT: &str = "fabric.dashboard.bundle/1";

/// Whether `v` is a supported snapshot version.
pub fn snapshot_version_supported(v: u32) -> bool {
    SUPPORTED_SNAPSHOT_VERSIONS.contains(&v)
}

/// Whether `v` is a supported projection version.
pub fn projection_version_supported(v: u32) -> bool {
    SUPPORTED_PROJECTION_VERSIONS.contains(&v)
}

/// The container a dashboard looks at: the whole course or one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ContainerRepr", into = "ContainerRepr")]
pub enum Container {
    /// The whole course (no id).
    Course,
    /// One container of the course.
    Container(NonZeroU64),
}

impl Container {
    /// `course` or `container`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Container::Course => "course",
            Container::Container(_) => "container",
        }
    }

    /// The container id, if any.
    pub fn id(&self) -> Option<u64> {
        match self {
            Container::Course => None,
            Container::Container(id) => Some(id.get()),
        }
    }
}

impl std::fmt::Display for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Container::Course => f.write_str("course"),
            Container::Container(id) => write!(f, "container:{id}"),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContainerRepr {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<u64>,
}

impl TryFrom<ContainerRepr> for Container {
    type Error = String;
    fn try_from(r: ContainerRepr) -> std::result::Result<Self, String> {
        match (r.kind.as_str(), r.id) {
            ("course", None) => Ok(Container::Course),
            ("course", Some(_)) => Err("a course scope must not carry an id".into()),
            ("container", Some(id)) => NonZeroU64::new(id)
                .map(Container::Container)
                .ok_or_else(|| "container id must be positive".into()),
            ("container", None) => Err("a container scope needs an id".into()),
            (other, _) => Err(format!("unknown container type {other:?}")),
        }
    }
}

impl From<Container> for ContainerRepr {
    fn from(c: Container) -> Self {
        ContainerRepr {
            kind: c.type_name().to_owned(),
            id: c.id(),
        }
    }
}

/// The dashboard context: e.g. `section` 4102.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    /// Context type, e.g. `section`.
    #[serde(rename = "type")]
    pub context_type: String,
    /// Positive context id.
    pub id: NonZeroU64,
}

/// Display labels (never used for computation).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Labels {
    /// Course title.
    pub course_title: Option<String>,
    /// Section label.
    pub section_label: Option<String>,
    /// Scope label.
    pub scope_label: Option<String>,
}

/// Proficiency level weights (percent), one table for screen and CSV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProficiencyWeights {
    /// Weight of the low level.
    pub low: f64,
    /// Weight of the medium level.
    pub medium: f64,
    /// Weight of the high level.
    pub high: f64,
}

impl Default for ProficiencyWeights {
    fn default() -> Self {
        ProficiencyWeights {
            low: 30.0,
            medium: 60.0,
            high: 90.0,
        }
    }
}

/// Student-support categorisation parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupportParams {
    /// Days without interaction after which a student is inactive (inclusive).
    pub inactivity_days: u32,
    /// Struggling when progress is below this...
    pub struggling_progress_low_lt: f64,
    /// ...or above this...
    pub struggling_progress_high_gt: f64,
    /// ...and proficiency is at most this.
    pub struggling_proficiency_lte: f64,
    /// Excelling when progress is at least this...
    pub excelling_progress_gte: f64,
    /// ...and proficiency is at least this.
    pub excelling_proficiency_gte: f64,
}

impl Default for SupportParams {
    fn default() -> Self {
        SupportParams {
            inactivity_days: 7,
            struggling_progress_low_lt: 40.0,
            struggling_progress_high_gt: 80.0,
            struggling_proficiency_lte: 40.0,
            excelling_progress_gte: 80.0,
            excelling_proficiency_gte: 80.0,
        }
    }
}

/// Projection parameters from `scope.filters`; they reach every projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Filters {
    /// Progress bin at or above which a student completed an item.
    pub completion_threshold_pct: f64,
    /// Completion rate at or above which an assessment is `good`.
    pub assessment_completion_threshold_pct: f64,
    /// Proficiency level weights.
    pub proficiency_weights: ProficiencyWeights,
    /// Student-support parameters.
    pub support: SupportParams,
}

impl Default for Filters {
    fn default() -> Self {
        Filters {
            completion_threshold_pct: 100.0,
            assessment_completion_threshold_pct: 50.0,
            proficiency_weights: ProficiencyWeights::default(),
            support: SupportParams::default(),
        }
    }
}

/// What a snapshot is about, and the only clock (`as_of`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// e.g. `instructor_dashboard`.
    pub dashboard_product: String,
    /// The dashboard context.
    pub context: Context,
    /// The container in view.
    pub container: Container,
    /// RFC 3339 UTC `YYYY-MM-DDTHH:MM:SSZ`: "now" for every rule.
    pub as_of: String,
    /// IANA time zone name (display only).
    pub timezone: String,
    /// Display labels.
    pub labels: Labels,
    /// Projection parameters.
    pub filters: Filters,
    /// Oracles the snapshot expects (absent ones become `unavailable`).
    pub expected_oracles: Vec<String>,
}

/// Why an `as_of` is refused (by [`Scope::as_of_time`] and the scope reader).
pub(crate) const AS_OF_REFUSED: &str = "not an RFC 3339 timestamp in years 9999 or earlier in UTC";

impl Scope {
    /// `as_of` as a timestamp.
    pub fn as_of_time(&self) -> Result<time::OffsetDateTime> {
        parse_utc(&self.as_of).ok_or_else(|| Error::field("scope", "/as_of", AS_OF_REFUSED))
    }
}

/// Parse an RFC 3339 timestamp. One whose UTC form falls outside the years
/// `time` holds (the last hour of year 9999 at a negative offset, say) is
/// refused (`None`): every writer of a time converts it to UTC.
pub fn parse_utc(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .filter(|t| t.checked_to_offset(time::UtcOffset::UTC).is_some())
}

/// Format a timestamp as `YYYY-MM-DDTHH:MM:SSZ` in UTC.
pub fn format_utc(t: time::OffsetDateTime) -> String {
    const UTC: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let mut out = String::with_capacity(20);
    fabric_core::chain::write_formatted_utc(&mut out, t, UTC);
    out
}

/// Readiness of one oracle inside a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OracleState {
    /// Payload present.
    Ready,
    /// The oracle reported an error.
    Failed,
    /// Expected but no result.
    Unavailable,
}

/// Status entry of one oracle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OracleStatus {
    /// Readiness.
    pub status: OracleState,
    /// The result was served stale (readiness unchanged).
    pub stale: bool,
    /// The oracle's contract version (0 when absent).
    pub oracle_version: u32,
    /// `metadata.source` when given.
    pub source: Option<String>,
    /// Flat scalar metadata as supplied.
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// Why it is not ready.
    pub reason_code: Option<OracleReason>,
    /// The oracle's own message, if any.
    pub message: Option<String>,
}

/// Identity metadata derived from the scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotMetadata {
    /// Dashboard product.
    pub dashboard_product: String,
    /// Context type.
    pub dashboard_context_type: String,
    /// Context id.
    pub dashboard_context_id: u64,
    /// `course` or `container`.
    pub container_type: String,
    /// Container id (none for the course).
    pub container_id: Option<u64>,
    /// Equal to `scope.as_of` (never the wall clock).
    pub generated_at: String,
    /// Display time zone.
    pub timezone: String,
}

/// The canonical snapshot: identity plus oracle payloads and statuses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// Snapshot contract version.
    pub snapshot_version: u32,
    /// Projection contract version.
    pub projection_version: u32,
    /// The request this snapshot answers.
    pub request_token: String,
    /// Scope identity and parameters.
    pub scope: Scope,
    /// Identity metadata.
    pub metadata: SnapshotMetadata,
    /// Ready payloads only.
    pub oracles: BTreeMap<String, crate::payload::Payload>,
    /// Every seen or expected oracle.
    pub oracle_statuses: BTreeMap<String, OracleStatus>,
}

/// Readiness of one projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// Complete.
    Ready,
    /// A value exists but something optional is missing.
    Partial,
    /// No value: derivation or a required dependency failed.
    Failed,
    /// No value: a required dependency has not arrived.
    Unavailable,
}

impl Readiness {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Readiness::Ready => "ready",
            Readiness::Partial => "partial",
            Readiness::Failed => "failed",
            Readiness::Unavailable => "unavailable",
        }
    }
}

/// Status of one projection. Invariant: `reason_code` is `None` iff status is ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawProjectionStatus")]
pub struct ProjectionStatus {
    /// Readiness.
    pub status: Readiness,
    /// Why it is not ready.
    pub reason_code: Option<ProjectionReason>,
    /// Oracle keys behind the status (sorted).
    pub missing: Vec<String>,
    /// Detail (oracle name and JSON pointer for data errors).
    pub message: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProjectionStatus {
    status: Readiness,
    reason_code: Option<ProjectionReason>,
    #[serde(default)]
    missing: Vec<String>,
    #[serde(default)]
    message: Option<String>,
}

impl TryFrom<RawProjectionStatus> for ProjectionStatus {
    type Error = String;
    fn try_from(r: RawProjectionStatus) -> std::result::Result<Self, String> {
        ProjectionStatus::new(r.status, r.reason_code, r.missing, r.message)
            .map_err(|e| e.to_string())
    }
}

impl ProjectionStatus {
    /// A checked status: non-ready needs a reason code, ready must have none.
    pub fn new(
        status: Readiness,
        reason_code: Option<ProjectionReason>,
        missing: Vec<String>,
        message: Option<String>,
    ) -> Result<Self> {
        if (status == Readiness::Ready) != reason_code.is_none() {
            return Err(Error::field(
                "projection status",
                "/reason_code",
                format!(
                    "status {} requires {}",
                    status.as_str(),
                    if status == Readiness::Ready {
                        "no reason code"
                    } else {
                        "a reason code"
                    }
                ),
            ));
        }
        Ok(ProjectionStatus {
            status,
            reason_code,
            missing,
            message,
        })
    }

    /// A ready status.
    pub fn ready() -> Self {
        ProjectionStatus {
            status: Readiness::Ready,
            reason_code: None,
            missing: Vec::new(),
            message: None,
        }
    }

    /// A non-ready status (the reason code makes the invariant hold).
    pub fn not_ready(
        status: Readiness,
        reason: ProjectionReason,
        missing: Vec<String>,
        message: Option<String>,
    ) -> Self {
        let status = if status == Readiness::Ready {
            Readiness::Failed
        } else {
            status
        };
        ProjectionStatus {
            status,
            reason_code: Some(reason),
            missing,
            message,
        }
    }
}

/// Everything a consumer needs: snapshot, projections and their statuses, parity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotBundle {
    /// `fabric.dashboard.bundle/1`.
    pub format: String,
    /// The snapshot.
    pub snapshot: Snapshot,
    /// Ready and partial projection values.
    pub projections: BTreeMap<String, serde_json::Value>,
    /// Every registered projection.
    pub projection_statuses: BTreeMap<String, ProjectionStatus>,
    /// Oracle keys no registered projection reads (kept, forward compatible).
    pub unknown_oracles: Vec<String>,
    /// Parity fingerprint over the projection contents.
    pub parity: ParityReport,
    /// What the bundle holds typed rather than as JSON (see [`Typed`]).
    #[serde(skip)]
    pub(crate) typed: Option<std::sync::Arc<Typed>>,
}

/// What a bundle holds apart from its JSON: the student rows of `student_support`
/// typed (that projection's value then has empty `students` arrays), and whether
/// the oracle payloads were skipped on reading.
#[derive(Debug, PartialEq)]
pub(crate) struct Typed {
    pub(crate) support: Option<crate::compact::SupportRows>,
    pub(crate) payloads_skipped: bool,
    /// The support list compressed as the bundle was read, for export.
    pub(crate) early: Option<crate::export::early::Early>,
}

impl SnapshotBundle {
    /// The typed `student_support` rows, when the bundle holds them typed.
    pub(crate) fn support_rows(&self) -> Option<&crate::compact::SupportRows> {
        self.typed.as_ref().and_then(|t| t.support.as_ref())
    }
}
