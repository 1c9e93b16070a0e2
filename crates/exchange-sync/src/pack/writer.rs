//! Appending records to a pack (Fabric fixes).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use time::{Date, OffsetDateTime};

use super::index_reader::read_index;
use super::reader::{chunk_files, chunk_number};
use crate::canonical::{write_escaped, write_escaped_body};
use crate::error::{Error, Result};
use crate::fsio::{AtomicFile, write_atomic};
use crate::hash::ContentHash;
use crate::manifest::{MANIFEST_FILE, Manifest, ManifestFile};
use crate::record::ExchangeRecord;
use exchange_core::index::INDEX_FILE;

/// Records per chunk unless told otherwise.
pub const DEFAULT_CHUNK_SIZE: usize = 1000;

/// One record ready to be written: its line plus what the index needs.
#[derive(Debug, Clone, PartialEq, Eq)]
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
///
/// It is two halves, which an export runs on two threads: `ChunkBuilder` lays
/// out chunks and their index lines in memory, `PackFiles` writes them.
#[derive(Debug)]
pub struct PackWriter {
    chunks: ChunkBuilder,
    files: Files,
}

/// Where a [`PackWriter`]'s chunk files are written: on the caller's thread, or
/// on a thread of their own ([`PackWriter::open_writing_behind`]).
#[derive(Debug)]
enum Files {
    Here(Box<PackFiles>),
    Behind(FileThread),
}

/// The thread that writes a [`PackWriter`]'s files: chunks (then the close) come
/// in order over a channel, written chunks go back for their buffers. Dropped
/// before the close, it stops and drops its files uncommitted (removing the
/// chunks written), and waits for that.
#[derive(Debug)]
struct FileThread {
    tx: Option<crossbeam_channel::Sender<ToFiles>>,
    back: crossbeam_channel::Receiver<Chunk>,
    written: std::sync::Arc<std::sync::atomic::AtomicU64>,
    thread: Option<std::thread::JoinHandle<Result<Vec<String>>>>,
}

/// What the file thread is sent.
enum ToFiles {
    Chunk(Chunk),
    Close(HashMap<ContentHash, String>),
}

impl FileThread {
    fn start(mut files: PackFiles) -> Result<Self> {
        let (tx, rx) = crossbeam_channel::bounded::<ToFiles>(16);
        let (back_tx, back) = crossbeam_channel::bounded::<Chunk>(16);
        let written = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(files.written()));
        let count = std::sync::Arc::clone(&written);
        let thread = std::thread::Builder::new()
            .name("pack-files".to_owned())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    // The chunks waiting now are journaled with one sync: when
                    // the disk falls behind, its syncs thin out.
                    let mut messages = vec![first];
                    messages.extend(rx.try_iter());
                    files.journal_ahead(messages.iter().filter_map(|m| match m {
                        ToFiles::Chunk(chunk) => Some(chunk.rel.as_str()),
                        ToFiles::Close(_) => None,
                    }))?;
                    for message in messages {
                        match message {
                            ToFiles::Chunk(chunk) => {
                                files.write_chunk(&chunk)?;
                                count.store(files.written(), std::sync::atomic::Ordering::Relaxed);
                                let _ = back_tx.try_send(chunk);
                            }
                            ToFiles::Close(relocated) => return files.close(&relocated),
                        }
                    }
                }
                // Stopped before the close: the files go uncommitted.
                Ok(Vec::new())
            })
            .map_err(|e| Error::Internal(format!("starting the pack file writer: {e}")))?;
        Ok(FileThread {
            tx: Some(tx),
            back,
            written,
            thread: Some(thread),
        })
    }

    /// Hand `message` to the thread; when it has stopped, its error.
    fn send(&mut self, message: ToFiles) -> Result<()> {
        let sent = self.tx.as_ref().map(|tx| tx.send(message).is_ok());
        if sent == Some(true) {
            return Ok(());
        }
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(Error::Internal("the pack file writer stopped".into())),
        }
    }

    /// Wait for the thread (after closing its channel): its result.
    fn join(&mut self) -> Result<Vec<String>> {
        drop(self.tx.take());
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(Error::Internal("the pack file writer panicked".into()))),
            None => Err(Error::Internal("the pack file writer stopped".into())),
        }
    }
}

impl Drop for FileThread {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.join();
        }
    }
}

/// The journal name prefix of a writer's new chunks (`.chunks.pending-PID`).
const JOURNAL_PREFIX: &str = ".chunks.pending-";

/// Undo what killed writers left in `dir`: the chunks of a journal that the index
/// does not name (the writer died before its index was written), the journal, and
/// its pending index lines. Writers run it once they hold the pack lock; readers
/// (the pack reader, verify, pack) run it too, like SQLite's readers roll back a
/// hot journal: after a kill, nobody sees the half-written export. It does
/// nothing while another process holds the pack lock ([`super::PackLock`]): a
/// live writer's files are never touched.
pub fn recover_killed_writers(dir: &Path) -> Result<()> {
    match super::PackLock::try_exclusive(dir)? {
        Some(_lock) => recover_unlocked(dir),
        None => Ok(()),
    }
}

/// [`recover_killed_writers`] for a caller that holds the exclusive lock.
pub(crate) fn recover_unlocked(dir: &Path) -> Result<()> {
    // The new index of an earlier version's writer.
    crate::fsio::remove_stale(dir, ".index.pending-");
    // A kill while the index (written beside it from the writer's first chunk on)
    // or the manifest was being replaced.
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
        let files = PackFiles::open(dir, manifest, now)?;
        let mut seen = crate::hash::ContentHashSet::default();
        read_index(dir, |_, entry| {
            if let Ok(e) = entry
                && let Ok(h) = e.h.parse()
            {
                seen.insert(h);
            }
            Ok(())
        })?;
        let chunks = ChunkBuilder::new(chunk_size, files.next_chunk(), now, Some(seen));
        Ok(PackWriter {
            chunks,
            files: Files::Here(Box::new(files)),
        })
    }

    /// [`PackWriter::open`], the chunk files written and synced on a thread of
    /// their own while the caller lays out the next chunk (what `add` uses: a
    /// chunk's fsync then no longer holds up the records behind it). The same
    /// files, the same commit at the close; dropped before the close, the writer
    /// waits for that thread to remove the chunks written.
    pub fn open_writing_behind(
        dir: &Path,
        manifest: Manifest,
        chunk_size: usize,
        now: OffsetDateTime,
    ) -> Result<Self> {
        let mut writer = Self::open(dir, manifest, chunk_size, now)?;
        writer.files = match writer.files {
            Files::Here(files) => Files::Behind(FileThread::start(*files)?),
            behind => behind,
        };
        Ok(writer)
    }

    /// Add one record.
    pub fn write(&mut self, entry: PackEntry) -> Result<()> {
        self.write_ref(&entry)
    }

    /// Add one record, borrowed (its line is copied into the chunk).
    pub fn write_ref(&mut self, entry: &PackEntry) -> Result<()> {
        let full = self.chunks.push(&EntryRef {
            line: &entry.line,
            hash: entry.hash,
            key: &[&entry.key],
            exchange_id: &entry.exchange_id,
            observed_at: &entry.observed_at,
            date: entry.date,
        });
        match full {
            Some(chunk) => self.write_chunk(chunk),
            None => Ok(()),
        }
    }

    fn write_chunk(&mut self, chunk: Chunk) -> Result<()> {
        match &mut self.files {
            Files::Here(files) => {
                files.write_chunk(&chunk)?;
                self.chunks.recycle(chunk);
            }
            Files::Behind(thread) => {
                thread.send(ToFiles::Chunk(chunk))?;
                for chunk in thread.back.try_iter() {
                    self.chunks.recycle(chunk);
                }
            }
        }
        Ok(())
    }

    /// Whether the pack holds `hash` already (indexed before, or written by this
    /// writer).
    pub fn holds(&self, hash: &ContentHash) -> bool {
        self.chunks.seen.as_ref().is_some_and(|s| s.contains(hash))
    }

    /// Make room for `additional` more distinct hashes in the index bookkeeping up
    /// front (a set grown one insert at a time briefly holds its old and its new
    /// table: at a million hashes that is ~100 MB instead of ~70 MB).
    pub fn reserve(&mut self, additional: usize) {
        self.chunks.reserve(additional);
    }

    /// Records written so far (in chunk files).
    pub fn written(&self) -> u64 {
        match &self.files {
            Files::Here(files) => files.written(),
            Files::Behind(thread) => thread.written.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Write the last chunk, the index and the manifest. Returns the chunks written
    /// (relative paths).
    pub fn close(self) -> Result<Vec<String>> {
        let PackWriter { mut chunks, files } = self;
        let last = chunks.finish();
        match files {
            Files::Here(mut files) => {
                if let Some(chunk) = last {
                    files.write_chunk(&chunk)?;
                }
                files.close(&chunks.relocated)
            }
            Files::Behind(mut thread) => {
                if let Some(chunk) = last {
                    thread.send(ToFiles::Chunk(chunk))?;
                }
                thread.send(ToFiles::Close(std::mem::take(&mut chunks.relocated)))?;
                thread.join()
            }
        }
    }
}

/// One record as the writer takes it, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryRef<'a> {
    /// The whole record line (no newline).
    pub line: &'a str,
    pub hash: ContentHash,
    /// The index `k`: these parts joined by `|`.
    pub key: &'a [&'a str],
    pub exchange_id: &'a str,
    /// `observed_at_utc` in the reference form, or `""`.
    pub observed_at: &'a str,
    /// The date that names a chunk this record starts.
    pub date: Option<Date>,
}

/// A chunk laid out in memory: its path, its lines, and the index lines of the
/// hashes it brings first (their `f` is this chunk).
#[derive(Debug)]
pub(crate) struct Chunk {
    /// `records/YYYY/YYYY-MM-DD/chunk-NNNN.ndjson`.
    rel: String,
    /// `rel[..folder_len]` is its folder.
    folder_len: usize,
    lines: String,
    index: String,
    records: usize,
}

/// The layout half of a writer: which chunk a record goes to, the chunk's bytes
/// and its index lines. No I/O.
#[derive(Debug)]
pub(crate) struct ChunkBuilder {
    chunk_size: usize,
    next_chunk: u64,
    today: Date,
    /// Every hash indexed (old and new); `None` when the caller vouches that each
    /// hash it writes is distinct and not in the index yet (an export of the rows
    /// the index lacks): no set of a million hashes is then kept.
    seen: Option<crate::hash::ContentHashSet>,
    /// Hashes whose `f` moved to a chunk written now.
    relocated: HashMap<ContentHash, String>,
    current: Option<Chunk>,
    /// Written chunks' buffers, for the next chunks (allocating megabytes per
    /// chunk costs a fresh mapping and page faults each time).
    spare: Vec<Chunk>,
}

impl ChunkBuilder {
    /// Chunks of `chunk_size` records numbered from `next_chunk`; `now` dates a
    /// chunk whose first record has no time. `seen`: the hashes indexed already
    /// (see the field).
    pub(crate) fn new(
        chunk_size: usize,
        next_chunk: u64,
        now: OffsetDateTime,
        seen: Option<crate::hash::ContentHashSet>,
    ) -> Self {
        ChunkBuilder {
            chunk_size: chunk_size.max(1),
            next_chunk,
            today: now.date(),
            seen,
            relocated: HashMap::new(),
            current: None,
            spare: Vec::new(),
        }
    }

    fn reserve(&mut self, additional: usize) {
        if let Some(seen) = &mut self.seen {
            seen.reserve(additional);
        }
    }

    /// Add one record; returns the chunk it filled.
    pub(crate) fn push(&mut self, entry: &EntryRef<'_>) -> Option<Chunk> {
        if self.current.is_none() {
            self.current = Some(self.start(entry.date));
        }
        let chunk = self.current.as_mut()?;
        chunk.lines.push_str(entry.line);
        chunk.lines.push('\n');
        let fresh = self
            .seen
            .as_mut()
            .is_none_or(|seen| seen.insert(entry.hash));
        if fresh {
            let out = &mut chunk.index;
            out.push_str("{\"h\": \"");
            entry.hash.write_hex(out);
            out.push_str("\", \"k\": \"");
            for (i, part) in entry.key.iter().enumerate() {
                if i > 0 {
                    out.push('|');
                }
                write_escaped_body(out, part);
            }
            out.push_str("\", \"id\": ");
            write_escaped(out, entry.exchange_id);
            out.push_str(", \"t\": ");
            write_escaped(out, entry.observed_at);
            out.push_str(", \"f\": ");
            write_escaped(out, &chunk.rel);
            out.push_str("}\n");
        } else {
            self.relocated.insert(entry.hash, chunk.rel.clone());
        }
        chunk.records += 1;
        if chunk.records >= self.chunk_size {
            return self.finish();
        }
        None
    }

    /// The chunk not yet full, if any.
    pub(crate) fn finish(&mut self) -> Option<Chunk> {
        self.current.take()
    }

    /// Take back a written chunk: its buffers serve a next one.
    pub(crate) fn recycle(&mut self, chunk: Chunk) {
        if self.spare.len() < 8 {
            self.spare.push(chunk);
        }
    }

    fn start(&mut self, date: Option<Date>) -> Chunk {
        let date = date.unwrap_or(self.today);
        let folder = format!(
            "{}/{:04}/{:04}-{:02}-{:02}",
            super::RECORDS_DIR,
            date.year(),
            date.year(),
            u8::from(date.month()),
            date.day()
        );
        let rel = format!("{folder}/chunk-{:04}.ndjson", self.next_chunk);
        self.next_chunk += 1;
        let (mut lines, mut index) = match self.spare.pop() {
            Some(old) => (old.lines, old.index),
            None => (String::new(), String::new()),
        };
        lines.clear();
        index.clear();
        Chunk {
            rel,
            folder_len: folder.len(),
            lines,
            index,
            records: 0,
        }
    }
}

/// New index bytes a writer leaves unsynced at most, before the close.
const INDEX_SYNC_BYTES: usize = 32 << 20;

/// The file half of a writer: the journal, the chunk files, the growing index,
/// the manifest; the commit at [`PackFiles::close`], the rollback on drop.
#[derive(Debug)]
pub(crate) struct PackFiles {
    dir: PathBuf,
    manifest: Manifest,
    now: OffsetDateTime,
    next_chunk: u64,
    /// The index being built: the old index's bytes, then the new lines. It becomes
    /// `index.jsonl` at close.
    /// The new index, written through the atomic writer beside `index.jsonl`.
    index: Option<std::io::BufWriter<fabric_store::atomic::AtomicFile>>,
    /// Its temporary file (for errors and the rewrite).
    index_path: PathBuf,
    /// Bytes of new index lines not yet synced ([`INDEX_SYNC_BYTES`]).
    index_unsynced: usize,
    written: u64,
    chunks_written: Vec<String>,
    /// The folders the new chunks went into, synced before the index commits.
    folders_written: std::collections::BTreeSet<PathBuf>,
    /// The journal of chunks created, opened at the first chunk.
    journal: Option<std::fs::File>,
    /// Chunks named in the journal ahead of their writing, in order
    /// ([`PackFiles::journal_ahead`]).
    journaled: std::collections::VecDeque<String>,
    journal_path: PathBuf,
    /// Whether the index naming the new chunks has been written.
    committed: bool,
    /// Chunk files go past the page cache (see [`PackFiles::write_past_page_cache`]).
    direct: Option<crate::fsio::DirectWriter>,
    /// The pack's writer lock, held until the writer is dropped (declared last:
    /// released after the rollback of [`Drop`]).
    _lock: super::PackLock,
}

impl PackFiles {
    /// Open the dataset folder `dir` (created if missing): recover what a killed
    /// writer left, find the highest chunk number, start the new index as a copy
    /// of the old one.
    pub(crate) fn open(dir: &Path, manifest: Manifest, now: OffsetDateTime) -> Result<Self> {
        crate::fsio::create_private_dir_all(dir.join(super::RECORDS_DIR)).map_err(|source| {
            Error::Write {
                path: dir.join(super::RECORDS_DIR),
                source,
            }
        })?;
        let lock = super::PackLock::writer(dir)?;
        let highest = chunk_files(dir)?
            .iter()
            .filter_map(|p| {
                p.file_name()
                    .and_then(|n| chunk_number(&n.to_string_lossy()))
            })
            .max()
            .unwrap_or(0);
        // It replaces index.jsonl (with the mode its owner gave that); from here
        // on, dropping it removes the temporary file.
        let file =
            fabric_store::atomic::AtomicFile::create(&dir.join(INDEX_FILE)).map_err(|source| {
                Error::Write {
                    path: dir.join(INDEX_FILE),
                    source,
                }
            })?;
        let index_path = file.temp_path().to_path_buf();
        let mut files = PackFiles {
            dir: dir.to_path_buf(),
            manifest,
            now,
            next_chunk: highest + 1,
            index: Some(std::io::BufWriter::with_capacity(1 << 16, file)),
            index_path,
            index_unsynced: 0,
            written: 0,
            chunks_written: Vec::new(),
            folders_written: std::collections::BTreeSet::new(),
            journal: None,
            journaled: std::collections::VecDeque::new(),
            journal_path: dir.join(format!("{JOURNAL_PREFIX}{}", std::process::id())),
            committed: false,
            direct: None,
            _lock: lock,
        };
        if let Some(index) = files.index.as_mut() {
            copy_old_index(dir, index, &files.index_path)?;
        }
        Ok(files)
    }

    /// Write chunk files with direct I/O where the filesystem takes it
    /// ([`crate::fsio::DirectWriter`]), not through the page cache. For an export:
    /// gigabytes written once and synced at once, which through the cache cost a
    /// copy of every byte and push out what the next command reads (the store).
    /// Not for `add`, whose pack the next command (import) usually reads: through
    /// the cache, that read finds it there.
    pub(crate) fn write_past_page_cache(&mut self) {
        self.direct = Some(crate::fsio::DirectWriter::new());
    }

    /// The number of the first chunk this writer creates.
    pub(crate) fn next_chunk(&self) -> u64 {
        self.next_chunk
    }

    /// Records in the chunks written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Create `chunk`'s file (journaled, synced, renamed into place) and add its
    /// index lines to the new index.
    pub(crate) fn write_chunk(&mut self, chunk: &Chunk) -> Result<()> {
        let path = self.dir.join(&chunk.rel);
        let folder = self.dir.join(&chunk.rel[..chunk.folder_len]);
        crate::fsio::create_private_dir_all(&folder).map_err(|source| Error::Write {
            path: folder.clone(),
            source,
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
        if self.journaled.front() == Some(&chunk.rel) {
            self.journaled.pop_front();
        } else {
            self.journal(&[chunk.rel.as_str()])?;
        }
        match &mut self.direct {
            Some(direct) => direct.write_atomic(&path, chunk.lines.as_bytes())?,
            None => {
                let mut file = AtomicFile::create(&path)?;
                file.write_all(chunk.lines.as_bytes())
                    .map_err(|source| Error::Write {
                        path: path.clone(),
                        source,
                    })?;
                file.commit_leaving_folder()?;
            }
        }
        // Synced once, before the index names the chunk (see `close`).
        self.folders_written.insert(folder);
        self.chunks_written.push(chunk.rel.clone());
        let index = self
            .index
            .as_mut()
            .ok_or_else(|| Error::Internal("writer closed".into()))?;
        let io = |source| Error::Write {
            path: self.index_path.clone(),
            source,
        };
        index.write_all(chunk.index.as_bytes()).map_err(io)?;
        // Synced as it grows, here behind the records, so that the close
        // waits for the last lines only (a million records make 250 MB of
        // index, a third of a second to sync at once). Measured for `add`
        // only: beside direct writes (an export) the writes stay as they were.
        self.index_unsynced += chunk.index.len();
        if self.direct.is_none() && self.index_unsynced >= INDEX_SYNC_BYTES {
            index.flush().map_err(io)?;
            index.get_ref().as_file().sync_data().map_err(io)?;
            self.index_unsynced = 0;
        }
        self.written += chunk.records as u64;
        Ok(())
    }

    /// Commit: the new index replaces `index.jsonl` (with `f` moved for the
    /// `relocated` hashes), then the manifest is stamped. Returns the chunks
    /// written (relative paths).
    pub(crate) fn close(mut self, relocated: &HashMap<ContentHash, String>) -> Result<Vec<String>> {
        let index = self
            .index
            .take()
            .ok_or_else(|| Error::Internal("writer closed twice".into()))?;
        let target = self.dir.join(INDEX_FILE);
        let io = |source| Error::Write {
            path: target.clone(),
            source,
        };
        // The chunks' names reach the disk before the index that names them.
        for folder in &self.folders_written {
            fabric_store::atomic::sync_dir(folder).map_err(|source| Error::Write {
                path: folder.clone(),
                source,
            })?;
        }
        let file = index.into_inner().map_err(|e| io(e.into_error()))?;
        if relocated.is_empty() {
            // No line changes: the new index is complete as it stands (synced,
            // renamed into place; on failure its temporary file is removed).
            file.commit().map_err(io)?;
        } else {
            // Read back from the temporary file, which goes when `file` drops.
            let result = self.rewrite_index(relocated);
            drop(file);
            result?;
        }
        self.committed = true;
        self.manifest
            .save(&self.dir.join(MANIFEST_FILE), self.now)?;
        self.journal = None;
        remove_if_present(&self.journal_path)?;
        Ok(std::mem::take(&mut self.chunks_written))
    }

    /// Write `index.jsonl` from the new index with `f` moved for the relocated
    /// hashes (every line is read and written again; an unreadable one is kept as
    /// it was, for verify to report).
    fn rewrite_index(&self, relocated: &HashMap<ContentHash, String>) -> Result<()> {
        let path = self.dir.join(INDEX_FILE);
        let mut out = AtomicFile::create(&path)?;
        let io = |source| Error::Write {
            path: path.clone(),
            source,
        };
        let built = std::fs::File::open(&self.index_path).map_err(|source| Error::Io {
            path: self.index_path.clone(),
            source,
        })?;
        super::index_reader::read_index_from(
            std::io::BufReader::with_capacity(1 << 16, built),
            &self.index_path,
            |_, entry| {
                let line = match entry {
                    Ok(mut e) => {
                        if let Some(f) =
                            e.h.parse()
                                .ok()
                                .and_then(|h: ContentHash| relocated.get(&h))
                        {
                            e.f = f.clone();
                        }
                        e.to_line()
                    }
                    Err(raw) => raw,
                };
                out.write_all(line.as_bytes())
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(io)
            },
        )?;
        out.commit()
    }

    /// Name the chunks `rels`, about to be written in this order, in the
    /// journal at once (one sync for them all); [`PackFiles::write_chunk`]
    /// then does not name them again.
    pub(crate) fn journal_ahead<'r>(&mut self, rels: impl Iterator<Item = &'r str>) -> Result<()> {
        let rels: Vec<&str> = rels.collect();
        if rels.is_empty() {
            return Ok(());
        }
        self.journal(&rels)?;
        self.journaled.extend(rels.into_iter().map(str::to_owned));
        Ok(())
    }

    /// Append `rels` to the journal and sync it: from then on a kill before
    /// the commit gets those chunks removed.
    fn journal(&mut self, rels: &[&str]) -> Result<()> {
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
            let lines: String = rels.iter().map(|rel| format!("{rel}\n")).collect();
            journal
                .write_all(lines.as_bytes())
                .and_then(|()| journal.sync_data())
                .map_err(io)?;
        }
        Ok(())
    }
}

/// Copy `dir`'s `index.jsonl` as it is (no parsing) into the new index `out`,
/// ending it with a newline if it lacks one. A missing index copies nothing.
fn copy_old_index(
    dir: &Path,
    out: &mut std::io::BufWriter<fabric_store::atomic::AtomicFile>,
    out_path: &Path,
) -> Result<()> {
    let path = dir.join(INDEX_FILE);
    let mut old = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(Error::Io { path, source }),
    };
    let read = |source| Error::Io {
        path: path.clone(),
        source,
    };
    let write = |source| Error::Write {
        path: out_path.to_path_buf(),
        source,
    };
    let len = old.metadata().map_err(read)?.len();
    if len == 0 {
        return Ok(());
    }
    std::io::copy(&mut old, out).map_err(write)?;
    use std::io::{Read, Seek, SeekFrom};
    let mut last = [0u8; 1];
    old.seek(SeekFrom::End(-1)).map_err(read)?;
    old.read_exact(&mut last).map_err(read)?;
    if last[0] != b'\n' {
        out.write_all(b"\n").map_err(write)?;
    }
    Ok(())
}

impl Drop for PackFiles {
    fn drop(&mut self) {
        // Dropping an uncommitted index removes its temporary file.
        self.index = None;
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
    super::PackLock::create_file(&dir)?;
    manifest.save(&path, now)?;
    let _ = write_atomic;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks journaled ahead are named once, all before the first exists, and
    /// a writer killed before its commit gets every one of them removed.
    #[test]
    fn chunks_journaled_ahead_are_named_once_and_removed_after_a_kill()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("bench");
        let manifest = Manifest::new("bench", "mediawiki", "wookieepedia", "page");
        let mut files = PackFiles::open(&dir, manifest, OffsetDateTime::UNIX_EPOCH)?;
        let folder = "records/2024/2024-01-15";
        let chunk = |n: u64| Chunk {
            rel: format!("{folder}/chunk-{n:04}.ndjson"),
            folder_len: folder.len(),
            lines: "{}\n".to_owned(),
            index: String::new(),
            records: 1,
        };
        let (first, second) = (chunk(1), chunk(2));
        files.journal_ahead([first.rel.as_str(), second.rel.as_str()].into_iter())?;
        let journal = files.journal_path.clone();
        let named = format!("{}\n{}\n", first.rel, second.rel);
        assert_eq!(std::fs::read_to_string(&journal)?, named);
        assert!(!dir.join(&first.rel).exists());
        files.write_chunk(&first)?;
        assert!(dir.join(&first.rel).exists());
        // Written, not named again.
        assert_eq!(std::fs::read_to_string(&journal)?, named);
        // A chunk not journaled ahead is named as it is written.
        let third = chunk(3);
        files.write_chunk(&third)?;
        assert_eq!(
            std::fs::read_to_string(&journal)?,
            format!("{named}{}\n", third.rel)
        );
        // Killed here: nothing of it runs again (its lock stays held by this
        // process, which the recovery below does not ask for), and its journal
        // is a dead process's (this one's is never taken as stale).
        std::mem::forget(files);
        let dead = dir.join(format!("{JOURNAL_PREFIX}4294967294"));
        std::fs::rename(&journal, &dead)?;
        recover_unlocked(&dir)?;
        assert!(!dir.join(&first.rel).exists());
        assert!(!dir.join(&third.rel).exists());
        assert!(!dead.exists());
        Ok(())
    }
}
