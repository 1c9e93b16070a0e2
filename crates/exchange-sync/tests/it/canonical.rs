//! The 43 canonical-hash vectors of `tests/vectors/exchange/canonical.jsonl`.

use exchange_sync::ExchangeRecord;
use exchange_sync::record::LineError;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn vectors_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/exchange")
}

#[test]
fn all_canonical_vectors_match() -> TestResult {
    let text = std::fs::read_to_string(vectors_dir().join("canonical.jsonl"))?;
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line)?;
        let name = case["case"].as_str().unwrap_or("?").to_owned();
        let record_line = case["record_line"].as_str().ok_or("record_line")?;
        checked += 1;
        let parsed = ExchangeRecord::parse_line(record_line);
        if let Some(err) = case.get("error") {
            // The reference cannot hash it; Fabric refuses the record.
            if parsed.is_ok() {
                failures.push(format!("{name}: expected an error ({err}), parsed fine"));
            }
            continue;
        }
        let parsed = match parsed {
            Ok(p) => p,
            Err(LineError::Json(e)) => {
                failures.push(format!("{name}: json error {e}"));
                continue;
            }
            Err(LineError::Record { reason, .. }) => {
                failures.push(format!("{name}: record error {reason}"));
                continue;
            }
        };
        let expected_text = case["hash_input_canonical"].as_str().ok_or("canonical")?;
        let got_text = parsed.record.hash_input().canonical_text();
        if got_text != expected_text {
            failures.push(format!(
                "{name}:\n  got      {got_text}\n  expected {expected_text}"
            ));
            continue;
        }
        let expected_hash = case["content_sha256"].as_str().ok_or("hash")?;
        let got = parsed.record.compute_hash().to_hex();
        if got != expected_hash {
            failures.push(format!("{name}: hash {got} != {expected_hash}"));
        }
        if parsed.record.content_sha256.to_hex() != expected_hash {
            failures.push(format!("{name}: stored hash differs"));
        }
        // Writing the record back and reading it again keeps the hash.
        let again = ExchangeRecord::parse_line(&parsed.record.to_line())
            .map_err(|e| format!("{name}: re-read: {e:?}"))?;
        if again.record.compute_hash().to_hex() != expected_hash {
            failures.push(format!("{name}: hash changed after write + read"));
        }
    }
    assert_eq!(checked, 43, "the vector file holds 43 cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}
