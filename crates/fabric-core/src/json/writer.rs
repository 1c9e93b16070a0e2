//! The one writer of canonical JSON (see [`crate::json`]): snapshot ids, chain
//! checksums, stored chain payloads and dashboard parity digests all go through
//! it, streaming into a SHA-256 hasher (or a byte buffer).
//!
//! It never builds a tree or a string it does not need: keys are sorted through
//! a reused scratch list per depth (and not at all when already in order),
//! strings are scanned eight bytes at a time and copied in runs, floats are
//! re-spelled on the stack (straight from their text when it has at most 15
//! significant digits, through `ryu` otherwise), and bytes go to the hasher in
//! large pieces. Everything it writes is ASCII.

mod float;

use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

pub(crate) use float::{write_float_text, write_python_float};

use crate::json::is_float_text;

/// Where canonical bytes go.
pub(crate) trait Sink {
    /// Append `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// For callers that build text: every piece this module writes is ASCII (string
/// runs stop at the first byte that is not printable ASCII), so the check
/// always passes.
impl Sink for String {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.push_str(std::str::from_utf8(bytes).unwrap_or_default());
    }
}

/// A float in the document is NaN or infinite (its text overflows `f64`).
#[derive(Debug)]
pub(crate) struct NonFinite;

/// Writes canonical JSON into a buffer that is handed to the hasher in large
/// pieces (or kept).
///
/// A float whose text overflows `f64` (`1e999`) makes a snapshot id refuse the
/// document; every public use spells it `Infinity`/`-Infinity` instead, as
/// Python does (see [`crate::json::canonical_number`]).
///
/// ```
/// use fabric_core::json::{CanonicalWriter, canonical_sha256};
///
/// let doc: serde_json::Value = serde_json::from_str(r#"{"b": [1, 2.50], "a": "é"}"#).unwrap();
/// let mut w = CanonicalWriter::sha256();
/// w.raw("{\"a\":");
/// w.string("é");
/// w.raw(",\"b\":");
/// w.value(&doc["b"]);
/// w.raw("}");
/// assert_eq!(w.finish_sha256(), canonical_sha256(&doc));
/// ```
///
/// Objects are written in one pass, assuming their keys are already in order
/// (true for every map of a report but its top level and its two- and three-key
/// entries); the first key out of order rolls the output back to the object's
/// start and the object is written again from a sorted list of its entries.
/// Nothing is handed to the hasher while such an object is open, so a rollback
/// never has to undo hashing. One pass matters: the walk is bound by memory
/// latency, and a separate "is it sorted" pass would touch every key twice.
pub struct Writer<'a> {
    out: Vec<u8>,
    hasher: Option<Sha256>,
    /// Spell an overflowing float `Infinity` instead of refusing it.
    spell_non_finite: bool,
    /// Objects currently written speculatively (no flush while > 0).
    open: usize,
    scratch: Vec<Vec<(&'a str, &'a Value)>>,
    /// Sink for [`touch`] reads, so they are not optimised away.
    touched: u8,
}

impl std::fmt::Debug for Writer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CanonicalWriter")
            .field("hashing", &self.hasher.is_some())
            .field("buffered", &self.out.len())
            .finish_non_exhaustive()
    }
}

/// Typed writers (the report's) put canonical bytes straight in; the buffer goes
/// to the hasher in large pieces, as for a walked tree.
impl Sink for Writer<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.out.put(bytes);
        self.maybe_flush();
    }
}

/// Items are touched in batches of this many, one batch ahead (see [`touch`]).
const BATCH: usize = 16;

/// Read the first byte of each heap part of these items (string bytes, number
/// text, object keys) in one tight loop, so that their cache misses are
/// in flight together instead of one after the other. The walk is bound by
/// memory latency (every string and number of a `Value` lives in its own
/// allocation); this is a software prefetch in safe code.
#[inline]
fn touch<'v>(items: impl Iterator<Item = (Option<&'v str>, &'v Value)>) -> u8 {
    let mut acc = 0u8;
    for (key, value) in items {
        if let Some(k) = key {
            acc ^= k.as_bytes().first().copied().unwrap_or(0);
        }
        acc ^= match value {
            // Small objects (a profile's `{jobs, failure_rate}`): their keys and
            // values too; the chains of the batch's items still overlap.
            Value::Object(map) if map.len() <= 4 => {
                map.iter().fold(0, |a, (k, v)| a ^ first_byte(Some(k), v))
            }
            other => first_byte(None, other),
        };
    }
    acc
}

#[inline]
fn first_byte(key: Option<&str>, value: &Value) -> u8 {
    let k = key.and_then(|k| k.as_bytes().first().copied()).unwrap_or(0);
    k ^ match value {
        Value::String(s) => s.as_bytes().first().copied().unwrap_or(0),
        Value::Number(n) => n.as_str().as_bytes().first().copied().unwrap_or(0),
        _ => 0,
    }
}

/// Hand the buffer to the hasher once it holds this much.
const FLUSH_AT: usize = 32 * 1024;

/// `a <= b` by bytes, eight bytes at a time without a call (keys of one map
/// often share long prefixes).
#[inline]
fn key_le(a: &str, b: &str) -> bool {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while let (Some(x), Some(y)) = (a.first_chunk::<8>(), b.first_chunk::<8>()) {
        if x != y {
            return u64::from_be_bytes(*x) < u64::from_be_bytes(*y);
        }
        a = a.get(8..).unwrap_or_default();
        b = b.get(8..).unwrap_or_default();
    }
    a <= b
}

impl<'a> Writer<'a> {
    /// A writer that hashes what it writes with SHA-256.
    pub fn sha256() -> Self {
        Self::with(Some(Sha256::new()), true)
    }

    /// A writer that hashes what it writes and refuses overflowing floats.
    pub(crate) fn hashing() -> Self {
        Self::with(Some(Sha256::new()), false)
    }

    /// A writer that keeps the bytes and refuses overflowing floats.
    pub(crate) fn bytes() -> Self {
        Self::with(None, false)
    }

    /// A writer that keeps the bytes and spells overflowing floats.
    pub(crate) fn spelling_bytes() -> Self {
        Self::with(None, true)
    }

    fn with(hasher: Option<Sha256>, spell_non_finite: bool) -> Self {
        Writer {
            out: Vec::with_capacity(if hasher.is_some() { 2 * FLUSH_AT } else { 256 }),
            hasher,
            spell_non_finite,
            open: 0,
            scratch: Vec::new(),
            touched: 0,
        }
    }

    /// The lower-case hex SHA-256 of everything written.
    pub fn finish_sha256(self) -> String {
        self.finish_hash()
    }

    /// The lower-case hex SHA-256 of everything written (hashing writers).
    pub(crate) fn finish_hash(mut self) -> String {
        let mut hasher = self.hasher.take().unwrap_or_default();
        hasher.update(&self.out);
        hex::encode(hasher.finalize())
    }

    /// Everything written (byte writers).
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    /// Everything written, as text (byte writers; the output is ASCII).
    pub(crate) fn into_text(self) -> String {
        String::from_utf8(self.out).unwrap_or_default()
    }

    #[inline]
    fn maybe_flush(&mut self) {
        if self.open == 0
            && self.out.len() >= FLUSH_AT
            && let Some(hasher) = self.hasher.as_mut()
        {
            hasher.update(&self.out);
            self.out.clear();
        }
    }

    /// Append the canonical form of `value`.
    pub fn value(&mut self, value: &'a Value) {
        // Writers built outside this crate spell non-finite floats: no error.
        let _spelled = self.write(value, 0);
        self.maybe_flush();
    }

    /// Append `s` as a canonical string literal (quoted, ASCII-escaped).
    pub fn string(&mut self, s: &str) {
        write_string(&mut self.out, s);
    }

    /// Append a float in Python's repr (`Infinity`, `-Infinity` or `NaN` when
    /// not finite).
    pub fn float(&mut self, x: f64) {
        if x.is_finite() {
            write_python_float(&mut self.out, x);
        } else {
            self.out.put(crate::json::non_finite_text(x).as_bytes());
        }
    }

    /// Append text the caller knows to be canonical already: punctuation, a
    /// key written as a literal, `null`, an integer.
    pub fn raw(&mut self, text: &str) {
        self.out.put(text.as_bytes());
        self.maybe_flush();
    }

    /// Append `value` canonically; an object's entries go in key order and
    /// `special(writer, key, item)` may write an entry's value itself (returning
    /// `true`). A value that is not an object is written as [`Writer::value`].
    pub fn object_with(
        &mut self,
        value: &'a Value,
        mut special: impl FnMut(&mut Self, &str, &'a Value) -> bool,
    ) {
        let Value::Object(map) = value else {
            self.value(value);
            return;
        };
        let mut entries: Vec<(&'a String, &'a Value)> = map.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        self.out.put(b"{");
        for (i, (key, item)) in entries.into_iter().enumerate() {
            if i > 0 {
                self.out.put(b",");
            }
            write_string(&mut self.out, key);
            self.out.put(b":");
            if !special(self, key, item) {
                self.value(item);
            }
        }
        self.out.put(b"}");
    }

    /// Write `value`; at depth 0 an object's `skip_key` entry is left out.
    pub(crate) fn value_without(
        &mut self,
        value: &'a Value,
        skip_key: Option<&str>,
    ) -> Result<(), NonFinite> {
        match (value, skip_key) {
            (Value::Object(map), Some(_)) => {
                self.out.put(b"{");
                self.sorted_object(map, 0, skip_key)?;
                self.out.put(b"}");
                Ok(())
            }
            _ => self.write(value, 0),
        }
    }

    fn write(&mut self, value: &'a Value, depth: usize) -> Result<(), NonFinite> {
        match value {
            Value::Null => self.out.put(b"null"),
            Value::Bool(true) => self.out.put(b"true"),
            Value::Bool(false) => self.out.put(b"false"),
            Value::Number(n) => self.number(n)?,
            Value::String(s) => write_string(&mut self.out, s),
            Value::Array(items) => {
                self.out.put(b"[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.put(b",");
                    }
                    if i % BATCH == 0 {
                        let from = if i == 0 { 0 } else { i + BATCH };
                        let batch = items.iter().skip(from).take(2 * BATCH - (from - i));
                        self.touched ^= touch(batch.map(|v| (None, v)));
                    }
                    self.write(item, depth + 1)?;
                    self.maybe_flush();
                }
                self.out.put(b"]");
            }
            Value::Object(map) => {
                let start = self.out.len();
                self.out.put(b"{");
                self.open += 1;
                let in_order = self.object_in_order(map, depth);
                self.open -= 1;
                if !in_order? {
                    self.out.truncate(start + 1);
                    self.sorted_object(map, depth, None)?;
                }
                self.out.put(b"}");
            }
        }
        Ok(())
    }

    /// Write the entries in map order while they are in key order; `Ok(false)`
    /// at the first key out of order.
    fn object_in_order(
        &mut self,
        map: &'a Map<String, Value>,
        depth: usize,
    ) -> Result<bool, NonFinite> {
        let mut ahead = map.iter();
        let mut prev: Option<&str> = None;
        for (i, (key, item)) in map.iter().enumerate() {
            if let Some(p) = prev {
                if !key_le(p, key) {
                    return Ok(false);
                }
                self.out.put(b",");
            }
            prev = Some(key);
            if i % BATCH == 0 {
                let n = if i == 0 { 2 * BATCH } else { BATCH };
                let batch = ahead.by_ref().take(n);
                self.touched ^= touch(batch.map(|(k, v)| (Some(k.as_str()), v)));
            }
            write_string(&mut self.out, key);
            self.out.put(b":");
            self.write(item, depth + 1)?;
        }
        Ok(true)
    }

    /// Write the entries (but `skip_key`) sorted by key.
    fn sorted_object(
        &mut self,
        map: &'a Map<String, Value>,
        depth: usize,
        skip_key: Option<&str>,
    ) -> Result<(), NonFinite> {
        if self.scratch.len() <= depth {
            self.scratch.resize_with(depth + 1, Vec::new);
        }
        let mut entries = self
            .scratch
            .get_mut(depth)
            .map(std::mem::take)
            .unwrap_or_default();
        entries.clear();
        entries.extend(
            map.iter()
                .filter(|(k, _)| Some(k.as_str()) != skip_key)
                .map(|(k, v)| (k.as_str(), v)),
        );
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut result = Ok(());
        for (i, (key, item)) in entries.iter().enumerate() {
            if i > 0 {
                self.out.put(b",");
            }
            write_string(&mut self.out, key);
            self.out.put(b":");
            result = self.write(item, depth + 1);
            if result.is_err() {
                break;
            }
            self.maybe_flush();
        }
        entries.clear();
        if let Some(slot) = self.scratch.get_mut(depth) {
            *slot = entries;
        }
        result
    }

    #[inline]
    fn number(&mut self, n: &Number) -> Result<(), NonFinite> {
        write_number(&mut self.out, n, self.spell_non_finite)
    }
}

/// Append the canonical spelling of a number: integers as written (`-0` as `0`),
/// floats in Python repr; a float that overflows `f64` is refused, or spelled
/// `Infinity`/`-Infinity` when `spell_non_finite`.
#[inline]
pub(crate) fn write_number<S: Sink>(
    sink: &mut S,
    n: &Number,
    spell_non_finite: bool,
) -> Result<(), NonFinite> {
    let text = n.as_str();
    if is_float_text(n) {
        match write_float_text(sink, text) {
            Err(NonFinite) if spell_non_finite => {
                // JSON number text always parses (overflow gives infinity).
                let x: f64 = text.parse().unwrap_or(f64::NAN);
                sink.put(crate::json::non_finite_text(x).as_bytes());
                Ok(())
            }
            other => other,
        }
    } else if text == "-0" {
        sink.put(b"0");
        Ok(())
    } else {
        sink.put(text.as_bytes());
        Ok(())
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes of `w` needs escaping: below 0x20, 0x7f and
/// above, `"` or `\`.
#[inline]
fn needs_escape(w: u64) -> bool {
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    let high = w & HIGHS;
    (below_space
        | high
        | has_zero(w ^ (ONES * 0x7f))
        | has_zero(w ^ (ONES * b'"' as u64))
        | has_zero(w ^ (ONES * b'\\' as u64)))
        != 0
}

/// A JSON string literal with Python's `ensure_ascii=True` escaping.
pub(crate) fn write_string<S: Sink>(sink: &mut S, text: &str) {
    sink.put(b"\"");
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    loop {
        // Skip eight plain bytes at a time.
        while let Some(chunk) = bytes.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            if needs_escape(u64::from_le_bytes(word)) {
                break;
            }
            i += 8;
        }
        let Some(&b) = bytes.get(i) else { break };
        if (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        if let Some(run) = bytes.get(start..i) {
            sink.put(run);
        }
        let width = match b {
            b'"' => put_escape(sink, b"\\\""),
            b'\\' => put_escape(sink, b"\\\\"),
            b'\n' => put_escape(sink, b"\\n"),
            b'\r' => put_escape(sink, b"\\r"),
            b'\t' => put_escape(sink, b"\\t"),
            0x08 => put_escape(sink, b"\\b"),
            0x0c => put_escape(sink, b"\\f"),
            _ => {
                let c = text
                    .get(i..)
                    .and_then(|rest| rest.chars().next())
                    .unwrap_or('\u{fffd}');
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    sink.put(&unicode_escape(*unit));
                }
                c.len_utf8()
            }
        };
        i += width;
        start = i;
    }
    if let Some(run) = bytes.get(start..) {
        sink.put(run);
    }
    sink.put(b"\"");
}

#[inline]
fn put_escape<S: Sink>(sink: &mut S, escape: &[u8]) -> usize {
    sink.put(escape);
    1
}

fn unicode_escape(unit: u16) -> [u8; 6] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // `& 0xf` keeps every index below 16.
    let nibble = |shift: u16| HEX[usize::from((unit >> shift) & 0xf)];
    [b'\\', b'u', nibble(12), nibble(8), nibble(4), nibble(0)]
}
