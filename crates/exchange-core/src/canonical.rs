//! The canonical hash input of a record and its SHA-256, byte for byte
//! what the reference computes.
//!
//! This is *not* `fabric_core::json::to_canonical_string`: here strings and keys are
//! NFC-normalised, written as raw UTF-8, and floats are rounded to 15 significant
//! digits before they are spelled the Python way.

use std::fmt::Write as _;

use fabric_core::json::python_float_repr;
use serde_json::Value;
use sha2::{Digest, Sha256};
use smallvec::SmallVec;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::hash::ContentHash;
use crate::tree::{Kind, Tree};

/// The six hashed fields of a record, borrowed; `P` is the form of `request`
/// and `response`: parsed values ([`HashInput`]) or their canonical text
/// already written ([`CanonicalParts`]).
#[derive(Debug, Clone, Copy)]
pub struct HashFields<'a, P> {
    /// `exchange_type`.
    pub exchange_type: &'a str,
    /// `source_system`.
    pub source_system: &'a str,
    /// `entity_type`.
    pub entity_type: &'a str,
    /// `natural_key` (`None` is JSON null; `Some("")` stays `""`).
    pub natural_key: Option<&'a str>,
    /// `request` (`null` when missing).
    pub request: P,
    /// `response` (`null` when missing).
    pub response: P,
}

/// The hashed fields of a parsed record.
pub type HashInput<'a> = HashFields<'a, &'a Value>;

/// The hashed fields of a record read by the import fast path
/// ([`crate::lean`]): the strings as read, `request` and `response` already in
/// canonical form.
pub type CanonicalParts<'a> = HashFields<'a, &'a str>;

impl<P: Copy> HashFields<'_, P> {
    /// Write the envelope, keys in code-point order, the payloads by `payload`.
    fn write_envelope(&self, out: &mut String, payload: impl Fn(&mut String, P)) {
        out.push_str("{\"entity_type\":");
        write_str(out, self.entity_type);
        out.push_str(",\"exchange_type\":");
        write_str(out, self.exchange_type);
        out.push_str(",\"natural_key\":");
        match self.natural_key {
            Some(k) => write_str(out, k),
            None => out.push_str("null"),
        }
        out.push_str(",\"request\":");
        payload(out, self.request);
        out.push_str(",\"response\":");
        payload(out, self.response);
        out.push_str(",\"source_system\":");
        write_str(out, self.source_system);
        out.push('}');
    }
}

impl<T: Tree> HashFields<'_, &T> {
    /// The canonical text that is hashed. It is not always valid JSON: a float that
    /// rounds past the largest double is the bare token `Infinity` (a reference quirk).
    pub fn canonical_text(&self) -> String {
        let mut out = String::with_capacity(256);
        self.write_envelope(&mut out, |out, v| write_value(out, v));
        out
    }

    /// SHA-256 of [`HashInput::canonical_text`].
    pub fn hash(&self) -> ContentHash {
        ContentHash(Sha256::digest(self.canonical_text().as_bytes()).into())
    }

    /// [`HashFields::hash`], the text written in `out` (cleared first; a
    /// buffer kept from one record to the next saves an allocation each).
    pub fn hash_in(&self, out: &mut String) -> ContentHash {
        out.clear();
        self.write_envelope(out, |out, v| write_value(out, v));
        ContentHash(Sha256::digest(out.as_bytes()).into())
    }
}

/// Append the canonical form of `value` (a parsed value, or a tree of the
/// lean reader: see [`crate::tree`]).
pub fn write_value<T: Tree>(out: &mut String, value: &T) {
    match value.kind() {
        Kind::Null => out.push_str("null"),
        Kind::Bool(true) => out.push_str("true"),
        Kind::Bool(false) => out.push_str("false"),
        Kind::Num(n) => write_number_text(out, n),
        Kind::Str(s) => write_str(out, s),
        Kind::Plain(s) => write_plain(out, s),
        Kind::Arr => {
            out.push('[');
            for (i, item) in value.items().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Kind::Obj => {
            // NFC keys may collide: the later one wins, as in a Python dict. A
            // stable sort keeps equal keys in input order; keep the last of each run.
            // (On the stack for the usual small object: one per object adds up.)
            let mut entries: SmallVec<[(std::borrow::Cow<'_, str>, &T); 16]> =
                value.entries().map(|(k, v)| (nfc(k), v)).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            let mut first = true;
            for (i, &(ref k, v)) in entries.iter().enumerate() {
                if entries.get(i + 1).is_some_and(|next| next.0 == *k) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                write_escaped(out, k);
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

impl CanonicalParts<'_> {
    /// SHA-256 of the canonical text, the same bytes [`HashInput::canonical_text`]
    /// gives for the same record (when `request` and `response` are the
    /// canonical texts of its values). The text is written in `out` (cleared
    /// first; a buffer kept from one record to the next saves an allocation each).
    pub fn hash_in(&self, out: &mut String) -> ContentHash {
        out.clear();
        self.write_envelope(out, String::push_str);
        ContentHash(Sha256::digest(out.as_bytes()).into())
    }
}

/// Whether a number's text is a float (has `.`, `e` or `E`).
pub fn is_float_text(text: &str) -> bool {
    text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
}

/// Append the canonical form of a JSON number written as `text`: a float is
/// rounded to 15 significant digits first, and every zero is `0.0`.
pub fn write_number_text(out: &mut String, text: &str) {
    write_python_number(out, text, |out, x| {
        if x == 0.0 {
            out.push_str("0.0");
            return;
        }
        let rounded = round15_of_text(text, x);
        if rounded.is_infinite() {
            // A reference quirk: the bare token, not a string.
            out.push_str(if rounded > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            });
        } else {
            out.push_str(&python_float_repr(rounded));
        }
    });
}

/// Append a JSON number written as `text` the way the reference's Python
/// spells it: an integer exactly as written (any zero as `0`), a float that
/// overflows `f64` as the string `"Infinity"`/`"-Infinity"`, and a finite float
/// through `float(out, value)`. Both dialects (the hash input here, the pack
/// line in [`crate::record`]) spell numbers through it.
pub(crate) fn write_python_number(
    out: &mut String,
    text: &str,
    float: impl FnOnce(&mut String, f64),
) {
    if let Some(integer) = integer_text(text) {
        out.push_str(integer);
        return;
    }
    // JSON number text always parses as f64 (overflow gives infinity).
    let x: f64 = text.parse().unwrap_or(f64::NAN);
    if x.is_nan() {
        out.push_str("\"NaN\"");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    } else {
        float(out, x);
    }
}

/// Append the finite float `x`, written `text`, in both dialects: its
/// canonical form ([`write_number_text`]) to `canonical`, the pack line's
/// spelling (Python's repr) to `py`; one spelling serves both when rounding to
/// 15 digits leaves `x` as it is (most floats).
pub(crate) fn write_float_forms(canonical: &mut String, py: &mut String, text: &str, x: f64) {
    let repr = python_float_repr(x);
    if x != 0.0 && round15_of_text(text, x).to_bits() == x.to_bits() {
        canonical.push_str(&repr);
    } else {
        write_number_text(canonical, text);
    }
    py.push_str(&repr);
}

/// The spelling of the JSON number written as `text` when it is an integer
/// (the same in both dialects: as written, any zero as `0`); `None` for a
/// float.
pub(crate) fn integer_text(text: &str) -> Option<&str> {
    if is_float_text(text) {
        return None;
    }
    Some(integer_spelling(text))
}

/// [`integer_text`] of an integer's text (known to be one).
pub(crate) fn integer_spelling(text: &str) -> &str {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.bytes().all(|b| b == b'0') {
        "0"
    } else {
        text
    }
}

/// `float('%.15g' % x)`: round to 15 significant digits (exact, ties to even on
/// the binary value), parsed back.
pub fn round15(x: f64) -> f64 {
    let text = format!("{x:.14e}");
    text.parse().unwrap_or(x)
}

/// [`round15`] of `x`, the value of the JSON number `text`, without its formatting
/// and reparsing when they cannot change it: a decimal of at most 15 significant
/// digits comes back unchanged from the nearest double printed to 15 digits
/// (DBL_DIG = 15) for every normal double, so `round15` gives `x` itself. Most
/// floats in records (`0.5169`) are such; the others take the exact path.
fn round15_of_text(text: &str, x: f64) -> f64 {
    if x.is_normal() && significant_digits(text) <= 15 {
        x
    } else {
        round15(x)
    }
}

/// Significant digits of a JSON number's mantissa (leading zeros not counted,
/// trailing ones counted: an over-count only sends a number the exact way).
fn significant_digits(text: &str) -> usize {
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    mantissa
        .bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|b| *b == b'0')
        .count()
}

/// `s` in Unicode NFC, borrowed when it already is (ASCII always is).
pub fn nfc(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_ascii() {
        // ASCII text is always in NFC.
        return std::borrow::Cow::Borrowed(s);
    }
    match is_nfc_quick(s.chars()) {
        IsNormalized::Yes => std::borrow::Cow::Borrowed(s),
        _ => std::borrow::Cow::Owned(s.nfc().collect()),
    }
}

/// Append `s`, known to be ASCII with nothing to escape ([`Kind::Plain`]), as a
/// string literal: its text in quotes, in every dialect.
#[inline]
pub fn write_plain(out: &mut String, s: &str) {
    out.push('"');
    out.push_str(s);
    out.push('"');
}

/// Append `s` as the canonical string literal: NFC, then [`write_escaped`].
pub fn write_str(out: &mut String, s: &str) {
    write_escaped(out, &nfc(s));
}

/// Append `s` as a JSON string literal the way Python's `json.dumps(...,
/// ensure_ascii=False)` writes it: only `"`, `\` and control characters below
/// U+0020 are escaped (lowercase `\u00xx`), everything else is raw UTF-8.
pub fn write_escaped(out: &mut String, s: &str) {
    out.push('"');
    write_escaped_body(out, s);
    out.push('"');
}

/// [`write_escaped`] without the quotes: the escaped characters of `s` (escaping
/// works character by character, so the body of a concatenation is the
/// concatenation of the bodies).
pub fn write_escaped_body(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time while none needs escaping (most text).
        if let Some(word) = bytes.get(i..i + 8)
            && let Ok(word) = <[u8; 8]>::try_from(word)
            && !needs_escape(u64::from_le_bytes(word))
        {
            i += 8;
            continue;
        }
        let b = bytes[i];
        if b >= 0x20 && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        // `i` is at an ASCII byte, so both slices end on character boundaries.
        out.push_str(&s[start..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        i += 1;
        start = i;
    }
    out.push_str(&s[start..]);
}

/// Whether one of the eight bytes of `word` is one that JSON escapes (`"`,
/// the backslash, or below U+0020). Exact: each test answers non-zero only when
/// some byte is one it looks for.
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    /// The high bit set in some byte when a byte of `x` is below `n` (n <= 128).
    const fn below(x: u64, n: u8) -> u64 {
        x.wrapping_sub(ONES * n as u64) & !x & HIGH
    }
    below(word ^ (ONES * u64::from(b'"')), 1)
        | below(word ^ (ONES * u64::from(b'\\')), 1)
        | below(word, 0x20)
        != 0
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The payloads' canonical texts hashed as they are give the hash of the
    /// whole canonical text, for either key present or null and a buffer
    /// holding anything before.
    #[test]
    fn parts_hash_as_the_whole_text() {
        let values = [
            serde_json::json!(null),
            serde_json::json!({"b": [1, 2.5, "x\u{e9}"], "a": {"z": null, "y": true}}),
            serde_json::json!("a string"),
        ];
        let mut buffer = String::from("left over");
        for request in &values {
            for response in &values {
                for natural_key in [None, Some(""), Some("k|\"q\"")] {
                    let whole = HashInput {
                        exchange_type: "http",
                        source_system: "s\u{301}",
                        entity_type: "page",
                        natural_key,
                        request,
                        response,
                    };
                    let (mut req, mut resp) = (String::new(), String::new());
                    write_value(&mut req, request);
                    write_value(&mut resp, response);
                    let parts = CanonicalParts {
                        exchange_type: whole.exchange_type,
                        source_system: whole.source_system,
                        entity_type: whole.entity_type,
                        natural_key,
                        request: &req,
                        response: &resp,
                    };
                    assert_eq!(parts.hash_in(&mut buffer), whole.hash());
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// The shortcut agrees bit for bit with formatting and reparsing, for
        /// decimals of 1 to 18 digits, any point position and exponent (normal,
        /// subnormal and overflowing values included); and both dialects
        /// written at once ([`write_float_forms`]) are each dialect's own text.
        #[test]
        fn round15_shortcut_agrees(
            negative: bool,
            digits in "[0-9]{1,18}",
            point in 0usize..19,
            exponent in -330i32..330,
            upper: bool,
        ) {
            let point = point.min(digits.len());
            let text = format!(
                "{}{}.{}0{}{exponent}",
                if negative { "-" } else { "" },
                if point == 0 { "0" } else { &digits[..point] },
                &digits[point..],
                if upper { "E" } else { "e" },
            );
            let x: f64 = text.parse().unwrap_or(f64::NAN);
            if !x.is_finite() {
                return Ok(());
            }
            let (mut canonical, mut py) = (String::new(), String::new());
            write_float_forms(&mut canonical, &mut py, &text, x);
            let mut expected = String::new();
            write_number_text(&mut expected, &text);
            prop_assert_eq!(canonical, expected, "{}", text);
            let mut expected = String::new();
            write_python_number(&mut expected, &text, |out, x| out.push_str(&python_float_repr(x)));
            prop_assert_eq!(py, expected, "{}", text);
            if x == 0.0 {
                // Spelled before rounding (0.0): not this function's case.
                return Ok(());
            }
            prop_assert_eq!(round15_of_text(&text, x).to_bits(), round15(x).to_bits(), "{}", text);
        }
    }

    proptest! {
        /// Eight bytes at a time or one at a time, the same escaped text.
        #[test]
        fn escaping_by_words_is_escaping_by_bytes(s in "[a-z\"\\\\\u{0}-\u{1f}\u{7f}-\u{a0}\u{e9}\u{1f600} ]{0,40}") {
            let mut fast = String::new();
            write_escaped_body(&mut fast, &s);
            let mut slow = String::new();
            for c in s.chars() {
                let mut one = String::new();
                write_escaped_body(&mut one, c.encode_utf8(&mut [0; 4]));
                slow.push_str(&one);
            }
            prop_assert_eq!(fast, slow);
        }
    }

    #[test]
    fn significant_digits_skip_leading_zeros_and_the_exponent() {
        assert_eq!(significant_digits("0.000123"), 3);
        assert_eq!(significant_digits("-1.50e+300"), 3);
        assert_eq!(significant_digits("123456789012345.6"), 16);
        assert_eq!(significant_digits("1E-7"), 1);
    }
}
