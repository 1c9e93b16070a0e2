//! SQL → JSON: the export half of a sync. The rows in scope whose hash the
//! pack's index lacks are appended as new chunks, newest first; reading the
//! mirror and writing the files overlap on two threads.

use std::collections::HashMap;
use std::path::Path;

use time::OffsetDateTime;

use super::{ExportCounts, ProgressFn, SyncOptions, SyncReport};
use crate::error::Result;
use crate::hash::{ContentHash, ContentHashSet};
use crate::manifest::Manifest;
use crate::mirror::{Mirror, Scope};
use crate::pack::read_index_hashes;
use crate::pack::writer::{Chunk, ChunkBuilder, EntryRef, PackFiles};

/// The hashes of index.jsonl in file order, as [`read_index_hashes`] gives
/// them, kept in blocks (no reallocation of one large array as it grows).
pub(super) struct IndexHashes(Vec<Vec<ContentHash>>);

impl IndexHashes {
    const BLOCK: usize = 1 << 16;

    pub(super) fn read(dir: &Path) -> Result<Self> {
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

/// SQL → JSON: append the rows whose hash the pack's index lacks, newest first.
#[allow(clippy::too_many_arguments)] // reason: one call site; the pieces are distinct
pub(super) fn export(
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
