//! The fast path agrees with the full parse on every canonical vector and
//! declines whatever it is unsure about.

use super::*;
use crate::ExchangeRecord;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn vectors() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/vectors/exchange/canonical.jsonl");
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line)?;
        out.push(
            case["record_line"]
                .as_str()
                .ok_or("record_line")?
                .to_owned(),
        );
    }
    Ok(out)
}

#[test]
fn fast_path_agrees_with_full_parse_on_vectors() -> TestResult {
    let mut accepted = 0;
    for line in vectors()? {
        let full = ExchangeRecord::parse_line(&line)
            .ok()
            .filter(|p| !p.had_nan_literals)
            .map(|p| p.record);
        let (ss, et) = full.as_ref().map_or(("x", "y"), |r| {
            (r.source_system.as_str(), r.entity_type.as_str())
        });
        let Some(fast) = check_line(&line, ss, et) else {
            continue;
        };
        accepted += 1;
        let r = full
            .as_ref()
            .ok_or("fast path accepted a line the full parse refuses")?;
        assert_eq!(r.compute_hash(), r.content_sha256, "{line}");
        assert_eq!(fast.content_sha256, r.content_sha256);
        assert_eq!(fast.exchange_id, r.exchange_id);
        assert_eq!(fast.exchange_type, r.exchange_type);
        assert_eq!(fast.lookup_key.as_deref(), r.lookup_key());
        assert_eq!(Some(fast.observed_at_utc), r.observed_at_utc);
        assert_eq!(fast.schema_version, r.schema_version);
    }
    assert!(accepted >= 30, "only {accepted} vectors took the fast path");
    Ok(())
}

#[test]
fn fast_path_declines_unusual_lines() -> TestResult {
    let base = vectors()?.into_iter().next().ok_or("no vectors")?;
    let r = ExchangeRecord::parse_line(&base)
        .map_err(|_| "vector")?
        .record;
    let (ss, et) = (r.source_system.clone(), r.entity_type.clone());
    assert!(check_line(&base, &ss, &et).is_some());
    // Out of scope, duplicate key, array envelope, bad provenance, float version.
    assert!(check_line(&base, "other", &et).is_none());
    let dup = base.replacen("\"request\": null", "\"request\": null, \"request\": 1", 1);
    assert!(check_line(&dup, &ss, &et).is_none());
    let nested = base.replacen("\"request\": null", "\"request\": {\"a\": 1, \"a\": 2}", 1);
    assert!(check_line(&nested, &ss, &et).is_none());
    assert!(check_line(&format!("[{base}]"), &ss, &et).is_none());
    let prov = base.replacen("\"provenance\": null", "\"provenance\": [1]", 1);
    assert!(check_line(&prov, &ss, &et).is_none());
    let ver = base.replacen("\"schema_version\": 1", "\"schema_version\": 1.0", 1);
    assert!(check_line(&ver, &ss, &et).is_none());
    let nan = base.replacen("\"request\": null", "\"request\": NaN", 1);
    assert!(check_line(&nan, &ss, &et).is_none());
    Ok(())
}
