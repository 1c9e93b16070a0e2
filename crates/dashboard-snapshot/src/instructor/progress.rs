//! `progress`: per scope item, how many students reached the completion threshold.

use serde_json::Value;

use super::rows::{ProgressBin, ProgressItem, to_value};
use super::{Node, num, round1};
use crate::projection::{DeriveError, Derived, Projection, ProjectionInput};

/// The progress projection.
#[derive(Debug, Clone, Copy)]
pub struct Progress;

impl Projection for Progress {
    fn key(&self) -> &'static str {
        "progress"
    }
    fn required_oracles(&self) -> &'static [&'static str] {
        &["progress_bins", "scope_resources"]
    }
    fn optional_oracles(&self) -> &'static [&'static str] {
        &["schedule_position"]
    }
    fn derive(&self, input: &ProjectionInput<'_>) -> Result<Derived, DeriveError> {
        let threshold = input.scope.filters.completion_threshold_pct;
        let bins_payload = input
            .required
            .get("progress_bins")
            .ok_or_else(|| DeriveError::Failed("progress_bins missing".into()))?;
        let resources = input
            .required
            .get("scope_resources")
            .ok_or_else(|| DeriveError::Failed("scope_resources missing".into()))?;
        let bins_root = Node::root("progress_bins", bins_payload);
        let class_size = bins_root.req_u64("total_students")?;
        let by_resource = bins_root.get("by_resource_bins")?;
        let res_root = Node::root("scope_resources", resources);
        let mut items = Vec::new();
        for item in res_root.req("items")?.items()? {
            let resource_id = item.req_u64("resource_id")?;
            let title = item.opt_str("title")?.unwrap_or("");
            let resource_type = item.opt_str("resource_type")?.unwrap_or("page");
            let mut bins: Vec<(f64, u64)> = Vec::new();
            if let Some(by) = &by_resource
                && let Some(node) = by.get(&resource_id.to_string())?
            {
                for (bin, count) in node.entries()? {
                    let b: f64 = bin
                        .parse()
                        .ok()
                        .filter(|b| (0.0..=100.0).contains(b))
                        .ok_or_else(|| count.err("bin keys are numbers on the 0-100 scale"))?;
                    bins.push((b, count.u64()?));
                }
            }
            bins.sort_by(|a, b| a.0.total_cmp(&b.0));
            let completed: u64 = bins
                .iter()
                .filter(|(b, _)| *b >= threshold)
                .map(|(_, c)| c)
                .sum();
            let rate = if class_size > 0 {
                round1(completed as f64 / class_size as f64 * 100.0)
            } else {
                0.0
            };
            items.push(ProgressItem {
                resource_id,
                title: title.to_owned(),
                resource_type: resource_type.to_owned(),
                students_completed: completed,
                total_students: class_size,
                completion_rate_pct: rate,
                bins: bins
                    .iter()
                    .map(|(bin, count)| ProgressBin {
                        bin: *bin,
                        count: *count,
                    })
                    .collect(),
            });
        }
        let schedule_marker = match input.optional.get("schedule_position") {
            None => Value::Null,
            Some(p) => {
                let n = Node::root("schedule_position", p);
                obj! { "resource_id" => n.opt_u64("current_resource_id")?, "label" => n.opt_str("label")? }
            }
        };
        let empty_state = if items.is_empty() {
            Value::from("no_scope_children")
        } else if class_size == 0 {
            Value::from("no_students")
        } else {
            Value::Null
        };
        Ok(Derived::Complete(
            obj! { "class_size" => class_size, "completion_threshold_pct" => num(threshold), "items" => to_value(&items)?, "schedule_marker" => schedule_marker, "empty_state" => empty_state },
        ))
    }
}
