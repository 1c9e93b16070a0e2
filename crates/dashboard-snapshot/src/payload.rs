//! Oracle payloads held as the JSON text they were read from (a range of the
//! shared document text), never as a JSON tree: a section of a million students
//! costs its text once. Projections read a payload element by element; the bundle
//! prints it with its keys sorted as it walks the text.

use std::ops::Range;
use std::sync::Arc;

use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// One oracle payload: valid JSON text whose numbers are already checked (no float
/// overflows) and normalised (integer `-0` spelled `0`).
#[derive(Clone)]
pub struct Payload(Text);

#[derive(Clone)]
enum Text {
    /// A range of a document held once for all its payloads.
    Shared(Arc<String>, Range<usize>),
    /// Text of its own.
    Owned(Box<RawValue>),
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
            Text::Owned(raw) => raw.get(),
        }
    }

    /// The payload as a JSON tree (built on each call).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.text()).unwrap_or(Value::Null)
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        let raw = serde_json::value::to_raw_value(&value)
            .unwrap_or_else(|_| RawValue::from_string("null".to_owned()).unwrap_or_default());
        Payload(Text::Owned(raw))
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
        Box::<RawValue>::deserialize(d).map(|raw| Payload(Text::Owned(raw)))
    }
}

/// The elements of a JSON array text (`None` when it is not an array).
pub(crate) fn elements(text: &str) -> Option<Vec<&RawValue>> {
    serde_json::from_str(text).ok()
}

/// A JSON text serialized with its object keys in code-point order (a key given
/// twice keeps its last value, as a JSON tree would), read as it is printed.
pub(crate) struct SortedText<'a>(pub(crate) &'a str);

impl Serialize for SortedText<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.0.trim_start();
        match text.as_bytes().first() {
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_str(text).map_err(S::Error::custom)?;
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&SortedText(item.get()))?;
                }
                seq.end()
            }
            Some(b'{') => {
                let entries = sorted_entries(text).map_err(S::Error::custom)?;
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(&key, &SortedText(value.get()))?;
                }
                map.end()
            }
            _ => {
                let scalar: Value = serde_json::from_str(text).map_err(S::Error::custom)?;
                scalar.serialize(s)
            }
        }
    }
}

/// The entries of a JSON object text, sorted by key, the last of a repeated key kept.
fn sorted_entries(text: &str) -> serde_json::Result<Vec<(String, &RawValue)>> {
    let pairs: Entries<'_> = serde_json::from_str(text)?;
    let mut pairs = pairs.0;
    // Stable: among equal keys the later one stays last, and wins the dedup.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(String, &RawValue)> = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        match out.last_mut() {
            Some(last) if last.0 == key => last.1 = value,
            _ => out.push((key, value)),
        }
    }
    Ok(out)
}

/// An object's entries in document order, values borrowed unparsed.
pub(crate) struct Entries<'a>(pub(crate) Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Entries<'de>, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(Visit)
    }
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
