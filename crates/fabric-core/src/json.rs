//! Canonical JSON and Python-compatible number spelling.
//!
//! Two spellings matter to Fabric's contracts:
//!
//! * [`python_float_repr`]: how the original Python system prints an `f64`
//!   (`0.0`, `1e-05`, `9.999000099990002e-05`, `-0.0`). Every float Fabric prints and
//!   every float it hashes uses it.
//! * [`to_canonical_string`]: keys sorted by code point at every depth, no
//!   whitespace, every character outside printable ASCII escaped as `\uXXXX`
//!   (lower-case hex, surrogate pairs above U+FFFF), integers exact, floats in Python
//!   repr. This is the byte string that content hashes are taken over.
//!
//! Numbers are `serde_json::Number`s built with the `arbitrary_precision` feature, so
//! the original text of a number read from a file survives: `0` stays an integer,
//! `0.0` stays a float, and integers beyond 64 bits stay exact.

use std::fmt::Write as _;
use std::str::FromStr;

use serde_json::{Number, Value};

/// Spell `x` the way Python's `repr(float)` does.
///
/// The digits are the shortest ones that round-trip to the same `f64`; the layout is
/// fixed notation for decimal exponents in `-4..16` and `d.ddde±XX` otherwise.
/// Non-finite values are spelled `NaN`, `Infinity` and `-Infinity` (Python's JSON
/// spelling); Fabric never produces them in a contract document.
///
/// ```
/// use fabric_core::json::python_float_repr;
/// assert_eq!(python_float_repr(0.0), "0.0");
/// assert_eq!(python_float_repr(-0.0), "-0.0");
/// assert_eq!(python_float_repr(1e-5), "1e-05");
/// assert_eq!(python_float_repr(0.0001), "0.0001");
/// assert_eq!(python_float_repr(1.0 / 10001.0), "9.999000099990002e-05");
/// assert_eq!(python_float_repr(1e16), "1e+16");
/// assert_eq!(python_float_repr(123.0), "123.0");
/// ```
pub fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    // The shortest round-trip digits. `ryu` breaks an exact tie between two
    // shortest candidates to the even digit, as Python's repr does; core's `{:e}`
    // rounds it up (999900009999000.25 would print ...000.3, Python says ...000.2).
    let mut buffer = ryu::Buffer::new();
    let (digits, exp) = shortest_digits(buffer.format_finite(x.abs()));
    let mut out = String::with_capacity(digits.len() + 8);
    if x.is_sign_negative() {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    out
}

/// Significant digits (no leading or trailing zeros) and the decimal exponent of
/// the first one, from `ryu`'s `d+.d+` or `d(.d+)?e-?d+` spelling of a positive,
/// non-zero finite value.
fn shortest_digits(text: &str) -> (String, i32) {
    let (mantissa, exp_part) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all: String = int.chars().chain(frac.chars()).collect();
    let leading = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_start_matches('0').trim_end_matches('0').to_owned();
    let int_len = i32::try_from(int.len()).unwrap_or(i32::MAX);
    let leading = i32::try_from(leading).unwrap_or(i32::MAX);
    (digits, int_len - 1 - leading + exp_part)
}

/// A JSON float [`Number`] whose text is the Python repr of `x`.
///
/// Returns `None` for NaN and infinities, which JSON cannot hold.
pub fn py_float(x: f64) -> Option<Number> {
    if !x.is_finite() {
        return None;
    }
    Number::from_str(&python_float_repr(x)).ok()
}

/// Whether a number was written (or built) as a float: its text has a fraction or
/// an exponent.
pub fn is_float_text(n: &Number) -> bool {
    n.as_str().bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
}

/// Spell a number for hashing: integers exactly as written (`-0` as `0`), floats in
/// Python repr of their correctly rounded `f64` value.
///
/// A float whose text overflows `f64` (`1e999`) is spelled `Infinity`/`-Infinity`,
/// as Python would; callers that must refuse such documents check first with
/// [`is_finite_number`].
pub fn canonical_number(n: &Number) -> String {
    let text = n.as_str();
    if is_float_text(n) {
        // JSON number text always parses as f64 (overflow gives infinity).
        let x: f64 = text.parse().unwrap_or(f64::NAN);
        python_float_repr(x)
    } else if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// Whether a number is representable without overflow: integers always are (they
/// stay exact), floats when their value is finite.
pub fn is_finite_number(n: &Number) -> bool {
    !is_float_text(n) || n.as_str().parse::<f64>().is_ok_and(f64::is_finite)
}

/// Serialise `value` canonically (see the module documentation).
///
/// ```
/// use fabric_core::json::to_canonical_string;
/// let v: serde_json::Value = serde_json::from_str(r#"{"b": [1, 2.50], "a": "é😀"}"#).unwrap();
/// assert_eq!(to_canonical_string(&v), r#"{"a":"\u00e9\ud83d\ude00","b":[1,2.5]}"#);
/// ```
pub fn to_canonical_string(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(&mut out, value);
    out
}

/// Append the canonical form of `value` to `out`.
pub fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&canonical_number(n)),
        Value::String(s) => write_ascii_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_ascii_string(out, key);
                out.push(':');
                write_canonical(out, item);
            }
            out.push('}');
        }
    }
}

/// Append `s` as a JSON string literal with Python's `ensure_ascii=True` escaping.
pub fn write_ascii_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Runs of printable ASCII that need no escape are copied whole (a 100 MB
    // string is one copy, not 100 million pushes).
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        if matches!(c, ' '..='~') && c != '"' && c != '\\' {
            continue;
        }
        out.push_str(s.get(plain..i).unwrap_or_default());
        plain = i + c.len_utf8();
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push_str(s.get(plain..).unwrap_or_default());
    out.push('"');
}

/// SHA-256 of `bytes` as 64 lower-case hex characters.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(x: f64, expected: &str) {
        assert_eq!(python_float_repr(x), expected, "repr of {x:e}");
    }

    /// The run-copying escaper gives what escaping char by char gives.
    #[test]
    fn ascii_string_escapes_like_char_by_char() {
        fn one_by_one(s: &str) -> String {
            let mut out = String::from('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\u{8}' => out.push_str("\\b"),
                    '\u{c}' => out.push_str("\\f"),
                    ' '..='~' => out.push(c),
                    _ => {
                        let mut units = [0u16; 2];
                        for unit in c.encode_utf16(&mut units) {
                            out.push_str(&format!("\\u{unit:04x}"));
                        }
                    }
                }
            }
            out.push('"');
            out
        }
        for s in [
            "",
            "plain",
            "\"",
            "a\"b\\c",
            "caf\u{e9} cafe\u{301}",
            "\u{0}\u{1f}\u{7f}\u{80}",
            "tab\tnl\ncr\rbs\u{8}ff\u{c}",
            "\u{1F600} end",
            "\u{1F600}",
            "x\u{10FFFF}",
            "~ !",
        ] {
            let mut out = String::new();
            write_ascii_string(&mut out, s);
            assert_eq!(out, one_by_one(s), "{s:?}");
        }
    }

    #[test]
    #[expect(
        clippy::excessive_precision,
        reason = "exact ties are written out in full"
    )]
    fn python_repr_matches_python() {
        check(0.0, "0.0");
        check(-0.0, "-0.0");
        check(1.0, "1.0");
        check(0.2, "0.2");
        check(0.0001, "0.0001");
        check(1.0 / 3.0, "0.3333333333333333");
        check(1e-5, "1e-05");
        check(1.5e-7, "1.5e-07");
        check(1e16, "1e+16");
        check(1e21, "1e+21");
        check(1.2345678901234568e17, "1.2345678901234568e+17");
        check(9.999000099990002e-05, "9.999000099990002e-05");
        check(123456789012345.6, "123456789012345.6");
        check(1234567890123456.0, "1234567890123456.0");
        check(-2.5, "-2.5");
        check(5e-324, "5e-324");
        check(1.7976931348623157e308, "1.7976931348623157e+308");
        // Exact ties between two shortest spellings go to the even digit (found by
        // the `canonical` fuzz target; values and spellings from CPython 3.11).
        check(999_900_009_999_000.25, "999900009999000.2");
        check(562_949_953_421_312.25, "562949953421312.2");
        check(600_000_000_000_000.25, "600000000000000.2");
        check(700_000_000_000_000.75, "700000000000000.8");
        check(1_125_899_906_842_623.5, "1125899906842623.5");
        check(1e23, "1e+23");
        check(9_007_199_254_740_993.0, "9007199254740992.0");
    }

    #[test]
    fn canonical_keeps_number_kinds() -> Result<(), serde_json::Error> {
        let v: Value = serde_json::from_str(
            r#"{"z": 0, "y": 0.0, "x": -0.0, "w": 123456789012345678901234567890, "v": 1E2, "u": -0}"#,
        )?;
        assert_eq!(
            to_canonical_string(&v),
            r#"{"u":0,"v":100.0,"w":123456789012345678901234567890,"x":-0.0,"y":0.0,"z":0}"#
        );
        Ok(())
    }

    #[test]
    fn canonical_escapes_like_python() -> Result<(), serde_json::Error> {
        let v: Value = serde_json::from_str(r#"["a\"b\\c\n\r\t\b\f\u0001\u007f/é\ud83c\udfac"]"#)?;
        assert_eq!(
            to_canonical_string(&v),
            r#"["a\"b\\c\n\r\t\b\f\u0001\u007f/\u00e9\ud83c\udfac"]"#
        );
        Ok(())
    }

    #[test]
    fn py_float_builds_python_spelled_numbers() {
        let n = py_float(1e-5).map(|n| n.to_string());
        assert_eq!(n.as_deref(), Some("1e-05"));
        assert!(py_float(f64::NAN).is_none());
    }

    proptest::proptest! {
        #[test]
        fn repr_round_trips(x in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO) {
            let text = python_float_repr(x);
            let back: f64 = text.parse().map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{text}: {e}")))?;
            proptest::prop_assert_eq!(back.to_bits(), x.to_bits());
        }
    }
}
