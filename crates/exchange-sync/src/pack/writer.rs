//! Appending records to a pack (spec §3.2 with the Fabric fixes).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use time::{Date, OffsetDateTime};

use super::index::{INDEX_FILE, IndexEntry, read_index};
use super::reader::{chunk_files, chunk_number};
use crate::error::{Error, Result};
use crate::fsio::{AtomicFile, write_atomic};
use crate::hash::ContentHash;
use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::record::ExchangeRecord;

/// Records per chunk unless told otherwise.
pub const DEFAULT_CHUNK_SIZE: usize = 1000;

/// One record ready to be written: its line plus what the index needs.
#[derive(Debug, Clone)]
pub struct PackEntry {
    /// The whole record line (no newline).
    pub line: String,
    /// Its content hash.
    pub hash: ContentHash,
    /// The index `k`.
    pub key: String,
    /// Its `exchange_id`.
    pub exchange_id: String,
    /// Its `observed_at_utc` (reference form) or `""`.
    pub observed_at: String,
    /// The date (in the record's own offset) that names a chunk it starts.
    pub date: Option<Date>,
}

impl PackEntry {
    /// Build the entry of `record`, writing its line.
    pub fn from_record(record: &ExchangeRecord) -> Self {
        PackEntry {
            line: record.to_line(),
            hash: record.content_sha256,
            key: record.index_key(),
            exchange_id: record.exchange_id.clone(),
            observed_at: record.observed_at_text(),
            date: record.observed_at_utc.map(OffsetDateTime::date),
        }
    }
}

/// Appends records to the pack in one dataset folder.
///
/// New chunks are numbered after the highest existing one; no existing chunk is
/// reopened. Index lines for new hashes are appended in first-written order; a hash
/// already indexed keeps its `id`/`t` and gets `f` = the last chunk that holds it.
/// Nothing reaches `index.jsonl` or `manifest.json` before [`PackWriter::close`],
/// and both are replaced atomically then.
///
/// The index is the commit point for new chunks: each chunk's path is first
/// recorded (synced) in a journal `.chunks.pending-PID`. A writer dropped before
/// its index was written removes its chunks; the next writer removes those of a
/// killed one (unless its index was written: then they are kept).
#[derive(Debug)]
pub struct PackWriter {
    dir: PathBuf,
    manifest: Manifest,
    now: OffsetDateTime,
    chunk_size: usize,
    next_chunk: u64,
    buffer: Vec<PackEntry>,
    /// Every hash indexed (old and new).
    seen: crate::hash::ContentHashSet,
    /// Hashes whose `f` moved to a chunk written now.
    relocated: HashMap<ContentHash, String>,
    /// New index lines, streamed to a side file until close.
    pending: Option<std::io::BufWriter<std::fs::File>>,
    pending_path: PathBuf,
    written: u64,
    chunks_written: Vec<String>,
    /// The journal of chunks created, opened at the first chunk.
    journal: Option<std::fs::File>,
    journal_path: PathBuf,
    /// Whether the index naming the new chunks has been written.
    committed: bool,
}

/// The journal name prefix of a writer's new chunks (`.chunks.pending-PID`).
const JOURNAL_PREFIX: &str = ".chunks.pending-";

/// Undo what killed writers left in `dir`: the chunks of a journal that the index
/// does not name (the writer died before its index was written), the journal, and
/// its pending index lines. Writers run it before writing; readers (the pack
/// reader, verify, pack) run it too and ignore its failure, like SQLite's readers
/// roll back a hot journal: after a kill, nobody sees the half-written export.
pub fn recover_killed_writers(dir: &Path) -> Result<()> {
    crate::fsio::remove_stale(dir, ".index.pending-");
    // A kill while the index or the manifest was being replaced.
    crate::fsio::remove_stale(dir, &format!(".{INDEX_FILE}.tmp-"));
    crate::fsio::remove_stale(dir, &format!(".{MANIFEST_FILE}.tmp-"));
    let journals = crate::fsio::stale_files(dir, JOURNAL_PREFIX);
    if journals.is_empty() {
        return Ok(());
    }
    let mut indexed: HashSet<String> = HashSet::new();
    read_index(dir, |_, entry| {
        if let Ok(e) = entry {
            indexed.insert(e.f);
        }
        Ok(())
    })?;
    for journal in journals {
        let text = std::fs::read_to_string(&journal).map_err(|source| Error::Io {
            path: journal.clone(),
            source,
        })?;
        let chunks: Vec<&str> = text.lines().filter(|l| is_chunk_path(l)).collect();
        if !chunks.iter().any(|c| indexed.contains(*c)) {
            for chunk in &chunks {
                remove_if_present(&dir.join(chunk))?;
            }
        }
        // A kill while a chunk was being written leaves its temporary file.
        for chunk in chunks {
            let path = dir.join(chunk);
            if let (Some(folder), Some(name)) = (path.parent(), path.file_name()) {
                crate::fsio::remove_stale(folder, &format!(".{}.tmp-", name.to_string_lossy()));
            }
        }
        remove_if_present(&journal)?;
    }
    Ok(())
}

/// Whether a journal line is a path this writer creates (`records/…/chunk-N.ndjson`,
/// relative, no `..`): anything else is never removed.
fn is_chunk_path(line: &str) -> bool {
    line.starts_with(concat!("records", "/"))
        && line.ends_with(".ndjson")
        && !line
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

impl PackWriter {
    /// Open the dataset folder `dir` (created if missing) for appending. `now`
    /// dates chunks whose first record has no time and stamps the manifest.
    pub fn open(
        dir: &Path,
        manifest: Manifest,
        chunk_size: usize,
        now: OffsetDateTime,
    ) -> Result<Self> {
        crate::fsio::create_private_dir_all(dir.join(super::RECORDS_DIR)).map_err(|source| {
            Error::Write {
                path: dir.join(super::RECORDS_DIR),
                source,
            }
        })?;
        recover_killed_writers(dir)?;
        let highest = chunk_files(dir)?
            .iter()
            .filter_map(|p| {
                p.file_name()
                    .and_then(|n| chunk_number(&n.to_string_lossy()))
            })
            .max()
            .unwrap_or(0);
        let mut seen = crate::hash::ContentHashSet::default();
        read_index(dir, |_, entry| {
            if let Ok(e) = entry
                && let Ok(h) = e.h.parse()
            {
                seen.insert(h);
            }
            Ok(())
        })?;
        let pending_path = dir.join(format!(".index.pending-{}", std::process::id()));
        Ok(PackWriter {
            dir: dir.to_path_buf(),
            manifest,
            now,
            chunk_size: chunk_size.max(1),
            next_chunk: highest + 1,
            buffer: Vec::new(),
            seen,
            relocated: HashMap::new(),
            pending: Some(std::io::BufWriter::with_capacity(
                1 << 16,
                crate::fsio::create_private(&pending_path).map_err(|source| Error::Write {
                    path: pending_path.clone(),
                    source,
                })?,
            )),
            pending_path,
            written: 0,
            chunks_written: Vec::new(),
            journal: None,
            journal_path: dir.join(format!("{JOURNAL_PREFIX}{}", std::process::id())),
            committed: false,
        })
    }

    /// Add one record.
    pub fn write(&mut self, entry: PackEntry) -> Result<()> {
        self.buffer.push(entry);
        if self.buffer.len() >= self.chunk_size {
            self.flush_chunk()?;
        }
        Ok(())
    }

    /// Make room for `additional` more distinct hashes in the index bookkeeping up
    /// front (a set grown one insert at a time briefly holds its old and its new
    /// table: at a million hashes that is ~100 MB instead of ~70 MB).
    pub fn reserve(&mut self, additional: usize) {
        self.seen.reserve(additional);
    }

    /// Records written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Write the last chunk, the index and the manifest. Returns the chunks written
    /// (relative paths).
    pub fn close(mut self) -> Result<Vec<String>> {
        self.flush_chunk()?;
        let pending = self
            .pending
            .take()
            .ok_or_else(|| Error::Internal("writer closed twice".into()))?;
        // A scratch file read back below: flushed, not synced (it never outlives us).
        pending.into_inner().map_err(|e| Error::Write {
            path: self.pending_path.clone(),
            source: e.into_error(),
        })?;
        let result = self.write_index();
        let _ = std::fs::remove_file(&self.pending_path);
        result?;
        self.committed = true;
        self.manifest
            .save(&self.dir.join(MANIFEST_FILE), self.now)?;
        self.journal = None;
        remove_if_present(&self.journal_path)?;
        Ok(std::mem::take(&mut self.chunks_written))
    }

    fn flush_chunk(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let date = self
            .buffer
            .first()
            .and_then(|e| e.date)
            .unwrap_or(self.now.date());
        let folder = format!(
            "{}/{:04}/{:04}-{:02}-{:02}",
            super::RECORDS_DIR,
            date.year(),
            date.year(),
            u8::from(date.month()),
            date.day()
        );
        let rel = format!("{folder}/chunk-{:04}.ndjson", self.next_chunk);
        let path = self.dir.join(&rel);
        crate::fsio::create_private_dir_all(self.dir.join(&folder)).map_err(|source| {
            Error::Write {
                path: self.dir.join(&folder),
                source,
            }
        })?;
        if path.exists() {
            return Err(Error::Io {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "refusing to overwrite an existing chunk",
                ),
            });
        }
        self.journal_chunk(&rel)?;
        let mut file = AtomicFile::create(&path)?;
        let io = |source| Error::Write {
            path: path.clone(),
            source,
        };
        for entry in &self.buffer {
            file.write_all(entry.line.as_bytes()).map_err(io)?;
            file.write_all(b"\n").map_err(io)?;
        }
        file.commit()?;
        self.chunks_written.push(rel.clone());
        let pending = self
            .pending
            .as_mut()
            .ok_or_else(|| Error::Internal("writer closed".into()))?;
        for entry in self.buffer.drain(..) {
            if self.seen.insert(entry.hash) {
                let line = IndexEntry {
                    h: entry.hash.to_hex(),
                    k: entry.key,
                    id: entry.exchange_id,
                    t: entry.observed_at,
                    f: rel.clone(),
                }
                .to_line();
                pending
                    .write_all(line.as_bytes())
                    .and_then(|()| pending.write_all(b"\n"))
                    .map_err(|source| Error::Write {
                        path: self.pending_path.clone(),
                        source,
                    })?;
            } else {
                self.relocated.insert(entry.hash, rel.clone());
            }
            self.written += 1;
        }
        self.next_chunk += 1;
        Ok(())
    }

    fn write_index(&mut self) -> Result<()> {
        if self.relocated.is_empty() {
            return self.append_index();
        }
        let path = self.dir.join(INDEX_FILE);
        let mut out = AtomicFile::create(&path)?;
        let io = |source| Error::Write {
            path: path.clone(),
            source,
        };
        let relocated = &self.relocated;
        let emit = |out: &mut AtomicFile, line: String| {
            out.write_all(line.as_bytes())
                .and_then(|()| out.write_all(b"\n"))
        };
        read_index(&self.dir, |_, entry| {
            let line = match entry {
                Ok(mut e) => {
                    if let Some(f) =
                        e.h.parse()
                            .ok()
                            .and_then(|h: ContentHash| relocated.get(&h))
                    {
                        e.f = f.clone();
                        e.to_line()
                    } else {
                        e.to_line()
                    }
                }
                // Keep lines we cannot read as they were (verify reports them).
                Err(raw) => raw,
            };
            emit(&mut out, line).map_err(io)
        })?;
        let pending = std::fs::File::open(&self.pending_path).map_err(|source| Error::Io {
            path: self.pending_path.clone(),
            source,
        })?;
        for line in std::io::BufReader::new(pending).lines() {
            let line = line.map_err(io)?;
            let line = match IndexEntry::parse(&line) {
                Some(mut e) => {
                    if let Some(f) =
                        e.h.parse()
                            .ok()
                            .and_then(|h: ContentHash| relocated.get(&h))
                    {
                        e.f = f.clone();
                    }
                    e.to_line()
                }
                None => line,
            };
            emit(&mut out, line).map_err(io)?;
        }
        out.commit()
    }
}

impl PackWriter {
    /// No existing line changes: the new index is the old bytes plus the pending
    /// lines, copied without parsing.
    fn append_index(&mut self) -> Result<()> {
        let path = self.dir.join(INDEX_FILE);
        let mut out = AtomicFile::create(&path)?;
        let io = |source| Error::Write {
            path: path.clone(),
            source,
        };
        match std::fs::File::open(&path) {
            Ok(mut old) => {
                let mut last = [0u8; 1];
                let len = old.metadata().map_err(io)?.len();
                std::io::copy(&mut old, &mut out).map_err(io)?;
                if len > 0 {
                    use std::io::{Read, Seek, SeekFrom};
                    old.seek(SeekFrom::End(-1)).map_err(io)?;
                    old.read_exact(&mut last).map_err(io)?;
                    if last[0] != b'\n' {
                        out.write_all(b"\n").map_err(io)?;
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let mut pending = std::fs::File::open(&self.pending_path).map_err(|source| Error::Io {
            path: self.pending_path.clone(),
            source,
        })?;
        std::io::copy(&mut pending, &mut out).map_err(io)?;
        out.commit()
    }
}

impl PackWriter {
    /// Record (synced) that chunk `rel` is about to be created.
    fn journal_chunk(&mut self, rel: &str) -> Result<()> {
        let io = |source| Error::Write {
            path: self.journal_path.clone(),
            source,
        };
        if self.journal.is_none() {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.journal_path)
                .map_err(io)?;
            self.journal = Some(file);
        }
        if let Some(journal) = self.journal.as_mut() {
            journal
                .write_all(format!("{rel}\n").as_bytes())
                .and_then(|()| journal.sync_data())
                .map_err(io)?;
        }
        Ok(())
    }
}

impl Drop for PackWriter {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pending_path);
        if !self.committed {
            // Failed before the index named them: the new chunks go.
            for rel in &self.chunks_written {
                let _ = std::fs::remove_file(self.dir.join(rel));
            }
        }
        self.journal = None;
        let _ = std::fs::remove_file(&self.journal_path);
    }
}

/// Create a new dataset: `out/<name>/manifest.json` and an empty `records/`.
pub fn init_dataset(out: &Path, manifest: &mut Manifest, now: OffsetDateTime) -> Result<PathBuf> {
    crate::manifest::check_dataset_name(&manifest.dataset_name).map_err(|reason| {
        Error::Invalid {
            what: "dataset name".into(),
            reason,
        }
    })?;
    let dir = out.join(&manifest.dataset_name);
    let path = dir.join(MANIFEST_FILE);
    if path.exists() {
        return Err(Error::OutputExists { path });
    }
    crate::fsio::create_private_dir_all(dir.join(super::RECORDS_DIR)).map_err(|source| {
        Error::Write {
            path: dir.join(super::RECORDS_DIR),
            source,
        }
    })?;
    manifest.save(&path, now)?;
    let _ = write_atomic;
    Ok(path)
}
