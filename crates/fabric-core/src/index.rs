//! The in-memory index of ingested jobs in store order.
//!
//! Jobs are kept in store order: a re-added job id first leaves every index and
//! then goes to the end, exactly as the store's `INSERT OR REPLACE` moves its row.
//! Secondary indexes (fingerprint, profile, engine, status) hold sorted job ids;
//! empty strings and none are not indexed. The queries live in [`queries`].
//!
//! ```
//! use fabric_core::index::FabricIndex;
//! let index = FabricIndex::new();
//! assert_eq!(index.len(), 0);
//! assert!(index.jobs().next().is_none());
//! ```

pub mod queries;

use std::collections::{BTreeMap, BTreeSet};

pub use queries::JobFilter;

use crate::model::{FinalStatus, IngestedJob};

/// Jobs by id, in store order, with the lookups.
#[derive(Debug, Clone, Default)]
pub struct FabricIndex {
    /// Store order; `None` marks a slot whose job was re-added later.
    slots: Vec<Option<IngestedJob>>,
    /// Job id -> slot.
    positions: BTreeMap<String, usize>,
    by_fingerprint: BTreeMap<String, BTreeSet<String>>,
    by_profile: BTreeMap<String, BTreeSet<String>>,
    by_engine: BTreeMap<String, BTreeSet<String>>,
    by_status: BTreeMap<FinalStatus, BTreeSet<String>>,
}

impl FabricIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// An index of `jobs` added in the given (store) order.
    pub fn from_jobs(jobs: impl IntoIterator<Item = IngestedJob>) -> Self {
        let mut index = Self::new();
        for job in jobs {
            index.add_job(job);
        }
        index
    }

    /// Add a job; a job with the same id is replaced and the new one moves to the
    /// end of the store order. Returns the replaced job, if any.
    pub fn add_job(&mut self, job: IngestedJob) -> Option<IngestedJob> {
        let old = self.remove(&job.job_id);
        let id = job.job_id.clone();
        for (map, key) in [
            (&mut self.by_fingerprint, job.fingerprint.as_deref()),
            (&mut self.by_profile, job.canonical_proxy_profile.as_deref()),
            (&mut self.by_engine, job.engine_used.as_deref()),
        ] {
            if let Some(key) = key.filter(|k| !k.is_empty()) {
                map.entry(key.to_owned()).or_default().insert(id.clone());
            }
        }
        self.by_status
            .entry(job.final_status)
            .or_default()
            .insert(id.clone());
        self.positions.insert(id, self.slots.len());
        self.slots.push(Some(job));
        old
    }

    /// Number of jobs.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether there is no job.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Every job, in store order.
    pub fn jobs(&self) -> impl Iterator<Item = &IngestedJob> + '_ {
        self.slots.iter().flatten()
    }

    /// Remove `job_id` from every index; compacts the slots when half are empty.
    fn remove(&mut self, job_id: &str) -> Option<IngestedJob> {
        let slot = self.positions.remove(job_id)?;
        let job = self.slots.get_mut(slot).and_then(Option::take)?;
        for (map, key) in [
            (&mut self.by_fingerprint, job.fingerprint.as_deref()),
            (&mut self.by_profile, job.canonical_proxy_profile.as_deref()),
            (&mut self.by_engine, job.engine_used.as_deref()),
        ] {
            if let Some(key) = key.filter(|k| !k.is_empty()) {
                unlink(map, key, job_id);
            }
        }
        if let Some(ids) = self.by_status.get_mut(&job.final_status) {
            ids.remove(job_id);
            if ids.is_empty() {
                self.by_status.remove(&job.final_status);
            }
        }
        if self.slots.len() > 64 && self.slots.len() > 2 * self.positions.len() {
            self.compact();
        }
        Some(job)
    }

    /// Drop empty slots, keeping the order.
    fn compact(&mut self) {
        self.slots.retain(Option::is_some);
        for (i, job) in self.slots.iter().flatten().enumerate() {
            if let Some(pos) = self.positions.get_mut(&job.job_id) {
                *pos = i;
            }
        }
    }

    fn get(&self, job_id: &str) -> Option<&IngestedJob> {
        let slot = *self.positions.get(job_id)?;
        self.slots.get(slot)?.as_ref()
    }

    fn ids_of<'a>(map: &'a BTreeMap<String, BTreeSet<String>>, key: &str) -> Vec<&'a str> {
        map.get(key)
            .map(|ids| ids.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

fn unlink(map: &mut BTreeMap<String, BTreeSet<String>>, key: &str, job_id: &str) {
    if let Some(ids) = map.get_mut(key) {
        ids.remove(job_id);
        if ids.is_empty() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests;
