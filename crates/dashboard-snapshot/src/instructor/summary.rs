//! `summary`: the three headline cards (class proficiency, assessment score,
//! student progress), the class size and the recommendation. Every oracle is
//! optional; missing ones make the projection partial.

use super::rows::{Recommendation, SummaryCard, SummaryMetrics, SummaryValue, to_value};
use super::{Node, mean, round1};
use crate::contract::{OracleState, ProficiencyWeights};
use crate::projection::{DeriveError, Derived, Projection, ProjectionInput};

/// The summary projection.
#[derive(Debug, Clone, Copy)]
pub struct Summary;

/// Class proficiency: mean numeric proficiency x 100 when any exists, else the
/// learner-weighted mean of level counts with the one weight table.
pub fn class_proficiency(
    numeric: &[f64],
    counts: &[[u64; 4]],
    w: &ProficiencyWeights,
) -> Option<f64> {
    if let Some(m) = mean(numeric.iter().copied()) {
        return Some(m * 100.0);
    }
    let (mut weighted, mut learners) = (0.0, 0u64);
    for [low, medium, high, _] in counts {
        weighted += *low as f64 * w.low + *medium as f64 * w.medium + *high as f64 * w.high;
        learners += low + medium + high;
    }
    (learners > 0).then(|| weighted / learners as f64)
}

fn card(id: &str, state: Option<OracleState>, has_data: bool, value: Option<f64>) -> SummaryCard {
    let status = match state {
        Some(OracleState::Ready) if has_data => "ready",
        Some(OracleState::Ready) => "no_data",
        _ => "unavailable",
    };
    SummaryCard {
        id: id.to_owned(),
        status: status.to_owned(),
        visible: status != "no_data",
        value,
    }
}

impl Projection for Summary {
    fn key(&self) -> &'static str {
        "summary"
    }
    fn required_oracles(&self) -> &'static [&'static str] {
        &[]
    }
    fn optional_oracles(&self) -> &'static [&'static str] {
        &[
            "scope_resources",
            "progress_bins",
            "progress_proficiency",
            "objectives_proficiency",
            "grades",
            "recommendation",
        ]
    }
    fn derive(&self, input: &ProjectionInput<'_>) -> Result<Derived, DeriveError> {
        let state = |k: &str| input.oracle_statuses.get(k).map(|s| s.status);
        let opt = &input.optional;
        let bins_total = match opt.get("progress_bins") {
            Some(p) => Some(Node::root("progress_bins", p).req_u64("total_students")?),
            None => None,
        };
        let mut progress = Vec::new();
        let mut rows_len = None;
        if let Some(p) = opt.payload("progress_proficiency") {
            let rows = Node::each_item("progress_proficiency", p, |row| {
                if let Some(x) = row.opt_pct("progress_pct")? {
                    progress.push(x);
                }
                row.opt_pct("proficiency_pct")?;
                Ok(())
            })?;
            rows_len = Some(rows as u64);
        }
        let total_students = bins_total.or(rows_len);
        let (mut numeric, mut counts, mut objective_count) = (Vec::new(), Vec::new(), 0usize);
        if let Some(p) = opt.get("objectives_proficiency") {
            let objectives = super::objectives::parse(Node::root("objectives_proficiency", p))?;
            objective_count = objectives.len();
            for o in objectives.values() {
                numeric.extend(o.numeric);
                counts.push(o.counts);
            }
        }
        let (mut scores, mut assessment_count) = (Vec::new(), 0usize);
        if let Some(p) = opt.get("grades") {
            let list = Node::root("grades", p).req("grades")?.items()?;
            assessment_count = list.len();
            for g in list {
                scores.extend(g.opt_f64("mean")?);
            }
        }
        let recommendation = match opt.get("recommendation") {
            None => None,
            Some(p) => {
                let n = Node::root("recommendation", p);
                Some(Recommendation {
                    status: n.opt_str("status")?.unwrap_or("unavailable").to_owned(),
                    recommendation_id: n.opt_str("recommendation_id")?.map(str::to_owned),
                    body: n.opt_str("body")?.map(str::to_owned),
                })
            }
        };
        let avg_progress = mean(progress.iter().copied()).map(round1);
        let avg_proficiency =
            class_proficiency(&numeric, &counts, &input.scope.filters.proficiency_weights)
                .map(round1);
        let avg_score = mean(scores.iter().copied()).map(round1);
        let value = SummaryValue {
            total_students,
            metrics: SummaryMetrics {
                average_student_progress: avg_progress,
                average_class_proficiency: avg_proficiency,
                average_assessment_score: avg_score,
            },
            cards: vec![
                card(
                    "average_class_proficiency",
                    state("objectives_proficiency"),
                    objective_count > 0,
                    avg_proficiency,
                ),
                card(
                    "average_assessment_score",
                    state("grades"),
                    assessment_count > 0,
                    avg_score,
                ),
                card(
                    "average_student_progress",
                    state("progress_proficiency"),
                    rows_len.unwrap_or(0) > 0,
                    avg_progress,
                ),
            ],
            recommendation,
        };
        Ok(Derived::Complete(to_value(&value)?))
    }
}
