//! `assessments`: one row per graded page with completion, score metrics and a
//! fixed 10-bin histogram.

use std::collections::BTreeMap;

use super::rows::{AssessmentRow, Completion, HistogramBin, ScoreMetrics, to_value};
use super::{Node, num, round1};
use crate::projection::{DeriveError, Derived, Projection, ProjectionInput};

/// The assessments projection.
#[derive(Debug, Clone, Copy)]
pub struct Assessments;

/// The histogram bins, in order.
pub const HISTOGRAM_BINS: [&str; 10] = [
    "0-10", "10-20", "20-30", "30-40", "40-50", "50-60", "60-70", "70-80", "80-90", "90-100",
];

struct Page<'a> {
    position: usize,
    title: Option<&'a str>,
    context_label: Option<&'a str>,
}

impl Projection for Assessments {
    fn key(&self) -> &'static str {
        "assessments"
    }
    fn required_oracles(&self) -> &'static [&'static str] {
        &["grades", "scope_resources"]
    }
    fn optional_oracles(&self) -> &'static [&'static str] {
        &[]
    }
    fn derive(&self, input: &ProjectionInput<'_>) -> Result<Derived, DeriveError> {
        let threshold = input.scope.filters.assessment_completion_threshold_pct;
        let grades = input
            .required
            .get("grades")
            .ok_or_else(|| DeriveError::Failed("grades missing".into()))?;
        let resources = input
            .required
            .get("scope_resources")
            .ok_or_else(|| DeriveError::Failed("scope_resources missing".into()))?;
        let mut pages = BTreeMap::new();
        if let Some(list) = Node::root("scope_resources", resources).get("pages")? {
            for (position, page) in list.items()?.into_iter().enumerate() {
                let id = page.req_u64("resource_id")?;
                pages.entry(id).or_insert(Page {
                    position,
                    title: page.opt_str("title")?,
                    context_label: page.opt_str("context_label")?,
                });
            }
        }
        let mut rows = Vec::new();
        for g in Node::root("grades", grades).req("grades")?.items()? {
            let id = g.req_u64("assessment_id")?;
            let page = pages.get(&id);
            let title = g
                .opt_str("title")?
                .or(page.and_then(|p| p.title))
                .map_or_else(|| format!("Assessment {id}"), str::to_owned);
            let context_label = g
                .opt_str("container_title")?
                .or(page.and_then(|p| p.context_label));
            let available = g.opt_time("available_at")?;
            let due = g.opt_time("due_at")?;
            let effective = due.as_ref().or(available.as_ref()).map(|(t, _)| *t);
            let completed = g.req_u64("completed_count")?;
            let total = g.req_u64("total_students")?;
            let pct = if total > 0 {
                round1(completed as f64 / total as f64 * 100.0)
            } else {
                0.0
            };
            let mut histogram = Vec::new();
            let hist = g.get("histogram")?;
            for bin in HISTOGRAM_BINS {
                let count = match &hist {
                    Some(h) => h.opt_u64(bin)?.unwrap_or(0),
                    None => 0,
                };
                histogram.push(HistogramBin {
                    range: bin.to_owned(),
                    count,
                });
            }
            let metric =
                |key: &str| -> Result<Option<f64>, DeriveError> { Ok(g.opt_f64(key)?.map(round1)) };
            let row = AssessmentRow {
                assessment_id: id,
                title,
                context_label: context_label.map(str::to_owned),
                available_at: available.as_ref().map(|(_, s)| s.clone()),
                due_at: due.as_ref().map(|(_, s)| s.clone()),
                completion: Completion {
                    completed,
                    total,
                    not_completed: total.saturating_sub(completed),
                    pct,
                    status: if pct >= threshold { "good" } else { "bad" }.to_owned(),
                },
                metrics: ScoreMetrics {
                    min: metric("minimum")?,
                    median: metric("median")?,
                    mean: metric("mean")?,
                    max: metric("maximum")?,
                    std_dev: metric("standard_deviation")?,
                },
                histogram,
            };
            let position = page.map_or(usize::MAX, |p| p.position);
            rows.push((effective.is_none(), effective, position, id, row));
        }
        rows.sort_by_key(|r| (r.0, r.1, r.2, r.3));
        let rows: Vec<AssessmentRow> = rows.into_iter().map(|r| r.4).collect();
        Ok(Derived::Complete(
            obj! { "completion_threshold_pct" => num(threshold), "rows" => to_value(&rows)? },
        ))
    }
}
