//! The typed values of the instructor projections: each projection builds these
//! and turns them into its JSON value, and each CSV serializer reads them back
//! from that value, so a renamed or retyped field is a compile error on both
//! sides, never an empty cell. (The `student_support` rows are
//! [`crate::instructor::StudentRow`].)

use serde::{Deserialize, Serialize};

/// `summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryValue {
    /// Class size (progress bins first, else the progress rows).
    pub total_students: Option<u64>,
    /// The three headline metrics.
    pub metrics: SummaryMetrics,
    /// The three cards, in order.
    pub cards: Vec<SummaryCard>,
    /// The recommendation, when its oracle is ready.
    pub recommendation: Option<Recommendation>,
}

/// The headline metrics of `summary` (percent, one decimal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryMetrics {
    /// Mean student progress.
    pub average_student_progress: Option<f64>,
    /// Class proficiency.
    pub average_class_proficiency: Option<f64>,
    /// Mean assessment score.
    pub average_assessment_score: Option<f64>,
}

/// One card of `summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryCard {
    /// The metric's id.
    pub id: String,
    /// `ready`, `no_data` or `unavailable`.
    pub status: String,
    /// Shown unless `no_data`.
    pub visible: bool,
    /// The metric.
    pub value: Option<f64>,
}

/// The recommendation of `summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The oracle's status (`unavailable` when absent).
    pub status: String,
    /// Its id.
    pub recommendation_id: Option<String>,
    /// Its text.
    pub body: Option<String>,
}

/// One scope item of `progress`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressItem {
    /// The resource.
    pub resource_id: u64,
    /// Its title (empty when absent).
    pub title: String,
    /// Its type (`page` when absent).
    pub resource_type: String,
    /// Students at or above the completion threshold.
    pub students_completed: u64,
    /// Class size.
    pub total_students: u64,
    /// `students_completed` of the class, percent, one decimal.
    pub completion_rate_pct: f64,
    /// The progress bins, ascending.
    pub bins: Vec<ProgressBin>,
}

/// One progress bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressBin {
    /// The bin (0-100).
    pub bin: f64,
    /// Students in it.
    pub count: u64,
}

/// One bucket of `student_support` (its `students` are held apart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupportBucket {
    /// One of [`crate::instructor::BUCKETS`].
    pub id: String,
    /// Students in it.
    pub count: u64,
    /// Of all rostered students, percent, one decimal.
    pub pct: f64,
    /// Active students in it.
    pub active_count: u64,
    /// Inactive students in it.
    pub inactive_count: u64,
}

/// One row of `assessments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssessmentRow {
    /// The graded page.
    pub assessment_id: u64,
    /// Its title.
    pub title: String,
    /// The container it sits in.
    pub context_label: Option<String>,
    /// Available from (UTC text).
    pub available_at: Option<String>,
    /// Due (UTC text).
    pub due_at: Option<String>,
    /// Completion.
    pub completion: Completion,
    /// Score metrics, one decimal.
    pub metrics: ScoreMetrics,
    /// The ten histogram bins, in order.
    pub histogram: Vec<HistogramBin>,
}

/// Completion of an assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// Students who completed it.
    pub completed: u64,
    /// Class size.
    pub total: u64,
    /// `total - completed`.
    pub not_completed: u64,
    /// Percent, one decimal.
    pub pct: f64,
    /// `good` at or above the threshold, else `bad`.
    pub status: String,
}

/// Score metrics of an assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreMetrics {
    /// Minimum.
    pub min: Option<f64>,
    /// Median.
    pub median: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
    /// Maximum.
    pub max: Option<f64>,
    /// Standard deviation.
    pub std_dev: Option<f64>,
}

/// One histogram bin of an assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramBin {
    /// One of [`crate::instructor::HISTOGRAM_BINS`].
    pub range: String,
    /// Students in it.
    pub count: u64,
}

/// One row of `challenging_objectives` (with its qualifying descendants).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveRow {
    /// The objective.
    pub objective_id: u64,
    /// Its title.
    pub title: String,
    /// Its number over the whole tree (`1.2`).
    pub numbering: String,
    /// `objective` (a root) or `sub_objective`.
    pub row_type: String,
    /// The root's title.
    pub objective: String,
    /// Its own title below the root.
    pub sub_objective: Option<String>,
    /// One of [`crate::instructor::LEVELS`].
    pub dominant_level: String,
    /// Dominant level `low`.
    pub qualifies: bool,
    /// Learners by level.
    pub distribution: Distribution,
    /// Numeric proficiency (0-1) when given.
    pub numeric_proficiency: Option<f64>,
    /// Child rows that qualify or lead to one that does.
    pub children: Vec<ObjectiveRow>,
}

/// Learners by proficiency level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distribution {
    /// Low.
    pub low: u64,
    /// Medium.
    pub medium: u64,
    /// High.
    pub high: u64,
    /// Not enough data.
    pub not_enough_data: u64,
}

/// A typed part as a JSON value (what the projection holds).
pub(crate) fn to_value<T: Serialize>(
    part: &T,
) -> Result<serde_json::Value, crate::projection::DeriveError> {
    serde_json::to_value(part).map_err(|e| crate::projection::DeriveError::Failed(e.to_string()))
}
