//! Timestamps as the reference reads and writes them.
//!
//! Read: everything Python 3.11 `datetime.fromisoformat` accepts after a trailing
//! `Z` became `+00:00` (extended and basic forms, `T` or space, 1-9 fraction
//! digits cut to microseconds, a date alone). A time without an offset is UTC.
//! Write: `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`, the fraction only when not zero.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Parse an ISO-8601 timestamp the way the reference does (see the module docs).
/// Returns `None` when the text is not one.
pub fn parse(text: &str) -> Option<OffsetDateTime> {
    let owned;
    let text = match text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        Some(rest) => {
            owned = format!("{rest}+00:00");
            owned.as_str()
        }
        None => text,
    };
    let (date, rest) = parse_date(text)?;
    if rest.is_empty() {
        return Some(PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc());
    }
    let mut chars = rest.chars();
    let sep = chars.next()?;
    if sep != 'T' && sep != 't' && sep != ' ' {
        return None;
    }
    let rest = chars.as_str();
    // Split off the offset: the first '+' or '-' after the time.
    let (time_part, offset_part) = match rest.find(['+', '-']) {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    let time = parse_time(time_part)?;
    let offset = match offset_part {
        Some(o) => parse_offset(o)?,
        None => UtcOffset::UTC,
    };
    let t = PrimitiveDateTime::new(date, time).assume_offset(offset);
    // A time whose UTC form falls outside the years `time` holds (the last
    // hour of year 9999 at a negative offset, say) is not one: every writer
    // converts to UTC.
    t.checked_to_offset(UtcOffset::UTC).map(|_| t)
}

/// Write `t` in the reference form, converted to UTC:
/// `YYYY-MM-DDTHH:MM:SS+00:00` or `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`.
pub fn reference_text(t: OffsetDateTime) -> String {
    let mut s = String::with_capacity(32);
    write_reference_text(&mut s, t);
    s
}

/// [`reference_text`] appended to `out` (the same spelling as fabric-core's
/// chain times: one implementation).
pub fn write_reference_text(out: &mut String, t: OffsetDateTime) {
    fabric_core::chain::write_instant(out, t);
}

/// `t` (any offset) as UTC in fixed-width text, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, so
/// that text order is time order.
pub fn fixed_utc_text(t: OffsetDateTime) -> String {
    let mut out = String::with_capacity(27);
    write_fixed_utc_text(&mut out, t);
    out
}

/// The format of [`fixed_utc_text`] (a year outside 0..=9999 gets its sign and
/// all its digits).
const FIXED: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
);

/// Append [`fixed_utc_text`] of `t` to `out`. A time with no UTC form (see
/// [`fabric_core::chain::write_formatted_utc`]; [`parse`] never returns one)
/// is written in its own offset.
///
/// The years 1970 to 9999 are written by
/// [`fabric_core::chain::write_rfc3339_utc`] (the import's SQL thread writes
/// one for every row); the others through a format description, which gives
/// them their sign and all their digits. (Not `time`'s ISO 8601 writer: it
/// cuts an `f64` of the seconds to six digits, and wrote `16.123819` for
/// `16.123820`.)
pub fn write_fixed_utc_text(out: &mut String, t: OffsetDateTime) {
    if let Some(utc) = t.checked_to_offset(UtcOffset::UTC)
        && fabric_core::chain::write_rfc3339_utc(out, utc, true, "Z")
    {
        return;
    }
    fabric_core::chain::write_formatted_utc(out, t, FIXED);
}

/// `t` truncated to microseconds (what every backend keeps).
pub fn truncate_micros(t: OffsetDateTime) -> OffsetDateTime {
    let nanos = t.nanosecond() / 1000 * 1000;
    t.replace_nanosecond(nanos).unwrap_or(t)
}

fn digits(s: &str, n: usize) -> Option<u32> {
    let part = s.get(..n)?;
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

fn parse_date(s: &str) -> Option<(Date, &str)> {
    let year = digits(s, 4)? as i32;
    let (month, day, rest) = if s.as_bytes().get(4) == Some(&b'-') {
        let m = digits(s.get(5..)?, 2)?;
        if s.as_bytes().get(7) != Some(&b'-') {
            return None;
        }
        (m, digits(s.get(8..)?, 2)?, s.get(10..)?)
    } else {
        (
            digits(s.get(4..)?, 2)?,
            digits(s.get(6..)?, 2)?,
            s.get(8..)?,
        )
    };
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    Some((date, rest))
}

fn parse_time(s: &str) -> Option<Time> {
    let (hms, frac) = match s.find(['.', ',']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (h, m, sec) = split_hms(hms, true)?;
    let micros = match frac {
        None => 0,
        Some(f) => {
            if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let six: String = f.chars().chain(std::iter::repeat('0')).take(6).collect();
            six.parse().ok()?
        }
    };
    Time::from_hms_micro(
        u8::try_from(h).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(sec).ok()?,
        micros,
    )
    .ok()
}

/// `hh[:mm[:ss]]` or `hh[mm[ss]]` as hours, minutes and seconds. With `exact`
/// (a time of day) each colon-separated part is two digits and there are at
/// most three; without (an offset) a part is read from its first two digits,
/// as the reference reads offsets.
fn split_hms(s: &str, exact: bool) -> Option<(u32, u32, u32)> {
    if s.contains(':') {
        let mut parts = s.split(':');
        let h = parts.next()?;
        let m = parts.next().unwrap_or("00");
        let sec = parts.next().unwrap_or("00");
        if exact && (parts.next().is_some() || h.len() != 2 || m.len() != 2 || sec.len() != 2) {
            return None;
        }
        return Some((digits(h, 2)?, digits(m, 2)?, digits(sec, 2)?));
    }
    let pair = |at: usize| digits(s.get(at..)?, 2);
    match s.len() {
        2 => Some((pair(0)?, 0, 0)),
        4 => Some((pair(0)?, pair(2)?, 0)),
        6 => Some((pair(0)?, pair(2)?, pair(4)?)),
        _ => None,
    }
}

fn parse_offset(s: &str) -> Option<UtcOffset> {
    let sign: i8 = if s.starts_with('-') { -1 } else { 1 };
    let body = s.get(1..)?;
    let body = body.split(['.', ',']).next()?;
    let (h, m, sec) = split_hms(body, false)?;
    let h = i8::try_from(h).ok()? * sign;
    let m = i8::try_from(m).ok()? * sign;
    let sec = i8::try_from(sec).ok()? * sign;
    UtcOffset::from_hms(h, m, sec).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixed-width text is the format description's for every year
    /// `OffsetDateTime` holds, every offset and fraction (humantime's writer
    /// takes years 1970 to 9999, the description the others), and a time with no
    /// UTC form is written in its own offset, not a panic.
    #[test]
    fn fixed_utc_text_is_the_descriptions() {
        use proptest::prelude::*;
        let check = |t: OffsetDateTime| {
            let text = fixed_utc_text(t);
            match t.checked_to_offset(UtcOffset::UTC) {
                Some(utc) => {
                    let mut expected = String::new();
                    fabric_core::chain::write_formatted(&mut expected, utc, FIXED);
                    assert_eq!(text, expected, "{t}");
                    if (0..=9999).contains(&utc.year()) {
                        assert_eq!(text.len(), 27, "{text}");
                    }
                }
                None => assert!(text.ends_with(&t.offset().to_string()[..6]), "{t}: {text}"),
            }
        };
        for t in [
            time::macros::datetime!(2024-01-15 10:30:00.123456789 UTC),
            time::macros::datetime!(0000-01-01 00:00 UTC),
            time::macros::datetime!(9999-12-31 23:59:59.999999 UTC),
            time::macros::datetime!(9999-12-31 23:30 +01:00),
            time::macros::datetime!(9999-12-31 23:30 -01:00),
            time::macros::datetime!(0000-01-01 00:30 +01:00),
            time::macros::datetime!(-0001-06-01 12:00 UTC),
            time::macros::datetime!(-9999-01-01 00:00 UTC),
            time::macros::datetime!(-9999-01-01 00:00 +01:00),
        ] {
            check(t);
        }
        proptest!(|(secs in -377_705_116_800i64..253_402_300_799, nanos in 0u32..1_000_000_000, offset in -86_399i32..86_399)| {
            let t = OffsetDateTime::from_unix_timestamp(secs)
                .and_then(|t| t.replace_nanosecond(nanos));
            let offset = UtcOffset::from_whole_seconds(offset).unwrap_or(UtcOffset::UTC);
            if let Some(t) = t.ok().and_then(|t| t.checked_to_offset(offset)) {
                check(t);
            }
        });
    }

    /// A time to the microsecond (what every backend keeps) is written as it
    /// is: `time`'s ISO 8601 writer, used here once, cuts an `f64` of the
    /// seconds to six digits and wrote `16.123819` for `16.123820`.
    #[test]
    fn a_microsecond_is_written_exactly() {
        use proptest::prelude::*;
        let t = time::macros::datetime!(2024-01-15 10:33:16.123820 UTC);
        assert_eq!(fixed_utc_text(t), "2024-01-15T10:33:16.123820Z");
        proptest!(|(secs in 0i64..253_402_300_800, micros in 0u32..1_000_000)| {
            let t = OffsetDateTime::from_unix_timestamp(secs)
                .and_then(|t| t.replace_microsecond(micros));
            if let Ok(t) = t {
                prop_assert_eq!(parse(&fixed_utc_text(t)), Some(t));
            }
        });
    }

    /// A time whose UTC form falls outside the years `time` holds is not a time
    /// (every writer converts to UTC; this once panicked in `exchange add`).
    #[test]
    fn a_time_with_no_utc_form_is_refused() {
        assert_eq!(parse("9999-12-31T23:30:00-01:00"), None);
        assert!(parse("9999-12-31T23:30:00+01:00").is_some());
        assert!(parse("9999-12-31T23:59:59.999999Z").is_some());
        assert!(parse("0000-01-01T00:30:00+01:00").is_some());
    }

    #[test]
    fn times_and_offsets_in_every_form() {
        let cases = [
            "2025-01-02T03:04:05+01:00",
            "2025-01-02T03:04:05+0100",
            "2025-01-02T03:04:05+01",
            "2025-01-02T03:04:05-01:30:15",
            "2025-01-02T03:04:05-013015",
            "2025-01-02T03:04:05+01:00:00:00",
            "2025-01-02T03:04:05+01:0x",
            "2025-01-02T03:04:05+1",
            "2025-01-02T03:04:05+01:00xyz",
            "2025-01-02T03:04:05+01:00.5",
            "2025-01-02T0304",
            "2025-01-02T030405.123",
            "2025-01-02T03",
            "2025-01-02T03:04",
            "2025-01-02T03:04:05:06",
            "2025-01-02T3:04:05",
            "2025-01-02T03:4:05",
            "2025-01-02T030",
            "2025-01-02T03:04:05.1234567Z",
            "2025-01-02T0é",
            "2025-01-02T03:04:05+0é",
        ];
        let got: Vec<String> = cases
            .iter()
            .map(|c| format!("{c} -> {:?}", parse(c).map(reference_text)))
            .collect();
        assert_eq!(got.join("\n"), EXPECTED.trim());
    }

    const EXPECTED: &str = r#"
2025-01-02T03:04:05+01:00 -> Some("2025-01-02T02:04:05+00:00")
2025-01-02T03:04:05+0100 -> Some("2025-01-02T02:04:05+00:00")
2025-01-02T03:04:05+01 -> Some("2025-01-02T02:04:05+00:00")
2025-01-02T03:04:05-01:30:15 -> Some("2025-01-02T04:34:20+00:00")
2025-01-02T03:04:05-013015 -> Some("2025-01-02T04:34:20+00:00")
2025-01-02T03:04:05+01:00:00:00 -> Some("2025-01-02T02:04:05+00:00")
2025-01-02T03:04:05+01:0x -> None
2025-01-02T03:04:05+1 -> None
2025-01-02T03:04:05+01:00xyz -> Some("2025-01-02T02:04:05+00:00")
2025-01-02T03:04:05+01:00.5 -> Some("2025-01-02T02:04:05+00:00")
2025-01-02T0304 -> Some("2025-01-02T03:04:00+00:00")
2025-01-02T030405.123 -> Some("2025-01-02T03:04:05.123000+00:00")
2025-01-02T03 -> Some("2025-01-02T03:00:00+00:00")
2025-01-02T03:04 -> Some("2025-01-02T03:04:00+00:00")
2025-01-02T03:04:05:06 -> None
2025-01-02T3:04:05 -> None
2025-01-02T03:4:05 -> None
2025-01-02T030 -> None
2025-01-02T03:04:05.1234567Z -> Some("2025-01-02T03:04:05.123456+00:00")
2025-01-02T0é -> None
2025-01-02T03:04:05+0é -> None
"#;

    fn check(input: &str, expected: Option<&str>) {
        assert_eq!(
            parse(input).map(reference_text).as_deref(),
            expected,
            "{input}"
        );
    }

    #[test]
    fn reads_python_forms() {
        check(
            "2024-01-15T10:30:00+00:00",
            Some("2024-01-15T10:30:00+00:00"),
        );
        check("2024-01-15T10:30:00Z", Some("2024-01-15T10:30:00+00:00"));
        check("2024-01-15 10:30:00", Some("2024-01-15T10:30:00+00:00"));
        check(
            "2024-01-15T09:21:00.003711+00:00",
            Some("2024-01-15T09:21:00.003711+00:00"),
        );
        check("2024-01-15T09:21:00.1234567891Z", None);
        check(
            "2024-01-15T09:21:00.123456789Z",
            Some("2024-01-15T09:21:00.123456+00:00"),
        );
        check("2024-01-15", Some("2024-01-15T00:00:00+00:00"));
        check("20240115T103000Z", Some("2024-01-15T10:30:00+00:00"));
        check(
            "2024-01-15T12:30:00+02:00",
            Some("2024-01-15T10:30:00+00:00"),
        );
        check(
            "2024-01-15T10:30:00.5-01:30",
            Some("2024-01-15T12:00:00.500000+00:00"),
        );
        check("yesterday", None);
        check("2024-13-01", None);
    }
}
