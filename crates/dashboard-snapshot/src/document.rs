//! The oracle results document read without a JSON tree of its payloads: the
//! envelope is read as JSON values, each `payload` as the range of the document
//! text it spans. Numbers are checked as [`crate::input`] checks them in a tree.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::payload::{Parts, Payload, parts};

/// The document: its top-level entries (`results` as a placeholder) and results.
pub(crate) enum Document {
    /// A JSON object.
    Object {
        /// Every top-level entry but the results (which hold `null`).
        map: Map<String, Value>,
        /// The last `results` entry.
        results: Option<Results>,
    },
    /// Anything else.
    Other(Value),
}

/// The `results` entry.
pub(crate) enum Results {
    /// An array of results.
    List(Vec<ResultDoc>),
    /// Anything else.
    Other(Value),
}

/// One result envelope.
pub(crate) enum ResultDoc {
    /// An object: its entries (`payload` as a `null` placeholder) and its payload.
    Object(Map<String, Value>, Option<Payload>),
    /// Anything else.
    Other(Value),
}

/// Read `text` (handed over whole: payloads are ranges of it).
pub(crate) fn read(what: &'static str, text: String) -> Result<(Arc<String>, Document)> {
    let doc = Arc::new(text);
    let base = doc.as_ptr() as usize;
    let json = |source| crate::Error::Json { what, source };
    // The whole text is checked to be JSON first, so that an error names its place
    // in the document.
    serde_json::from_str::<serde::de::IgnoredAny>(&doc).map_err(json)?;
    // Text is not held to the recursion limit of a tree; a deep document is
    // read as one, to be refused as it always was.
    if depth(&doc) > 100 {
        serde_json::from_str::<Value>(&doc).map_err(json)?;
    }
    let raw = parse_raw(&doc).map_err(json)?;
    let range = |r: &str| {
        let start = (r.as_ptr() as usize).saturating_sub(base);
        start..start + r.len()
    };
    let mut out = match raw {
        RawDoc::Other(v) => Document::Other(v),
        RawDoc::Object(map, results) => Document::Object {
            map,
            results: results.map(|r| match r {
                RawResults::Other(v) => Results::Other(v),
                RawResults::List(list) => Results::List(
                    list.into_iter()
                        .map(|item| match item {
                            RawResult::Other(v) => ResultDoc::Other(v),
                            RawResult::Object(m, p) => ResultDoc::Object(
                                m,
                                p.map(|p| Payload::shared(Arc::clone(&doc), range(p))),
                            ),
                        })
                        .collect(),
                ),
            }),
        },
    };
    check(what, &mut out)?;
    Ok((doc, out))
}

/// The numbers of the document, checked and normalised as in a tree: the envelope
/// first, then each result in order.
fn check(what: &'static str, doc: &mut Document) -> Result<()> {
    let mut pointer = String::new();
    let (map, results) = match doc {
        Document::Other(v) => return crate::input::check_numbers(what, v, &mut pointer),
        Document::Object { map, results } => (map, results),
    };
    for (key, value) in map.iter_mut() {
        let mut pointer = format!("/{}", escape(key));
        crate::input::check_numbers(what, value, &mut pointer)?;
    }
    let list = match results {
        None => return Ok(()),
        Some(Results::Other(v)) => {
            return crate::input::check_numbers(what, v, &mut "/results".to_owned());
        }
        Some(Results::List(list)) => list,
    };
    for (i, item) in list.iter_mut().enumerate() {
        let at = format!("/results/{i}");
        let (map, payload) = match item {
            ResultDoc::Other(v) => {
                crate::input::check_numbers(what, v, &mut at.clone())?;
                continue;
            }
            ResultDoc::Object(map, payload) => (map, payload),
        };
        for (key, value) in map.iter_mut() {
            crate::input::check_numbers(what, value, &mut format!("{at}/{}", escape(key)))?;
        }
        if let Some(p) = payload
            && !numbers_plain(p.text())
        {
            let mut value = p.to_value();
            crate::input::check_numbers(what, &mut value, &mut format!("{at}/payload"))?;
            *p = Payload::from(value);
        }
    }
    Ok(())
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The deepest nesting of arrays and objects in a JSON text.
fn depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Whether every number of a JSON text is fine as spelled: no float that
/// overflows and no integer `-0` (a lexical scan; the text is valid JSON).
fn numbers_plain(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (mut i, mut in_string) = (0, false);
    while let Some(&b) = bytes.get(i) {
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while bytes
                .get(i)
                .is_some_and(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            {
                i += 1;
            }
            let token = text.get(start..i).unwrap_or("");
            if token == "-0" {
                return false;
            }
            let exponent = token.bytes().any(|c| matches!(c, b'e' | b'E'));
            let float = exponent || token.contains('.');
            if float
                && (exponent || token.len() > 300)
                && !token.parse::<f64>().is_ok_and(f64::is_finite)
            {
                return false;
            }
            continue;
        }
        i += 1;
    }
    true
}

enum RawDoc<'a> {
    Object(Map<String, Value>, Option<RawResults<'a>>),
    Other(Value),
}

enum RawResults<'a> {
    List(Vec<RawResult<'a>>),
    Other(Value),
}

enum RawResult<'a> {
    Object(Map<String, Value>, Option<&'a str>),
    Other(Value),
}

/// An object's entries (its special entry `null`) and that entry read apart.
type Entry<T> = (Map<String, Value>, Option<T>);

/// Read `text` as an object whose entry `special` is read by `read_special` (the
/// last one kept; the map holds `null` in its place), or as a plain value.
fn object_or_value<'a, T>(
    text: &'a str,
    special: &str,
    read_special: impl Fn(&'a str) -> serde_json::Result<T>,
) -> serde_json::Result<Result<Entry<T>, Value>> {
    let Some(Parts::Object(entries)) = parts(text) else {
        return serde_json::from_str(text).map(Err);
    };
    let mut map = Map::new();
    let mut held = None;
    for (key, raw) in entries {
        if key == special {
            held = Some(read_special(raw)?);
            map.insert(key, Value::Null);
        } else {
            map.insert(key, serde_json::from_str(raw)?);
        }
    }
    Ok(Ok((map, held)))
}

fn parse_raw(text: &str) -> serde_json::Result<RawDoc<'_>> {
    Ok(match object_or_value(text, "results", parse_results)? {
        Ok((map, results)) => RawDoc::Object(map, results),
        Err(v) => RawDoc::Other(v),
    })
}

fn parse_results(text: &str) -> serde_json::Result<RawResults<'_>> {
    let Some(Parts::Array(items)) = parts(text) else {
        return serde_json::from_str(text).map(RawResults::Other);
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(match object_or_value(item, "payload", Ok)? {
            Ok((map, payload)) => RawResult::Object(map, payload),
            Err(v) => RawResult::Other(v),
        });
    }
    Ok(RawResults::List(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_are_told_apart() {
        assert!(numbers_plain(r#"[1, -1, 0.5, 1e5, "-0", {"a": "1e999"}]"#));
        assert!(!numbers_plain("[-0]"));
        assert!(!numbers_plain(r#"{"a": 1e999}"#));
        assert!(!numbers_plain("-1E400"));
        assert!(numbers_plain(r#""\"-0""#));
        assert_eq!(depth(r#"[{"a": "[[["}, [[]]]"#), 3);
    }
}
