//! Versioned snapshot chains: the pure shapes.
//!
//! A chain is a sequence of immutable versions of one JSON document, identified by a
//! key (`fabric` for the operator report). This module holds what does not need a
//! database: key and metadata validation ([`validate_key`], [`SnapshotMetadata`]),
//! the content checksum ([`checksum`], SHA-256 over the **full** canonical form, so
//! a change at any depth changes it), the structural [`diff`] between two versions
//! (with [`diff::apply`], which turns A into B), and the summaries the store returns
//! ([`VersionSummary`], [`ActivityEntry`]). fabric-store keeps the rows.
//!
//! ```
//! use fabric_core::chain::{checksum, diff};
//!
//! let a: serde_json::Value = serde_json::from_str(r#"{"jobs": 1, "rates": [0.5]}"#).unwrap();
//! let b: serde_json::Value = serde_json::from_str(r#"{"jobs": 2, "rates": [0.5, 1.0]}"#).unwrap();
//! let d = diff::diff(&a, &b);
//! assert_eq!((d.added.len(), d.modified.len(), d.deleted.len()), (1, 1, 0));
//! assert_eq!(checksum(&diff::apply(&a, &d).unwrap()), checksum(&b));
//! ```

pub mod diff;
mod metadata;
mod summary;

use serde_json::Value;

use crate::json::{canonical_sha256, is_finite_number};

pub use metadata::{MetadataError, SnapshotMetadata, Source};
pub use summary::{
    Action, ActivityEntry, ChangesSummary, Comparison, DiffCounts, VersionSummary, saving,
};

/// The longest chain key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 200;

/// SHA-256 (lower-case hex) over the full canonical form of `payload`
/// ([`crate::json::canonical_sha256`], the snapshot id's dialect without a key
/// left out): every key at every depth counts.
pub fn checksum(payload: &Value) -> String {
    canonical_sha256(payload)
}

/// Why a chain key is refused, or `None` when it is acceptable.
///
/// A key is 1 to [`MAX_KEY_LEN`] bytes of printable characters without whitespace
/// and without `@` (which separates key and version in `KEY@VERSION`).
pub fn validate_key(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        Some("the key is empty")
    } else if key.len() > MAX_KEY_LEN {
        Some("the key is longer than 200 bytes")
    } else if key.contains('@') {
        Some("the key contains '@' (reserved for KEY@VERSION)")
    } else if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("the key contains whitespace or control characters")
    } else {
        None
    }
}

/// The JSON path (RFC 6901 pointer) of the first number in `payload` that cannot be
/// stored because it overflows `f64` (`1e999`), if any.
pub fn first_non_finite(payload: &Value) -> Option<String> {
    fn walk(value: &Value, path: &mut String) -> bool {
        match value {
            Value::Number(n) => !is_finite_number(n),
            Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Value::Object(map) => map.iter().any(|(k, item)| {
                let len = path.len();
                diff::push_pointer_token(path, k);
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    fn any_non_finite(value: &Value) -> bool {
        match value {
            Value::Number(n) => !is_finite_number(n),
            Value::Array(items) => items.iter().any(any_non_finite),
            Value::Object(map) => map.values().any(any_non_finite),
            _ => false,
        }
    }
    // The common case (nothing found) builds no paths.
    if !any_non_finite(payload) {
        return None;
    }
    let mut path = String::new();
    walk(payload, &mut path).then_some(path)
}

/// Parse `KEY@VERSION` (or a bare `KEY`) into the key and the optional version.
///
/// ```
/// use fabric_core::chain::parse_key_version;
/// assert_eq!(parse_key_version("fabric@3"), Some(("fabric", Some(3))));
/// assert_eq!(parse_key_version("fabric"), Some(("fabric", None)));
/// assert_eq!(parse_key_version("fabric@x"), None);
/// ```
pub fn parse_key_version(text: &str) -> Option<(&str, Option<i64>)> {
    match text.rsplit_once('@') {
        None => Some((text, None)),
        Some((key, version)) => {
            let v: i64 = version.parse().ok()?;
            (v >= 1 && !version.starts_with('+')).then_some((key, Some(v)))
        }
    }
}

/// Spell an instant the way Fabric prints times: UTC, `+00:00`, a six-digit
/// fraction that is omitted when zero, e.g. `2026-11-22T02:41:43.123456+00:00`.
pub fn format_instant(at: time::OffsetDateTime) -> String {
    let mut out = String::with_capacity(32);
    write_instant(&mut out, at);
    out
}

/// [`format_instant`] appended to `out` (no allocation of its own).
pub fn write_instant(out: &mut String, at: time::OffsetDateTime) {
    if let Some(utc) = at.checked_to_offset(time::UtcOffset::UTC)
        && write_rfc3339_utc(out, utc, at.microsecond() != 0, "+00:00")
    {
        return;
    }
    write_instant_described(out, at);
}

/// [`write_instant`] through `time`'s format descriptions (any year).
fn write_instant_described(out: &mut String, at: time::OffsetDateTime) {
    use time::format_description::BorrowedFormatItem;
    use time::macros::format_description;
    const WHOLE: &[BorrowedFormatItem<'_>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+00:00");
    const FRACTION: &[BorrowedFormatItem<'_>] = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00"
    );
    let format = if at.microsecond() == 0 {
        WHOLE
    } else {
        FRACTION
    };
    write_formatted_utc(out, at, format);
}

/// Append `utc` (an instant at offset UTC) as `YYYY-MM-DDTHH:MM:SS`, then
/// `.ffffff` (the microseconds, cut, not rounded) when `micros`, then `suffix`,
/// and return `true`; or append nothing and return `false` when its year is
/// outside 1970 to 9999 or its offset is not UTC (the caller then writes it
/// through a format description).
///
/// The text comes from humantime's RFC 3339 writer, which fills a fixed-width
/// buffer from the integer seconds: about 90 ns a time, against about 160 ns
/// for `time`'s format descriptions and 190-210 ns for `write!` of the fields
/// (a million times on one thread). A 1M-record import writes one on its SQL
/// thread for every row, and `exchange add` one for every record.
pub fn write_rfc3339_utc(
    out: &mut String,
    utc: time::OffsetDateTime,
    micros: bool,
    suffix: &str,
) -> bool {
    use std::fmt::Write as _;
    if utc.offset() != time::UtcOffset::UTC || !(1970..=9999).contains(&utc.year()) {
        return false;
    }
    let at = std::time::SystemTime::from(utc);
    let start = out.len();
    let written = if micros {
        write!(out, "{}", humantime::format_rfc3339_micros(at))
    } else {
        write!(out, "{}", humantime::format_rfc3339_seconds(at))
    };
    // humantime ends every time it writes with `Z`; anything else (a failed
    // write) is taken back.
    if written.is_err() || !out.ends_with('Z') {
        out.truncate(start);
        return false;
    }
    out.pop();
    out.push_str(suffix);
    true
}

/// [`write_formatted`] of `t` converted to UTC. A time whose UTC form falls
/// outside the years `time` holds (-9999 to 9999; none of Fabric's parsers
/// returns one) is written as it is, with its own offset after it
/// (`...T23:30:00.000000-01:00`), rather than converted wrongly or not at all.
pub fn write_formatted_utc(
    out: &mut String,
    t: time::OffsetDateTime,
    format: &[time::format_description::BorrowedFormatItem<'_>],
) {
    const OWN_OFFSET: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6][offset_hour sign:mandatory]:[offset_minute]"
    );
    match t.checked_to_offset(time::UtcOffset::UTC) {
        Some(utc) => write_formatted(out, utc, format),
        None => write_formatted(out, t, OWN_OFFSET),
    }
}

/// Format `t` with `format` (whose every component an `OffsetDateTime` has) and
/// append it to `out`: through a stack buffer, or, for a format whose text does
/// not fit in it (long literals), through `time`'s allocating formatter.
pub fn write_formatted(
    out: &mut String,
    t: time::OffsetDateTime,
    format: &[time::format_description::BorrowedFormatItem<'_>],
) {
    let mut buf = [0u8; 64];
    let mut cursor: &mut [u8] = &mut buf;
    if let Ok(written) = t.format_into(&mut cursor, format)
        && let Some(text) = buf.get(..written).and_then(|b| std::str::from_utf8(b).ok())
    {
        out.push_str(text);
        return;
    }
    // The buffer was too small. `time` refuses only a component the value lacks,
    // and an `OffsetDateTime` has every one (date, time and offset).
    if let Ok(text) = t.format(format) {
        out.push_str(&text);
    }
}

#[cfg(test)]
mod tests;
