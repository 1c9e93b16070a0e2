//! The eight instructor datasets. Each serializer reads projection
//! values (and the scope) only, so every number equals the one on screen.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;

use super::{
    Cell, DatasetSerializer, DatasetSpec, ExportContext, FailurePolicy, RowSink, SerializeError,
};

/// The instructor datasets, all under `policy`.
pub(crate) fn instructor_datasets(policy: FailurePolicy) -> Vec<DatasetSpec> {
    let spec =
        |dataset_id, filename, required, optional, serializer: Arc<dyn DatasetSerializer>| {
            DatasetSpec {
                dataset_id,
                filename,
                required_projections: required,
                optional_projections: optional,
                serializer,
                failure_policy: policy,
            }
        };
    vec![
        spec(
            "dashboard_metadata",
            "dashboard_metadata.csv",
            &[],
            &["summary"],
            Arc::new(Metadata),
        ),
        spec(
            "course_summary_metrics",
            "course_summary_metrics.csv",
            &["summary"],
            &[],
            Arc::new(SummaryMetrics),
        ),
        spec(
            "student_progress",
            "student_progress.csv",
            &["progress"],
            &[],
            Arc::new(StudentProgress),
        ),
        spec(
            "student_support_summary",
            "student_support_summary.csv",
            &["student_support"],
            &[],
            Arc::new(SupportSummary),
        ),
        spec(
            "student_support_list",
            "student_support_list.csv",
            &["student_support"],
            &[],
            Arc::new(SupportList),
        ),
        spec(
            "challenging_objectives",
            "challenging_objectives.csv",
            &["challenging_objectives"],
            &[],
            Arc::new(Objectives),
        ),
        spec(
            "assessment_score_distribution",
            "assessment_score_distribution.csv",
            &["assessments"],
            &[],
            Arc::new(ScoreDistribution),
        ),
        spec(
            "assessment_summary",
            "assessment_summary.csv",
            &["assessments"],
            &[],
            Arc::new(AssessmentSummary),
        ),
    ]
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

fn list<'a>(projection: &str, v: &'a Value, pointer: &str) -> Result<&'a [Value], SerializeError> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| shape(projection, pointer, "expected an array"))
}

fn text(v: Option<&Value>) -> Cell<'_> {
    match v.and_then(Value::as_str) {
        Some(s) => Cell::Text(Cow::Borrowed(s)),
        None => Cell::Empty,
    }
}

fn int(v: Option<&Value>) -> Cell<'static> {
    match v.and_then(Value::as_i64) {
        Some(n) => Cell::Int(n),
        None => Cell::Empty,
    }
}

fn dec(v: Option<&Value>) -> Cell<'static> {
    match v.and_then(Value::as_f64) {
        Some(x) => Cell::Dec1(x),
        None => Cell::Empty,
    }
}

fn time(v: Option<&Value>) -> Cell<'_> {
    match v.and_then(Value::as_str) {
        Some(s) => Cell::Time(Cow::Borrowed(s)),
        None => Cell::Empty,
    }
}

fn owned(s: impl Into<String>) -> Cell<'static> {
    Cell::Text(Cow::Owned(s.into()))
}

fn opt_text(s: Option<&str>) -> Cell<'_> {
    s.map_or(Cell::Empty, |s| Cell::Text(Cow::Borrowed(s)))
}

struct Metadata;

impl DatasetSerializer for Metadata {
    fn columns(&self) -> &'static [&'static str] {
        &["field", "value"]
    }
    fn write_rows(
        &self,
        ctx: &ExportContext<'_>,
        sink: &mut dyn RowSink,
    ) -> Result<(), SerializeError> {
        let scope = ctx.scope();
        let f = &scope.filters;
        let s = &f.support;
        let total = ctx
            .projection("summary")
            .and_then(|v| v.get("total_students"));
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
            ("total_students", int(total)),
        ];
        for (field, value) in rows {
            sink.row(&[Cell::Text(Cow::Borrowed(field)), value])?;
        }
        Ok(())
    }
}

struct SummaryMetrics;

impl DatasetSerializer for SummaryMetrics {
    fn columns(&self) -> &'static [&'static str] {
        &["metric", "value", "unit"]
    }
    fn write_rows(
        &self,
        ctx: &ExportContext<'_>,
        sink: &mut dyn RowSink,
    ) -> Result<(), SerializeError> {
        let v = need(ctx, "summary")?;
        let metrics = v
            .get("metrics")
            .ok_or_else(|| shape("summary", "/metrics", "missing"))?;
        for metric in [
            "average_class_proficiency",
            "average_assessment_score",
            "average_student_progress",
        ] {
            sink.row(&[
                Cell::Text(Cow::Borrowed(metric)),
                dec(metrics.get(metric)),
                owned("percent"),
            ])?;
        }
        sink.row(&[
            owned("total_students"),
            int(v.get("total_students")),
            owned("count"),
        ])?;
        Ok(())
    }
}

struct StudentProgress;

impl DatasetSerializer for StudentProgress {
    fn columns(&self) -> &'static [&'static str] {
        &[
            "resource_id",
            "content_item",
            "resource_type",
            "students_completed",
            "total_students",
            "completion_rate_pct",
        ]
    }
    fn write_rows(
        &self,
        ctx: &ExportContext<'_>,
        sink: &mut dyn RowSink,
    ) -> Result<(), SerializeError> {
        let v = need(ctx, "progress")?;
        for item in list("progress", v, "/items")? {
            sink.row(&[
                int(item.get("resource_id")),
                text(item.get("title")),
                text(item.get("resource_type")),
                int(item.get("students_completed")),
                int(item.get("total_students")),
                dec(item.get("completion_rate_pct")),
            ])?;
        }
        Ok(())
    }
}

struct SupportSummary;

impl DatasetSerializer for SupportSummary {
    fn columns(&self) -> &'static [&'static str] {
        &[
            "category",
            "student_count",
            "active_count",
            "inactive_count",
            "percentage",
        ]
    }
    fn write_rows(
        &self,
        ctx: &ExportContext<'_>,
        sink: &mut dyn RowSink,
    ) -> Result<(), SerializeError> {
        let v = need_raw(ctx, "student_support")?;
        for b in list("student_support", v, "/buckets")? {
            sink.row(&[
                text(b.get("id")),
                int(b.get("count")),
                int(b.get("active_count")),
                int(b.get("inactive_count")),
                dec(b.get("pct")),
            ])?;
        }
        Ok(())
    }
}

struct SupportList;

impl DatasetSerializer for SupportList {
    fn columns(&self) -> &'static [&'static str] {
        &[
            "student_id",
            "student_name",
            "support_category",
            "progress_pct",
            "proficiency_pct",
            "activity_status",
            "last_interaction_at",
        ]
    }
    fn write_rows(
        &self,
        ctx: &ExportContext<'_>,
        sink: &mut dyn RowSink,
    ) -> Result<(), SerializeError> {
        let v = need_raw(ctx, "student_support")?;
        let typed = ctx.support_rows();
        for (i, b) in list("student_support", v, "/buckets")?.iter().enumerate() {
            let category = text(b.get("id"));
            if let Some(support) = typed {
                let rows = support
                    .students
                    .get(i)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                for s in rows {
                    sink.row(&[
                        i64::try_from(s.student_id).map_or(Cell::Empty, Cell::Int),
                        Cell::Text(Cow::Borrowed(&s.name)),
                        category.clone(),
                        s.progress_pct.map_or(Cell::Empty, Cell::Dec1),
                        s.proficiency_pct.map_or(Cell::Empty, Cell::Dec1),
                        owned(if s.inactive { "inactive" } else { "active" }),
                        s.last_interaction_at
                            .as_deref()
                            .map_or(Cell::Empty, |t| Cell::Time(Cow::Borrowed(t))),
                    ])?;
                }
                continue;
            }
            for s in list("student_support", v, &format!("/buckets/{i}/students"))? {
                let inactive = s.get("inactive").and_then(Value::as_bool).unwrap_or(false);
                sink.row(&[
                    int(s.get("student_id")),
                    text(s.get("name")),
                    category.clone(),
                    dec(s.get("progress_pct")),
                    dec(s.get("proficiency_pct")),
                    owned(if inactive { "inactive" } else { "active" }),
                    time(s.get("last_interaction_at")),
                ])?;
            }
        }
        Ok(())
    }
}

struct Objectives;

fn objective_rows(rows: &[Value], sink: &mut dyn RowSink) -> Result<(), SerializeError> {
    for row in rows {
        if row.get("qualifies").and_then(Value::as_bool) == Some(true) {
            let numbering = row.get("numbering").and_then(Value::as_str).unwrap_or("");
            let label = if row.get("row_type").and_then(Value::as_str) == Some("objective") {
                format!("LO {numbering}")
            } else {
                numbering.to_owned()
            };
            let dist = row.get("distribution");
            let count = |k: &str| int(dist.and_then(|d| d.get(k)));
            sink.row(&[
                int(row.get("objective_id")),
                owned(label),
                text(row.get("objective")),
                text(row.get("sub_objective")),
                text(row.get("dominant_level")),
                count("low"),
                count("medium"),
                count("high"),
                count("not_enough_data"),
            ])?;
        }
        if let Some(children) = row.get("children").and_then(Value::as_array) {
            objective_rows(children, sink)?;
        }
    }
    Ok(())
}

impl DatasetSerializer for Objectives {
    fn columns(&self) -> &'static [&'static str] {
        &[
            "objective_id",
            "label",
            "objective",
            "sub_objective",
            "dominant_level",
            "low",
            "medium",
            "high",
            "not_enough_data",
        ]
    }
    fn write_rows(
        &self,
        ctx: &ExportContext<'_>,
        sink: &mut dyn RowSink,
    ) -> Result<(), SerializeError> {
        let v = need(ctx, "challenging_objectives")?;
        objective_rows(list("challenging_objectives", v, "/rows")?, sink)
    }
}

struct ScoreDistribution;

impl DatasetSerializer for ScoreDistribution {
    fn columns(&self) -> &'static [&'static str] {
        &[
            "assessment_id",
            "assessment_name",
            "score_range",
            "student_count",
        ]
    }
    fn write_rows(
        &self,
        ctx: &ExportContext<'_>,
        sink: &mut dyn RowSink,
    ) -> Result<(), SerializeError> {
        let v = need(ctx, "assessments")?;
        for (i, row) in list("assessments", v, "/rows")?.iter().enumerate() {
            for bin in list("assessments", v, &format!("/rows/{i}/histogram"))? {
                sink.row(&[
                    int(row.get("assessment_id")),
                    text(row.get("title")),
                    text(bin.get("range")),
                    int(bin.get("count")),
                ])?;
            }
        }
        Ok(())
    }
}

struct AssessmentSummary;

impl DatasetSerializer for AssessmentSummary {
    fn columns(&self) -> &'static [&'static str] {
        &[
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
        ]
    }
    fn write_rows(
        &self,
        ctx: &ExportContext<'_>,
        sink: &mut dyn RowSink,
    ) -> Result<(), SerializeError> {
        let v = need(ctx, "assessments")?;
        for row in list("assessments", v, "/rows")? {
            let c = row.get("completion");
            let m = row.get("metrics");
            let cv = |k: &str| c.and_then(|c| c.get(k));
            let mv = |k: &str| dec(m.and_then(|m| m.get(k)));
            sink.row(&[
                int(row.get("assessment_id")),
                text(row.get("title")),
                text(row.get("context_label")),
                time(row.get("available_at")),
                time(row.get("due_at")),
                int(cv("completed")),
                int(cv("not_completed")),
                dec(cv("pct")),
                text(cv("status")),
                mv("min"),
                mv("median"),
                mv("mean"),
                mv("max"),
                mv("std_dev"),
            ])?;
        }
        Ok(())
    }
}
