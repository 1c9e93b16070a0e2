//! `challenging_objectives`: objectives whose dominant proficiency level is low,
//! with their ancestors as context, numbered over the whole tree.

use std::collections::{BTreeMap, BTreeSet};

use super::Node;
use super::rows::{Distribution, ObjectiveRow, to_value};
use crate::projection::{DeriveError, Derived, Projection, ProjectionInput};

/// The challenging-objectives projection.
#[derive(Debug, Clone, Copy)]
pub struct ChallengingObjectives;

/// Levels from most to least concerning (ties go to the earlier one).
pub const LEVELS: [&str; 4] = ["low", "medium", "high", "not_enough_data"];

/// The dominant level of a distribution: the largest count, ties to the more
/// concerning level; an empty distribution is `not_enough_data`.
pub fn dominant_level(counts: [u64; 4]) -> &'static str {
    if counts.iter().all(|c| *c == 0) {
        return "not_enough_data";
    }
    let mut best = 0;
    for (i, c) in counts.iter().enumerate() {
        if *c > counts[best] {
            best = i;
        }
    }
    LEVELS[best]
}

pub(super) struct Objective<'a> {
    id: u64,
    parent: Option<u64>,
    title: &'a str,
    index: i64,
    pub(super) counts: [u64; 4],
    pub(super) numeric: Option<f64>,
}

struct Walk<'a, 'b> {
    objectives: &'b BTreeMap<u64, Objective<'a>>,
    children: &'b BTreeMap<u64, Vec<u64>>,
    visited: BTreeSet<u64>,
    low_count: usize,
}

impl Walk<'_, '_> {
    /// The row of `id` if it or a descendant qualifies.
    fn visit(
        &mut self,
        id: u64,
        numbering: String,
        depth: usize,
        root_title: &str,
    ) -> Option<ObjectiveRow> {
        if !self.visited.insert(id) {
            return None;
        }
        let o = self.objectives.get(&id)?;
        let root_title = if depth == 0 { o.title } else { root_title };
        let mut rows = Vec::new();
        let kids = self.children.get(&id).cloned().unwrap_or_default();
        for (i, kid) in kids.iter().enumerate() {
            if let Some(row) = self.visit(
                *kid,
                format!("{numbering}.{}", i + 1),
                depth + 1,
                root_title,
            ) {
                rows.push(row);
            }
        }
        let dominant = dominant_level(o.counts);
        let qualifies = dominant == "low";
        if qualifies {
            self.low_count += 1;
        }
        if !qualifies && rows.is_empty() {
            return None;
        }
        let [low, medium, high, not_enough_data] = o.counts;
        Some(ObjectiveRow {
            objective_id: o.id,
            title: o.title.to_owned(),
            numbering,
            row_type: if depth == 0 {
                "objective"
            } else {
                "sub_objective"
            }
            .to_owned(),
            objective: root_title.to_owned(),
            sub_objective: (depth > 0).then(|| o.title.to_owned()),
            dominant_level: dominant.to_owned(),
            qualifies,
            distribution: Distribution {
                low,
                medium,
                high,
                not_enough_data,
            },
            numeric_proficiency: o.numeric,
            children: rows,
        })
    }
}

impl Projection for ChallengingObjectives {
    fn key(&self) -> &'static str {
        "challenging_objectives"
    }
    fn required_oracles(&self) -> &'static [&'static str] {
        &["objectives_proficiency", "scope_resources"]
    }
    fn optional_oracles(&self) -> &'static [&'static str] {
        &[]
    }
    fn derive(&self, input: &ProjectionInput<'_>) -> Result<Derived, DeriveError> {
        let payload = input
            .required
            .get("objectives_proficiency")
            .ok_or_else(|| DeriveError::Failed("objectives_proficiency missing".into()))?;
        let objectives = parse(Node::root("objectives_proficiency", payload))?;
        let mut children: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        let mut roots = Vec::new();
        for o in objectives.values() {
            match o.parent {
                Some(p) if p != o.id && objectives.contains_key(&p) => {
                    children.entry(p).or_default().push(o.id)
                }
                _ => roots.push(o.id),
            }
        }
        let order = |ids: &mut Vec<u64>| {
            ids.sort_by_key(|id| (objectives.get(id).map_or(i64::MAX, |o| o.index), *id));
        };
        order(&mut roots);
        for list in children.values_mut() {
            order(list);
        }
        let mut walk = Walk {
            objectives: &objectives,
            children: &children,
            visited: BTreeSet::new(),
            low_count: 0,
        };
        let mut rows = Vec::new();
        for (i, root) in roots.iter().enumerate() {
            if let Some(row) = walk.visit(*root, (i + 1).to_string(), 0, "") {
                rows.push(row);
            }
        }
        let state = if objectives.is_empty() {
            "no_data"
        } else if walk.low_count == 0 {
            "empty_low_proficiency"
        } else {
            "populated"
        };
        Ok(Derived::Complete(
            obj! { "state" => state, "has_objectives" => !objectives.is_empty(), "low_count" => walk.low_count, "rows" => to_value(&rows)? },
        ))
    }
}

pub(super) fn parse<'a>(root: Node<'a>) -> Result<BTreeMap<u64, Objective<'a>>, DeriveError> {
    let mut out = BTreeMap::new();
    for item in root.req("objectives")?.items()? {
        let id = item.req_u64("objective_id")?;
        let parent = item.opt_u64("parent_id")?;
        let index = match item.get("numbering_index")? {
            None => i64::MAX,
            Some(n) => n
                .value
                .as_i64()
                .ok_or_else(|| n.err("expected an integer"))?,
        };
        let mut counts = [0u64; 4];
        if let Some(dist) = item.get("proficiency_distribution")? {
            for (slot, level) in counts.iter_mut().zip(LEVELS) {
                *slot = dist.opt_u64(level)?.unwrap_or(0);
            }
        }
        let numeric = match item.get("numeric_proficiency")? {
            None => None,
            Some(n) => {
                let x = n.f64()?;
                if !(0.0..=1.0).contains(&x) {
                    return Err(n.err(format!("{x} is outside the 0-1 scale")));
                }
                Some(x)
            }
        };
        let title = item.opt_str("title")?.unwrap_or("");
        if out.contains_key(&id) {
            return Err(item.err(format!("objective {id} appears twice")));
        }
        out.insert(
            id,
            Objective {
                id,
                parent,
                title,
                index,
                counts,
                numeric,
            },
        );
    }
    Ok(out)
}
