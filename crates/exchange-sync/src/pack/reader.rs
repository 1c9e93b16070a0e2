//! Reading a pack's chunks in order.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::record::{ExchangeRecord, LineError, ParsedLine};

/// Every `*.ndjson` file under `records/` at any depth, relative to the dataset
/// folder (anything under `records/` that is neither a regular file nor a folder,
/// such as a symbolic link or a FIFO, is [`Error::NotRegularFile`]), sorted component by component with chunk numbers compared as numbers
/// (`chunk-10000` after `chunk-9999`).
pub fn chunk_files(dataset_dir: &Path) -> Result<Vec<PathBuf>> {
    let root = dataset_dir.join(super::RECORDS_DIR);
    match std::fs::symlink_metadata(&root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Io { path: root, source }),
        // `records` itself must be a folder inside the dataset, not a link out.
        Ok(meta) if !meta.is_dir() => {
            return Err(Error::NotRegularFile {
                path: root,
                what: "the records folder".into(),
                expected: "a folder inside the dataset".into(),
                kind: crate::input_limits::describe(&meta.file_type()).into(),
            });
        }
        Ok(_) => {}
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(&root).follow_links(false) {
        let entry = entry.map_err(|e| Error::Io {
            path: e.path().map_or_else(|| root.clone(), Path::to_path_buf),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("walk loop")),
        })?;
        let kind = entry.file_type();
        if !kind.is_file() && !kind.is_dir() {
            // A FIFO would block, a device never ends, a symbolic link leads out
            // of the dataset folder: never skipped quietly, never read.
            crate::input_limits::check_regular(entry.path(), "a file under records/", &kind)?;
        }
        if kind.is_file()
            && entry.path().extension().is_some_and(|x| x == "ndjson")
            && let Ok(rel) = entry.path().strip_prefix(dataset_dir)
        {
            files.push(rel.to_path_buf());
        }
    }
    files.sort_by_cached_key(|p| {
        p.components()
            .map(|c| {
                let name = c.as_os_str().to_string_lossy().into_owned();
                let num = chunk_number(&name);
                (num.is_none(), num.unwrap_or(0), name)
            })
            .collect::<Vec<_>>()
    });
    Ok(files)
}

/// The `N` of `chunk-N.ndjson`.
pub fn chunk_number(name: &str) -> Option<u64> {
    name.strip_prefix("chunk-")?
        .strip_suffix(".ndjson")?
        .parse()
        .ok()
}

/// A relative path written with `/`.
pub fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// One non-blank line of a chunk, with where it came from.
#[derive(Debug)]
pub struct PackLine {
    /// The chunk, relative to the dataset folder, with `/`.
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// The raw line (no newline).
    pub text: String,
}

impl PackLine {
    /// One raw chunk line as read up to and including its `\n`: trailing `\n` and
    /// `\r` are cut, a blank line (ASCII whitespace only) is `None`, and the text
    /// must be UTF-8. This is how [`PackReader::for_each_line`] turns bytes into
    /// lines; with [`PackLine::parse`] it is the whole per-line read path.
    pub fn from_bytes(
        file: &str,
        line: u64,
        mut bytes: Vec<u8>,
    ) -> std::result::Result<Option<PackLine>, std::string::FromUtf8Error> {
        while matches!(bytes.last(), Some(b'\n' | b'\r')) {
            bytes.pop();
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        Ok(Some(PackLine {
            file: file.to_owned(),
            line,
            text: String::from_utf8(bytes)?,
        }))
    }

    /// Parse the line into a record, mapping failures to errors naming file/line.
    pub fn parse(&self, dataset_dir: &Path) -> Result<ParsedLine> {
        ExchangeRecord::parse_line(&self.text).map_err(|e| self.error(dataset_dir, e))
    }

    /// Turn a parse failure into this crate's error.
    pub fn error(&self, dataset_dir: &Path, e: LineError) -> Error {
        line_error(dataset_dir.join(&self.file), self.line, e)
    }
}

/// A parse failure of line `line` of the chunk at `path`, as this crate's error.
pub(crate) fn line_error(path: PathBuf, line: u64, e: LineError) -> Error {
    match e {
        LineError::Json(source) => Error::Json { path, line, source },
        LineError::Record {
            exchange_id,
            reason,
        } => Error::Record {
            path,
            line,
            exchange_id,
            reason,
        },
    }
}

/// Streams every line of a pack's chunks, in order.
#[derive(Debug)]
pub struct PackReader {
    dir: PathBuf,
    files: Vec<PathBuf>,
    /// Held while the reader lives: no writer changes the pack meanwhile.
    _lock: super::PackLock,
}

impl PackReader {
    /// List the chunks of the dataset folder `dir`, under the pack's read lock
    /// (waiting for a live writer; a killed writer's unindexed chunks are removed
    /// first, they are not part of the pack).
    pub fn open(dir: &Path) -> Result<Self> {
        let lock = super::PackLock::reader(dir)?;
        Ok(PackReader {
            dir: dir.to_path_buf(),
            files: chunk_files(dir)?,
            _lock: lock,
        })
    }

    /// The chunk files, relative, in read order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Total size of the chunk files in bytes (for progress bars).
    pub fn total_bytes(&self) -> u64 {
        self.files
            .iter()
            .filter_map(|f| std::fs::metadata(self.dir.join(f)).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Hand every non-blank line to `each`, in order. Lines are split on `\n` only
    /// (a raw U+2028 inside a string is not a line break); a trailing `\r` is cut.
    pub fn for_each_line(&self, mut each: impl FnMut(PackLine) -> Result<()>) -> Result<()> {
        self.each_file(|rel, path| {
            let io = |source| Error::Io {
                path: path.to_path_buf(),
                source,
            };
            let file = std::fs::File::open(path).map_err(io)?;
            let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
            let name = slash_path(rel);
            let mut buf = Vec::with_capacity(4096);
            let mut line = 0u64;
            let limit = crate::input_limits::get().line;
            loop {
                if crate::input_limits::read_line(&mut reader, &mut buf, limit, path, || {
                    format!("chunk line {}", line + 1)
                })? == 0
                {
                    break;
                }
                line += 1;
                let text = match PackLine::from_bytes(&name, line, std::mem::take(&mut buf)) {
                    Ok(Some(l)) => l,
                    Ok(None) => continue,
                    Err(e) => return Err(not_utf8(path, line, &e.utf8_error())),
                };
                each(text)?;
            }
            Ok(())
        })
    }

    /// [`PackReader::for_each_line`] without a copy of each line: a chunk is
    /// read in blocks of [`BLOCK_BYTES`] that end at a line end, and each line is
    /// handed on as a range of its block ([`SharedLine`]). The lines, their
    /// numbers and the limit on a line's length are the same; whether a line is
    /// UTF-8 is checked by whoever takes its text ([`SharedLine::text`], the same
    /// error), so that a pipeline's workers do it, not its reader.
    ///
    /// Copying each line out of the file's buffer into a string of its own,
    /// and allocating that string, took about 0.5 s of the reader thread's
    /// CPU in a 1M-record no-op sync; with shared lines the no-op took 0.915 of
    /// the time (2.30 s against 2.53 s, CPU 0.916, nine alternated pairs).
    pub(crate) fn for_each_shared_line(
        &self,
        each: impl FnMut(SharedLine) -> Result<()>,
    ) -> Result<()> {
        self.shared_lines(BLOCK_BYTES, crate::input_limits::get().line, each)
    }

    /// [`PackReader::for_each_shared_line`] with blocks of `block_bytes` and
    /// lines of at most `limit` bytes.
    fn shared_lines(
        &self,
        block_bytes: usize,
        limit: u64,
        mut each: impl FnMut(SharedLine) -> Result<()>,
    ) -> Result<()> {
        self.each_file(|rel, path| {
            let mut file = std::fs::File::open(path).map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
            let name: Arc<str> = slash_path(rel).into();
            let full: Arc<Path> = path.into();
            // The start of a line the previous block cut off.
            let mut carry: Vec<u8> = Vec::new();
            let mut line = 0u64;
            loop {
                // A long line grows its block by doubling, never past the
                // limit and one byte (what `read_line` holds at most).
                let room = block_bytes
                    .max(carry.len().saturating_mul(2))
                    .min(usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX));
                let mut bytes = Vec::with_capacity(room);
                bytes.append(&mut carry);
                let eof = fill(&mut file, &mut bytes, path)?;
                let cut = if eof {
                    bytes.len()
                } else if let Some(i) = memchr::memrchr(b'\n', &bytes) {
                    i + 1
                } else {
                    // No line end in the whole block: one long line, read on
                    // into a larger block, up to the line limit.
                    if bytes.len() as u64 > limit {
                        return Err(line_too_long(path, line + 1, limit));
                    }
                    carry = bytes;
                    continue;
                };
                carry = bytes.get(cut..).map(<[u8]>::to_vec).unwrap_or_default();
                bytes.truncate(cut);
                let block = Arc::new(Block {
                    file: Arc::clone(&name),
                    path: Arc::clone(&full),
                    bytes,
                });
                let mut start = 0;
                while let Some(rest) = block.bytes.get(start..).filter(|r| !r.is_empty()) {
                    let next =
                        memchr::memchr(b'\n', rest).map_or(block.bytes.len(), |i| start + i + 1);
                    line += 1;
                    let raw = rest.get(..next - start).unwrap_or_default();
                    let body = raw.strip_suffix(b"\n").unwrap_or(raw);
                    if body.len() as u64 > limit {
                        return Err(line_too_long(path, line, limit));
                    }
                    let mut end = start + body.len();
                    while end > start && block.bytes.get(end - 1) == Some(&b'\r') {
                        end -= 1;
                    }
                    let blank = block
                        .bytes
                        .get(start..end)
                        .is_none_or(|t| t.iter().all(u8::is_ascii_whitespace));
                    if !blank {
                        each(SharedLine {
                            block: Arc::clone(&block),
                            start,
                            end,
                            line,
                        })?;
                    }
                    start = next;
                }
                if eof {
                    return Ok(());
                }
            }
        })
    }

    /// Run `each` on every chunk file (relative path, full path) in order,
    /// keeping [`READ_AHEAD_BYTES`] of the files after it asked for ahead.
    fn each_file(&self, mut each: impl FnMut(&Path, &Path) -> Result<()>) -> Result<()> {
        // The files asked for ahead of the one read, by size, and their sum.
        let mut ahead = std::collections::VecDeque::new();
        let mut window = 0u64;
        let mut next = 0usize;
        for rel in &self.files {
            match ahead.pop_front() {
                Some(size) => window -= size,
                None => {
                    read_ahead(&self.dir.join(rel));
                    next += 1;
                }
            }
            while window < READ_AHEAD_BYTES
                && let Some(file) = self.files.get(next)
            {
                let size = read_ahead(&self.dir.join(file));
                ahead.push_back(size);
                window += size;
                next += 1;
            }
            each(rel, &self.dir.join(rel))?;
        }
        Ok(())
    }
}

/// Bytes of a chunk read at a time by [`PackReader::for_each_shared_line`].
/// Larger blocks raised the peak memory of a 1M no-op sync (three runs each:
/// 64 and 256 KiB 239-263 MiB, as before; 1 MiB 308-332 MiB; 4 MiB 375-438
/// MiB) for no gain in time (2.21-2.27 s at every size).
const BLOCK_BYTES: usize = 256 << 10;

/// A block of a chunk file ending at a line end (or at the file's end), shared
/// by the lines read from it.
#[derive(Debug)]
struct Block {
    /// The chunk, relative to the dataset folder, with `/`.
    file: Arc<str>,
    /// The chunk's path, for errors.
    path: Arc<Path>,
    bytes: Vec<u8>,
}

/// One non-blank line of a chunk ([`PackReader::for_each_shared_line`]): a
/// range of the block it was read in (no trailing `\n` or `\r`).
#[derive(Debug, Clone)]
pub(crate) struct SharedLine {
    block: Arc<Block>,
    start: usize,
    end: usize,
    line: u64,
}

impl SharedLine {
    /// The line's text; not UTF-8 is the error [`PackReader::for_each_line`]
    /// gives for it.
    pub(crate) fn text(&self) -> Result<&str> {
        let bytes = self
            .block
            .bytes
            .get(self.start..self.end)
            .unwrap_or_default();
        std::str::from_utf8(bytes).map_err(|e| not_utf8(&self.block.path, self.line, &e))
    }

    /// The same line as a [`PackLine`] of its own (its text copied).
    pub(crate) fn to_pack_line(&self) -> Result<PackLine> {
        Ok(PackLine {
            file: self.block.file.to_string(),
            line: self.line,
            text: self.text()?.to_owned(),
        })
    }

    /// The chunk, relative to the dataset folder, with `/`.
    pub(crate) fn file(&self) -> &str {
        &self.block.file
    }

    /// 1-based line number.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The line's length in bytes (without its `\n`).
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }
}

/// Read from `file` into `bytes` until its capacity is reached or the file
/// ends; `true` when it ended.
fn fill(file: &mut std::fs::File, bytes: &mut Vec<u8>, path: &Path) -> Result<bool> {
    use std::io::Read;
    let room = (bytes.capacity() - bytes.len()) as u64;
    let n = file
        .by_ref()
        .take(room)
        .read_to_end(bytes)
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok((n as u64) < room)
}

/// A chunk line that is not UTF-8.
fn not_utf8(path: &Path, line: u64, e: &std::str::Utf8Error) -> Error {
    Error::Record {
        path: path.to_path_buf(),
        line,
        exchange_id: None,
        reason: format!("not valid UTF-8 at byte {}", e.valid_up_to()),
    }
}

/// Chunk line `line` of `path`, longer than `limit` (the error `read_line` gives).
fn line_too_long(path: &Path, line: u64, limit: u64) -> Error {
    crate::input_limits::line_too_long(path, format!("chunk line {line}"), limit)
}

/// How much of the pack [`PackReader::for_each_line`] keeps asked for ahead of
/// the file it reads. A pack out of the page cache (copied, read after a
/// reboot, pushed out by other work), 1M records, paired, 3 runs each: import
/// 14.1 s with no read-ahead, 12.4 s with 64 MB ahead; 256 MB was no better.
/// The disk's queue also holds the store's write-back (256 MiB at a time, see
/// `fabric_store`), and a read queued behind it waits: a few files ahead were
/// not enough (13.8 s).
const READ_AHEAD_BYTES: u64 = 64 << 20;

/// Ask the kernel to read the file at `path` into the page cache in the
/// background, and return its size (0 when it cannot be opened: the real open
/// then reports why). Without it, a pack out of the cache costs a wait for the
/// disk at the start of every chunk file.
fn read_ahead(path: &Path) -> u64 {
    let Ok(file) = std::fs::File::open(path) else {
        return 0;
    };
    #[cfg(target_os = "linux")]
    let _ = rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::WillNeed);
    file.metadata().map_or(0, |m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a reader gave: each line as (file, number, text), or its error.
    fn lines_of(
        read: impl FnOnce(&mut dyn FnMut(String, u64, String)) -> Result<()>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let res = read(&mut |file, line, text| out.push(format!("{file}:{line}:{text:?}")));
        if let Err(e) = res {
            out.push(format!("error: {e}"));
        }
        out
    }

    /// A pack folder whose chunks hold `chunks`, and its reader.
    fn pack(
        chunks: &[Vec<u8>],
    ) -> std::result::Result<(tempfile::TempDir, PackReader), TestCaseError> {
        let fail = |e: &dyn std::fmt::Display| TestCaseError::fail(e.to_string());
        let dir = tempfile::tempdir().map_err(|e| fail(&e))?;
        let day = dir.path().join("records/2024/2024-01-15");
        std::fs::create_dir_all(&day).map_err(|e| fail(&e))?;
        for (i, bytes) in chunks.iter().enumerate() {
            std::fs::write(day.join(format!("chunk-{:04}.ndjson", i + 1)), bytes)
                .map_err(|e| fail(&e))?;
        }
        let reader = PackReader::open(dir.path()).map_err(|e| fail(&e))?;
        Ok((dir, reader))
    }

    fn by_line(reader: &PackReader) -> Vec<String> {
        lines_of(|out| {
            reader.for_each_line(|l| {
                out(l.file, l.line, l.text);
                Ok(())
            })
        })
    }

    fn shared(reader: &PackReader, block: usize, limit: u64) -> Vec<String> {
        lines_of(|out| {
            reader.shared_lines(block, limit, |l| {
                let text = l.text()?.to_owned();
                out(l.file().to_owned(), l.line(), text);
                Ok(())
            })
        })
    }

    /// Bytes that make the cases a chunk reader must get right: line ends,
    /// carriage returns, blank lines, multi-byte and invalid UTF-8.
    fn chunk() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop::sample::select(vec![
                b'\n', b'\n', b'\r', b' ', b'\t', b'{', b'a', b'z', 0xc3, 0xa9, 0xff,
            ]),
            0..120,
        )
    }

    proptest! {
        /// Blocks of any size, lines cut anywhere: the same lines, numbers and
        /// texts as the line-at-a-time reader, and the same first error.
        #[test]
        fn shared_lines_are_the_lines(chunks in prop::collection::vec(chunk(), 1..4), block in 1usize..40) {
            let (_dir, reader) = pack(&chunks)?;
            prop_assert_eq!(shared(&reader, block, crate::input_limits::get().line), by_line(&reader));
        }

        /// A line past the limit is the same error, naming the same line, and a
        /// line at the limit is read.
        #[test]
        fn a_line_past_the_limit_is_the_same_error(
            before in 0usize..5, long in 1usize..60, limit in 1u64..30, block in 1usize..16,
        ) {
            let mut bytes = b"{}\n".repeat(before);
            bytes.extend(std::iter::repeat_n(b'x', long));
            bytes.extend_from_slice(b"\n{}\n");
            let (dir, reader) = pack(std::slice::from_ref(&bytes))?;
            let got = shared(&reader, block, limit);
            // What `read_line` says of the same bytes under the same limit.
            let path = dir.path().join("records/2024/2024-01-15/chunk-0001.ndjson");
            let mut input = std::io::BufReader::new(bytes.as_slice());
            let mut buf = Vec::new();
            let mut expected = Vec::new();
            let mut line = 0u64;
            loop {
                match crate::input_limits::read_line(&mut input, &mut buf, limit, &path, || format!("chunk line {}", line + 1)) {
                    Ok(0) => break,
                    Ok(_) => {
                        line += 1;
                        let text = String::from_utf8_lossy(buf.strip_suffix(b"\n").unwrap_or(&buf)).into_owned();
                        expected.push(format!("records/2024/2024-01-15/chunk-0001.ndjson:{line}:{text:?}"));
                    }
                    Err(e) => {
                        expected.push(format!("error: {e}"));
                        break;
                    }
                }
            }
            prop_assert_eq!(got, expected);
        }
    }
}
