//! JSON → SQL: the import half of a sync. Lines come verified from the
//! [`super::pipeline`] in pack order; each record is decided by
//! [`super::policy::decide`] and the decision carried out here (count, write,
//! report), in batches, on the caller's thread.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::pipeline::{self, Parsed, for_each_item};
use super::policy::{Decision, decide};
use super::session::Session;
use super::{Conflict, Outcome, ProgressFn, Resolution, SyncOptions, SyncReport};
use crate::error::Result;
use crate::hash::{ContentHash, ContentHashSet};
use crate::mirror::{MirrorKeyRow, MirrorWrite, Scope};

/// JSON → SQL. Sets [`SyncReport::outcome`] (aborted by a `fail` conflict, or
/// completed) and returns the hashes in scope as the run leaves them (in a dry
/// run: as a real run would).
pub(super) fn import(
    dir: &Path,
    scope: &Scope,
    session: &mut Session<'_>,
    options: &SyncOptions,
    report: &mut SyncReport,
    progress: ProgressFn<'_>,
) -> Result<ContentHashSet> {
    // The mirror's hashes in scope (H) are read once and never change; what
    // this run writes and replaces is kept beside it, so the workers can read H
    // while the writer thread keeps its view current (no copy of a million
    // hashes). With them comes the number of rows in scope (read in the same
    // pass where the backend can).
    let (start, mut sql_count) = session.reads().hashes_and_count_in_scope(scope)?;
    let mut hashes = HashView {
        start: &start,
        added: ContentHashSet::default(),
        removed: ContentHashSet::default(),
    };
    let total_bytes = crate::pack::PackReader::open(dir)?.total_bytes();
    // Rows written by this run (all of them in a dry run, this batch otherwise: a
    // real run reads its own writes back from the mirror).
    // The writer thread keeps these per row: foldhash (seeded per process), not
    // SipHash, for the natural keys.
    let keyed = foldhash::fast::RandomState::default();
    let mut overlay: HashMap<String, MirrorKeyRow, _> = HashMap::with_hasher(keyed.clone());
    let mut simulate = options.dry_run;
    let mut failed = false;
    // One batch of the pipeline's writes at a time; each goes to the workers to
    // be dropped once written.
    let mut writes: Vec<MirrorWrite> = Vec::new();
    // Writes since the last commit, and committed so far (`--batch-commit`).
    let mut uncommitted = 0usize;
    let mut committed = 0u64;
    // On a scope that was empty at the start, only keys this run wrote can be
    // found: remember them compactly (64-bit digests) and skip the lookups of
    // keys never seen. A digest collision only costs a lookup.
    let empty_at_start = sql_count == 0;
    let mut written_keys: HashSet<u64, crate::hash::BuildPrefixHasher> = HashSet::default();
    let digest = |k: &str| std::hash::BuildHasher::hash_one(&keyed, k);
    // The bytes read when the first batch comes: with its size, they size the
    // sets that grow with the records (see `expected_items`).
    let first_bytes = std::cell::Cell::new(None);
    let mut on_bytes = |done: u64| {
        if first_bytes.get().is_none() {
            first_bytes.set(Some(done));
        }
        progress("import", done, total_bytes);
    };
    let mut reserved = false;
    // Lines whose stored hash the mirror already holds are only checked for form
    // and scope (they are skipped, nothing of them reaches SQL); `verify` re-hashes
    // everything.
    for_each_item(
        dir,
        scope,
        options.lenient,
        &start,
        &mut on_bytes,
        &mut |batch, discard| {
            // A known line whose hash this run removed (its row was updated since) is
            // verified in full here, from its text.
            let mut batch = batch;
            writes.reserve(batch.len());
            // Into an empty scope every record goes, each adding its hash and
            // its key digest.
            if empty_at_start
                && !std::mem::replace(&mut reserved, true)
                && let Some(bytes) = first_bytes.get()
            {
                let expected =
                    crate::parallel::expected_items(total_bytes, bytes, batch.len() as u64);
                hashes.added.reserve(expected);
                written_keys.reserve(expected);
            }
            for p in batch.iter_mut() {
                if let Parsed::Known(h, line) = p
                    && !hashes.contains(h)
                {
                    *p = Parsed::Item(pipeline::verify_line(dir, scope, &line.to_pack_line()?)?);
                }
            }
            // Look up, in one call, the natural keys the batch needs from SQL.
            let mut keys: Vec<&str> = Vec::new();
            let mut seen_keys: HashSet<&str, _> = HashSet::with_hasher(keyed.clone());
            for p in &batch {
                if let Parsed::Item(item) = p
                    && let Some(k) = item.record.natural_key.as_deref()
                    && !hashes.contains(&item.record.content_sha256)
                    && !overlay.contains_key(k)
                    && (!empty_at_start || written_keys.contains(&digest(k)))
                    && seen_keys.insert(k)
                {
                    keys.push(k);
                }
            }
            let found = if keys.is_empty() || sql_count == 0 && simulate {
                vec![None; keys.len()]
            } else {
                session.reads().find_by_natural_keys(scope, &keys)?
            };
            let mut from_sql: HashMap<String, MirrorKeyRow, _> =
                HashMap::with_hasher(keyed.clone());
            for (k, row) in keys.iter().zip(found) {
                if let Some(row) = row {
                    from_sql.insert((*k).to_owned(), row);
                }
            }
            for p in batch {
                let item = match p {
                    Parsed::Skipped(why) => {
                        report.warnings.push(format!("skipped: {why}"));
                        continue;
                    }
                    Parsed::Known(..) => {
                        report.json_record_count += 1;
                        report.json_to_sql.skipped += 1;
                        continue;
                    }
                    Parsed::Item(item) => item,
                };
                let rec = item.record;
                report.json_record_count += 1;
                let known = hashes.contains(&rec.content_sha256);
                let existing = match rec.natural_key.as_deref() {
                    Some(k) if !known => overlay.get(k).or_else(|| from_sql.get(k)).cloned(),
                    _ => None,
                };
                let new_row = MirrorKeyRow {
                    exchange_id: rec.exchange_id.clone(),
                    content_sha256: rec.content_sha256,
                    observed_at_utc: rec.observed_at_utc,
                };
                let sql = existing.map(|old| (old.observed_at_utc, old));
                let write = match decide(options.conflict, known, rec.observed_at_utc, sql) {
                    Decision::Unchanged => {
                        report.json_to_sql.skipped += 1;
                        continue;
                    }
                    Decision::Insert => {
                        report.json_to_sql.inserted += 1;
                        sql_count += 1;
                        MirrorWrite::Insert(rec)
                    }
                    Decision::Conflict(resolution, old) => {
                        report.conflicts.push(Conflict {
                            natural_key: rec.natural_key.clone().unwrap_or_default(),
                            source_system: rec.source_system.clone(),
                            entity_type: rec.entity_type.clone(),
                            json_hash: rec.content_sha256,
                            sql_hash: old.content_sha256,
                            json_exchange_id: rec.exchange_id.clone(),
                            sql_exchange_id: old.exchange_id.clone(),
                            resolution,
                        });
                        match resolution {
                            Resolution::Failed => {
                                report.errors.push(format!(
                                    "Conflict for {}: strategy is 'fail'",
                                    rec.natural_key.as_deref().unwrap_or("")
                                ));
                                failed = true;
                                simulate = true;
                                continue;
                            }
                            Resolution::SqlWins => {
                                report.json_to_sql.skipped += 1;
                                continue;
                            }
                            Resolution::JsonWins => {
                                report.json_to_sql.updated += 1;
                                hashes.remove(old.content_sha256);
                                MirrorWrite::Update {
                                    exchange_id: old.exchange_id,
                                    record: rec,
                                }
                            }
                        }
                    }
                };
                hashes.insert(new_row.content_sha256);
                if empty_at_start && let Some(k) = rec_key_of(&write) {
                    written_keys.insert(digest(k));
                }
                if let Some(k) = match &write {
                    MirrorWrite::Insert(r) | MirrorWrite::Update { record: r, .. } => {
                        r.natural_key.clone()
                    }
                } {
                    overlay.insert(k, new_row);
                }
                if !simulate {
                    writes.push(write);
                }
            }
            if !simulate && !writes.is_empty() {
                session.write_batch(&writes)?;
                uncommitted += writes.len();
                discard.drop_later(std::mem::take(&mut writes));
                if let Some(n) = options.batch_commit
                    && uncommitted >= n.max(1)
                {
                    session.checkpoint()?;
                    committed += uncommitted as u64;
                    uncommitted = 0;
                }
            }
            if !simulate {
                overlay.clear();
            }
            Ok(())
        },
    )?;
    if failed {
        report.errors.push(if committed == 0 {
            format!(
                "aborted: {} conflict(s) under strategy 'fail'; nothing was written",
                report.errors.len()
            )
        } else {
            format!(
                "aborted: {} conflict(s) under strategy 'fail'; the {committed} record(s) \
                 committed before it by --batch-commit stay, nothing after",
                report.errors.len()
            )
        });
    }
    report.sql_record_count = sql_count;
    let HashView { added, removed, .. } = hashes;
    let mut kept = start;
    for h in &removed {
        kept.remove(h);
    }
    // Grow the larger set by the smaller (a first load: all of it is `added`;
    // copying it into the empty `kept` would hold both at once).
    let (mut now, rest) = if kept.len() >= added.len() {
        (kept, added)
    } else {
        (added, kept)
    };
    now.extend(rest);
    report.outcome = if failed {
        Outcome::Aborted
    } else {
        Outcome::Completed
    };
    Ok(now)
}

/// The hashes in scope as this run sees them: H from the start, plus what it
/// wrote, minus what its updates replaced.
struct HashView<'a> {
    start: &'a ContentHashSet,
    added: ContentHashSet,
    removed: ContentHashSet,
}

impl HashView<'_> {
    fn contains(&self, h: &ContentHash) -> bool {
        self.added.contains(h) || (self.start.contains(h) && !self.removed.contains(h))
    }

    fn insert(&mut self, h: ContentHash) {
        self.removed.remove(&h);
        if !self.start.contains(&h) {
            self.added.insert(h);
        }
    }

    fn remove(&mut self, h: ContentHash) {
        self.added.remove(&h);
        if self.start.contains(&h) {
            self.removed.insert(h);
        }
    }
}

fn rec_key_of(write: &MirrorWrite) -> Option<&str> {
    match write {
        MirrorWrite::Insert(r) | MirrorWrite::Update { record: r, .. } => r.natural_key.as_deref(),
    }
}
