//! Tests of the chain shapes: keys, metadata validation, checksum, diff and apply.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::diff::{apply, diff};
use super::*;
use crate::json::to_canonical_string;

fn parse(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(text)
}

#[test]
fn keys_are_checked() {
    assert_eq!(validate_key("fabric"), None);
    assert_eq!(validate_key("reports/2026-q4"), None);
    assert!(validate_key("").is_some());
    assert!(validate_key("a@b").is_some());
    assert!(validate_key("a b").is_some());
    assert!(validate_key(&"k".repeat(201)).is_some());
}

#[test]
fn key_version_parsing() {
    assert_eq!(parse_key_version("k@12"), Some(("k", Some(12))));
    assert_eq!(parse_key_version("k@0"), None);
    assert_eq!(parse_key_version("k@-1"), None);
    assert_eq!(parse_key_version("k@+1"), None);
    assert_eq!(parse_key_version("k@"), None);
}

#[test]
fn checksum_covers_nested_keys() -> Result<(), serde_json::Error> {
    // The original system's checksum passed the top-level keys as a JSON.stringify allow-list,
    // so nested changes went unnoticed. Ours hashes everything.
    let a = parse(r#"{"report": {"jobs": 1}}"#)?;
    let b = parse(r#"{"report": {"jobs": 2}}"#)?;
    assert_ne!(checksum(&a), checksum(&b));
    // Key order and number spelling do not matter, the value does.
    let c = parse(r#"{"report": {"jobs": 1.0e0}}"#)?;
    let d = parse(r#"{"report": {"jobs": 1.0}}"#)?;
    assert_eq!(checksum(&c), checksum(&d));
    assert_eq!(
        checksum(&a),
        crate::json::sha256_hex(br#"{"report":{"jobs":1}}"#)
    );
    Ok(())
}

#[test]
fn non_finite_numbers_are_found() -> Result<(), serde_json::Error> {
    let v = parse(r#"{"a": [1, {"b/c": 1e999}]}"#)?;
    assert_eq!(first_non_finite(&v).as_deref(), Some("/a/1/b~1c"));
    assert_eq!(first_non_finite(&parse(r#"{"a": 1e308}"#)?), None);
    Ok(())
}

#[test]
fn metadata_validation_names_the_field() -> Result<(), serde_json::Error> {
    let ok =
        parse(r#"{"source": "api", "retrieved_at": "2026-11-22T02:00:00Z", "confidence": 1}"#)?;
    let meta = SnapshotMetadata::from_json(&ok);
    assert_eq!(meta.as_ref().map(|m| m.source), Ok(Source::Api));
    let cases = [
        (
            r#"{"source": "api", "retrieved_at": "2026-11-22T02:00:00Z", "confidence": 1.5}"#,
            "confidence",
        ),
        (
            r#"{"source": "apix", "retrieved_at": "2026-11-22T02:00:00Z", "confidence": 1}"#,
            "source",
        ),
        (
            r#"{"source": "api", "retrieved_at": "yesterday", "confidence": 1}"#,
            "retrieved_at",
        ),
        (
            r#"{"source": "api", "retrieved_at": "2026-11-22T02:00:00Z"}"#,
            "confidence",
        ),
        (
            r#"{"source": "api", "retrieved_at": "2026-11-22T02:00:00Z", "confidence": -0.1}"#,
            "confidence",
        ),
        (
            r#"{"source": "api", "retrieved_at": "2026-11-22T02:00:00Z", "confidence": 1, "processing_ms": -1}"#,
            "processing_ms",
        ),
        (
            r#"{"source": "api", "retrieved_at": "2026-11-22T02:00:00Z", "confidence": 1, "warnings": [1]}"#,
            "warnings",
        ),
        (
            r#"{"source": "api", "retrieved_at": "2026-11-22T02:00:00Z", "confidence": 1, "extra": 1}"#,
            "(metadata)",
        ),
    ];
    for (text, field) in cases {
        let err = SnapshotMetadata::from_json(&parse(text)?).err();
        assert_eq!(err.map(|e| e.field), Some(field), "{text}");
    }
    let err = SnapshotMetadata::from_json(&parse(cases[0].0)?)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("metadata field `confidence`: 1.5 is outside [0, 1]")
    );
    Ok(())
}

#[test]
fn metadata_round_trips() -> Result<(), MetadataError> {
    let mut meta = SnapshotMetadata::new(
        Source::Import,
        time::macros::datetime!(2026-11-22 02:41:43.5 UTC),
        0.75,
    );
    meta.data_provider = Some("vendor".into());
    meta.processing_ms = Some(12.5);
    meta.warnings = vec!["late".into()];
    meta.validate()?;
    let json = meta.to_json();
    assert_eq!(
        to_canonical_string(&json),
        r#"{"confidence":0.75,"data_provider":"vendor","processing_ms":12.5,"retrieved_at":"2026-11-22T02:41:43.500000+00:00","source":"import","warnings":["late"]}"#
    );
    assert_eq!(SnapshotMetadata::from_json(&json)?, meta);
    Ok(())
}

#[test]
fn instants_print_like_reports() {
    use time::macros::datetime;
    assert_eq!(
        format_instant(datetime!(2026-11-22 02:41:43 UTC)),
        "2026-11-22T02:41:43+00:00"
    );
    assert_eq!(
        format_instant(datetime!(2026-11-22 03:41:43.000001 +01:00)),
        "2026-11-22T02:41:43.000001+00:00"
    );
}

#[test]
fn diff_lists_paths_by_kind() -> Result<(), serde_json::Error> {
    let a = parse(r#"{"a": 1, "b": {"c": [1, 2, 3], "d": "x"}, "gone": null, "t": [1]}"#)?;
    let b = parse(r#"{"a": 1.0, "b": {"c": [1, 5], "d": "x", "e/f": true}, "t": {"0": 1}}"#)?;
    let d = diff(&a, &b);
    let paths = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        d.added.iter().map(|c| c.path.clone()).collect::<Vec<_>>(),
        paths(vec!["/b/e~1f"])
    );
    assert_eq!(
        d.modified
            .iter()
            .map(|c| c.path.clone())
            .collect::<Vec<_>>(),
        paths(vec!["/a", "/b/c/1", "/t"])
    );
    assert_eq!(
        d.deleted.iter().map(|c| c.path.clone()).collect::<Vec<_>>(),
        paths(vec!["/b/c/2", "/gone"])
    );
    assert_eq!(
        to_canonical_string(&apply(&a, &d).map_err(serde::de::Error::custom)?),
        to_canonical_string(&b)
    );
    Ok(())
}

#[test]
fn equal_documents_have_an_empty_diff() -> Result<(), serde_json::Error> {
    let a = parse(r#"{"x": [1.50, {"y": "z"}], "w": 2}"#)?;
    let b = parse(r#"{"w": 2, "x": [1.5, {"y": "z"}]}"#)?;
    assert!(diff(&a, &b).is_empty());
    Ok(())
}

#[test]
fn root_type_change_is_one_modification() {
    let d = diff(&json!([1, 2]), &json!({"a": 1}));
    assert_eq!(d.modified.len(), 1);
    assert_eq!(d.modified.first().map(|m| m.path.as_str()), Some(""));
    assert_eq!(apply(&json!([1, 2]), &d), Ok(json!({"a": 1})));
}

#[test]
fn apply_refuses_a_diff_that_does_not_fit() {
    let d = diff(&json!({"a": {"b": 1}}), &json!({"a": {"b": 2}}));
    let err = apply(&json!({"a": 3}), &d).err();
    assert_eq!(err.map(|e| e.path), Some("/a/b".to_owned()));
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(|x| crate::json::py_float(x).map_or(Value::Null, Value::Number)),
        "[a-c~/é]{0,3}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-d/~]{1,2}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn applying_the_diff_to_a_gives_b(a in arb_json(), b in arb_json()) {
        let d = diff(&a, &b);
        let got = apply(&a, &d).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(to_canonical_string(&got), to_canonical_string(&b));
        prop_assert_eq!(d.is_empty(), checksum(&a) == checksum(&b));
    }

    #[test]
    fn a_document_has_no_diff_with_itself(a in arb_json()) {
        prop_assert!(diff(&a, &a).is_empty());
    }
}

/// The spelling `format_instant` had before it used `time`'s format descriptions:
/// the oracle that keeps the bytes identical.
fn instant_by_hand(at: time::OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    let (y, mo, d) = (utc.year(), u8::from(utc.month()), utc.day());
    let (h, mi, s, us) = (utc.hour(), utc.minute(), utc.second(), utc.microsecond());
    if us == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+00:00")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}+00:00")
    }
}

proptest! {
    /// Years 0000-9999, any offset, with and without a fraction (nanoseconds are
    /// cut, not rounded).
    #[test]
    fn format_instant_spells_as_before(
        secs in -62_167_219_200i64..253_402_300_799,
        nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000, (0u32..1000).prop_map(|u| u * 1000)],
        offset in -86_399i32..86_399,
    ) {
        let utc = time::OffsetDateTime::from_unix_timestamp(secs)
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .replace_nanosecond(nanos)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let offset = time::UtcOffset::from_whole_seconds(offset)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        // Near the ends of the range another offset moves the date out of it.
        let at = utc.checked_to_offset(offset).unwrap_or(utc);
        prop_assert_eq!(format_instant(at), instant_by_hand(at));
    }
}

proptest! {
    /// The years humantime writes (1970-9999) are written as the format
    /// descriptions write them, to the cut microsecond, with either suffix.
    #[test]
    fn the_rfc3339_writer_is_the_descriptions(
        secs in 0i64..253_402_300_800,
        nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000, (0u32..1000).prop_map(|u| u * 1000)],
    ) {
        let at = time::OffsetDateTime::from_unix_timestamp(secs)
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .replace_nanosecond(nanos)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut described = String::new();
        write_instant_described(&mut described, at);
        prop_assert_eq!(&format_instant(at), &described);
        let mut z = String::from("kept ");
        prop_assert!(write_rfc3339_utc(&mut z, at, true, "Z"));
        let mut expected = String::from("kept ");
        write_formatted(
            &mut expected,
            at,
            time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
            ),
        );
        prop_assert_eq!(z, expected);
    }
}

/// Outside 1970-9999, or at another offset, the RFC 3339 writer writes
/// nothing and says so; `format_instant` then takes the descriptions.
#[test]
fn the_rfc3339_writer_declines_what_it_cannot_write() {
    let before = time::macros::datetime!(1969-12-31 23:59:59.999999 UTC);
    let east = time::macros::datetime!(2024-01-15 10:30 +01:00);
    for at in [before, east] {
        let mut out = String::from("kept");
        assert!(!write_rfc3339_utc(&mut out, at, true, "Z"), "{at}");
        assert_eq!(out, "kept");
    }
    assert_eq!(format_instant(before), "1969-12-31T23:59:59.999999+00:00");
    assert_eq!(format_instant(east), "2024-01-15T09:30:00+00:00");
    let first = time::macros::datetime!(1970-01-01 00:00 UTC);
    assert_eq!(format_instant(first), "1970-01-01T00:00:00+00:00");
    let last = time::macros::datetime!(9999-12-31 23:59:59.999999 UTC);
    assert_eq!(format_instant(last), "9999-12-31T23:59:59.999999+00:00");
}

#[test]
fn format_instant_examples() -> Result<(), Box<dyn std::error::Error>> {
    let at = time::macros::datetime!(2026-11-22 04:41:43.123456789 +02:00);
    assert_eq!(format_instant(at), "2026-11-22T02:41:43.123456+00:00");
    let at = time::macros::datetime!(0001-01-01 00:00:00 UTC);
    assert_eq!(format_instant(at), "0001-01-01T00:00:00+00:00");
    Ok(())
}

/// A format whose text is longer than the stack buffer is written whole, not a
/// panic.
#[test]
fn a_long_format_is_written_whole() {
    let t = time::macros::datetime!(2025-03-01 08:00:00 UTC);
    let long = format!("{}[year]", "x".repeat(100));
    let items = time::format_description::parse_borrowed::<2>(&long).expect("a valid format");
    let mut out = String::new();
    write_formatted(&mut out, t, &items);
    assert_eq!(out, format!("{}2025", "x".repeat(100)));
}
