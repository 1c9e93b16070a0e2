//! Python `repr(float)` on the stack, from a JSON float's text or an `f64`.
//!
//! A float text with at most 15 significant digits in the normal range is already
//! the shortest round-trip spelling of its value (any two distinct decimals of
//! at most 15 digits map to distinct doubles), so its digits are re-laid out
//! without parsing. Longer texts are parsed and re-spelled through `ryu`.

use super::{NonFinite, Sink};

/// Significant digits of a decimal, and the exponent of the first one
/// (value = d1.d2d3... × 10^exp). No digits means zero.
struct Decimal {
    negative: bool,
    digits: [u8; 40],
    len: usize,
    exp: i32,
    /// More digits than fit (only possible for text from a file).
    overflow: bool,
}

impl Decimal {
    fn digits(&self) -> &[u8] {
        self.digits.get(..self.len).unwrap_or_default()
    }
}

/// Split `d[.ddd][e±x]` (an optional sign first) into digits and exponent.
fn decompose(text: &[u8]) -> Option<Decimal> {
    let mut d = Decimal {
        negative: false,
        digits: [0; 40],
        len: 0,
        exp: 0,
        overflow: false,
    };
    let mut rest = text;
    if let Some((b'-', tail)) = rest.split_first() {
        d.negative = true;
        rest = tail;
    }
    let mut int_digits: i32 = 0;
    let mut leading_zeros: i32 = 0;
    let mut seen_point = false;
    let mut exp_part: i32 = 0;
    let mut i = 0;
    while let Some(&b) = rest.get(i) {
        match b {
            b'0'..=b'9' => {
                if !seen_point {
                    int_digits += 1;
                }
                if d.len == 0 && b == b'0' {
                    leading_zeros += 1;
                } else if let Some(slot) = d.digits.get_mut(d.len) {
                    *slot = b;
                    d.len += 1;
                } else if b != b'0' {
                    d.overflow = true;
                }
            }
            b'.' => seen_point = true,
            b'e' | b'E' => {
                let tail = rest.get(i + 1..)?;
                let (negative, digits) = match tail.split_first() {
                    Some((b'-', t)) => (true, t),
                    Some((b'+', t)) => (false, t),
                    _ => (false, tail),
                };
                if digits.is_empty() || digits.len() > 6 {
                    return None;
                }
                for &e in digits {
                    if !e.is_ascii_digit() {
                        return None;
                    }
                    exp_part = exp_part * 10 + i32::from(e - b'0');
                }
                if negative {
                    exp_part = -exp_part;
                }
                break;
            }
            _ => return None,
        }
        i += 1;
    }
    while d.len > 0 && d.digits.get(d.len - 1) == Some(&b'0') {
        d.len -= 1;
    }
    // The first significant digit sits at position `leading_zeros` of all digits.
    d.exp = int_digits - 1 - leading_zeros + exp_part;
    Some(d)
}

/// Write the canonical spelling of a JSON float text.
pub(crate) fn write_float_text<S: Sink>(sink: &mut S, text: &str) -> Result<(), NonFinite> {
    if let Some(d) = decompose(text.as_bytes()) {
        if d.len == 0 && !d.overflow {
            sink.put(if d.negative { b"-0.0" } else { b"0.0" });
            return Ok(());
        }
        if d.len <= 15 && !d.overflow && (-307..=307).contains(&d.exp) {
            layout(sink, d.negative, d.digits(), d.exp);
            return Ok(());
        }
    }
    let x: f64 = text.parse().map_err(|_| NonFinite)?;
    if !x.is_finite() {
        return Err(NonFinite);
    }
    write_python_float(sink, x);
    Ok(())
}

/// Python `repr` of a finite `x`.
pub(crate) fn write_python_float<S: Sink>(sink: &mut S, x: f64) {
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(x);
    match decompose(text.as_bytes()) {
        Some(d) if d.len == 0 => sink.put(if d.negative { b"-0.0" } else { b"0.0" }),
        Some(d) => layout(sink, d.negative, d.digits(), d.exp),
        // ryu always prints `-?d+(.d+)?(e-?d+)?`, which always decomposes.
        None => sink.put(text.as_bytes()),
    }
}

/// Python's layout of shortest digits: fixed for exponents in `-4..16`,
/// `d[.ddd]e±XX` otherwise.
fn layout<S: Sink>(sink: &mut S, negative: bool, digits: &[u8], exp: i32) {
    const ZEROS: &[u8; 24] = b"000000000000000000000000";
    if negative {
        sink.put(b"-");
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            sink.put(b"0.");
            sink.put(ZEROS.get(..(-exp - 1) as usize).unwrap_or_default());
            sink.put(digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                sink.put(digits);
                sink.put(ZEROS.get(..int_len - digits.len()).unwrap_or_default());
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
        let mut e = [0u8; 3];
        let n = if abs >= 100 { 3 } else { 2 };
        let mut v = abs;
        for slot in e.iter_mut().take(n).rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        sink.put(e.get(..n).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::oracle::{canonical_number, python_float_repr};

    fn via_text(text: &str) -> String {
        let mut out = Vec::new();
        let ok = write_float_text(&mut out, text).is_ok();
        if ok {
            String::from_utf8(out).unwrap_or_default()
        } else {
            "error".into()
        }
    }

    #[test]
    fn text_fast_path_matches_parse_and_repr() -> Result<(), serde_json::Error> {
        for text in [
            "0.0",
            "-0.0",
            "0.10",
            "1E2",
            "1e-5",
            "0.00001",
            "0.0001",
            "1.0",
            "100.0",
            "1e15",
            "1e16",
            "1.5e-7",
            "123456789012345.0",
            "1234567890123456.0",
            "0.3333333333333333",
            "9.999000099990002e-05",
            "0e10",
            "-0e-3",
            "1.000000000000000000001",
            "5e-324",
            "1e-310",
            "1.7976931348623157e308",
            "1e308",
            "2.5e-308",
            "1e-307",
            "0.000123450000",
            "12345678901234567890.0",
            "0.0000000000000000000000000000000000000000000001",
        ] {
            let n: serde_json::Number = text.parse()?;
            assert_eq!(via_text(text), canonical_number(&n), "{text}");
        }
        assert_eq!(via_text("1e999"), "error");
        assert_eq!(via_text("-1e400"), "error");
        assert_eq!(via_text("1.79769313486232e308"), "error");
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn ryu_layout_is_python_repr(x in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO) {
            let mut out = Vec::new();
            write_python_float(&mut out, x);
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap_or_default(), python_float_repr(x));
        }

        #[test]
        fn text_spelling_is_python_repr(x in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL, digits in 1usize..18) {
            // Any decimal spelling of a value, with 1..17 significant digits.
            let text = format!("{:.*e}", digits - 1, x);
            let n: serde_json::Number = text.parse().map_err(|e: serde_json::Error| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(via_text(&text), canonical_number(&n), "{}", text);
        }
    }
}
