//! The eight instructor datasets, one table: each is a header and the function
//! that streams its rows as it derives them. Rows read projection values (and
//! the scope) only, through the typed rows of [`crate::instructor::rows`], so
//! every number equals the one on screen.

use std::borrow::Cow;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{
    Cell, DatasetSerializer, DatasetSpec, ExportContext, FailurePolicy, RowSink, SerializeError,
};
use crate::compact::{LooseStudentRow, StudentRow};
use crate::instructor::rows::{
    AssessmentRow, ObjectiveRow, ProgressItem, SummaryValue, SupportBucket,
};

/// The instructor datasets, all under `policy`.
pub(crate) fn instructor_datasets(policy: FailurePolicy) -> Vec<DatasetSpec> {
    INSTRUCTOR
        .iter()
        .map(|d| DatasetSpec {
            dataset_id: d.id,
            filename: d.file,
            required_projections: d.required,
            optional_projections: d.optional,
            serializer: if d.id == SUPPORT_LIST_ID {
                Arc::clone(&SUPPORT_LIST_SERIALIZER)
            } else {
                Arc::new(d.table)
            },
            failure_policy: policy,
        })
        .collect()
}

/// The id and file of the student support list, the one dataset that grows
/// with the students.
pub(super) const SUPPORT_LIST_ID: &str = "student_support_list";
pub(super) const SUPPORT_LIST_FILE: &str = "student_support_list.csv";

/// The support list's serializer, one instance for every profile: a spec holding
/// it writes the rows that [`super::early`] compresses while the bundle is read.
pub(super) static SUPPORT_LIST_SERIALIZER: std::sync::LazyLock<Arc<dyn DatasetSerializer>> =
    std::sync::LazyLock::new(|| Arc::new(SUPPORT_LIST));

/// The columns of the support list.
pub(super) fn support_list_columns() -> &'static [&'static str] {
    SUPPORT_LIST.columns
}

/// One dataset of the registry.
struct Dataset {
    id: &'static str,
    file: &'static str,
    required: &'static [&'static str],
    optional: &'static [&'static str],
    table: Table,
}

/// The instructor datasets in ZIP order.
const INSTRUCTOR: [Dataset; 8] = [
    Dataset {
        id: "dashboard_metadata",
        file: "dashboard_metadata.csv",
        required: &[],
        optional: &["summary"],
        table: METADATA,
    },
    Dataset {
        id: "course_summary_metrics",
        file: "course_summary_metrics.csv",
        required: &["summary"],
        optional: &[],
        table: SUMMARY_METRICS,
    },
    Dataset {
        id: "student_progress",
        file: "student_progress.csv",
        required: &["progress"],
        optional: &[],
        table: STUDENT_PROGRESS,
    },
    Dataset {
        id: "student_support_summary",
        file: "student_support_summary.csv",
        required: &["student_support"],
        optional: &[],
        table: SUPPORT_SUMMARY,
    },
    Dataset {
        id: SUPPORT_LIST_ID,
        file: SUPPORT_LIST_FILE,
        required: &["student_support"],
        optional: &[],
        table: SUPPORT_LIST,
    },
    Dataset {
        id: "challenging_objectives",
        file: "challenging_objectives.csv",
        required: &["challenging_objectives"],
        optional: &[],
        table: OBJECTIVES,
    },
    Dataset {
        id: "assessment_score_distribution",
        file: "assessment_score_distribution.csv",
        required: &["assessments"],
        optional: &[],
        table: SCORE_DISTRIBUTION,
    },
    Dataset {
        id: "assessment_summary",
        file: "assessment_summary.csv",
        required: &["assessments"],
        optional: &[],
        table: ASSESSMENT_SUMMARY,
    },
];

/// The rows of a dataset, written to the sink in final order as they are derived.
type Rows = fn(&ExportContext<'_>, &mut dyn RowSink) -> Result<(), SerializeError>;

/// A dataset's CSV: its header and its rows. The one [`DatasetSerializer`] of
/// the instructor datasets.
#[derive(Clone, Copy)]
struct Table {
    columns: &'static [&'static str],
    rows: Rows,
}

impl DatasetSerializer for Table {
    fn columns(&self) -> &'static [&'static str] {
        self.columns
    }
    fn write_rows(
        &self,
        ctx: &ExportContext<'_>,
        sink: &mut dyn RowSink,
    ) -> Result<(), SerializeError> {
        (self.rows)(ctx, sink)
    }
}

fn shape(projection: &str, pointer: &str, message: &str) -> SerializeError {
    SerializeError::Projection {
        projection: projection.to_owned(),
        pointer: pointer.to_owned(),
        message: message.to_owned(),
    }
}

fn need<'a>(ctx: &ExportContext<'a>, key: &str) -> Result<&'a Value, SerializeError> {
    ctx.projection(key)
        .ok_or_else(|| shape(key, "", "projection has no value"))
}

/// The stored JSON of a projection, including one whose rows are held typed.
fn need_raw<'a>(ctx: &ExportContext<'a>, key: &str) -> Result<&'a Value, SerializeError> {
    ctx.raw_projection(key)
        .ok_or_else(|| shape(key, "", "projection has no value"))
}

/// The part of projection `v` at `pointer`, read as the projection's typed form.
fn typed<T: DeserializeOwned>(
    projection: &str,
    v: &Value,
    pointer: &str,
) -> Result<T, SerializeError> {
    let part = v
        .pointer(pointer)
        .ok_or_else(|| shape(projection, pointer, "missing"))?;
    T::deserialize(part).map_err(|e| shape(projection, pointer, &e.to_string()))
}

/// The list at `pointer` of projection `key` (its stored JSON: `student_support`
/// without its rows), one record per item, of the cells `cells` gives.
fn records<T: DeserializeOwned, const N: usize>(
    ctx: &ExportContext<'_>,
    sink: &mut dyn RowSink,
    (key, pointer): (&str, &str),
    cells: impl for<'r> Fn(&'r T) -> [Cell<'r>; N],
) -> Result<(), SerializeError> {
    let items: Vec<T> = typed(key, need_raw(ctx, key)?, pointer)?;
    for item in &items {
        sink.row(&cells(item))?;
    }
    Ok(())
}

fn dec(x: Option<f64>) -> Cell<'static> {
    x.map_or(Cell::Empty, Cell::Dec1)
}

fn int(n: u64) -> Cell<'static> {
    i64::try_from(n).map_or(Cell::Empty, Cell::Int)
}

fn text(s: &str) -> Cell<'_> {
    Cell::Text(Cow::Borrowed(s))
}

fn time(s: Option<&str>) -> Cell<'_> {
    s.map_or(Cell::Empty, |t| Cell::Time(Cow::Borrowed(t)))
}

fn owned(s: impl Into<String>) -> Cell<'static> {
    Cell::Text(Cow::Owned(s.into()))
}

fn opt_text(s: Option<&str>) -> Cell<'_> {
    s.map_or(Cell::Empty, |s| Cell::Text(Cow::Borrowed(s)))
}

const METADATA: Table = Table {
    columns: &["field", "value"],
    rows: metadata,
};

fn metadata(ctx: &ExportContext<'_>, sink: &mut dyn RowSink) -> Result<(), SerializeError> {
    let scope = ctx.scope();
    let f = &scope.filters;
    let s = &f.support;
    let total = match ctx.projection("summary") {
        Some(v) => typed::<SummaryValue>("summary", v, "")?.total_students,
        None => None,
    };
    let rows: [(&str, Cell<'_>); 17] = [
        (
            "dashboard_product",
            opt_text(Some(&scope.dashboard_product)),
        ),
        (
            "course_title",
            opt_text(scope.labels.course_title.as_deref()),
        ),
        (
            "section_label",
            opt_text(scope.labels.section_label.as_deref()),
        ),
        ("scope", owned(scope.container.to_string())),
        ("scope_label", opt_text(scope.labels.scope_label.as_deref())),
        ("request_token", opt_text(Some(ctx.request_token()))),
        ("generated_at", Cell::Time(Cow::Borrowed(&scope.as_of))),
        ("timezone", opt_text(Some(&scope.timezone))),
        (
            "completion_threshold_pct",
            Cell::Dec1(f.completion_threshold_pct),
        ),
        (
            "assessment_completion_threshold_pct",
            Cell::Dec1(f.assessment_completion_threshold_pct),
        ),
        ("inactivity_days", Cell::Int(i64::from(s.inactivity_days))),
        (
            "struggling_progress_low_lt",
            Cell::Dec1(s.struggling_progress_low_lt),
        ),
        (
            "struggling_progress_high_gt",
            Cell::Dec1(s.struggling_progress_high_gt),
        ),
        (
            "struggling_proficiency_lte",
            Cell::Dec1(s.struggling_proficiency_lte),
        ),
        (
            "excelling_progress_gte",
            Cell::Dec1(s.excelling_progress_gte),
        ),
        (
            "excelling_proficiency_gte",
            Cell::Dec1(s.excelling_proficiency_gte),
        ),
        ("total_students", total.map_or(Cell::Empty, int)),
    ];
    for (field, value) in rows {
        sink.row(&[Cell::Text(Cow::Borrowed(field)), value])?;
    }
    Ok(())
}

const SUMMARY_METRICS: Table = Table {
    columns: &["metric", "value", "unit"],
    rows: summary_metrics,
};

fn summary_metrics(ctx: &ExportContext<'_>, sink: &mut dyn RowSink) -> Result<(), SerializeError> {
    let v: SummaryValue = typed("summary", need(ctx, "summary")?, "")?;
    let m = &v.metrics;
    for (metric, value) in [
        ("average_class_proficiency", m.average_class_proficiency),
        ("average_assessment_score", m.average_assessment_score),
        ("average_student_progress", m.average_student_progress),
    ] {
        sink.row(&[text(metric), dec(value), owned("percent")])?;
    }
    sink.row(&[
        owned("total_students"),
        v.total_students.map_or(Cell::Empty, int),
        owned("count"),
    ])?;
    Ok(())
}

const STUDENT_PROGRESS: Table = Table {
    columns: &[
        "resource_id",
        "content_item",
        "resource_type",
        "students_completed",
        "total_students",
        "completion_rate_pct",
    ],
    rows: |ctx, sink| {
        records(ctx, sink, ("progress", "/items"), |item: &ProgressItem| {
            [
                int(item.resource_id),
                text(&item.title),
                text(&item.resource_type),
                int(item.students_completed),
                int(item.total_students),
                Cell::Dec1(item.completion_rate_pct),
            ]
        })
    },
};

const SUPPORT_SUMMARY: Table = Table {
    columns: &[
        "category",
        "student_count",
        "active_count",
        "inactive_count",
        "percentage",
    ],
    rows: |ctx, sink| {
        records(
            ctx,
            sink,
            ("student_support", "/buckets"),
            |b: &SupportBucket| {
                [
                    text(&b.id),
                    int(b.count),
                    int(b.active_count),
                    int(b.inactive_count),
                    Cell::Dec1(b.pct),
                ]
            },
        )
    },
};

const SUPPORT_LIST: Table = Table {
    columns: &[
        "student_id",
        "student_name",
        "support_category",
        "progress_pct",
        "proficiency_pct",
        "activity_status",
        "last_interaction_at",
    ],
    rows: support_list,
};

fn support_list(ctx: &ExportContext<'_>, sink: &mut dyn RowSink) -> Result<(), SerializeError> {
    let v = need_raw(ctx, "student_support")?;
    let buckets: Vec<SupportBucket> = typed("student_support", v, "/buckets")?;
    let held = ctx.support_rows();
    for (i, b) in buckets.iter().enumerate() {
        let read: Vec<StudentRow>;
        let rows: &[StudentRow] = match held {
            Some(support) => support
                .students
                .get(i)
                .map(Vec::as_slice)
                .unwrap_or_default(),
            None => {
                let pointer = format!("/buckets/{i}/students");
                read = typed::<Vec<LooseStudentRow>>("student_support", v, &pointer)?
                    .into_iter()
                    .map(StudentRow::from)
                    .collect();
                &read
            }
        };
        for s in rows {
            sink.row(&support_row(&b.id, s))?;
        }
    }
    Ok(())
}

/// The `student_support_list` row of student `s` in the bucket `bucket_id`.
pub(super) fn support_row<'a>(bucket_id: &'a str, s: &'a StudentRow) -> [Cell<'a>; 7] {
    [
        int(s.student_id),
        text(&s.name),
        text(bucket_id),
        dec(s.progress_pct),
        dec(s.proficiency_pct),
        text(if s.inactive { "inactive" } else { "active" }),
        time(s.last_interaction_at.as_deref()),
    ]
}

const OBJECTIVES: Table = Table {
    columns: &[
        "objective_id",
        "label",
        "objective",
        "sub_objective",
        "dominant_level",
        "low",
        "medium",
        "high",
        "not_enough_data",
    ],
    rows: |ctx, sink| {
        let v = need(ctx, "challenging_objectives")?;
        let rows: Vec<ObjectiveRow> = typed("challenging_objectives", v, "/rows")?;
        objective_rows(&rows, sink)
    },
};

/// The qualifying rows of the objective tree `rows`, depth first.
fn objective_rows(rows: &[ObjectiveRow], sink: &mut dyn RowSink) -> Result<(), SerializeError> {
    for row in rows {
        if row.qualifies {
            let label = if row.row_type == "objective" {
                format!("LO {}", row.numbering)
            } else {
                row.numbering.clone()
            };
            let d = &row.distribution;
            sink.row(&[
                int(row.objective_id),
                owned(label),
                text(&row.objective),
                opt_text(row.sub_objective.as_deref()),
                text(&row.dominant_level),
                int(d.low),
                int(d.medium),
                int(d.high),
                int(d.not_enough_data),
            ])?;
        }
        objective_rows(&row.children, sink)?;
    }
    Ok(())
}

const SCORE_DISTRIBUTION: Table = Table {
    columns: &[
        "assessment_id",
        "assessment_name",
        "score_range",
        "student_count",
    ],
    rows: |ctx, sink| {
        let rows: Vec<AssessmentRow> = typed("assessments", need(ctx, "assessments")?, "/rows")?;
        for row in &rows {
            for bin in &row.histogram {
                sink.row(&[
                    int(row.assessment_id),
                    text(&row.title),
                    text(&bin.range),
                    int(bin.count),
                ])?;
            }
        }
        Ok(())
    },
};

const ASSESSMENT_SUMMARY: Table = Table {
    columns: &[
        "assessment_id",
        "assessment_name",
        "context",
        "available_from",
        "due_date",
        "students_completed",
        "students_not_completed",
        "completion_pct",
        "completion_status",
        "score_min",
        "score_median",
        "score_mean",
        "score_max",
        "score_std_dev",
    ],
    rows: |ctx, sink| {
        records(
            ctx,
            sink,
            ("assessments", "/rows"),
            |row: &AssessmentRow| {
                let (c, m) = (&row.completion, &row.metrics);
                [
                    int(row.assessment_id),
                    text(&row.title),
                    opt_text(row.context_label.as_deref()),
                    time(row.available_at.as_deref()),
                    time(row.due_at.as_deref()),
                    int(c.completed),
                    int(c.not_completed),
                    Cell::Dec1(c.pct),
                    text(&c.status),
                    dec(m.min),
                    dec(m.median),
                    dec(m.mean),
                    dec(m.max),
                    dec(m.std_dev),
                ]
            },
        )
    },
};
