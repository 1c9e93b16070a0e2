//! The import fast path: read a pack line in one pass with a strict JSON reader
//! of its own (`lean::parse`): the envelope fields borrowed from the line, `request`
//! and `response` written straight into their canonical form (no tree), then the
//! hash recomputed and checked.
//!
//! [`check_line`] accepts a line only when it is sure the full parse
//! ([`crate::ExchangeRecord::parse_line`]) would accept it with the same values: in
//! every other case (bad JSON, `NaN` literals, a wrong type, a duplicate key, a bad
//! time, an out-of-scope record, a hash that does not match) it returns `None` and
//! the caller runs the full parse, which produces the error or the answer. So the
//! fast path can only save time, never change a result.
//!
//! # Why a hand-written tokenizer, not a library
//!
//! The project's rule: a hand-written component stays only where a benchmark in
//! the repository shows the kept library costing more than 10% end to end. The
//! peer here is `jiter`, which walks JSON tokens and gives each number's
//! original text (what the canonical form needs). The `tokenizer` bench builds
//! the same check on it: jiter walks every token, feeding the same canonical
//! writer functions (`canonical::write_str`, `write_escaped`,
//! `write_number_text`, `nfc`), the same envelope checks and the same
//! `CanonicalParts::hash_in`; its answer is asserted equal to [`check_line`]'s on
//! every line before anything is timed.
//!
//! ```text
//! cargo bench -p exchange-core --bench tokenizer     (also in `cargo xtask bench`)
//! ```
//!
//! 100,000 lines of about 700 bytes, 11 interleaved runs, two runs of the bench
//! on a 2-core machine under load, microseconds per line (median | min):
//! `check_line` 5.52 | 3.12 and 4.53 | 4.05; the jiter check 6.55 | 3.63 and
//! 5.38 | 4.55: jiter costs **1.19x** at the median in both runs (1.12-1.16x at
//! the minimum), so this reader stays. The margin is the tokenizer's own share
//! (jiter's walk of a line alone is 0.7-1.4 us; canonical writing and SHA-256
//! are common to both), so rerun the bench when this reader or jiter changes:
//! at 1.10x or less, swap the tokenizer for jiter and keep the envelope slots
//! (`Lean`) and the canonical writer.

use std::borrow::Cow;

use crate::hash::ContentHash;

mod new_record;
mod parse;

pub use new_record::{NewRecord, Payloads, Written, read_new, read_written};
pub use parse::Seen;
use parse::text_of as text;

/// A JSON value borrowed from its text. Numbers keep their text; objects keep
/// their entries in input order (duplicates included).
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as written (valid JSON number text).
    Num(Cow<'a, str>),
    /// A string.
    Str(Cow<'a, str>),
    /// A string of ASCII text with no character JSON escapes: its canonical form
    /// is its text in quotes (no NFC or escaping pass needed).
    Plain(Plain<'a>),
    /// An array.
    Arr(Vec<Node<'a>>),
    /// An object, entries in input order.
    Obj(Vec<(Cow<'a, str>, Node<'a>)>),
}

/// Text known to be ASCII without `"`, `\\` or control characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plain<'a>(&'a str);

impl<'a> Plain<'a> {
    /// `text`, if it is plain.
    pub fn new(text: &'a str) -> Option<Self> {
        text.bytes()
            .all(|b| (0x20..0x80).contains(&b) && b != b'"' && b != b'\\')
            .then_some(Plain(text))
    }

    /// The text.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

/// The envelope as the fast path reads it. Each field is `None` while absent;
/// a nullable one is `Some(None)` for `null`. Unknown keys are read and dropped;
/// a known key given twice, or a value of the wrong type, sends the line to the
/// full parse (serde's derive refuses both too).
#[derive(Default)]
struct Lean<'a> {
    exchange_id: Option<Cow<'a, str>>,
    exchange_type: Option<Cow<'a, str>>,
    source_system: Option<Cow<'a, str>>,
    entity_type: Option<Cow<'a, str>>,
    content_sha256: Option<Cow<'a, str>>,
    natural_key: Option<Option<Cow<'a, str>>>,
    observed_at_utc: Option<Option<Cow<'a, str>>>,
    response_ref: Option<Option<Cow<'a, str>>>,
    /// Where the canonical text of `request` lies in `canonical`.
    request: Option<std::ops::Range<usize>>,
    /// The same for `response`.
    response: Option<std::ops::Range<usize>>,
    /// The canonical texts of `request` and `response`, written as they are read.
    canonical: String,
    provenance: Option<()>,
    schema_version: Option<Node<'a>>,
    /// Whether `tags` held any (checked, then dropped).
    tags: Option<bool>,
    /// Whether `redactions_applied` held any.
    redactions_applied: Option<bool>,
}

/// Fill `slot` unless it is already filled (a duplicate key).
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

fn nullable_text(v: Node<'_>) -> Option<Option<Cow<'_, str>>> {
    match v {
        Node::Null => Some(None),
        v => text(v).map(Some),
    }
}

/// The provenance keys whose values must be null or a string.
const PROVENANCE: [&str; 4] = ["runner_name", "host", "git_sha", "connector_version"];

impl<'a> Lean<'a> {
    /// Read one line: an object, then only whitespace.
    /// `canonical` is the buffer for the canonical texts, `spare` the reader's
    /// object buffers (both taken from and given back to the thread's scratch).
    fn read(line: &'a str, canonical: String, spare: &mut Vec<String>) -> Option<Self> {
        let mut r = parse::Reader::with_spare(line, std::mem::take(spare));
        let lean = Lean::read_with(&mut r, canonical);
        *spare = r.into_spare();
        lean
    }

    fn read_with(r: &mut parse::Reader<'a>, mut canonical: String) -> Option<Self> {
        canonical.clear();
        let mut lean = Lean {
            canonical,
            ..Lean::default()
        };
        r.expect(b'{')?;
        r.items(b'}', |r| {
            let key = r.key()?;
            if let k @ ("request" | "response") = key.as_ref() {
                let start = lean.canonical.len();
                r.canonical(&mut lean.canonical)?;
                let slot = if k == "request" {
                    &mut lean.request
                } else {
                    &mut lean.response
                };
                once(slot, start..lean.canonical.len())
            } else if key == "provenance" {
                once(&mut lean.provenance, r.object_of_texts(&PROVENANCE)?)
            } else if let k @ ("tags" | "redactions_applied") = key.as_ref() {
                let slot = if k == "tags" {
                    &mut lean.tags
                } else {
                    &mut lean.redactions_applied
                };
                once(slot, r.string_list()?)
            } else {
                lean.set(&key, r.value()?)
            }
        })?;
        r.at_end().then_some(lean)
    }

    /// Take the value `v` of key `key` (a scalar field, or a key the record does
    /// not know).
    fn set(&mut self, key: &str, v: Node<'a>) -> Option<()> {
        match key {
            "exchange_id" => once(&mut self.exchange_id, text(v)?),
            "exchange_type" => once(&mut self.exchange_type, text(v)?),
            "source_system" => once(&mut self.source_system, text(v)?),
            "entity_type" => once(&mut self.entity_type, text(v)?),
            "content_sha256" => once(&mut self.content_sha256, text(v)?),
            "natural_key" => once(&mut self.natural_key, nullable_text(v)?),
            "observed_at_utc" => once(&mut self.observed_at_utc, nullable_text(v)?),
            "response_ref" => once(&mut self.response_ref, nullable_text(v)?),
            "schema_version" => once(&mut self.schema_version, v),
            _ => Some(()),
        }
    }
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
    /// `redactions_applied` is not empty.
    pub redacted: bool,
}

impl Checked {
    /// What [`check_line`] gives for a line whose full parse is `record`: the
    /// contract the fast path keeps. `None` when the record has no time (a line
    /// the fast path never accepts).
    pub fn of_record(record: &crate::ExchangeRecord) -> Option<Checked> {
        Some(Checked {
            exchange_id: record.exchange_id.clone(),
            exchange_type: record.exchange_type.clone(),
            source_system: record.source_system.clone(),
            entity_type: record.entity_type.clone(),
            lookup_key: record.lookup_key().map(str::to_owned),
            observed_at_utc: record.observed_at_utc?,
            content_sha256: record.content_sha256,
            schema_version: record.schema_version,
            redacted: !record.redactions_applied.is_empty(),
        })
    }
}

/// Check `text` (one pack line) the fast way: well-formed, in scope
/// (`source_system`, `entity_type`), hash recomputed and equal to the stored one,
/// time present. `None` whenever anything is off or unusual: the caller must
/// then run the full parse and checks.
pub fn check_line(text: &str, source_system: &str, entity_type: &str) -> Option<Checked> {
    check_any(text).filter(|c| c.source_system == source_system && c.entity_type == entity_type)
}

/// [`check_line`] in any scope.
pub fn check_any(text: &str) -> Option<Checked> {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => check_in(text, &mut scratch),
        Err(_) => check_in(text, &mut Scratch::default()),
    })
}

/// Buffers [`check_line`] keeps from one line to the next on each thread: a
/// record's canonical texts are a few KB, past the sizes malloc serves from its
/// per-thread cache, and allocating them per line showed in the profile.
#[derive(Default)]
struct Scratch {
    /// The canonical texts of `request` and `response`.
    canonical: String,
    /// The whole hashed text.
    hashed: String,
    /// The reader's object buffers.
    spare: Vec<String>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

fn check_in(text: &str, scratch: &mut Scratch) -> Option<Checked> {
    let mut r = Lean::read(
        text,
        std::mem::take(&mut scratch.canonical),
        &mut scratch.spare,
    )?;
    let (exchange_id, exchange_type) = (r.exchange_id?, r.exchange_type?);
    let (ss, et) = (r.source_system?, r.entity_type?);
    let schema_version = match &r.schema_version {
        None | Some(Node::Null) => 1,
        Some(Node::Num(n)) => n.parse::<i64>().ok()?,
        Some(_) => return None,
    };
    let content_sha256: ContentHash = r.content_sha256?.parse().ok()?;
    let observed = crate::timestamp::parse(r.observed_at_utc.flatten()?.as_ref())?;
    let natural_key = r.natural_key.flatten();
    let part = |range: &Option<std::ops::Range<usize>>| match range {
        Some(range) => r.canonical.get(range.clone()),
        None => Some("null"),
    };
    let computed = crate::canonical::CanonicalParts {
        exchange_type: &exchange_type,
        source_system: &ss,
        entity_type: &et,
        natural_key: natural_key.as_deref(),
        request: part(&r.request)?,
        response: part(&r.response)?,
    }
    .hash_in(&mut scratch.hashed);
    scratch.canonical = std::mem::take(&mut r.canonical);
    if computed != content_sha256 {
        return None;
    }
    Some(Checked {
        lookup_key: natural_key.filter(|k| !k.is_empty()).map(Cow::into_owned),
        exchange_id: exchange_id.into_owned(),
        exchange_type: exchange_type.into_owned(),
        source_system: ss.into_owned(),
        entity_type: et.into_owned(),
        observed_at_utc: observed,
        content_sha256,
        schema_version,
        redacted: r.redactions_applied.unwrap_or(false),
    })
}

#[cfg(test)]
pub(crate) mod tests;
