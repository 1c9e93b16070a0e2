//! A fast, allocation-free writer of the canonical JSON bytes of spec §9.2,
//! streaming into a SHA-256 hasher (or a byte buffer).
//!
//! Byte-for-byte the same as [`crate::json::to_canonical_string`], but it never
//! builds the string: keys are sorted through a reused scratch list per depth,
//! strings are copied in runs, floats are formatted on the stack, and bytes go
//! through one fixed buffer into the hasher.

use std::fmt::{self, Write as _};

use serde_json::{Number, Value};
use sha2::{Digest, Sha256};

use crate::json::is_float_text;

/// Where canonical bytes go.
pub(crate) trait Sink {
    /// Append `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// A SHA-256 hasher fed through a fixed buffer.
pub(crate) struct HashSink {
    hasher: Sha256,
    buf: Vec<u8>,
}

const HASH_BUFFER: usize = 16 * 1024;

impl HashSink {
    pub(crate) fn new() -> Self {
        HashSink {
            hasher: Sha256::new(),
            buf: Vec::with_capacity(HASH_BUFFER),
        }
    }

    /// The lower-case hex digest of everything put.
    pub(crate) fn finish(mut self) -> String {
        self.hasher.update(&self.buf);
        hex::encode(self.hasher.finalize())
    }
}

impl Sink for HashSink {
    fn put(&mut self, bytes: &[u8]) {
        if self.buf.len() + bytes.len() > HASH_BUFFER {
            self.hasher.update(&self.buf);
            self.buf.clear();
            if bytes.len() >= HASH_BUFFER {
                self.hasher.update(bytes);
                return;
            }
        }
        self.buf.extend_from_slice(bytes);
    }
}

/// A float in the document is NaN or infinite (its text overflows `f64`).
#[derive(Debug)]
pub(crate) struct NonFinite;

/// Writes canonical JSON; keeps one scratch list of object entries per depth.
pub(crate) struct Writer<'a, S> {
    pub(crate) sink: S,
    scratch: Vec<Vec<(&'a str, &'a Value)>>,
}

impl<'a, S: Sink> Writer<'a, S> {
    pub(crate) fn new(sink: S) -> Self {
        Writer {
            sink,
            scratch: Vec::new(),
        }
    }

    /// Write `value`; at depth 0 an object's `skip_key` entry is left out.
    pub(crate) fn value(
        &mut self,
        value: &'a Value,
        skip_key: Option<&str>,
    ) -> Result<(), NonFinite> {
        self.write(value, 0, skip_key)
    }

    fn write(
        &mut self,
        value: &'a Value,
        depth: usize,
        skip_key: Option<&str>,
    ) -> Result<(), NonFinite> {
        match value {
            Value::Null => self.sink.put(b"null"),
            Value::Bool(true) => self.sink.put(b"true"),
            Value::Bool(false) => self.sink.put(b"false"),
            Value::Number(n) => self.number(n)?,
            Value::String(s) => write_string(&mut self.sink, s),
            Value::Array(items) => {
                self.sink.put(b"[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.sink.put(b",");
                    }
                    self.write(item, depth + 1, None)?;
                }
                self.sink.put(b"]");
            }
            Value::Object(map) => {
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
                if !entries.is_sorted_by(|a, b| a.0 <= b.0) {
                    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                }
                self.sink.put(b"{");
                let mut result = Ok(());
                for (i, (key, item)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.sink.put(b",");
                    }
                    write_string(&mut self.sink, key);
                    self.sink.put(b":");
                    result = self.write(item, depth + 1, None);
                    if result.is_err() {
                        break;
                    }
                }
                self.sink.put(b"}");
                entries.clear();
                if let Some(slot) = self.scratch.get_mut(depth) {
                    *slot = entries;
                }
                result?;
            }
        }
        Ok(())
    }

    fn number(&mut self, n: &Number) -> Result<(), NonFinite> {
        let text = n.as_str();
        if is_float_text(n) {
            let x: f64 = text.parse().map_err(|_| NonFinite)?;
            if !x.is_finite() {
                return Err(NonFinite);
            }
            write_python_float(&mut self.sink, x);
        } else if text == "-0" {
            self.sink.put(b"0");
        } else {
            self.sink.put(text.as_bytes());
        }
        Ok(())
    }
}

/// A JSON string literal with Python's `ensure_ascii=True` escaping.
pub(crate) fn write_string<S: Sink>(sink: &mut S, text: &str) {
    sink.put(b"\"");
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        if let Some(run) = bytes.get(start..i) {
            sink.put(run);
        }
        let width = match b {
            b'"' => sink_put(sink, b"\\\"", 1),
            b'\\' => sink_put(sink, b"\\\\", 1),
            b'\n' => sink_put(sink, b"\\n", 1),
            b'\r' => sink_put(sink, b"\\r", 1),
            b'\t' => sink_put(sink, b"\\t", 1),
            0x08 => sink_put(sink, b"\\b", 1),
            0x0c => sink_put(sink, b"\\f", 1),
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

fn sink_put<S: Sink>(sink: &mut S, bytes: &[u8], width: usize) -> usize {
    sink.put(bytes);
    width
}

fn unicode_escape(unit: u16) -> [u8; 6] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let nibble = |shift: u16| HEX[usize::from((unit >> shift) & 0xf)];
    [b'\\', b'u', nibble(12), nibble(8), nibble(4), nibble(0)]
}

/// A small stack buffer for `{:e}` output.
struct StackText {
    buf: [u8; 40],
    len: usize,
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Python `repr(float)` of a finite `x`, without allocating (same spelling as
/// [`crate::json::python_float_repr`]).
pub(crate) fn write_python_float<S: Sink>(sink: &mut S, x: f64) {
    let mut sci = StackText {
        buf: [0; 40],
        len: 0,
    };
    if write!(sci, "{:e}", x.abs()).is_err() {
        // Cannot happen: a finite f64 in LowerExp is at most ~25 bytes.
        sink.put(crate::json::python_float_repr(x).as_bytes());
        return;
    }
    let text = sci.buf.get(..sci.len).unwrap_or_default();
    let e_pos = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
    let (mantissa, exp_text) = text.split_at(e_pos);
    let exp_text = exp_text.get(1..).unwrap_or_default();
    let (negative_exp, exp_digits) = match exp_text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, exp_text),
    };
    let mut exp: i32 = 0;
    for &d in exp_digits {
        exp = exp * 10 + i32::from(d - b'0');
    }
    if negative_exp {
        exp = -exp;
    }
    let mut digits = [0u8; 24];
    let mut n = 0;
    for &d in mantissa.iter().filter(|&&d| d != b'.') {
        if let Some(slot) = digits.get_mut(n) {
            *slot = d;
            n += 1;
        }
    }
    let digits = digits.get(..n).unwrap_or_default();
    if x.is_sign_negative() {
        sink.put(b"-");
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            sink.put(b"0.");
            for _ in 0..(-exp - 1) {
                sink.put(b"0");
            }
            sink.put(digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                sink.put(digits);
                for _ in digits.len()..int_len {
                    sink.put(b"0");
                }
                sink.put(b".0");
            } else {
                let (int, frac) = digits.split_at(int_len);
                sink.put(int);
                sink.put(b".");
                sink.put(frac);
            }
        }
    } else {
        let (first, rest) = digits.split_at(digits.len().min(1));
        sink.put(first);
        if !rest.is_empty() {
            sink.put(b".");
            sink.put(rest);
        }
        sink.put(if exp < 0 { b"e-" } else { b"e+" });
        let abs = exp.unsigned_abs();
        let mut e = StackText {
            buf: [0; 40],
            len: 0,
        };
        let _ = write!(e, "{abs:02}");
        sink.put(e.buf.get(..e.len).unwrap_or_default());
    }
}
