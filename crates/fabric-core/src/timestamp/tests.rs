//! Unit tests for the timestamp grammar and printed form.

use super::*;

fn check(input: &str, expected: &str) -> Result<(), TimestampError> {
    let t = Timestamp::parse(input)?;
    assert_eq!(t.to_string(), expected, "printed form of {input:?}");
    // The printed form parses back to the same value.
    assert_eq!(Timestamp::parse(expected)?, t, "round trip of {input:?}");
    Ok(())
}

#[test]
fn spec_examples() -> Result<(), TimestampError> {
    check("2025-03-01T08:00:00Z", "2025-03-01T08:00:00+00:00")?;
    check(
        "2025-03-01T08:00:00.123Z",
        "2025-03-01T08:00:00.123000+00:00",
    )?;
    check("2025-03-01T08:00:00+0530", "2025-03-01T08:00:00+05:30")?;
    Ok(())
}

#[test]
fn every_spelling_of_the_grammar() -> Result<(), TimestampError> {
    // Seconds optional.
    check("2025-03-01T08:00", "2025-03-01T08:00:00")?;
    check("2025-03-01T08:07Z", "2025-03-01T08:07:00+00:00")?;
    // Fractions: one or more digits, kept to microseconds, the rest truncated.
    check("2025-03-01T08:00:00.1", "2025-03-01T08:00:00.100000")?;
    check("2025-03-01T08:00:00.123456", "2025-03-01T08:00:00.123456")?;
    check("2025-03-01T08:00:00.1234569", "2025-03-01T08:00:00.123456")?;
    check("2025-03-01T08:00:00.000000Z", "2025-03-01T08:00:00+00:00")?;
    check("2025-03-01T08:00:00.0000009Z", "2025-03-01T08:00:00+00:00")?;
    // Offsets: Z, ±HH:MM, ±HHMM, ±HH; -00:00 is UTC.
    check("2025-03-01T08:00:00+02:00", "2025-03-01T08:00:00+02:00")?;
    check("2025-03-01T08:00:00-0330", "2025-03-01T08:00:00-03:30")?;
    check("2025-03-01T08:00:00+05", "2025-03-01T08:00:00+05:00")?;
    check("2025-03-01T08:00:00-00:00", "2025-03-01T08:00:00+00:00")?;
    check("2025-03-01T08:00:00-00:30", "2025-03-01T08:00:00-00:30")?;
    // Separators T, t and space.
    check("2025-03-01t08:00:00", "2025-03-01T08:00:00")?;
    check("2025-03-01 08:00:00Z", "2025-03-01T08:00:00+00:00")?;
    // Naive stays naive.
    check("2025-03-01T08:00:00", "2025-03-01T08:00:00")?;
    // Basic format and a date alone.
    check("20250301T080000", "2025-03-01T08:00:00")?;
    check("20250301T0800Z", "2025-03-01T08:00:00+00:00")?;
    check("20250301T080000.5+0100", "2025-03-01T08:00:00.500000+01:00")?;
    check("2025-03-01", "2025-03-01T00:00:00")?;
    check("20250301", "2025-03-01T00:00:00")?;
    // Leap day and end of day.
    check(
        "2024-02-29T23:59:59.999999Z",
        "2024-02-29T23:59:59.999999+00:00",
    )?;
    Ok(())
}

#[test]
fn rejects_what_is_not_in_the_grammar() {
    for bad in [
        "",
        "yesterday",
        "2025-02-30T08:00:00",
        "2025-02-29T08:00:00",
        "2025-03-01T24:00:00",
        "2025-03-01T23:60:00",
        "2025-03-01T23:59:60",
        "2025-13-01T08:00:00",
        "2025-00-01T08:00:00",
        "2025-03-00T08:00:00",
        "0000-03-01T08:00:00",
        "2025-03-01T08",
        "2025-03-01T8:00",
        "2025-03-01X08:00:00",
        "2025-03-01T08:00:00z",
        "2025-03-01T08:00:00.",
        "2025-03-01T08:00:00+24:00",
        "2025-03-01T08:00:00+02:60",
        "2025-03-01T08:00:00+2",
        "2025-03-01T08:00:00Z ",
        " 2025-03-01T08:00:00",
        "2025-03-01T",
        "2025-0301",
        "2025-W01-1",
        "2025-03-01T08:00:00ZZ",
        "1740816000",
        "２０２５-03-01",
    ] {
        assert!(Timestamp::parse(bad).is_err(), "{bad:?} must be rejected");
    }
}

#[test]
fn error_names_the_input() {
    let err = Timestamp::parse("2025-02-30T08:00:00").err();
    let text = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("2025-02-30T08:00:00"), "{text}");
}

#[test]
fn from_utc_prints_utc() {
    let t = time::macros::datetime!(2025-03-01 10:00:00.123456789 +02:00);
    let ts = Timestamp::from_utc(t);
    assert_eq!(ts.to_string(), "2025-03-01T08:00:00.123456+00:00");
    assert!(!ts.is_naive());
    let whole = Timestamp::from_utc(time::macros::datetime!(2025-01-01 00:00:00 UTC));
    assert_eq!(whole.to_string(), "2025-01-01T00:00:00+00:00");
}

#[test]
fn an_instant_with_no_utc_form_keeps_its_offset() {
    // 9999-12-31T23:30-01:00 is 10000-01-01T00:30Z, past what `time` holds.
    let t = time::macros::datetime!(9999-12-31 23:30:00.5 -01:00);
    let ts = Timestamp::from_utc(t);
    assert_eq!(ts.to_string(), "9999-12-31T23:30:00.500000-01:00");
    // -9999-01-01T00:10+01:00 is before -9999-01-01T00:00Z.
    let early = time::macros::datetime!(-9999-01-01 00:10:00 +01:00);
    let text = Timestamp::from_utc(early).to_string();
    assert!(text.ends_with("00:10:00+01:00"), "{text}");
}

#[test]
fn seconds_since_treats_naive_as_utc() -> Result<(), TimestampError> {
    let start = Timestamp::parse("2025-03-01T08:00:00Z")?;
    let end = Timestamp::parse("2025-03-01T10:00:30.5+02:00")?;
    assert_eq!(end.seconds_since(&start), 30.5);
    let naive = Timestamp::parse("2025-03-01T08:01:00")?;
    assert!(naive.is_naive());
    assert_eq!(naive.seconds_since(&start), 60.0);
    assert_eq!(start.seconds_since(&naive), -60.0);
    let a = Timestamp::parse("2025-03-01T08:00:00.000001Z")?;
    assert_eq!(a.seconds_since(&start), 1e-6);
    Ok(())
}
