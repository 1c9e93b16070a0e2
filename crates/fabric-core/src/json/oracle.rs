//! The first, plain writers of the canonical dialect, kept as oracles: the one
//! writer ([`super::writer`]) must give their bytes for every input. They are
//! simple enough to check by reading; the differential proptests in
//! `json::tests` and `snapshot::tests` hold the one writer to them.

use std::fmt::Write as _;

use serde_json::{Number, Value};

use super::is_float_text;

/// Python's `repr(float)`, spelled from `ryu`'s shortest digits.
pub(crate) fn python_float_repr(x: f64) -> String {
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

/// A number for hashing: integers as written (`-0` as `0`), floats in repr.
pub(crate) fn canonical_number(n: &Number) -> String {
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

/// The canonical text of `value`.
pub(crate) fn to_canonical_string(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(&mut out, value);
    out
}

/// Append the canonical form of `value` to `out`.
fn write_canonical(out: &mut String, value: &Value) {
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
pub(crate) fn write_ascii_string(out: &mut String, s: &str) {
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
