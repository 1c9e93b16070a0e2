//! Timed harness (not criterion): the lean reader's hand-written tokenizer
//! beside the same check built on `jiter` (a kept JSON token reader that gives
//! each number's original text), on the same lines, in the same run.
//!
//! `cargo bench -p exchange-core --bench tokenizer [-- --quick]` (also run by
//! `cargo xtask bench`) prints the median and minimum microseconds per line of:
//!
//! - `lean::check_line`: the fast path end to end (read the line, write the
//!   canonical text of `request` and `response`, SHA-256, compare);
//! - `jiter check`: the same check with jiter walking every token: the same
//!   canonical writer functions (`canonical::write_str`, `write_escaped`,
//!   `write_number_text`, `nfc`), the same envelope checks, the same
//!   `CanonicalParts::hash_in`. Its answer is asserted equal to
//!   `lean::check_line`'s on every line before timing, so both do the same work;
//! - `jiter skip`: jiter's walk of the line alone, nothing written (a floor for
//!   any jiter-based reader);
//!
//! and the ratio jiter check / lean. The lean module's doc comment quotes it:
//! the hand-written tokenizer stays only while jiter costs more than 10% end to
//! end.
// A harness measures time: the crate's no-clock rule is for library code.
#![expect(clippy::disallowed_methods, reason = "a benchmark reads the clock")]

use std::cell::RefCell;
use std::ops::Range;
use std::time::Duration;

use common::{lines, time};
use exchange_core::canonical::{self, CanonicalParts};
use exchange_core::lean::{self, Checked, Plain};
use exchange_core::{ContentHash, timestamp};
use jiter::{Jiter, Peek};

mod common;

/// Deeper values are left to the full parse, as in the lean reader.
const MAX_DEPTH: usize = 64;

/// Keys serde_json (with `arbitrary_precision`) reads as a number: left to the
/// full parse, as in the lean reader.
const SERDE_TOKEN: &str = "$serde_json::private::";

/// A key the check may read (`None` for serde_json's number token).
fn readable(k: Option<&str>) -> Option<Option<&str>> {
    match k {
        Some(k) if k.starts_with(SERDE_TOKEN) => None,
        k => Some(k),
    }
}

/// The provenance keys whose values must be null or a string.
const PROVENANCE: [&str; 4] = ["runner_name", "host", "git_sha", "connector_version"];

/// Buffers kept from one line to the next (the lean reader keeps the same).
#[derive(Default)]
struct Scratch {
    /// The canonical texts of `request` and `response`.
    canonical: String,
    /// The whole hashed text.
    hashed: String,
    /// Per-level buffers for object values.
    spare: Vec<String>,
    /// The NFC keys of the objects being written that are not in the line as
    /// they stand (escaped, or not in NFC).
    keys: String,
    /// Per entry: where its key is (in the line or in `keys`), whether it is
    /// plain, its value's range in the level's buffer.
    entries: Vec<(KeyAt, bool, Range<usize>)>,
    /// The envelope's texts: jiter lends each string only until its next call.
    fields: [String; 7],
}

/// Where an object key's NFC text lies.
#[derive(Clone)]
enum KeyAt {
    /// In the line: jiter lent it straight from the input (no escape).
    Line(Range<usize>),
    /// In `Scratch::keys`.
    Copied(Range<usize>),
}

/// Where `part` lies in `line`, when jiter lent it from the input rather than
/// from its own buffer (which it does for a string without escapes).
fn in_line(line: &str, part: &str) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(line.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= line.len()).then_some(start..end)
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// The envelope's text fields, in `Scratch::fields`.
#[derive(Clone, Copy)]
enum Field {
    ExchangeId,
    ExchangeType,
    SourceSystem,
    EntityType,
    ContentSha256,
    NaturalKey,
    ObservedAt,
}

/// An envelope key, as the check dispatches on it.
#[derive(Clone, Copy)]
enum Top {
    Request,
    Response,
    Text(Field),
    ResponseRef,
    Provenance,
    SchemaVersion,
    Tags,
    Redactions,
    Other,
}

impl Top {
    fn of(key: Option<&str>) -> Option<Top> {
        Some(match key? {
            "request" => Top::Request,
            "response" => Top::Response,
            "exchange_id" => Top::Text(Field::ExchangeId),
            "exchange_type" => Top::Text(Field::ExchangeType),
            "source_system" => Top::Text(Field::SourceSystem),
            "entity_type" => Top::Text(Field::EntityType),
            "content_sha256" => Top::Text(Field::ContentSha256),
            "natural_key" => Top::Text(Field::NaturalKey),
            "observed_at_utc" => Top::Text(Field::ObservedAt),
            "response_ref" => Top::ResponseRef,
            "provenance" => Top::Provenance,
            "schema_version" => Top::SchemaVersion,
            "tags" => Top::Tags,
            "redactions_applied" => Top::Redactions,
            _ => Top::Other,
        })
    }
}

/// What the line held: which fields were seen (a repeat sends the line away),
/// which nullable ones were null.
#[derive(Default)]
struct Seen {
    text: [bool; 7],
    null: [bool; 7],
    request: Option<Range<usize>>,
    response: Option<Range<usize>>,
    response_ref: bool,
    provenance: bool,
    schema_version: Option<i64>,
    tags: Option<bool>,
    redactions: Option<bool>,
}

fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

fn jiter_check(line: &str, source_system: &str, entity_type: &str) -> Option<Checked> {
    SCRATCH
        .with(|s| jiter_check_in(line, &mut s.borrow_mut()))
        .filter(|c| c.source_system == source_system && c.entity_type == entity_type)
}

fn jiter_check_in(line: &str, s: &mut Scratch) -> Option<Checked> {
    let mut j = Jiter::new(line.as_bytes());
    let mut seen = Seen::default();
    s.canonical.clear();
    // Each key is matched while jiter lends it (no copy); the arm reads on.
    let mut key = Top::of(readable(j.next_object().ok()?)?);
    while let Some(k) = key.take() {
        match k {
            Top::Request | Top::Response => {
                let start = s.canonical.len();
                let mut out = std::mem::take(&mut s.canonical);
                let done = canonical_value(&mut j, line, s, &mut out, 0);
                s.canonical = out;
                done?;
                let range = start..s.canonical.len();
                if matches!(k, Top::Request) {
                    once(&mut seen.request, range)?;
                } else {
                    once(&mut seen.response, range)?;
                }
            }
            Top::Text(Field::ExchangeId) => text(&mut j, s, &mut seen, Field::ExchangeId, false)?,
            Top::Text(Field::ExchangeType) => {
                text(&mut j, s, &mut seen, Field::ExchangeType, false)?
            }
            Top::Text(Field::SourceSystem) => {
                text(&mut j, s, &mut seen, Field::SourceSystem, false)?
            }
            Top::Text(Field::EntityType) => text(&mut j, s, &mut seen, Field::EntityType, false)?,
            Top::Text(Field::ContentSha256) => {
                text(&mut j, s, &mut seen, Field::ContentSha256, false)?
            }
            Top::Text(Field::NaturalKey) => text(&mut j, s, &mut seen, Field::NaturalKey, true)?,
            Top::Text(Field::ObservedAt) => text(&mut j, s, &mut seen, Field::ObservedAt, true)?,
            Top::ResponseRef => {
                if std::mem::replace(&mut seen.response_ref, true) {
                    return None;
                }
                match j.peek().ok()? {
                    Peek::Null => j.known_null().ok()?,
                    Peek::String => drop(j.known_str().ok()?),
                    _ => return None,
                }
            }
            Top::Provenance => {
                if std::mem::replace(&mut seen.provenance, true) {
                    return None;
                }
                provenance(&mut j)?;
            }
            Top::SchemaVersion => {
                let v = match j.peek().ok()? {
                    Peek::Null => {
                        j.known_null().ok()?;
                        1
                    }
                    p if p.is_num() => std::str::from_utf8(j.next_number_bytes().ok()?)
                        .ok()?
                        .parse()
                        .ok()?,
                    _ => return None,
                };
                once(&mut seen.schema_version, v)?;
            }
            Top::Tags => once(&mut seen.tags, string_list(&mut j)?)?,
            Top::Redactions => once(&mut seen.redactions, string_list(&mut j)?)?,
            Top::Other => j.next_skip().ok()?,
        }
        key = Top::of(readable(j.next_key().ok()?)?);
    }
    j.finish().ok()?;
    finish(s, &seen)
}

/// A string field (or null when `nullable`) into its scratch slot.
fn text(
    j: &mut Jiter<'_>,
    s: &mut Scratch,
    seen: &mut Seen,
    f: Field,
    nullable: bool,
) -> Option<()> {
    let i = f as usize;
    if std::mem::replace(&mut seen.text[i], true) {
        return None;
    }
    match j.peek().ok()? {
        Peek::Null if nullable => {
            j.known_null().ok()?;
            seen.null[i] = true;
        }
        Peek::String => {
            let slot = &mut s.fields[i];
            slot.clear();
            slot.push_str(j.known_str().ok()?);
        }
        _ => return None,
    }
    Some(())
}

/// `null` or an array of strings: whether it held any.
fn string_list(j: &mut Jiter<'_>) -> Option<bool> {
    match j.peek().ok()? {
        Peek::Null => j.known_null().ok().map(|()| false),
        Peek::Array => {
            let mut next = j.known_array().ok()?;
            let any = next.is_some();
            while let Some(p) = next {
                if p != Peek::String {
                    return None;
                }
                j.known_str().ok()?;
                next = j.array_step().ok()?;
            }
            Some(any)
        }
        _ => None,
    }
}

/// `null` or an object whose [`PROVENANCE`] keys hold null or a string.
fn provenance(j: &mut Jiter<'_>) -> Option<()> {
    match j.peek().ok()? {
        Peek::Null => j.known_null().ok(),
        Peek::Object => {
            let checked = |k: Option<&str>| k.map(|k| PROVENANCE.contains(&k));
            let mut key = checked(readable(j.known_object().ok()?)?);
            while let Some(must_be_text) = key.take() {
                match j.peek().ok()? {
                    Peek::Null => j.known_null().ok()?,
                    Peek::String => drop(j.known_str().ok()?),
                    _ if must_be_text => return None,
                    _ => j.next_skip().ok()?,
                }
                key = checked(readable(j.next_key().ok()?)?);
            }
            Some(())
        }
        _ => None,
    }
}

/// The next value's canonical text, appended to `out`.
fn canonical_value(
    j: &mut Jiter<'_>,
    line: &str,
    s: &mut Scratch,
    out: &mut String,
    depth: usize,
) -> Option<()> {
    let peek = j.peek().ok()?;
    match peek {
        Peek::Null => {
            j.known_null().ok()?;
            out.push_str("null");
        }
        Peek::True | Peek::False => {
            out.push_str(if j.known_bool(peek).ok()? {
                "true"
            } else {
                "false"
            });
        }
        Peek::String => {
            let text = j.known_str().ok()?;
            match Plain::new(text) {
                Some(p) => {
                    out.push('"');
                    out.push_str(p.as_str());
                    out.push('"');
                }
                None => canonical::write_str(out, text),
            }
        }
        Peek::Array => {
            if depth + 1 > MAX_DEPTH {
                return None;
            }
            out.push('[');
            let mut next = j.known_array().ok()?;
            let mut first = true;
            while next.is_some() {
                if !std::mem::take(&mut first) {
                    out.push(',');
                }
                canonical_value(j, line, s, out, depth + 1)?;
                next = j.array_step().ok()?;
            }
            out.push(']');
        }
        Peek::Object => {
            if depth + 1 > MAX_DEPTH {
                return None;
            }
            canonical_object(j, line, s, out, depth + 1)?;
        }
        p if p.is_num() => {
            let number = std::str::from_utf8(j.next_number_bytes().ok()?).ok()?;
            canonical::write_number_text(out, number);
        }
        // NaN and Infinity (jiter refuses them unless asked; the full parse decides).
        _ => return None,
    }
    Some(())
}

/// An object: values into a level buffer, then out in NFC key order.
fn canonical_object(
    j: &mut Jiter<'_>,
    line: &str,
    s: &mut Scratch,
    out: &mut String,
    depth: usize,
) -> Option<()> {
    let mut values = s.spare.pop().unwrap_or_else(|| String::with_capacity(1024));
    values.clear();
    let mark = s.entries.len();
    let keys_mark = s.keys.len();
    let mut key = readable(j.known_object().ok()?)?;
    while let Some(k) = key {
        let plain = Plain::new(k).is_some();
        let nfc = if plain {
            std::borrow::Cow::Borrowed(k)
        } else {
            canonical::nfc(k)
        };
        let key_at = match (&nfc, in_line(line, k)) {
            (std::borrow::Cow::Borrowed(_), Some(range)) => KeyAt::Line(range),
            _ => {
                let start = s.keys.len();
                s.keys.push_str(&nfc);
                KeyAt::Copied(start..s.keys.len())
            }
        };
        let value_start = values.len();
        canonical_value(j, line, s, &mut values, depth)?;
        s.entries.push((key_at, plain, value_start..values.len()));
        key = readable(j.next_key().ok()?)?;
    }
    let keys = &s.keys;
    let entries = s.entries.get_mut(mark..)?;
    let text = |at: &KeyAt| {
        match at {
            KeyAt::Line(r) => line.get(r.clone()),
            KeyAt::Copied(r) => keys.get(r.clone()),
        }
        .unwrap_or_default()
    };
    entries.sort_unstable_by(|a, b| text(&a.0).cmp(text(&b.0)));
    if entries
        .windows(2)
        .any(|w| matches!(w, [a, b] if text(&a.0) == text(&b.0)))
    {
        return None;
    }
    out.push('{');
    for (i, (k, plain, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if *plain {
            out.push('"');
            out.push_str(text(k));
            out.push('"');
        } else {
            canonical::write_escaped(out, text(k));
        }
        out.push(':');
        out.push_str(values.get(v.clone())?);
    }
    out.push('}');
    s.entries.truncate(mark);
    s.keys.truncate(keys_mark);
    s.spare.push(values);
    Some(())
}

/// The envelope checks and the hash, as `lean::check_line` makes them.
fn finish(s: &mut Scratch, seen: &Seen) -> Option<Checked> {
    let field = |f: Field| -> Option<&str> {
        let i = f as usize;
        (seen.text[i] && !seen.null[i]).then(|| s.fields[i].as_str())
    };
    let [exchange_id, exchange_type, ss, et] = [
        Field::ExchangeId,
        Field::ExchangeType,
        Field::SourceSystem,
        Field::EntityType,
    ]
    .map(field);
    let (exchange_id, exchange_type, ss, et) = (exchange_id?, exchange_type?, ss?, et?);
    let content_sha256: ContentHash = field(Field::ContentSha256)?.parse().ok()?;
    let observed = timestamp::parse(field(Field::ObservedAt)?)?;
    let natural_key = field(Field::NaturalKey);
    let part = |range: &Option<Range<usize>>| match range {
        Some(range) => s.canonical.get(range.clone()),
        None => Some("null"),
    };
    let mut hashed = std::mem::take(&mut s.hashed);
    let computed = CanonicalParts {
        exchange_type,
        source_system: ss,
        entity_type: et,
        natural_key,
        request: part(&seen.request)?,
        response: part(&seen.response)?,
    }
    .hash_in(&mut hashed);
    let checked = (computed == content_sha256).then(|| Checked {
        lookup_key: natural_key.filter(|k| !k.is_empty()).map(str::to_owned),
        exchange_id: exchange_id.to_owned(),
        exchange_type: exchange_type.to_owned(),
        source_system: ss.to_owned(),
        entity_type: et.to_owned(),
        observed_at_utc: observed,
        content_sha256,
        schema_version: seen.schema_version.unwrap_or(1),
        redacted: seen.redactions.unwrap_or(false),
    });
    s.hashed = hashed;
    checked
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (n, runs) = if quick { (20_000, 7) } else { (100_000, 11) };
    let lines = lines(n);
    // Same answer on every line, or the comparison means nothing.
    for (i, line) in lines.iter().enumerate() {
        let ours = lean::check_line(line, "crm", "student");
        assert!(ours.is_some(), "line {i}: the lean reader declined it");
        assert_eq!(jiter_check(line, "crm", "student"), ours, "line {i}");
    }
    // And both decline a line whose hash is wrong.
    let tampered = lines
        .first()
        .map(|l| l.replacen("GET", "PUT", 1))
        .unwrap_or_default();
    assert_eq!(lean::check_line(&tampered, "crm", "student"), None);
    assert_eq!(jiter_check(&tampered, "crm", "student"), None);

    let lean_check = || {
        lines
            .iter()
            .filter(|l| lean::check_line(l, "crm", "student").is_some())
            .count()
    };
    let jiter_full = || {
        lines
            .iter()
            .filter(|l| jiter_check(l, "crm", "student").is_some())
            .count()
    };
    let jiter_skip = || {
        lines
            .iter()
            .filter(|l| {
                let mut j = Jiter::new(l.as_bytes());
                j.next_skip().is_ok() && j.finish().is_ok()
            })
            .count()
    };
    let bytes: usize = lines.iter().map(String::len).sum();
    println!(
        "lean tokenizer vs jiter: {n} lines (~{} bytes each, same answer on every line), {runs} runs (median | min, us/line)",
        bytes / n.max(1)
    );
    let suites: [(&str, &dyn Fn() -> usize); 3] = [
        ("lean::check_line", &lean_check),
        ("jiter check (same writer+hash)", &jiter_full),
        ("jiter skip (walk only)", &jiter_skip),
    ];
    let per_line = |d: Duration| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    // Rounds of one run of each suite, so a busy moment of the machine falls on
    // all of them alike.
    let mut samples = vec![Vec::new(); suites.len()];
    for _ in 0..runs {
        for ((_, f), times) in suites.iter().zip(&mut samples) {
            times.push(time(1, *f).0);
        }
    }
    let mut medians = Vec::new();
    for ((name, _), mut times) in suites.iter().zip(samples) {
        times.sort();
        let median = times.get(times.len() / 2).copied().unwrap_or_default();
        let min = times.first().copied().unwrap_or_default();
        println!(
            "  {name:<32} {:>7.2} us | {:>7.2} us",
            per_line(median),
            per_line(min)
        );
        medians.push((median, min));
    }
    if let [(lean, lean_min), (jiter, jiter_min), _] = medians[..] {
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        let (median, min) = (ratio(jiter, lean), ratio(jiter_min, lean_min));
        println!(
            "  jiter check / lean::check_line  {median:.2}x | {min:.2}x ({:+.0}% | {:+.0}% end to end)",
            (median - 1.0) * 100.0,
            (min - 1.0) * 100.0
        );
    }
}
