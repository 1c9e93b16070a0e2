//! `index.jsonl`: one line per distinct content hash.

use std::borrow::Cow;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::canonical::write_escaped;
use crate::error::{Error, Result};
use crate::hash::ContentHash;

/// The index file name inside a dataset folder.
pub const INDEX_FILE: &str = "index.jsonl";

/// One index line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// `h`: the content hash (64 hex).
    pub h: String,
    /// `k`: `source_system|entity_type|natural_key`.
    pub k: String,
    /// `id`: the `exchange_id` of the first record with this hash.
    pub id: String,
    /// `t`: that record's `observed_at_utc` (reference form) or `""`.
    pub t: String,
    /// `f`: the last chunk holding this hash, relative, with `/`.
    pub f: String,
}

impl IndexEntry {
    /// The line as the reference writes it (no newline).
    pub fn to_line(&self) -> String {
        let mut out = String::with_capacity(64 + self.h.len() + self.k.len() + self.f.len() + 64);
        out.push_str("{\"h\": ");
        write_escaped(&mut out, &self.h);
        out.push_str(", \"k\": ");
        write_escaped(&mut out, &self.k);
        out.push_str(", \"id\": ");
        write_escaped(&mut out, &self.id);
        out.push_str(", \"t\": ");
        write_escaped(&mut out, &self.t);
        out.push_str(", \"f\": ");
        write_escaped(&mut out, &self.f);
        out.push('}');
        out
    }

    /// Parse one line; `None` when it is not JSON or lacks `h`, `k`, `id` or `t`
    /// (the reference skips such lines). `f` is read with `\` turned into `/`.
    pub fn parse(line: &str) -> Option<Self> {
        // Fast path: the five fields borrowed from the line (no `Value` tree, one
        // index line per record is read at every sync). Anything unusual (a
        // missing or non-string field, a duplicate key, bad JSON) goes through
        // the general reading below, which decides.
        if let Some(e) = Borrowed::read(line) {
            return Some(IndexEntry {
                h: e.h.into_owned(),
                k: e.k.into_owned(),
                id: e.id.into_owned(),
                t: e.t.into_owned(),
                f: match e.f {
                    Some(f) if f.contains('\\') => f.replace('\\', "/"),
                    Some(f) => f.into_owned(),
                    None => String::new(),
                },
            });
        }
        Self::parse_general(line)
    }

    /// The hash [`IndexEntry::parse`] reads from `line`, parsed, without the
    /// other fields' copies; `None` when it skips the line or `h` is not 64 hex.
    pub fn hash_of(line: &str) -> Option<ContentHash> {
        if let Some(e) = Borrowed::read(line) {
            return e.h.parse().ok();
        }
        Self::parse_general(line)?.h.parse().ok()
    }

    /// [`IndexEntry::parse`] through a `serde_json::Value` (the reference's reading).
    fn parse_general(line: &str) -> Option<Self> {
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(line) else {
            return None;
        };
        let s = |k: &str| map.get(k).and_then(Value::as_str).map(String::from);
        Some(IndexEntry {
            h: s("h")?,
            k: s("k")?,
            id: s("id")?,
            t: s("t")?,
            f: s("f").unwrap_or_default().replace('\\', "/"),
        })
    }
}

/// An index line read without building a `Value` (unknown keys are skipped; a
/// duplicate or non-string field is an error, left to the general reading).
#[derive(serde::Deserialize)]
struct Borrowed<'a> {
    #[serde(borrow)]
    h: Cow<'a, str>,
    #[serde(borrow)]
    k: Cow<'a, str>,
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    t: Cow<'a, str>,
    #[serde(borrow, default)]
    f: Option<Cow<'a, str>>,
}

impl<'a> Borrowed<'a> {
    /// `line` read the fast way; `None` leaves it to the general reading.
    fn read(line: &'a str) -> Option<Self> {
        // (A derived struct also reads a JSON array: only objects take this path.)
        if !line.trim_start().starts_with('{') {
            return None;
        }
        serde_json::from_str(line).ok()
    }
}

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
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
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
    fn fast_and_general_readings_agree() {
        let lines = [
            r#"{"h": "ab", "k": "s|e|k", "id": "x", "t": "", "f": "records/2024/a.ndjson"}"#,
            r#"{"h": "ab", "k": "s|e|\u00e9", "id": "x", "t": "t", "f": "records\\2024\\a.ndjson"}"#,
            r#"{"h": "ab", "k": "k", "id": "x", "t": "t"}"#,
            r#"{"h": "ab", "k": "k", "id": "x", "t": "t", "f": null}"#,
            r#"{"h": "ab", "k": "k", "id": "x", "t": "t", "f": 3}"#,
            r#"{"h": "ab", "h": "cd", "k": "k", "id": "x", "t": "t", "f": "a"}"#,
            r#"{"h": "ab", "k": "k", "id": "x", "t": 1, "f": "a"}"#,
            r#"{"h": "ab", "k": "k", "id": "x", "f": "a"}"#,
            r#"{"h": "ab", "k": "k", "id": "x", "t": "t", "f": "a", "extra": [1, 2.0]}"#,
            r#"["ab", "k", "x", "t", "a"]"#,
            r#"{"h": "ab""#,
            "null",
        ];
        for line in lines {
            assert_eq!(
                IndexEntry::parse(line),
                IndexEntry::parse_general(line),
                "{line}"
            );
        }
    }

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
