//! The reference's non-standard number literals `NaN`, `Infinity`, `-Infinity`:
//! read for compatibility, never written, refused in new records.

use serde_json::Value;

/// If `text` holds the bare literals `NaN`, `Infinity` or `-Infinity` outside
/// strings, return it with each one quoted (`"NaN"` ...), which hashes the same
/// `None` when there is no such literal.
pub fn quote_literals(text: &str) -> Option<String> {
    if !text.contains("NaN") && !text.contains("Infinity") {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut in_string = false;
    let mut escaped = false;
    let mut changed = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let literal = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|lit| rest.starts_with(lit));
        if let Some(lit) = literal {
            out.push('"');
            out.push_str(lit);
            out.push('"');
            rest = &rest[lit.len()..];
            changed = true;
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    changed.then_some(out)
}

/// The JSON pointer of the first number in `value` whose value is not finite
/// (`1e999`), or `None`.
pub fn find_overflow(value: &Value, pointer: &mut String) -> Option<String> {
    match value {
        Value::Number(n) => {
            let text = n.as_str();
            (crate::canonical::is_float_text(text)
                && !text.parse::<f64>().is_ok_and(f64::is_finite))
            .then(|| pointer.clone())
        }
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            let len = pointer.len();
            pointer.push_str(&format!("/{i}"));
            let found = find_overflow(v, pointer);
            pointer.truncate(len);
            found
        }),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let len = pointer.len();
            pointer.push('/');
            pointer.push_str(&k.replace('~', "~0").replace('/', "~1"));
            let found = find_overflow(v, pointer);
            pointer.truncate(len);
            found
        }),
        _ => None,
    }
}
