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

impl Scope {
    /// `as_of` as a timestamp.
    pub fn as_of_time(&self) -> Result<time::OffsetDateTime> {
        parse_utc(&self.as_of)
            .ok_or_else(|| Error::field("scope", "/as_of", "not an RFC 3339 timestamp"))
    }
}

/// Parse an RFC 3339 timestamp.
pub fn parse_utc(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// Format a timestamp as `YYYY-MM-DDTHH:MM:SSZ` in UTC.
pub fn format_utc(t: time::OffsetDateTime) -> String {
    const UTC: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let mut out = String::with_capacity(20);
    fabric_core::chain::write_formatted(&mut out, t.to_offset(time::UtcOffset::UTC), UTC);
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
    /// Set when read by [`SnapshotBundle::from_reader_without_payloads`].
    #[serde(skip)]
    pub(crate) read_for_export: Option<std::sync::Arc<ReadForExport>>,
}

/// What a bundle read for export holds apart from its JSON: its `student_support`
/// rows typed (that projection's value then has empty `students` arrays).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReadForExport {
    pub(crate) support: Option<crate::compact::CompactSupport>,
}

impl SnapshotBundle {
    /// The bundle JSON: sorted keys, 2-space indent, LF, one trailing newline.
    pub fn to_json_string(&self) -> Result<String> {
        let mut out = Vec::new();
        self.write_json(&mut out)
            .map_err(|e| Error::field("bundle", "", e.to_string()))?;
        String::from_utf8(out).map_err(|e| Error::field("bundle", "", e.to_string()))
    }

    /// [`SnapshotBundle::to_json_string`] written to `out` as it is produced: the
    /// payloads and projections are printed from where they are, with no copy
    /// of the bundle as a JSON tree and no whole-document string. Buffer `out`.
    pub fn write_json<W: std::io::Write>(&self, mut out: W) -> std::io::Result<()> {
        if self.read_for_export.is_some() {
            return Err(std::io::Error::other(
                "a bundle read without its oracle payloads cannot be written back",
            ));
        }
        serde_json::to_writer_pretty(&mut out, &SortedBundle(self)).map_err(|e| {
            if e.is_io() {
                std::io::Error::from(e)
            } else {
                std::io::Error::other(e)
            }
        })?;
        out.write_all(b"\n")?;
        out.flush()
    }

    /// Read a bundle for export or verification from `reader` (buffer it), as
    /// it streams by: the snapshot's oracle payloads are checked to be JSON and
    /// skipped, never held (serializers read projections only), so the result has
    /// an empty `snapshot.oracles` and cannot be written back; the student rows of
    /// `student_support` are held typed (that projection is read through the
    /// instructor serializers and the parity functions, not as JSON). Formats and versions are checked as in
    /// [`SnapshotBundle::from_json_str`]. Stricter than that function in one
    /// respect: a key given twice is refused; callers that must accept every
    /// bundle `from_json_str` accepts fall back to it on error.
    pub fn from_reader_without_payloads<R: std::io::Read>(reader: R) -> Result<Self> {
        let json = |source| Error::Json {
            what: "bundle",
            source,
        };
        let mut de = serde_json::Deserializer::from_reader(reader);
        let raw = ExportBundle::deserialize(&mut de).map_err(json)?;
        de.end().map_err(json)?;
        if raw.format != BUNDLE_FORMAT {
            return Err(Error::UnsupportedVersion {
                what: "format",
                found: raw.format,
                supported: BUNDLE_FORMAT.to_owned(),
            });
        }
        for (what, found, supported) in [
            (
                "snapshot_version",
                raw.snapshot.snapshot_version,
                SUPPORTED_SNAPSHOT_VERSIONS,
            ),
            (
                "projection_version",
                raw.snapshot.projection_version,
                SUPPORTED_PROJECTION_VERSIONS,
            ),
        ] {
            if !supported.contains(&found) {
                return Err(Error::UnsupportedVersion {
                    what,
                    found: found.to_string(),
                    supported: format!("{supported:?}"),
                });
            }
        }
        let s = raw.snapshot;
        Ok(SnapshotBundle {
            format: raw.format,
            snapshot: Snapshot {
                snapshot_version: s.snapshot_version,
                projection_version: s.projection_version,
                request_token: s.request_token,
                scope: s.scope,
                metadata: s.metadata,
                oracles: BTreeMap::new(),
                oracle_statuses: s.oracle_statuses,
            },
            projections: raw.projections.values,
            projection_statuses: raw.projection_statuses,
            unknown_oracles: raw.unknown_oracles,
            parity: raw.parity,
            read_for_export: Some(std::sync::Arc::new(ReadForExport {
                support: raw.projections.support,
            })),
        })
    }

    /// Read a bundle, rejecting unknown formats and unsupported versions.
    pub fn from_json_str(text: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|source| Error::Json {
                what: "bundle",
                source,
            })?;
        let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
        if format != BUNDLE_FORMAT {
            return Err(Error::UnsupportedVersion {
                what: "format",
                found: format.to_owned(),
                supported: BUNDLE_FORMAT.to_owned(),
            });
        }
        for (what, pointer, supported) in [
            (
                "snapshot_version",
                "/snapshot/snapshot_version",
                SUPPORTED_SNAPSHOT_VERSIONS,
            ),
            (
                "projection_version",
                "/snapshot/projection_version",
                SUPPORTED_PROJECTION_VERSIONS,
            ),
        ] {
            let found = value.pointer(pointer);
            let ok = found
                .and_then(|v| v.as_u64())
                .is_some_and(|v| supported.iter().any(|s| u64::from(*s) == v));
            if !ok {
                return Err(Error::UnsupportedVersion {
                    what,
                    found: found.map_or_else(|| "none".to_owned(), |v| v.to_string()),
                    supported: format!("{supported:?}"),
                });
            }
        }
        serde_json::from_value(value).map_err(|source| Error::Json {
            what: "bundle",
            source,
        })
    }
}

/// `value` printed with keys sorted at every level, 2-space indent, trailing LF.
pub fn pretty_sorted(value: &serde_json::Value) -> String {
    let sorted = sort_keys(value);
    let mut text = serde_json::to_string_pretty(&sorted).unwrap_or_default();
    text.push('\n');
    text
}

/// A copy of `value` whose objects have their keys in code-point order.
pub fn sort_keys(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

/// [`SnapshotBundle`] as read by [`SnapshotBundle::from_reader_without_payloads`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportBundle {
    format: String,
    snapshot: ExportSnapshot,
    projections: crate::compact::ExportProjections,
    projection_statuses: BTreeMap<String, ProjectionStatus>,
    unknown_oracles: Vec<String>,
    parity: crate::parity::ParityReport,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportSnapshot {
    snapshot_version: u32,
    projection_version: u32,
    request_token: String,
    scope: Scope,
    metadata: SnapshotMetadata,
    #[serde(rename = "oracles")]
    _oracles: SkippedMap,
    oracle_statuses: BTreeMap<String, OracleStatus>,
}

/// A JSON object whose values are parsed and dropped as they stream by.
struct SkippedMap;

impl<'de> Deserialize<'de> for SkippedMap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = SkippedMap;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of oracle payloads")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<SkippedMap, A::Error> {
                while map.next_entry::<String, serde::de::IgnoredAny>()?.is_some() {}
                Ok(SkippedMap)
            }
        }
        d.deserialize_map(Visit)
    }
}

/// A JSON value serialized with its object keys in code-point order (what
/// [`sort_keys`] builds, without building it).
struct Sorted<'a>(&'a serde_json::Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        use serde_json::Value;
        match self.0 {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k, &Sorted(v))?;
                }
                m.end()
            }
            Value::Array(items) => s.collect_seq(items.iter().map(Sorted)),
            other => other.serialize(s),
        }
    }
}

/// A small typed part turned into a sorted JSON value.
fn sorted_value<T: Serialize, E: serde::ser::Error>(
    part: &T,
) -> std::result::Result<serde_json::Value, E> {
    serde_json::to_value(part)
        .map(|v| sort_keys(&v))
        .map_err(E::custom)
}

/// A map whose keys are already sorted (a `BTreeMap`), values printed sorted.
struct SortedMap<'a>(&'a BTreeMap<String, serde_json::Value>);

impl Serialize for SortedMap<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, Sorted(v))))
    }
}

/// The bundle with every key in code-point order: the fields of the typed parts
/// in sorted order by hand, their small parts through [`sort_keys`], and the
/// payloads and projections streamed through [`Sorted`].
struct SortedBundle<'a>(&'a SnapshotBundle);

impl Serialize for SortedBundle<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let b = self.0;
        let mut m = s.serialize_map(Some(6))?;
        m.serialize_entry("format", &b.format)?;
        m.serialize_entry("parity", &sorted_value::<_, S::Error>(&b.parity)?)?;
        m.serialize_entry(
            "projection_statuses",
            &sorted_value::<_, S::Error>(&b.projection_statuses)?,
        )?;
        m.serialize_entry("projections", &SortedMap(&b.projections))?;
        m.serialize_entry("snapshot", &SortedSnapshot(&b.snapshot))?;
        m.serialize_entry("unknown_oracles", &b.unknown_oracles)?;
        m.end()
    }
}

struct SortedSnapshot<'a>(&'a Snapshot);

impl Serialize for SortedSnapshot<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let n = self.0;
        let mut m = s.serialize_map(Some(7))?;
        m.serialize_entry("metadata", &sorted_value::<_, S::Error>(&n.metadata)?)?;
        m.serialize_entry(
            "oracle_statuses",
            &sorted_value::<_, S::Error>(&n.oracle_statuses)?,
        )?;
        m.serialize_entry("oracles", &n.oracles)?;
        m.serialize_entry("projection_version", &n.projection_version)?;
        m.serialize_entry("request_token", &n.request_token)?;
        m.serialize_entry("scope", &sorted_value::<_, S::Error>(&n.scope)?)?;
        m.serialize_entry("snapshot_version", &n.snapshot_version)?;
        m.end()
    }
}
