//! Non-determinism detection, one job at a time.
//!
//! Jobs with a non-empty fingerprint are grouped by (fingerprint, profile); a
//! missing profile is its own value. An outcome is the triple (`final_status`,
//! `completed_clips`, `failed_clips`).
//!
//! * [`DeterminismMode::Reference`]: the first member of a group is its reference;
//!   every later member whose outcome differs is flagged together with the
//!   reference (A, A, B flags the first and third; B, A, A flags all three).
//! * [`DeterminismMode::Strict`]: every member of a group with two or more distinct
//!   outcomes is flagged, whatever the order.

use std::collections::{BTreeMap, BTreeSet};

use super::{DeterminismMode, JobFacts};
use crate::model::FinalStatus;

type Outcome = (FinalStatus, i64, i64);

/// One (fingerprint, profile) group.
#[derive(Debug)]
struct Group {
    profile: Option<String>,
    /// The first member's id and outcome.
    first_id: String,
    first: Outcome,
    /// Strict mode: whether two outcomes were seen.
    mixed: bool,
    /// Strict mode: later members not yet flagged (cleared once mixed).
    members: Vec<String>,
}

/// The streaming detector.
#[derive(Debug, Default)]
pub(super) struct Detector {
    mode: DeterminismMode,
    /// Fingerprint -> its groups (one per profile; usually one or two).
    groups: BTreeMap<String, Vec<Group>>,
    flagged: BTreeSet<String>,
}

impl Detector {
    pub(super) fn new(mode: DeterminismMode) -> Self {
        Detector {
            mode,
            ..Self::default()
        }
    }

    pub(super) fn push(&mut self, facts: &JobFacts<'_>) {
        let Some(fingerprint) = facts.fingerprint.filter(|f| !f.is_empty()) else {
            return;
        };
        let outcome = (
            facts.final_status,
            facts.completed_clips,
            facts.failed_clips,
        );
        let profile = facts.canonical_proxy_profile;
        let groups = match self.groups.get_mut(fingerprint) {
            Some(groups) => groups,
            None => self.groups.entry(fingerprint.to_owned()).or_default(),
        };
        let Some(group) = groups.iter_mut().find(|g| g.profile.as_deref() == profile) else {
            groups.push(Group {
                profile: profile.map(str::to_owned),
                first_id: facts.job_id.to_owned(),
                first: outcome,
                mixed: false,
                members: Vec::new(),
            });
            return;
        };
        match self.mode {
            DeterminismMode::Reference => {
                if outcome != group.first {
                    insert(&mut self.flagged, facts.job_id);
                    insert(&mut self.flagged, &group.first_id);
                }
            }
            DeterminismMode::Strict => {
                if group.mixed {
                    insert(&mut self.flagged, facts.job_id);
                } else if outcome != group.first {
                    group.mixed = true;
                    insert(&mut self.flagged, &group.first_id);
                    insert(&mut self.flagged, facts.job_id);
                    for member in std::mem::take(&mut group.members) {
                        self.flagged.insert(member);
                    }
                } else {
                    group.members.push(facts.job_id.to_owned());
                }
            }
        }
    }

    /// Flagged ids, sorted ascending, deduplicated.
    pub(super) fn finish(self) -> Vec<String> {
        self.flagged.into_iter().collect()
    }
}

fn insert(set: &mut BTreeSet<String>, id: &str) {
    if !set.contains(id) {
        set.insert(id.to_owned());
    }
}
