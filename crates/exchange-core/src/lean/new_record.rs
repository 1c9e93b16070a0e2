//! `add`'s input line read the fast way: the lean reader's one pass over the
//! line, the envelope's fields borrowed from it. [`read_new`] makes every other
//! value a [`Node`] tree (numbers keep their text), ready for the redactor and
//! the writers of [`crate::tree`]; [`read_written`] writes `request` and
//! `response` as it reads them, in their canonical form and in the pack line's
//! spelling (what those writers write for the same values), and shows their
//! keys and strings to the caller, who decides whether redaction could change
//! them (then it asks [`read_new`]).
//!
//! Like [`super::check_line`], both answer only when they are sure that the
//! full parse (serde_json, then `ExchangeRecord::from_map`) would read the same
//! values: `None` for bad JSON, `NaN`/`Infinity` literals, a float beyond `f64`,
//! a key given twice in any object ([`read_written`]: also two keys equal after
//! NFC), a known field of the wrong type, more than 64 levels, or a line that
//! is no envelope. The caller then takes the full parse, which gives the answer
//! or the error.

use std::borrow::Cow;

use super::Node;
use super::parse::{Reader, Seen, text_of};
use crate::record::Provenance;
use crate::tree::Tree;

/// An input line of `add`, read. A field the line leaves out or sets to `null`
/// is `None` (the caller fills it). `P` is the form of `request` and
/// `response`: a tree ([`read_new`]) or their texts written ([`read_written`]).
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord<'a, P = Node<'a>> {
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
    /// `request` (null when missing).
    pub request: P,
    /// `response` (null when missing).
    pub response: P,
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
    read_any(&mut r, raw, Node::Null, |r| checked(r.value()?))
}

/// [`read_new`] with `request` and `response` written as they are read, in
/// their canonical form and the pack line's spelling (in `payloads`, cleared
/// first): no tree. `visit` sees each key and string of the two; its `false`
/// leaves the line to [`read_new`] (`None`).
pub fn read_written<'a>(
    line: &'a str,
    raw: bool,
    payloads: &mut Payloads,
    visit: &mut dyn FnMut(Seen<'_>) -> bool,
) -> Option<NewRecord<'a, Option<Written>>> {
    payloads.canonical.clear();
    payloads.py.clear();
    let mut r = Reader::with_spare(line, std::mem::take(&mut payloads.spare));
    let (canonical, py) = (&mut payloads.canonical, &mut payloads.py);
    let payload = |r: &mut Reader<'a>| {
        let (c, p) = (canonical.len(), py.len());
        r.two_forms(canonical, py, visit)?;
        Some(Some(Written {
            canonical: c..canonical.len(),
            py: p..py.len(),
        }))
    };
    let record = read_any(&mut r, raw, None, payload);
    payloads.spare = r.into_spare();
    record
}

/// Where the two texts of a payload read by [`read_written`] lie in its
/// [`Payloads`] (`None` is null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    canonical: std::ops::Range<usize>,
    py: std::ops::Range<usize>,
}

/// The texts of the payloads of one record (buffers kept from one record to
/// the next).
#[derive(Debug, Default)]
pub struct Payloads {
    canonical: String,
    py: String,
    /// The reader's object buffers.
    spare: Vec<String>,
}

impl Payloads {
    /// The canonical text and the pack line text of `payload`.
    pub fn texts(&self, payload: &Option<Written>) -> Option<(&str, &str)> {
        match payload {
            None => Some(("null", "null")),
            Some(w) => Some((
                self.canonical.get(w.canonical.clone())?,
                self.py.get(w.py.clone())?,
            )),
        }
    }

    /// Write `value` in both forms, as [`read_written`] does.
    pub fn write<T: Tree>(&mut self, value: &T) -> Option<Written> {
        let (c, p) = (self.canonical.len(), self.py.len());
        crate::canonical::write_value(&mut self.canonical, value);
        crate::record::write_py(&mut self.py, value);
        Some(Written {
            canonical: c..self.canonical.len(),
            py: p..self.py.len(),
        })
    }

    /// Forget the texts written.
    pub fn clear(&mut self) {
        self.canonical.clear();
        self.py.clear();
    }
}

/// Read an envelope (or with `raw`, a value that becomes the `response` of
/// one), the payloads by `payload`, `null` the missing one.
fn read_any<'a, P: Clone>(
    r: &mut Reader<'a>,
    raw: bool,
    null: P,
    mut payload: impl FnMut(&mut Reader<'a>) -> Option<P>,
) -> Option<NewRecord<'a, P>> {
    let record = if raw {
        NewRecord {
            response: payload(r)?,
            ..NewRecord::empty(null)
        }
    } else {
        read_envelope(r, null, payload)?
    };
    r.at_end().then_some(record)
}

impl<'a, P> NewRecord<'a, P> {
    fn empty(null: P) -> Self
    where
        P: Clone,
    {
        NewRecord {
            exchange_id: None,
            exchange_type: None,
            source_system: None,
            entity_type: None,
            natural_key: None,
            request: null.clone(),
            response: null,
            observed_at_utc: None,
            provenance: Provenance::default(),
            schema_version: 1,
            tags: Vec::new(),
            redactions_applied: Vec::new(),
            response_ref: None,
            extra: Vec::new(),
        }
    }

    /// The strings redaction reads besides the payloads and the unknown keys:
    /// `natural_key`, `response_ref`, the tags and the provenance values.
    pub fn strings_mut(&mut self) -> impl Iterator<Item = &mut String> {
        self.natural_key
            .iter_mut()
            .chain(self.response_ref.iter_mut())
            .chain(self.tags.iter_mut())
            .chain(self.provenance.values_mut())
    }

    /// The same record, its payloads replaced.
    pub fn with_payloads<Q>(self, request: Q, response: Q) -> NewRecord<'a, Q> {
        NewRecord {
            exchange_id: self.exchange_id,
            exchange_type: self.exchange_type,
            source_system: self.source_system,
            entity_type: self.entity_type,
            natural_key: self.natural_key,
            request,
            response,
            observed_at_utc: self.observed_at_utc,
            provenance: self.provenance,
            schema_version: self.schema_version,
            tags: self.tags,
            redactions_applied: self.redactions_applied,
            response_ref: self.response_ref,
            extra: self.extra,
        }
    }
}

fn read_envelope<'a, P: Clone>(
    r: &mut Reader<'a>,
    null: P,
    mut payload: impl FnMut(&mut Reader<'a>) -> Option<P>,
) -> Option<NewRecord<'a, P>> {
    let mut record = NewRecord::empty(null);
    // Which known keys were seen (a second one sends the line to the full parse).
    let mut seen = [false; crate::record::KNOWN_KEYS.len()];
    r.expect(b'{')?;
    r.items(b'}', |r| {
        let key = r.key()?;
        match crate::record::KNOWN_KEYS.iter().position(|k| *k == key) {
            Some(i) => {
                let first = seen.get_mut(i)?;
                if std::mem::replace(first, true) {
                    return None;
                }
                match key.as_ref() {
                    "request" => record.request = payload(r)?,
                    "response" => record.response = payload(r)?,
                    _ => record.set(&key, checked(r.value()?)?)?,
                }
                Some(())
            }
            None => {
                let value = checked(r.value()?)?;
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

impl<'a, P> NewRecord<'a, P> {
    /// Take the value `v` of the known key `key` (not a payload).
    fn set(&mut self, key: &str, v: Node<'a>) -> Option<()> {
        match key {
            "exchange_id" => self.exchange_id = nullable_text(v)?,
            "exchange_type" => self.exchange_type = nullable_text(v)?,
            "source_system" => self.source_system = nullable_text(v)?,
            "entity_type" => self.entity_type = nullable_text(v)?,
            "natural_key" => self.natural_key = owned(nullable_text(v)?),
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
