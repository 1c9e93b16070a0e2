//! `student_support`: every rostered student in one of four buckets, with activity.

use serde_json::Value;

use super::rows::{SupportBucket, to_value};
use super::{Node, round1};
use crate::compact::{StudentRow, SupportRows};
use crate::contract::SupportParams;
use crate::projection::{DeriveError, Derived, Projection, ProjectionInput};

/// The student-support projection.
#[derive(Debug, Clone, Copy)]
pub struct StudentSupport;

/// Bucket ids in their fixed order.
pub const BUCKETS: [&str; 4] = [
    "struggling",
    "on_track",
    "excelling",
    "not_enough_information",
];

/// The bucket of a student (rules; excelling is tested first).
pub fn categorize(progress: Option<f64>, proficiency: Option<f64>, p: &SupportParams) -> usize {
    let (Some(progress), Some(proficiency)) = (progress, proficiency) else {
        return 3;
    };
    if progress >= p.excelling_progress_gte && proficiency >= p.excelling_proficiency_gte {
        2
    } else if proficiency <= p.struggling_proficiency_lte
        && (progress < p.struggling_progress_low_lt || progress > p.struggling_progress_high_gt)
    {
        0
    } else {
        1
    }
}

/// Scores by student id: a sorted list (40 bytes a student), the last row of an
/// id given twice winning, as in a map.
#[derive(Default)]
struct Scores(Vec<(u64, Option<f64>, Option<f64>)>);

impl Scores {
    /// Sort by id (stably) and keep the last row of each id.
    fn settle(&mut self) {
        self.0.sort_by_key(|s| s.0);
        // Reversed, the last row of an id comes first, and dedup keeps the first.
        self.0.reverse();
        self.0.dedup_by_key(|s| s.0);
        self.0.reverse();
        self.0.shrink_to_fit();
    }

    fn get(&self, id: u64) -> Option<(Option<f64>, Option<f64>)> {
        let at = self.0.binary_search_by_key(&id, |s| s.0).ok()?;
        self.0.get(at).map(|s| (s.1, s.2))
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Inactive first, then by lower-cased name, then by id. Names in ASCII are
/// compared without lower-casing them into new strings (the same order).
fn support_order(a: &StudentRow, b: &StudentRow) -> std::cmp::Ordering {
    let by_name = if a.name.is_ascii() && b.name.is_ascii() {
        a.name
            .bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.name.bytes().map(|c| c.to_ascii_lowercase()))
    } else {
        a.name.to_lowercase().cmp(&b.name.to_lowercase())
    };
    b.inactive
        .cmp(&a.inactive)
        .then(by_name)
        .then_with(|| a.student_id.cmp(&b.student_id))
}

fn display_name(given: Option<&str>, family: Option<&str>, email: Option<&str>, id: u64) -> String {
    let parts: Vec<&str> = [given, family]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect();
    if !parts.is_empty() {
        return parts.join(" ");
    }
    match email {
        Some(e) if !e.is_empty() => e.to_owned(),
        _ => format!("Student {id}"),
    }
}

impl Projection for StudentSupport {
    fn key(&self) -> &'static str {
        "student_support"
    }
    fn required_oracles(&self) -> &'static [&'static str] {
        &["progress_proficiency", "student_info"]
    }
    fn optional_oracles(&self) -> &'static [&'static str] {
        &[]
    }
    fn derive(&self, input: &ProjectionInput<'_>) -> Result<Derived, DeriveError> {
        let (skeleton, students) = derive_support(input)?;
        Ok(Derived::Complete(
            SupportRows { skeleton, students }.to_value(),
        ))
    }
    fn derive_rows(
        &self,
        input: &ProjectionInput<'_>,
    ) -> Result<(Derived, Option<SupportRows>), DeriveError> {
        let (skeleton, students) = derive_support(input)?;
        let rows = SupportRows {
            skeleton: Value::Null,
            students,
        };
        Ok((Derived::Complete(skeleton), Some(rows)))
    }
}

/// The projection's JSON with empty `students` arrays, and each bucket's students.
fn derive_support(
    input: &ProjectionInput<'_>,
) -> Result<(Value, Vec<Vec<StudentRow>>), DeriveError> {
    let params = &input.scope.filters.support;
    let as_of = input
        .scope
        .as_of_time()
        .map_err(|e| DeriveError::Failed(e.to_string()))?;
    let rows = input
        .required
        .payload("progress_proficiency")
        .ok_or_else(|| DeriveError::Failed("progress_proficiency missing".into()))?;
    let roster = input
        .required
        .payload("student_info")
        .ok_or_else(|| DeriveError::Failed("student_info missing".into()))?;
    let mut scores = Scores::default();
    Node::each_item("progress_proficiency", rows, |row| {
        let id = row.req_u64("student_id")?;
        scores.0.push((
            id,
            row.opt_pct("progress_pct")?,
            row.opt_pct("proficiency_pct")?,
        ));
        Ok(())
    })?;
    scores.settle();
    let mut lists: Vec<Vec<StudentRow>> = BUCKETS.iter().map(|_| Vec::new()).collect();
    let mut matched = 0usize;
    let on_roster = Node::each_item("student_info", roster, |info| {
        let id = info.req_u64("student_id")?;
        let name = display_name(
            info.opt_str("given_name")?,
            info.opt_str("family_name")?,
            info.opt_str("email")?,
            id,
        );
        let last = info.opt_time("last_interaction_at")?;
        let inactive = match &last {
            None => true,
            Some((t, _)) => {
                (as_of - *t).whole_seconds() >= i64::from(params.inactivity_days) * 86_400
            }
        };
        let (progress, proficiency) = match scores.get(id) {
            Some(s) => {
                matched += 1;
                s
            }
            None => (None, None),
        };
        if let Some(list) = lists.get_mut(categorize(progress, proficiency, params)) {
            list.push(StudentRow {
                student_id: id,
                name: name.into_boxed_str(),
                progress_pct: progress.map(round1),
                proficiency_pct: proficiency.map(round1),
                inactive,
                last_interaction_at: last.map(|(_, text)| text.into_boxed_str()),
            });
        }
        Ok(())
    })?;
    let unmatched = scores.len().saturating_sub(matched);
    drop(scores);
    for list in &mut lists {
        list.sort_by(support_order);
    }
    let total = on_roster;
    let mut out_buckets = Vec::new();
    let (mut active_total, mut inactive_total) = (0usize, 0usize);
    let mut default_bucket = Value::Null;
    for (id, list) in BUCKETS.iter().zip(&lists) {
        let inactive = list.iter().filter(|s| s.inactive).count();
        let active = list.len() - inactive;
        active_total += active;
        inactive_total += inactive;
        if default_bucket.is_null() && !list.is_empty() {
            default_bucket = Value::from(*id);
        }
        let pct = if total > 0 {
            round1(list.len() as f64 / total as f64 * 100.0)
        } else {
            0.0
        };
        let mut bucket = to_value(&SupportBucket {
            id: (*id).to_owned(),
            count: list.len() as u64,
            pct,
            active_count: active as u64,
            inactive_count: inactive as u64,
        })?;
        if let Value::Object(map) = &mut bucket {
            map.insert("students".to_owned(), Value::Array(Vec::new()));
        }
        out_buckets.push(bucket);
    }
    let value = obj! { "parameters" => serde_json::to_value(params).map_err(|e| DeriveError::Failed(e.to_string()))?, "as_of" => input.scope.as_of.as_str(), "totals" => obj! { "total" => total, "active" => active_total, "inactive" => inactive_total, "unmatched_rows" => unmatched }, "buckets" => out_buckets, "default_bucket_id" => default_bucket };
    Ok((value, lists))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's boundary students, by bucket index.
    #[test]
    fn category_bounds_are_inclusive_where_the_spec_says() {
        let p = SupportParams::default();
        assert_eq!(
            BUCKETS[categorize(Some(25.0), Some(40.0), &p)],
            "struggling"
        );
        assert_eq!(BUCKETS[categorize(Some(80.0), Some(80.0), &p)], "excelling");
        assert_eq!(BUCKETS[categorize(Some(80.0), Some(79.9), &p)], "on_track");
        assert_eq!(BUCKETS[categorize(Some(40.0), Some(30.0), &p)], "on_track");
        assert_eq!(
            BUCKETS[categorize(Some(85.0), Some(30.0), &p)],
            "struggling"
        );
        assert_eq!(
            BUCKETS[categorize(None, Some(30.0), &p)],
            "not_enough_information"
        );
        assert_eq!(
            BUCKETS[categorize(Some(50.0), None, &p)],
            "not_enough_information"
        );
    }

    #[test]
    fn scores_keep_the_last_row_of_an_id() {
        let mut s = Scores(vec![
            (3, Some(1.0), None),
            (1, Some(2.0), None),
            (3, Some(3.0), None),
            (2, None, None),
            (3, Some(4.0), Some(5.0)),
        ]);
        s.settle();
        assert_eq!(s.len(), 3);
        assert_eq!(s.get(3), Some((Some(4.0), Some(5.0))));
        assert_eq!(s.get(1), Some((Some(2.0), None)));
        assert_eq!(s.get(4), None);
    }

    #[test]
    fn display_name_fallbacks() {
        assert_eq!(
            display_name(Some("Ada"), Some("Lovelace"), None, 1),
            "Ada Lovelace"
        );
        assert_eq!(
            display_name(Some(""), Some("Lovelace"), None, 1),
            "Lovelace"
        );
        assert_eq!(
            display_name(None, None, Some("a@example.edu"), 1),
            "a@example.edu"
        );
        assert_eq!(display_name(None, None, None, 7), "Student 7");
    }
}
