//! `redaction.jsonl`: Fabric redacts everything the reference does, and more
//! (see the redaction module); the labels follow Fabric's rule (only what was
//! really replaced).

use exchange_sync::redaction::Redactor;
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn out_part(out: &exchange_sync::redaction::Redacted, part: &str) -> Value {
    if part == "request" {
        out.request.clone()
    } else {
        out.response.clone()
    }
}

/// Where the reference changed a string, Fabric changed it too (and never kept
/// the original); where Fabric differs from the reference, it redacted more.
fn at_least(input: &Value, expected: &Value, ours: &Value, at: &str) {
    match (input, expected, ours) {
        (Value::Object(i), Value::Object(e), Value::Object(o)) => {
            for (k, iv) in i {
                let (Some(ev), Some(ov)) = (e.get(k), o.get(k)) else {
                    panic!("{at}.{k}: key lost");
                };
                at_least(iv, ev, ov, &format!("{at}.{k}"));
            }
        }
        (Value::Array(i), Value::Array(e), Value::Array(o)) => {
            for (n, iv) in i.iter().enumerate() {
                at_least(iv, &e[n], &o[n], &format!("{at}[{n}]"));
            }
        }
        (Value::String(i), Value::String(e), Value::String(o)) => {
            if e != i {
                assert_ne!(o, i, "{at}: the reference redacted this, Fabric did not");
            }
            if o != e {
                assert!(o.contains("[REDACTED]"), "{at}: {o:?} differs from {e:?}");
            }
        }
        (i, e, o) => {
            assert_eq!(e, i, "{at}");
            assert_eq!(o, i, "{at}");
        }
    }
}

#[test]
fn redaction_vectors() -> TestResult {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/vectors/exchange/redaction.jsonl");
    let text = std::fs::read_to_string(&path)?;
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line)?;
        let name = case["case"].as_str().unwrap_or("?");
        let headers: Option<Vec<String>> =
            serde_json::from_value(case["headers_to_redact"].clone())?;
        let custom: Option<Vec<String>> = serde_json::from_value(case["custom_patterns"].clone())?;
        let r = Redactor::new(headers.as_deref(), &custom.unwrap_or_default(), &path)?;
        let out = r.redact(&case["input"]["request"], &case["input"]["response"]);
        // Fabric redacts at least what the reference does (it scans more: header
        // values, every key naming a secret, provider formats, and adds to a
        // caller's header list instead of replacing the built-in one).
        for part in ["request", "response"] {
            at_least(
                &case["input"][part],
                &case["expected"][part],
                &out_part(&out, part),
                &format!("{name}: {part}"),
            );
        }
        for l in out.labels.iter().filter(|l| !l.starts_with("rule:")) {
            assert!(
                [
                    "request_headers",
                    "request_secrets",
                    "response_headers",
                    "response_secrets"
                ]
                .contains(&l.as_str()),
                "{name}: label {l}"
            );
        }
        let changed =
            out.request != case["input"]["request"] || out.response != case["input"]["response"];
        assert_eq!(
            changed,
            !out.labels.is_empty(),
            "{name}: labels only when changed"
        );
        n += 1;
    }
    assert_eq!(n, 13);
    Ok(())
}
