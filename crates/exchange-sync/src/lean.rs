//! The import fast path: read a pack line into a tree that borrows from the line
//! (no `serde_json::Value`, no per-object hash map) and check it.
//!
//! [`check_line`] accepts a line only when it is sure the full parse
//! ([`crate::ExchangeRecord::parse_line`]) would accept it with the same values: in
//! every other case (bad JSON, `NaN` literals, a wrong type, a duplicate key, a bad
//! time, an out-of-scope record, a hash that does not match) it returns `None` and
//! the caller runs the full parse, which produces the error or the answer. So the
//! fast path can only save time, never change a result.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::hash::ContentHash;

/// The key serde_json (with `arbitrary_precision`) uses to hand a number's text
/// to `deserialize_any` visitors.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// A JSON string borrowed from the line when it holds no escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v)))
    }
}

/// A JSON value borrowed from its text. Numbers keep their text; objects keep
/// their entries in input order (duplicates included).
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits 64 bits (serde_json hands these over as values; their
    /// decimal form is their text).
    U64(u64),
    /// A negative integer that fits 64 bits.
    I64(i64),
    /// Any other number, as written.
    Num(Cow<'a, str>),
    /// A string.
    Str(Cow<'a, str>),
    /// An array.
    Arr(Vec<Node<'a>>),
    /// An object, entries in input order.
    Obj(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Node<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor(std::marker::PhantomData))
    }
}

struct NodeVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for NodeVisitor<'a> {
    type Value = Node<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Node::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Node::Bool(v))
    }

    // With `arbitrary_precision`, serde_json hands integers that fit 64 bits over
    // as such (their text is exactly the decimal form) and every other number as
    // a one-entry map (see `visit_map`). Kept as values: a record holds dozens of
    // them, and a string each was an allocation each.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Node::U64(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Node::I64(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Node::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Node::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Node::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element::<Node<'a>>()? {
            items.push(item);
        }
        Ok(Node::Arr(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some(first) = map.next_key::<Text<'a>>()? else {
            return Ok(Node::Obj(Vec::new()));
        };
        if first.0 == NUMBER_TOKEN {
            // A number (arbitrary_precision): its text is the only value.
            let text = map.next_value::<Text<'a>>()?.0;
            let number_like = !text.is_empty()
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
            if !number_like || map.next_key::<Text<'a>>()?.is_some() {
                return Err(de::Error::custom("not a number"));
            }
            return Ok(Node::Num(text));
        }
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(4));
        entries.push((first.0, map.next_value::<Node<'a>>()?));
        while let Some(k) = map.next_key::<Text<'a>>()? {
            entries.push((k.0, map.next_value::<Node<'a>>()?));
        }
        Ok(Node::Obj(entries))
    }
}

/// The envelope as the fast path reads it (unknown keys skipped; a duplicate
/// known key is an error, which sends the line to the full parse).
#[derive(Deserialize)]
struct Lean<'a> {
    #[serde(borrow)]
    exchange_id: Text<'a>,
    #[serde(borrow)]
    exchange_type: Text<'a>,
    #[serde(borrow)]
    source_system: Text<'a>,
    #[serde(borrow)]
    entity_type: Text<'a>,
    #[serde(borrow)]
    natural_key: Option<Text<'a>>,
    #[serde(borrow)]
    request: Option<Node<'a>>,
    #[serde(borrow)]
    response: Option<Node<'a>>,
    #[serde(borrow)]
    observed_at_utc: Option<Text<'a>>,
    #[serde(borrow)]
    provenance: Option<Node<'a>>,
    #[serde(borrow)]
    content_sha256: Text<'a>,
    #[serde(borrow)]
    schema_version: Option<Node<'a>>,
    #[serde(borrow)]
    tags: Option<Vec<Text<'a>>>,
    #[serde(borrow)]
    redactions_applied: Option<Vec<Text<'a>>>,
    #[serde(borrow)]
    response_ref: Option<Text<'a>>,
}

/// What a line that passed every check holds (everything the mirror row needs
/// besides the line itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// `exchange_id`.
    pub exchange_id: String,
    /// `exchange_type`.
    pub exchange_type: String,
    /// `source_system`.
    pub source_system: String,
    /// `entity_type`.
    pub entity_type: String,
    /// The lookup key (`None` for null and `""`).
    pub lookup_key: Option<String>,
    /// `observed_at_utc` (present and valid).
    pub observed_at_utc: time::OffsetDateTime,
    /// The stored hash, equal to the recomputed one.
    pub content_sha256: ContentHash,
    /// `schema_version` (default 1).
    pub schema_version: i64,
}

/// Check `text` (one pack line) the fast way: well-formed, in scope
/// (`source_system`, `entity_type`), hash recomputed and equal to the stored one,
/// time present. `None` whenever anything is off or unusual: the caller must
/// then run the full parse and checks.
pub fn check_line(text: &str, source_system: &str, entity_type: &str) -> Option<Checked> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let r: Lean<'_> = serde_json::from_str(text).ok()?;
    if r.source_system.0 != source_system || r.entity_type.0 != entity_type {
        return None;
    }
    if let Some(p) = &r.provenance {
        match p {
            Node::Null => {}
            Node::Obj(entries) => {
                let fields = ["runner_name", "host", "git_sha", "connector_version"];
                for (k, v) in entries {
                    if fields.contains(&k.as_ref()) && !matches!(v, Node::Null | Node::Str(_)) {
                        return None;
                    }
                }
            }
            _ => return None,
        }
    }
    let schema_version = match &r.schema_version {
        None | Some(Node::Null) => 1,
        Some(Node::U64(n)) => i64::try_from(*n).ok()?,
        Some(Node::I64(n)) => *n,
        Some(Node::Num(n)) => n.parse::<i64>().ok()?,
        Some(_) => return None,
    };
    let _ = (&r.tags, &r.redactions_applied, &r.response_ref);
    let content_sha256: ContentHash = r.content_sha256.0.parse().ok()?;
    let observed = crate::timestamp::parse(r.observed_at_utc.as_ref()?.0.as_ref())?;
    let null = Node::Null;
    let computed = crate::canonical::node_hash(&crate::canonical::NodeInput {
        exchange_type: &r.exchange_type.0,
        source_system: &r.source_system.0,
        entity_type: &r.entity_type.0,
        natural_key: r.natural_key.as_ref().map(|k| k.0.as_ref()),
        request: r.request.as_ref().unwrap_or(&null),
        response: r.response.as_ref().unwrap_or(&null),
    })?;
    if computed != content_sha256 {
        return None;
    }
    Some(Checked {
        lookup_key: r
            .natural_key
            .as_ref()
            .map(|k| k.0.as_ref())
            .filter(|k| !k.is_empty())
            .map(str::to_owned),
        exchange_id: r.exchange_id.0.into_owned(),
        exchange_type: r.exchange_type.0.into_owned(),
        source_system: r.source_system.0.into_owned(),
        entity_type: r.entity_type.0.into_owned(),
        observed_at_utc: observed,
        content_sha256,
        schema_version,
    })
}

#[cfg(test)]
mod tests;
