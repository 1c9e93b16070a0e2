//! `redaction.jsonl`: the redacted text must match the reference; the labels follow
//! Fabric's rule (only what was really replaced).

use exchange_sync::redaction::Redactor;
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

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
        assert_eq!(out.request, case["expected"]["request"], "{name}: request");
        assert_eq!(
            out.response, case["expected"]["response"],
            "{name}: response"
        );
        // Fabric labels: a subset of the reference's, exactly those that changed.
        let req_changed = out.request != case["input"]["request"];
        let resp_changed = out.response != case["input"]["response"];
        let reference: Vec<String> =
            serde_json::from_value(case["redactions_applied_sorted"].clone())?;
        for l in &out.labels {
            assert!(
                reference.contains(l),
                "{name}: label {l} not in reference {reference:?}"
            );
        }
        assert_eq!(
            req_changed,
            out.labels.iter().any(|l| l.starts_with("request_")),
            "{name}"
        );
        assert_eq!(
            resp_changed,
            out.labels.iter().any(|l| l == "response_secrets"),
            "{name}"
        );
        n += 1;
    }
    assert_eq!(n, 13);
    Ok(())
}
