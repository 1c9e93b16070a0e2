//! The sync engine (Fabric fixes): JSON → SQL (`import`),
//! SQL → JSON (`export`) and both (`sync`), in one mirror transaction per command.
//!
//! * The view of SQL is kept current while importing (hashes and natural keys this
//!   run wrote count at once), so a dry run reports exactly what a real run does.
//! * Conflicts under `fail` abort with nothing written (the transaction is rolled
//!   back after every conflict has been found and reported).
//! * Hashes are recomputed on import; records outside the manifest scope are refused.
//! * Export appends to the manifest's own folder (new chunks, extended index), so a
//!   second sync with nothing changed writes nothing.

pub(crate) mod pipeline;
mod report;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use time::OffsetDateTime;

pub use pipeline::error_chain;
pub use report::{Conflict, ExportCounts, ImportCounts, Resolution, SyncReport};

use crate::error::Result;
use crate::hash::{ContentHash, ContentHashSet};
use crate::manifest::{ConflictStrategy, Direction, Manifest, ManifestFile, dataset_dir};
use crate::mirror::{Mirror, MirrorKeyRow, MirrorWrite, Scope};
use crate::pack::read_index_hashes;
use crate::pack::writer::{Chunk, ChunkBuilder, EntryRef, PackFiles};
use pipeline::{Parsed, for_each_item};

/// How a sync runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOptions {
    /// Which halves run.
    pub direction: Direction,
    /// Conflict strategy.
    pub conflict: ConflictStrategy,
    /// Compute everything, write nothing.
    pub dry_run: bool,
    /// Skip malformed pack lines with a warning instead of failing.
    pub lenient: bool,
    /// Records per chunk for export.
    pub chunk_size: usize,
    /// `None` (the default): the whole import is one transaction, all or nothing.
    /// `Some(n)`: commit after each write batch (512 lines) that brings the
    /// uncommitted writes to `n` or more, so locks and the log stay small
    /// on a large import; a failed run keeps the batches it committed, and a re-run
    /// skips them (rows are keyed by `exchange_id` and content hash). The whole pack
    /// is checked first ([`crate::preflight`]), so a bad record stops the run
    /// before the first commit.
    pub batch_commit: Option<usize>,
}

/// Progress callbacks: `(phase, done, total)`; `total` is 0 when unknown.
pub type ProgressFn<'a> = &'a mut dyn FnMut(&str, u64, u64);

/// Run `sync` for the manifest at `manifest_path` against `mirror`. `clock` gives
/// the current time (report stamps, chunk dates, manifest stamps).
///
/// Bad input (malformed line, hash mismatch, out-of-scope record) is an `Err` and
/// nothing is written. Conflicts under `fail` are reported in
/// [`SyncReport::errors`] with nothing written.
pub fn sync(
    manifest_path: &Path,
    mirror: &mut dyn Mirror,
    options: &SyncOptions,
    clock: &dyn Fn() -> OffsetDateTime,
    progress: ProgressFn<'_>,
) -> Result<SyncReport> {
    let manifest = Manifest::load(manifest_path)?;
    sync_manifest(&manifest, manifest_path, mirror, options, clock, progress)
}

/// [`sync`] with the manifest at `manifest_path` already loaded (the caller read
/// it once, e.g. to choose the target): it is not read again.
pub fn sync_manifest(
    manifest: &Manifest,
    manifest_path: &Path,
    mirror: &mut dyn Mirror,
    options: &SyncOptions,
    clock: &dyn Fn() -> OffsetDateTime,
    progress: ProgressFn<'_>,
) -> Result<SyncReport> {
    let dir = dataset_dir(manifest_path);
    // Held for the whole command: a writer's if this run may append to the pack.
    let _lock = if options.direction != Direction::JsonToSql && !options.dry_run {
        crate::pack::PackLock::writer(&dir)?
    } else {
        crate::pack::PackLock::reader(&dir)?
    };
    let scope = manifest.scope();
    let mut report = SyncReport {
        direction: options.direction,
        dry_run: options.dry_run,
        started_at: clock(),
        completed_at: clock(),
        json_to_sql: ImportCounts::default(),
        sql_to_json: ExportCounts::default(),
        conflicts: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
        json_record_count: 0,
        sql_record_count: 0,
    };
    if let Some(n) = options.batch_commit
        && !options.dry_run
        && options.direction != Direction::SqlToJson
    {
        refuse_refused_records(manifest, &dir, n, options.conflict)?;
    }
    if !options.dry_run {
        begin_locked(mirror, &scope)?;
    }
    let result = (|| -> Result<()> {
        let mut aborted = false;
        let mut import_counts = (0, 0);
        // The hashes in scope once the import is done (kept as it ran), so that the
        // export need not read them from SQL again.
        let mut in_sql = None;
        let mut in_index = None;
        if options.direction != Direction::SqlToJson {
            // Both ways: the export compares with the index's hashes, which the
            // import does not change; read them on a thread of their own while the
            // import runs (the last serial second of a no-op sync otherwise).
            let both = options.direction == Direction::Bidirectional;
            let (imported, index) = std::thread::scope(|s| {
                let index = both.then(|| s.spawn(|| IndexHashes::read(&dir)));
                let imported = import(&dir, &scope, mirror, options, &mut report, progress);
                (imported, index.map(std::thread::ScopedJoinHandle::join))
            });
            let (failed, hashes) = imported?;
            in_index = match index {
                Some(Ok(read)) => Some(read?),
                Some(Err(_)) => {
                    return Err(crate::Error::Internal(
                        "the thread reading index.jsonl stopped unexpectedly".into(),
                    ));
                }
                None => None,
            };
            aborted = failed;
            in_sql = Some(hashes);
            import_counts = (report.json_record_count, report.sql_record_count);
        }
        if options.direction != Direction::JsonToSql && !aborted {
            export(
                &dir,
                manifest,
                &scope,
                mirror,
                options,
                &mut report,
                clock,
                in_sql.take().map(|sql| (sql, in_index.take())),
                progress,
            )?;
            report.json_record_count = report.json_record_count.max(import_counts.0);
            report.sql_record_count = report.sql_record_count.max(import_counts.1);
        }
        if aborted {
            return Err(crate::Error::Internal(String::new()));
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            if options.dry_run {
                mirror.settle()?;
            } else if let Err(e) = mirror.commit() {
                // Deferred index builds find a duplicate only at the commit.
                let _ = mirror.rollback();
                return Err(collision(&dir, e));
            }
        }
        Err(crate::Error::Internal(msg)) if msg.is_empty() => {
            // Conflicts under `fail`: reported, nothing written.
            mirror.rollback()?;
            mirror.settle()?;
        }
        Err(e) => {
            let _ = mirror.rollback();
            // A damaged store explains a failed read better than the read does.
            mirror.settle()?;
            return Err(collision(&dir, at_pack_line(&dir, e)));
        }
    }
    report.completed_at = clock();
    Ok(report)
}

/// A uniqueness violation of the mirror while importing is bad input, not a
/// broken store: [`crate::Error::Collision`] naming the pack lines of that
/// `exchange_id` and the stored row it met. Other errors pass through.
fn collision(dir: &Path, e: crate::Error) -> crate::Error {
    let crate::Error::Store(fabric_store::Error::MirrorConstraint { exchange_id, .. }) = &e else {
        return e;
    };
    let mut lines = Vec::new();
    if let Ok(reader) = crate::pack::PackReader::open(dir) {
        let _ = reader.for_each_line(|line| {
            if let Ok(parsed) = crate::record::ExchangeRecord::parse_line(&line.text)
                && parsed.record.exchange_id == *exchange_id
            {
                lines.push(format!("{} line {}", line.file, line.line));
            }
            Ok(())
        });
    }
    let stored = match lines.len() {
        0 | 1 => "a row already stored with that exchange_id or content hash".to_owned(),
        _ => format!("the row written from {} in this import", lines[0]),
    };
    crate::Error::Collision {
        exchange_id: exchange_id.clone(),
        lines,
        stored,
        source: Box::new(e),
    }
}

/// A write the mirror refused, located in the pack: the chunk and line of the
/// record it names (found by reading the pack again, on this failure path only).
/// Any other error, or a record no line holds, is returned as it is.
fn at_pack_line(dir: &Path, e: crate::Error) -> crate::Error {
    #[derive(serde::Deserialize)]
    struct Id<'a> {
        #[serde(borrow)]
        exchange_id: std::borrow::Cow<'a, str>,
    }
    let crate::Error::MirrorWrite { exchange_id, .. } = &e else {
        return e;
    };
    let needle = format!("\"{exchange_id}\"");
    let mut found = None;
    let scan = crate::pack::PackReader::open(dir).and_then(|reader| {
        reader.for_each_line(|line| {
            if found.is_none()
                && line.text.contains(&needle)
                && serde_json::from_str::<Id<'_>>(&line.text)
                    .is_ok_and(|id| id.exchange_id == exchange_id.as_str())
            {
                found = Some((line.file, line.line));
            }
            Ok(())
        })
    });
    match (scan, found) {
        (Ok(()), Some((file, line))) => crate::Error::RecordRefused {
            file,
            line,
            exchange_id: exchange_id.clone(),
            source: Box::new(e),
        },
        _ => e,
    }
}

/// Open the command's transaction and take the scope's writer lock in it.
fn begin_locked(mirror: &mut dyn Mirror, scope: &Scope) -> Result<()> {
    mirror.begin()?;
    if let Err(e) = mirror.lock_scope(scope) {
        let _ = mirror.rollback();
        return Err(e);
    }
    Ok(())
}

/// Before a `--batch-commit` import (whose early commits stay): refuse a pack that
/// holds any record an import would refuse, naming the first.
fn refuse_refused_records(
    manifest: &Manifest,
    dir: &Path,
    batch: usize,
    conflict: ConflictStrategy,
) -> Result<()> {
    let report = crate::preflight::check_manifest(manifest, dir, Some(conflict))?;
    match report.failures.first() {
        None => Ok(()),
        Some(f) => Err(crate::Error::Invalid {
            what: format!("--batch-commit {batch}"),
            reason: format!(
                "{} record(s) would be refused, first {} line {}: {}; nothing was written \
                 (`fabric exchange check` lists them all)",
                report.failed, f.file, f.line, f.reason
            ),
        }),
    }
}

/// JSON → SQL. Returns whether a `fail` conflict aborted it, and the hashes in
/// scope as the run leaves them (in a dry run: as a real run would).
fn import(
    dir: &Path,
    scope: &Scope,
    mirror: &mut dyn Mirror,
    options: &SyncOptions,
    report: &mut SyncReport,
    progress: ProgressFn<'_>,
) -> Result<(bool, ContentHashSet)> {
    // The mirror's hashes in scope (H) are read once and never changes; what this run writes and
    // replaces is kept beside it, so the workers can read H while the writer
    // thread keeps its view current (no copy of a million hashes).
    let start: ContentHashSet = mirror.hashes_in_scope(scope)?;
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
    let mut sql_count = mirror.count(Some(scope))?;
    // Writes since the last commit, and committed so far (`--batch-commit`).
    let mut uncommitted = 0usize;
    let mut committed = 0u64;
    // On a scope that was empty at the start, only keys this run wrote can be
    // found: remember them compactly (64-bit digests) and skip the lookups of
    // keys never seen. A digest collision only costs a lookup.
    let empty_at_start = sql_count == 0;
    let mut written_keys: HashSet<u64, crate::hash::BuildPrefixHasher> = HashSet::default();
    let digest = |k: &str| std::hash::BuildHasher::hash_one(&keyed, k);
    let mut on_bytes = |done: u64| progress("import", done, total_bytes);
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
            for p in batch.iter_mut() {
                if let Parsed::Known(h, line) = p
                    && !hashes.contains(h)
                {
                    *p = Parsed::Item(pipeline::verify_line(dir, scope, line)?);
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
                mirror.find_by_natural_keys(scope, &keys)?
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
                if hashes.contains(&rec.content_sha256) {
                    report.json_to_sql.skipped += 1;
                    continue;
                }
                let existing = rec
                    .natural_key
                    .as_deref()
                    .and_then(|k| overlay.get(k).or_else(|| from_sql.get(k)).cloned());
                let new_row = MirrorKeyRow {
                    exchange_id: rec.exchange_id.clone(),
                    content_sha256: rec.content_sha256,
                    observed_at_utc: rec.observed_at_utc,
                };
                let write = match existing {
                    Some(old) => {
                        let resolution = match options.conflict {
                            ConflictStrategy::Fail => Resolution::Failed,
                            ConflictStrategy::PreferSql => Resolution::SqlWins,
                            ConflictStrategy::PreferJson => Resolution::JsonWins,
                            ConflictStrategy::PreferNewest => {
                                if rec.observed_at_utc >= old.observed_at_utc {
                                    Resolution::JsonWins
                                } else {
                                    Resolution::SqlWins
                                }
                            }
                        };
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
                    None => {
                        report.json_to_sql.inserted += 1;
                        sql_count += 1;
                        MirrorWrite::Insert(rec)
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
                mirror.write_batch(&writes)?;
                uncommitted += writes.len();
                discard.drop_later(std::mem::take(&mut writes));
                if let Some(n) = options.batch_commit
                    && uncommitted >= n.max(1)
                {
                    mirror.commit()?;
                    committed += uncommitted as u64;
                    uncommitted = 0;
                    begin_locked(mirror, scope)?;
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
    Ok((failed, now))
}

/// The hashes of index.jsonl in file order, as [`read_index_hashes`] gives
/// them, kept in blocks (no reallocation of one large array as it grows).
struct IndexHashes(Vec<Vec<ContentHash>>);

impl IndexHashes {
    const BLOCK: usize = 1 << 16;

    fn read(dir: &Path) -> Result<Self> {
        let mut blocks: Vec<Vec<ContentHash>> = Vec::new();
        read_index_hashes(dir, |h| match blocks.last_mut() {
            Some(block) if block.len() < Self::BLOCK => block.push(h),
            _ => {
                let mut block = Vec::with_capacity(Self::BLOCK);
                block.push(h);
                blocks.push(block);
            }
        })?;
        Ok(IndexHashes(blocks))
    }

    fn into_iter(self) -> impl Iterator<Item = ContentHash> {
        self.0.into_iter().flatten()
    }
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

/// SQL → JSON: append the rows whose hash the pack's index lacks, newest first.
#[allow(clippy::too_many_arguments)] // reason: one call site; the pieces are distinct
fn export(
    dir: &Path,
    manifest: &Manifest,
    scope: &Scope,
    mirror: &mut dyn Mirror,
    options: &SyncOptions,
    report: &mut SyncReport,
    clock: &dyn Fn() -> OffsetDateTime,
    in_sql: Option<(ContentHashSet, Option<IndexHashes>)>,
    progress: ProgressFn<'_>,
) -> Result<()> {
    // Which rows of S (the mirror's hashes in scope) the pack's index J lacks.
    // Only one set of a million hashes is held at a time.
    let (json_count, sql_count, lacking) = match in_sql {
        Some((mut lacking, in_index)) => {
            // S is known from the import that just ran: take J out of it (read
            // beside the import, or now as the index streams by); what is left is
            // what the pack lacks. (A hash the index names twice, which Fabric
            // never writes, counts twice in J.)
            let sql_count = lacking.len() as u64;
            let mut matched = 0u64;
            let mut only_in_pack = ContentHashSet::default();
            let mut take = |h: ContentHash| {
                if lacking.remove(&h) {
                    matched += 1;
                } else {
                    only_in_pack.insert(h);
                }
            };
            match in_index {
                Some(read) => read.into_iter().for_each(&mut take),
                None => read_index_hashes(dir, &mut take)?,
            }
            let json_count = matched + only_in_pack.len() as u64;
            (json_count, sql_count, Lacking::These(lacking))
        }
        None => {
            let mut in_pack = ContentHashSet::default();
            read_index_hashes(dir, |h| {
                in_pack.insert(h);
            })?;
            let json_count = in_pack.len() as u64;
            // Counted as they stream by. An empty pack lacks every row: a count
            // says as much without reading a million hashes.
            let (mut sql_count, mut missing) = (0u64, 0u64);
            if in_pack.is_empty() {
                sql_count = mirror.count(Some(scope))?;
                missing = sql_count;
            } else {
                mirror.for_each_hash_in_scope(scope, &mut |h| {
                    sql_count += 1;
                    missing += u64::from(!in_pack.contains(&h));
                })?;
            }
            (json_count, sql_count, Lacking::NotIn(in_pack, missing))
        }
    };
    let missing = match &lacking {
        Lacking::These(set) => set.len() as u64,
        Lacking::NotIn(_, n) => *n,
    };
    report.sql_to_json = ExportCounts {
        inserted: missing,
        skipped: sql_count - missing,
    };
    report.json_record_count = json_count;
    report.sql_record_count = sql_count;
    if missing == 0 || options.dry_run {
        if options.dry_run {
            report.json_record_count += missing;
        }
        return Ok(());
    }
    // Every row written is one the index lacks, and the mirror holds each hash
    // once: the layout needs no set of the hashes it wrote.
    let now = clock();
    let mut files = PackFiles::open(dir, manifest.clone(), now)?;
    files.write_past_page_cache();
    let chunks = ChunkBuilder::new(options.chunk_size, files.next_chunk(), now, None);
    write_pack_from(mirror, scope, &lacking, chunks, files, &mut |done| {
        progress("export", done, missing)
    })?;
    report.json_record_count += missing;
    Ok(())
}

/// The rows an export writes.
enum Lacking {
    /// Exactly these hashes.
    These(ContentHashSet),
    /// Every hash not in this set (the pack's index); how many there are.
    NotIn(ContentHashSet, u64),
}

impl Lacking {
    fn wants(&self, h: &ContentHash) -> bool {
        match self {
            Lacking::These(set) => set.contains(h),
            Lacking::NotIn(in_pack, _) => !in_pack.contains(h),
        }
    }
}

/// Stream the rows in scope that the pack lacks (newest first) into new chunks and
/// commit them. The scan of the mirror and the layout of the chunks run on this
/// thread, the chunk and index files are written on another, so reading SQL and
/// writing files overlap. Any error on either side stops both; the files are then
/// dropped uncommitted, which removes the chunks written (see [`PackWriter`]).
fn write_pack_from(
    mirror: &mut dyn Mirror,
    scope: &Scope,
    lacking: &Lacking,
    mut chunks: ChunkBuilder,
    mut files: PackFiles,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    // `None` last says the scan is complete: only then is the pack committed.
    let (tx, rx) = crossbeam_channel::bounded::<Option<Chunk>>(4);
    // Written chunks go back, so their buffers are reused.
    let (back_tx, back_rx) = crossbeam_channel::bounded::<Chunk>(8);
    std::thread::scope(|s| {
        let writer = s.spawn(move || -> Result<()> {
            for chunk in rx {
                let Some(chunk) = chunk else {
                    return files.close(&HashMap::new()).map(drop);
                };
                files.write_chunk(&chunk)?;
                let _ = back_tx.try_send(chunk);
            }
            // The scan failed: drop the files uncommitted (their chunks go).
            Ok(())
        });
        let stopped = || crate::Error::Internal("pack writer stopped".into());
        let mut done = 0u64;
        let mut observed_at = String::new();
        let scanned = mirror.export_scope(scope, &mut |row| {
            if !lacking.wants(&row.content_sha256) {
                return Ok(());
            }
            observed_at.clear();
            crate::timestamp::write_reference_text(&mut observed_at, row.observed_at_utc);
            let full = chunks.push(&EntryRef {
                line: &row.payload_json,
                hash: row.content_sha256,
                key: &[
                    &row.source_system,
                    &row.entity_type,
                    row.natural_key.as_deref().unwrap_or(""),
                ],
                exchange_id: &row.exchange_id,
                observed_at: &observed_at,
                date: Some(row.observed_at_utc.date()),
            });
            done += 1;
            if let Some(full) = full {
                // A closed channel means the writer failed: its error is returned below.
                tx.send(Some(full)).map_err(|_| stopped())?;
                for chunk in back_rx.try_iter() {
                    chunks.recycle(chunk);
                }
                progress(done);
            }
            Ok(())
        });
        let scanned = scanned.and_then(|_| {
            if let Some(last) = chunks.finish() {
                tx.send(Some(last)).map_err(|_| stopped())?;
            }
            tx.send(None).map_err(|_| stopped())?;
            progress(done);
            Ok(())
        });
        drop(tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(crate::Error::Internal("the pack writer panicked".into())));
        match (scanned, written) {
            // The writer's own error says more than "stopped".
            (Err(crate::Error::Internal(_)), Err(e)) | (Ok(()), Err(e)) => Err(e),
            (Err(e), _) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    })
}
