//! `index.jsonl`: one line per distinct content hash; the line format.
//!
//! Reading the file belongs to the caller (exchange-sync's `pack::read_index`).

use std::borrow::Cow;

use serde_json::Value;

use crate::canonical::write_escaped;
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
}
