//! Reading `index.jsonl` (the line format is [`exchange_core::index`]).

use std::io::BufRead;
use std::path::{Path, PathBuf};

use exchange_core::index::{INDEX_FILE, IndexEntry};

use crate::error::{Error, Result};
use crate::hash::ContentHash;

/// Stream the index of `dataset_dir` to `each` as `(line number, entry or the
/// raw line when unreadable)`. A missing index is empty.
pub fn read_index(
    dataset_dir: &Path,
    each: impl FnMut(u64, std::result::Result<IndexEntry, String>) -> Result<()>,
) -> Result<()> {
    match open_index(dataset_dir)? {
        Some((file, path)) => read_index_from(file, &path, each),
        None => Ok(()),
    }
}

/// The content hash of each line of the index of `dataset_dir` that
/// [`IndexEntry::parse`] reads, in file order, without building the entries
/// (a sync that only compares hashes reads a million lines). Lines it skips, and
/// hashes that are not 64 hex, are skipped. A missing index is empty.
pub fn read_index_hashes(dataset_dir: &Path, mut each: impl FnMut(ContentHash)) -> Result<()> {
    let Some((file, path)) = open_index(dataset_dir)? else {
        return Ok(());
    };
    for_each_line(file, &path, |_, line| {
        if let Ok(line) = line
            && let Some(h) = IndexEntry::hash_of(line)
        {
            each(h);
        }
        Ok(())
    })
}

fn open_index(dataset_dir: &Path) -> Result<Option<(std::io::BufReader<std::fs::File>, PathBuf)>> {
    let path = dataset_dir.join(INDEX_FILE);
    match std::fs::File::open(&path) {
        Ok(f) => Ok(Some((std::io::BufReader::with_capacity(1 << 16, f), path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { path, source }),
    }
}

/// Stream index lines from `reader` (the body of [`read_index`], usable on bytes
/// in memory); `path` names the source in I/O errors. Lines are split on `\n`, a
/// trailing `\r` is cut and blank lines are skipped. A line that is not UTF-8, not
/// JSON or lacks a key goes to `each` as `Err` with its text (lossy), never stopping
/// the read (skips such lines).
pub fn read_index_from(
    reader: impl BufRead,
    path: &Path,
    mut each: impl FnMut(u64, std::result::Result<IndexEntry, String>) -> Result<()>,
) -> Result<()> {
    for_each_line(reader, path, |line_no, line| match line {
        Err(bytes) => each(line_no, Err(String::from_utf8_lossy(bytes).into_owned())),
        Ok(line) => match IndexEntry::parse(line) {
            Some(e) => each(line_no, Ok(e)),
            None => each(line_no, Err(line.to_owned())),
        },
    })
}

/// The non-blank lines of `reader` with their numbers: text, or the bytes when
/// they are not UTF-8.
fn for_each_line(
    mut reader: impl BufRead,
    path: &Path,
    mut each: impl FnMut(u64, std::result::Result<&str, &[u8]>) -> Result<()>,
) -> Result<()> {
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let limit = crate::input_limits::get().line;
    loop {
        let n = crate::input_limits::read_line(&mut reader, &mut buf, limit, path, || {
            format!("index line {}", line_no + 1)
        })?;
        if n == 0 {
            return Ok(());
        }
        line_no += 1;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        match std::str::from_utf8(&buf) {
            Ok(line) if line.trim().is_empty() => {}
            Ok(line) => each(line_no, Ok(line))?,
            Err(_) => each(line_no, Err(&buf))?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_the_hashes_of_the_entries() -> Result<()> {
        let h1 = "6c7a510600d0989e9ba3191a3feb6a1e359dfb365fbae3658ac7534df7971eac";
        let h2 = "bd62da47aac118ca0bc3c6d11b6db039c5b0000000000000000000000000abcd";
        let text = format!(
            "{{\"h\": \"{h1}\", \"k\": \"k\", \"id\": \"a\", \"t\": \"\"}}\r\n\
             \n\
             {{\"h\": \"{h2}\", \"k\": \"k\", \"id\": \"b\"}}\n\
             {{\"h\": \"not hex\", \"k\": \"k\", \"id\": \"c\", \"t\": \"\"}}\n\
             {{\"h\": \"{h2}\", \"h\": \"{h2}\", \"k\": \"k\", \"id\": \"d\", \"t\": \"\"}}\n\
             [\"{h1}\", \"k\", \"e\", \"\"]\n"
        );
        // And a line that is not UTF-8.
        let bytes = [text.as_bytes(), b"\xff{\"h\": 1}\n"].concat();
        let dir = tempfile::tempdir().map_err(|source| Error::Io {
            path: PathBuf::from("tempdir"),
            source,
        })?;
        std::fs::write(dir.path().join(INDEX_FILE), bytes).map_err(|source| Error::Io {
            path: dir.path().join(INDEX_FILE),
            source,
        })?;
        let mut from_entries = Vec::new();
        read_index(dir.path(), |_, entry| {
            if let Ok(Ok(h)) = entry.map(|e| e.h.parse::<ContentHash>()) {
                from_entries.push(h);
            }
            Ok(())
        })?;
        let mut hashes = Vec::new();
        read_index_hashes(dir.path(), |h| hashes.push(h))?;
        assert_eq!(hashes, from_entries);
        // The first line, and the duplicate-key line the general reading takes.
        assert_eq!(hashes.len(), 2, "{hashes:?}");
        let mut none = Vec::new();
        read_index_hashes(&dir.path().join("missing"), |h| none.push(h))?;
        assert!(none.is_empty());
        Ok(())
    }
}
