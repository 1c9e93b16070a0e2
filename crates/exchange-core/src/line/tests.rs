//! Every road of the reader gives the full parse's answer.

use super::*;
use crate::lean::tests::vectors;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// What the full parse alone says of `line`.
fn full(line: &str) -> Result<LineRecord, String> {
    let parsed = ExchangeRecord::parse_line(line).map_err(|e| format!("{e:?}"))?;
    let respelled = parsed.had_nan_literals.then(|| parsed.record.to_line());
    Ok(LineRecord::of_record(parsed.record, respelled))
}

fn record(read: Result<LineRead, LineError>) -> Result<LineRecord, String> {
    match read {
        Ok(LineRead::Record(r)) => Ok(r),
        Ok(LineRead::Known(h)) => Err(format!("known {h}")),
        Err(e) => Err(format!("{e:?}")),
    }
}

#[test]
fn the_reader_agrees_with_the_full_parse_on_every_vector() -> TestResult {
    let lines = vectors()?;
    assert!(lines.len() >= 30);
    for line in &lines {
        assert_eq!(record(read_line(line, None)), full(line), "{line}");
    }
    Ok(())
}

#[test]
fn a_wrong_hash_is_a_record_with_one_message() -> TestResult {
    let base = vectors()?.into_iter().next().ok_or("no vectors")?;
    let r = full(&base)?;
    assert_eq!(r.hash_mismatch(), None);
    let wrong = base.replace(&r.content_sha256.to_hex(), &"0".repeat(64));
    let read = record(read_line(&wrong, None))?;
    let message = read.hash_mismatch().ok_or("no mismatch")?;
    assert_eq!(
        message,
        format!(
            "content_sha256 is {} but the content hashes to {}",
            "0".repeat(64),
            r.content_sha256
        )
    );
    let redacted = wrong.replacen(
        "\"redactions_applied\": []",
        "\"redactions_applied\": [\"request_headers\"]",
        1,
    );
    assert_ne!(redacted, wrong);
    let message = record(read_line(&redacted, None))?
        .hash_mismatch()
        .ok_or("no mismatch")?;
    assert!(message.ends_with(
        "(redactions_applied is not empty: probably redacted by the reference after hashing)"
    ));
    Ok(())
}

#[test]
fn nan_literals_are_read_and_respelled() -> TestResult {
    let base = vectors()?.into_iter().next().ok_or("no vectors")?;
    let with_nan = base.replacen("\"request\": null", "\"request\": {\"v\": NaN}", 1);
    assert_ne!(with_nan, base);
    let r = record(read_line(&with_nan, None))?;
    let respelled = r.respelled.ok_or("not respelled")?;
    assert!(respelled.contains("{\"v\": \"NaN\"}"), "{respelled}");
    Ok(())
}

#[test]
fn a_known_hash_in_scope_is_not_rehashed() -> TestResult {
    let base = vectors()?.into_iter().next().ok_or("no vectors")?;
    let r = full(&base)?;
    let known: ContentHashSet = [r.content_sha256].into_iter().collect();
    let skip = |ss: &'static str| Skip {
        known: &known,
        source_system: if ss.is_empty() { &r.source_system } else { ss },
        entity_type: &r.entity_type,
    };
    assert_eq!(
        read_line(&base, Some(skip(""))).map_err(|e| format!("{e:?}"))?,
        LineRead::Known(r.content_sha256)
    );
    // Another scope, or no known hashes: read in full (the caller names the scope).
    assert_eq!(record(read_line(&base, Some(skip("other")))), Ok(r.clone()));
    let none = ContentHashSet::default();
    let empty = Skip {
        known: &none,
        ..skip("")
    };
    assert_eq!(record(read_line(&base, Some(empty))), Ok(r.clone()));
    // Broken JSON or an array never passes as known: the full parse's error.
    let broken = base.replacen("\"request\": null", "\"request\": [1,,]", 1);
    assert!(read_line(&broken, Some(skip(""))).is_err());
    let array = format!(
        r#"["i", "t", "{}", "{}", "{}"]"#,
        r.source_system, r.entity_type, r.content_sha256
    );
    assert!(read_line(&array, Some(skip(""))).is_err());
    Ok(())
}
