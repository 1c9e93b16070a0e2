//! Canonical JSON and Python-compatible number spelling.
//!
//! Two spellings matter to Fabric's contracts:
//!
//! * [`python_float_repr`]: how the original Python system prints an `f64`
//!   (`0.0`, `1e-05`, `9.999000099990002e-05`, `-0.0`). Every float Fabric prints and
//!   every float it hashes uses it.
//! * canonical JSON: keys sorted by code point at every depth, no whitespace,
//!   every character outside printable ASCII escaped as `\uXXXX` (lower-case hex,
//!   surrogate pairs above U+FFFF), integers exact, floats in Python repr
//!   (Python's `json.dumps(v, sort_keys=True, separators=(",", ":"))`). Snapshot
//!   ids, chain checksums, stored chain payloads and dashboard parity digests
//!   are all taken over it.
//!
//! One writer, [`CanonicalWriter`], writes the canonical dialect; every function
//! here ([`to_canonical_string`], [`canonical_sha256`], [`write_ascii_string`],
//! [`canonical_number`], [`python_float_repr`]) is a view of it, so a change to
//! the dialect is made in one place. The plain first versions are kept under
//! `#[cfg(test)]` as oracles.
//!
//! Numbers are `serde_json::Number`s built with the `arbitrary_precision` feature, so
//! the original text of a number read from a file survives: `0` stays an integer,
//! `0.0` stays a float, and integers beyond 64 bits stay exact.

#[cfg(test)]
pub(crate) mod oracle;
pub(crate) mod writer;

use std::str::FromStr;

use serde_json::{Number, Value};

pub use writer::Writer as CanonicalWriter;

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
    if !x.is_finite() {
        return non_finite_text(x).to_owned();
    }
    let mut out = String::with_capacity(24);
    writer::write_python_float(&mut out, x);
    out
}

/// Python's JSON spelling of a value that is not finite.
pub(crate) fn non_finite_text(x: f64) -> &'static str {
    if x.is_nan() {
        "NaN"
    } else if x > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
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
///
/// ```
/// use fabric_core::json::canonical_number;
/// let n = |t: &str| t.parse::<serde_json::Number>().unwrap();
/// assert_eq!(canonical_number(&n("2.50")), "2.5");
/// assert_eq!(canonical_number(&n("-0")), "0");
/// assert_eq!(canonical_number(&n("1e999")), "Infinity");
/// ```
pub fn canonical_number(n: &Number) -> String {
    let mut out = String::with_capacity(24);
    // A writer that spells non-finite values does not fail.
    let _spelled = writer::write_number(&mut out, n, true);
    out
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
    let mut w = CanonicalWriter::spelling_bytes();
    w.value(value);
    w.into_text()
}

/// SHA-256 (lower-case hex) of the canonical form of `value`, streamed: the
/// text is never held whole.
///
/// ```
/// use fabric_core::json::{canonical_sha256, sha256_hex, to_canonical_string};
/// let v: serde_json::Value = serde_json::from_str(r#"{"b": 1, "a": [0.50]}"#).unwrap();
/// assert_eq!(canonical_sha256(&v), sha256_hex(to_canonical_string(&v).as_bytes()));
/// ```
pub fn canonical_sha256(value: &Value) -> String {
    let mut w = CanonicalWriter::sha256();
    w.value(value);
    w.finish_sha256()
}

/// Append `s` as a JSON string literal with Python's `ensure_ascii=True` escaping
/// (the canonical dialect's strings).
pub fn write_ascii_string(out: &mut String, s: &str) {
    writer::write_string(out, s);
}

/// A JSON object with keys in the given order (contract documents list their
/// keys in the reference's order).
pub(crate) fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// A JSON object with an entry per map entry, its value built by `entry`.
pub(crate) fn keyed<T>(
    map: &std::collections::BTreeMap<String, T>,
    entry: impl Fn(&T) -> Value,
) -> Value {
    Value::Object(map.iter().map(|(k, v)| (k.clone(), entry(v))).collect())
}

/// A JSON array of strings.
pub(crate) fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::String(s.clone())).collect())
}

/// SHA-256 of `bytes` as 64 lower-case hex characters.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Any JSON value: numbers from arbitrary decimal text (integers beyond 64
    /// bits, floats of any length, overflowing exponents), strings over all of
    /// Unicode, keys in any order.
    fn any_json() -> impl Strategy<Value = Value> {
        let number = "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?"
            .prop_filter_map("JSON number", |t| Number::from_str(&t).ok());
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number.prop_map(Value::Number),
            any::<f64>().prop_filter_map("finite", |x| py_float(x).map(Value::Number)),
            any::<String>().prop_map(Value::String),
            "[ -~]{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec((any::<String>(), inner.clone()), 0..8)
                    .prop_map(|e| Value::Object(e.into_iter().collect())),
                prop::collection::vec(("[a-e]{1,3}", inner), 0..8)
                    .prop_map(|e| Value::Object(e.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The one writer gives the oracle's bytes, in every view of it.
        #[test]
        fn the_writer_agrees_with_the_oracle(value in any_json()) {
            let expected = oracle::to_canonical_string(&value);
            prop_assert_eq!(to_canonical_string(&value), expected.clone());
            prop_assert_eq!(canonical_sha256(&value), sha256_hex(expected.as_bytes()));
            let mut w = CanonicalWriter::sha256();
            w.object_with(&value, |_, _, _| false);
            prop_assert_eq!(w.finish_sha256(), sha256_hex(expected.as_bytes()));
        }

        #[test]
        fn numbers_and_floats_agree_with_the_oracle(x: f64, text in "-?[0-9]{1,20}(\\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?") {
            prop_assert_eq!(python_float_repr(x), oracle::python_float_repr(x));
            if let Ok(n) = Number::from_str(&text) {
                prop_assert_eq!(canonical_number(&n), oracle::canonical_number(&n));
            }
        }

        #[test]
        fn strings_agree_with_the_oracle(s: String) {
            let (mut a, mut b) = (String::new(), String::new());
            write_ascii_string(&mut a, &s);
            oracle::write_ascii_string(&mut b, &s);
            prop_assert_eq!(a, b);
        }
    }

    fn check(x: f64, expected: &str) {
        assert_eq!(python_float_repr(x), expected, "repr of {x:e}");
    }

    /// The run-copying escaper gives what the oracle's char-by-char escaper
    /// gives, on the hard cases.
    #[test]
    fn ascii_string_escapes_like_char_by_char() {
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
            let (mut out, mut expected) = (String::new(), String::new());
            write_ascii_string(&mut out, s);
            oracle::write_ascii_string(&mut expected, s);
            assert_eq!(out, expected, "{s:?}");
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
