//! Reading a pack's chunks in order.

use std::path::{Path, PathBuf};

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
        let path = dataset_dir.join(&self.file);
        match e {
            LineError::Json(source) => Error::Json {
                path,
                line: self.line,
                source,
            },
            LineError::Record {
                exchange_id,
                reason,
            } => Error::Record {
                path,
                line: self.line,
                exchange_id,
                reason,
            },
        }
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
            let path = self.dir.join(rel);
            let io = |source| Error::Io {
                path: path.clone(),
                source,
            };
            let file = std::fs::File::open(&path).map_err(io)?;
            let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
            let name = slash_path(rel);
            let mut buf = Vec::with_capacity(4096);
            let mut line = 0u64;
            let limit = crate::input_limits::get().line;
            loop {
                if crate::input_limits::read_line(&mut reader, &mut buf, limit, &path, || {
                    format!("chunk line {}", line + 1)
                })? == 0
                {
                    break;
                }
                line += 1;
                let text = match PackLine::from_bytes(&name, line, std::mem::take(&mut buf)) {
                    Ok(Some(l)) => l,
                    Ok(None) => continue,
                    Err(e) => {
                        return Err(Error::Record {
                            path: path.clone(),
                            line,
                            exchange_id: None,
                            reason: format!(
                                "not valid UTF-8 at byte {}",
                                e.utf8_error().valid_up_to()
                            ),
                        });
                    }
                };
                each(text)?;
            }
        }
        Ok(())
    }
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
