//! `add`'s input line read the fast way: the lean reader's one pass over the
//! line, the envelope's fields borrowed from it and every other value a
//! [`Node`] tree (numbers keep their text), ready for the redactor and the
//! writers of [`crate::tree`].
//!
//! Like [`super::check_line`], [`read_new`] answers only when it is sure that the
//! full parse (serde_json, then `ExchangeRecord::from_map`) would read the same
//! values: `None` for bad JSON, `NaN`/`Infinity` literals, a float beyond `f64`,
//! a key given twice in any object, a known field of the wrong type, more than
//! 64 levels, or a line that is no envelope. The caller then takes the full
//! parse, which gives the answer or the error.

use std::borrow::Cow;

use super::Node;
use super::parse::{Reader, text_of};
use crate::record::Provenance;

/// An input line of `add`, read. A field the line leaves out or sets to `null`
/// is `None` (the caller fills it).
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord<'a> {
    /// `exchange_id`.
    pub exchange_id: Option<Cow<'a, str>>,
    /// `exchange_type`.
    pub exchange_type: Option<Cow<'a, str>>,
    /// `source_system`.
    pub source_system: Option<Cow<'a, str>>,
    /// `entity_type`.
    pub entity_type: Option<Cow<'a, str>>,
    /// `natural_key` (owned: the redactor may replace it).
    pub natural_key: Option<String>,
    /// `request` ([`Node::Null`] when missing).
    pub request: Node<'a>,
    /// `response` ([`Node::Null`] when missing).
    pub response: Node<'a>,
    /// `observed_at_utc`, as written.
    pub observed_at_utc: Option<Cow<'a, str>>,
    /// The four provenance values (all `None` when `provenance` is missing or
    /// null; its other keys are dropped, as the full parse drops them).
    pub provenance: Provenance,
    /// `schema_version` (1 when missing or null).
    pub schema_version: i64,
    /// `tags`.
    pub tags: Vec<String>,
    /// `redactions_applied`.
    pub redactions_applied: Vec<String>,
    /// `response_ref`.
    pub response_ref: Option<String>,
    /// The unknown top-level keys, in input order.
    pub extra: Vec<(Cow<'a, str>, Node<'a>)>,
}

/// Read `line`, an envelope (or with `raw`, any JSON value, which becomes the
/// `response` of an envelope with no other field). `None`: see the module doc.
pub fn read_new(line: &str, raw: bool) -> Option<NewRecord<'_>> {
    let mut r = Reader::new(line);
    let record = if raw {
        let response = checked(r.value()?)?;
        NewRecord {
            response,
            ..NewRecord::empty()
        }
    } else {
        read_envelope(&mut r)?
    };
    r.at_end().then_some(record)
}

impl NewRecord<'_> {
    fn empty() -> Self {
        NewRecord {
            exchange_id: None,
            exchange_type: None,
            source_system: None,
            entity_type: None,
            natural_key: None,
            request: Node::Null,
            response: Node::Null,
            observed_at_utc: None,
            provenance: Provenance::default(),
            schema_version: 1,
            tags: Vec::new(),
            redactions_applied: Vec::new(),
            response_ref: None,
            extra: Vec::new(),
        }
    }
}

fn read_envelope<'a>(r: &mut Reader<'a>) -> Option<NewRecord<'a>> {
    let mut record = NewRecord::empty();
    // Which known keys were seen (a second one sends the line to the full parse).
    let mut seen = [false; crate::record::KNOWN_KEYS.len()];
    r.expect(b'{')?;
    r.items(b'}', |r| {
        let key = r.key()?;
        let value = checked(r.value()?)?;
        match crate::record::KNOWN_KEYS.iter().position(|k| *k == key) {
            Some(i) => {
                let first = seen.get_mut(i)?;
                if std::mem::replace(first, true) {
                    return None;
                }
                record.set(&key, value)
            }
            None => {
                if record.extra.iter().any(|(k, _)| *k == key) {
                    return None;
                }
                record.extra.push((key, value));
                Some(())
            }
        }
    })?;
    // An envelope holds `request` and/or `response`.
    let payload = |k: &str| {
        crate::record::KNOWN_KEYS
            .iter()
            .position(|known| *known == k)
    };
    let envelope = [payload("request"), payload("response")]
        .into_iter()
        .any(|i| i.and_then(|i| seen.get(i).copied()).unwrap_or(false));
    envelope.then_some(record)
}

impl<'a> NewRecord<'a> {
    /// Take the value `v` of the known key `key`.
    fn set(&mut self, key: &str, v: Node<'a>) -> Option<()> {
        match key {
            "exchange_id" => self.exchange_id = nullable_text(v)?,
            "exchange_type" => self.exchange_type = nullable_text(v)?,
            "source_system" => self.source_system = nullable_text(v)?,
            "entity_type" => self.entity_type = nullable_text(v)?,
            "natural_key" => self.natural_key = owned(nullable_text(v)?),
            "request" => self.request = v,
            "response" => self.response = v,
            "observed_at_utc" => self.observed_at_utc = nullable_text(v)?,
            "provenance" => self.provenance = provenance(v)?,
            // Replaced by the hash of the content, whatever it holds.
            "content_sha256" => {}
            "schema_version" => {
                self.schema_version = match v {
                    Node::Null => 1,
                    Node::Num(n) => n.parse::<i64>().ok()?,
                    _ => return None,
                }
            }
            "tags" => self.tags = strings(v)?,
            "redactions_applied" => self.redactions_applied = strings(v)?,
            "response_ref" => self.response_ref = owned(nullable_text(v)?),
            _ => return None,
        }
        Some(())
    }
}

/// `v` if the full parse reads the same value from its text: no key twice in
/// an object (serde_json keeps the last one, in the first one's place), no
/// float beyond `f64` (which `add` refuses, naming where).
fn checked(v: Node<'_>) -> Option<Node<'_>> {
    same_as_full_parse(&v).then_some(v)
}

fn same_as_full_parse(v: &Node<'_>) -> bool {
    match v {
        Node::Num(n) => {
            !crate::canonical::is_float_text(n) || n.parse::<f64>().is_ok_and(f64::is_finite)
        }
        Node::Arr(items) => items.iter().all(same_as_full_parse),
        Node::Obj(entries) => {
            let unique = if entries.len() <= 16 {
                entries
                    .iter()
                    .enumerate()
                    .all(|(i, (k, _))| entries.iter().take(i).all(|(other, _)| other != k))
            } else {
                let mut keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_ref()).collect();
                keys.sort_unstable();
                keys.windows(2).all(|w| w.first() != w.last())
            };
            unique && entries.iter().all(|(_, v)| same_as_full_parse(v))
        }
        Node::Null | Node::Bool(_) | Node::Str(_) | Node::Plain(_) => true,
    }
}

/// `None` (a wrong type) unless `v` is null (`Some(None)`) or a string.
fn nullable_text(v: Node<'_>) -> Option<Option<Cow<'_, str>>> {
    match v {
        Node::Null => Some(None),
        v => text_of(v).map(Some),
    }
}

fn owned(text: Option<Cow<'_, str>>) -> Option<String> {
    text.map(Cow::into_owned)
}

/// `null` or an array of strings.
fn strings(v: Node<'_>) -> Option<Vec<String>> {
    match v {
        Node::Null => Some(Vec::new()),
        Node::Arr(items) => items
            .into_iter()
            .map(|item| text_of(item).map(Cow::into_owned))
            .collect(),
        _ => None,
    }
}

/// `null` or an object whose four provenance keys hold null or a string.
fn provenance(v: Node<'_>) -> Option<Provenance> {
    let entries = match v {
        Node::Null => return Some(Provenance::default()),
        Node::Obj(entries) => entries,
        _ => return None,
    };
    let mut p = Provenance::default();
    for (key, value) in entries {
        let slot = match key.as_ref() {
            "runner_name" => &mut p.runner_name,
            "host" => &mut p.host,
            "git_sha" => &mut p.git_sha,
            "connector_version" => &mut p.connector_version,
            _ => continue,
        };
        *slot = owned(nullable_text(value)?);
    }
    Some(p)
}
