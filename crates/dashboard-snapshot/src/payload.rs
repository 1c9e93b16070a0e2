//! Oracle payloads held as the JSON text they were read from (a range of the
//! shared document text), never as a JSON tree: a section of a million students
//! costs its text once. Projections read a payload element by element; the bundle
//! prints it with its keys sorted as it walks the text.

use std::ops::Range;
use std::sync::Arc;

use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One oracle payload: valid JSON text whose numbers are already checked (no float
/// overflows) and normalised (integer `-0` spelled `0`).
#[derive(Clone)]
pub struct Payload(Text);

#[derive(Clone)]
enum Text {
    /// A range of a document held once for all its payloads.
    Shared(Arc<String>, Range<usize>),
    /// Text of its own.
    Owned(Box<str>),
}

impl Payload {
    /// `range` of `doc`, which must hold a whole JSON value.
    pub(crate) fn shared(doc: Arc<String>, range: Range<usize>) -> Self {
        Payload(Text::Shared(doc, range))
    }

    /// The JSON text.
    pub fn text(&self) -> &str {
        match &self.0 {
            Text::Shared(doc, range) => doc.get(range.clone()).unwrap_or("null"),
            Text::Owned(text) => text,
        }
    }

    /// The payload as a JSON tree (built on each call).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.text()).unwrap_or(Value::Null)
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        let text = serde_json::to_string(&value).unwrap_or_else(|_| "null".to_owned());
        Payload(Text::Owned(text.into_boxed_str()))
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

/// Equal when the JSON values are equal (whatever the spacing and key order).
impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text() || self.to_value() == other.to_value()
    }
}

impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SortedText(self.text()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(Payload::from)
    }
}

/// The immediate parts of a valid JSON text, found by a scan that tracks only
/// strings and nesting (the text was checked to be JSON when it was read).
pub(crate) enum Parts<'a> {
    /// An array's element texts.
    Array(Vec<&'a str>),
    /// An object's entries: key (decoded) and value text, in document order.
    Object(Vec<(String, &'a str)>),
}

fn json_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// The parts of `text`, `None` for a scalar (or text that is not JSON).
pub(crate) fn parts(text: &str) -> Option<Parts<'_>> {
    let t = text.trim_matches(json_ws);
    let open = *t.as_bytes().first()?;
    if !matches!(open, b'[' | b'{') || t.len() < 2 {
        return None;
    }
    let inner = t.get(1..t.len() - 1)?;
    let mut spans = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut start) = (0usize, false, false, 0usize);
    for (i, b) in inner.bytes().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                spans.push(inner.get(start..i)?.trim_matches(json_ws));
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = inner.get(start..)?.trim_matches(json_ws);
    if !last.is_empty() {
        spans.push(last);
    }
    if open == b'[' {
        return Some(Parts::Array(spans));
    }
    let mut entries = Vec::with_capacity(spans.len());
    for span in spans {
        let end = key_end(span)?;
        let key: String = serde_json::from_str(span.get(..end)?).ok()?;
        let value = span.get(end..)?.trim_start_matches(json_ws);
        let value = value.strip_prefix(':')?.trim_matches(json_ws);
        entries.push((key, value));
    }
    Some(Parts::Object(entries))
}

/// The end of the string that opens `span` (just past its closing quote).
fn key_end(span: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, b) in span.bytes().enumerate().skip(1) {
        if escaped {
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            return Some(i + 1);
        }
    }
    None
}

/// The elements of a JSON array text (`None` when it is not an array).
pub(crate) fn elements(text: &str) -> Option<Vec<&str>> {
    match parts(text)? {
        Parts::Array(items) => Some(items),
        Parts::Object(_) => None,
    }
}

/// A JSON text serialized with its object keys in code-point order (a key given
/// twice keeps its last value, as a JSON tree would), read as it is printed.
pub(crate) struct SortedText<'a>(pub(crate) &'a str);

impl Serialize for SortedText<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match parts(self.0) {
            Some(Parts::Array(items)) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&SortedText(item))?;
                }
                seq.end()
            }
            Some(Parts::Object(entries)) => {
                let entries = sorted(entries);
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(&key, &SortedText(value))?;
                }
                map.end()
            }
            None => {
                let scalar: Value = serde_json::from_str(self.0).map_err(S::Error::custom)?;
                scalar.serialize(s)
            }
        }
    }
}

/// Entries sorted by key, the last of a repeated key kept.
fn sorted(mut pairs: Vec<(String, &str)>) -> Vec<(String, &str)> {
    // Stable: among equal keys the later one stays last, and wins the dedup.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(String, &str)> = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        match out.last_mut() {
            Some(last) if last.0 == key => last.1 = value,
            _ => out.push((key, value)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(text: &str) -> String {
        serde_json::to_string(&SortedText(text)).unwrap_or_default()
    }

    #[test]
    fn sorted_text_prints_what_a_sorted_tree_prints() {
        let text = r#"{"b": [3, {"z": 1, "a": "\u00e9\n"}], "a": null, "b": 1.50, "c": 1e5}"#;
        let tree: Value = serde_json::from_str(text).unwrap_or_default();
        let want = serde_json::to_string(&crate::bundle::sort_keys(&tree)).unwrap_or_default();
        assert_eq!(sorted(text), want);
        assert_eq!(sorted(" [ ] "), "[]");
        assert_eq!(
            sorted(r#"{"a\"b" : "}", "c": [1, "]"] }"#),
            r#"{"a\"b":"}","c":[1,"]"]}"#
        );
        assert_eq!(sorted("\"x\""), "\"x\"");
    }

    #[test]
    fn payloads_compare_as_json() {
        let a = Payload::from(serde_json::json!({"a": 1, "b": [true]}));
        let doc = Arc::new(r#"xx{"b": [true], "a": 1}"#.to_owned());
        let len = doc.len();
        let b = Payload::shared(doc, 2..len);
        assert_eq!(a, b);
        assert_eq!(b.text(), r#"{"b": [true], "a": 1}"#);
    }
}
