//! The column limits of the mirror table, the same for every backend.
//!
//! SQL Server's columns are narrower than SQLite's `TEXT`: an `exchange_id` must be
//! a `UNIQUEIDENTIFIER`, `exchange_type` fits `NVARCHAR(50)`, the scope columns
//! `NVARCHAR(100)`, `natural_key` `NVARCHAR(500)`, `observed_at_utc` a `DATETIME2`
//! (years 1 to 9999 in UTC) and `schema_version` an `INT`. A record outside them
//! would be refused by SQL Server partway through an import, after SQLite took it
//! quietly. So every backend applies these limits before it writes, and
//! `fabric exchange check` applies them with no connection at all: a pack one
//! backend accepts, the other accepts too.
//!
//! Lengths count UTF-16 code units, as `NVARCHAR(n)` does (a character outside the
//! Basic Multilingual Plane counts two). SQL Server ignores trailing spaces when it
//! compares text, even under a binary collation, so `k` and `k ` are one natural
//! key (and one scope) there and two in SQLite: a key or scope value that ends in a
//! space is refused, which keeps natural keys unique within a scope on both
//! backends. Unpaired UTF-16 surrogates (`"\ud800"` in JSON) cannot round-trip
//! through `NVARCHAR`; the record reader already refuses them as invalid JSON.
//!
//! ```
//! use exchange_sync::limits::{self, Fields};
//! use exchange_sync::{ContentHash, MirrorRecord};
//!
//! let ok = MirrorRecord {
//!     exchange_id: "21636369-8b52-4b4a-97b7-50923ceb3ffd".into(),
//!     exchange_type: "http".into(),
//!     source_system: "example-api".into(),
//!     entity_type: "page".into(),
//!     natural_key: Some("Main_Page".into()),
//!     observed_at_utc: time::macros::datetime!(2024-01-15 10:30 UTC),
//!     content_sha256: ContentHash([0; 32]),
//!     payload_json: "{}".into(),
//!     schema_version: 1,
//! };
//! assert_eq!(limits::check(&Fields::of(&ok)), None);
//! let long = MirrorRecord { exchange_type: "x".repeat(51), ..ok };
//! assert_eq!(
//!     limits::check(&Fields::of(&long)).map(|v| v.to_string()),
//!     Some("exchange_type is 51 characters long; the limit is 50".to_owned())
//! );
//! ```

use std::fmt;

use time::{OffsetDateTime, UtcOffset};

use crate::mirror::{MirrorRecord, MirrorWrite};

/// `exchange_type`: `NVARCHAR(50)`.
pub const EXCHANGE_TYPE_MAX: usize = 50;
/// `source_system` and `entity_type`: `NVARCHAR(100)`.
pub const SCOPE_MAX: usize = 100;
/// `natural_key`: `NVARCHAR(500)`.
pub const NATURAL_KEY_MAX: usize = 500;
/// The first UTC year a `DATETIME2` holds.
pub const FIRST_YEAR: i32 = 1;
/// The last UTC year a `DATETIME2` holds.
pub const LAST_YEAR: i32 = 9999;

/// A record as the limits see it: the columns of its mirror row ([`MirrorRecord`],
/// whose fields the limits read; `observed_at_utc` in any offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields<'a>(&'a MirrorRecord);

impl<'a> Fields<'a> {
    /// The fields of a mirror row.
    pub fn of(r: &'a MirrorRecord) -> Self {
        Fields(r)
    }
}

/// The first limit a record breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// `exchange_id` is not a lowercase hyphenated UUID (`8-4-4-4-12` hex digits).
    NotUuid,
    /// A text column is longer than its `NVARCHAR(n)`.
    TooLong {
        /// The column.
        column: &'static str,
        /// Its length in UTF-16 code units.
        length: usize,
        /// The limit.
        max: usize,
    },
    /// A key or scope value ends in a space, which SQL Server ignores in comparisons.
    TrailingSpace {
        /// The column.
        column: &'static str,
    },
    /// `observed_at_utc` falls outside `DATETIME2` (years 1 to 9999, UTC).
    OutOfRange,
    /// `schema_version` does not fit an `INT`.
    SchemaVersion(i64),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::NotUuid => f.write_str(
                "exchange_id is not a UUID in lowercase 8-4-4-4-12 form (a UNIQUEIDENTIFIER on SQL Server)",
            ),
            Violation::TooLong {
                column,
                length,
                max,
            } => write!(
                f,
                "{column} is {length} characters long; the limit is {max}"
            ),
            Violation::TrailingSpace { column } => write!(
                f,
                "{column} ends in a space, which SQL Server ignores when it compares keys \
                 (it would be the same key as the one without the space)"
            ),
            Violation::OutOfRange => write!(
                f,
                "observed_at_utc is outside years {FIRST_YEAR}..={LAST_YEAR} in UTC (DATETIME2)"
            ),
            Violation::SchemaVersion(v) => {
                write!(f, "schema_version {v} does not fit a 32-bit INT")
            }
        }
    }
}

/// The first limit `fields` breaks, or `None` when it fits every backend.
pub fn check(fields: &Fields<'_>) -> Option<Violation> {
    let r = fields.0;
    if !is_uuid(&r.exchange_id) {
        return Some(Violation::NotUuid);
    }
    for (column, value, max) in [
        (
            "exchange_type",
            Some(r.exchange_type.as_str()),
            EXCHANGE_TYPE_MAX,
        ),
        ("source_system", Some(r.source_system.as_str()), SCOPE_MAX),
        ("entity_type", Some(r.entity_type.as_str()), SCOPE_MAX),
        ("natural_key", r.natural_key.as_deref(), NATURAL_KEY_MAX),
    ] {
        let Some(value) = value else { continue };
        // UTF-16 units <= UTF-8 bytes: count them only when the bytes exceed the limit.
        if value.len() > max {
            let length = value.encode_utf16().count();
            if length > max {
                return Some(Violation::TooLong {
                    column,
                    length,
                    max,
                });
            }
        }
        if column != "exchange_type" && value.ends_with(' ') {
            return Some(Violation::TrailingSpace { column });
        }
    }
    if !in_datetime2_range(r.observed_at_utc) {
        return Some(Violation::OutOfRange);
    }
    if i32::try_from(r.schema_version).is_err() {
        return Some(Violation::SchemaVersion(r.schema_version));
    }
    None
}

/// Whether `t`, in UTC, falls in years 1..=9999.
pub fn in_datetime2_range(t: OffsetDateTime) -> bool {
    t.checked_to_offset(UtcOffset::UTC)
        .is_some_and(|u| (FIRST_YEAR..=LAST_YEAR).contains(&u.year()))
}

/// Whether `s` is a lowercase hyphenated UUID: `8-4-4-4-12` hex digits. SQL Server
/// gives a `UNIQUEIDENTIFIER` back in that form, so any other spelling would not
/// round-trip.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// Every backend's first step in `write_batch`: refuse the first write whose
/// record breaks a limit, naming it, before anything of the batch is written.
pub(crate) fn check_writes(target: &str, writes: &[MirrorWrite]) -> crate::Result<()> {
    for w in writes {
        let r = match w {
            MirrorWrite::Insert(r) | MirrorWrite::Update { record: r, .. } => r,
        };
        if let Some(v) = check(&Fields::of(r)) {
            return Err(crate::Error::MirrorWrite {
                target: target.to_owned(),
                exchange_id: r.exchange_id.clone(),
                reason: v.to_string(),
                source: None,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> MirrorRecord {
        MirrorRecord {
            exchange_id: "21636369-8b52-4b4a-97b7-50923ceb3ffd".into(),
            exchange_type: "http".into(),
            source_system: "s".into(),
            entity_type: "e".into(),
            natural_key: Some("k".into()),
            observed_at_utc: time::macros::datetime!(2024-01-15 10:30 UTC),
            content_sha256: crate::ContentHash([0; 32]),
            payload_json: "{}".into(),
            schema_version: 1,
        }
    }

    /// The violation of `base()` changed by `change`.
    fn violation(change: impl FnOnce(&mut MirrorRecord)) -> Option<Violation> {
        let mut r = base();
        change(&mut r);
        check(&Fields::of(&r))
    }

    /// `check(change, expected)`: the violation's text, or `None`.
    fn check_one(change: impl FnOnce(&mut MirrorRecord), expected: Option<&str>) {
        assert_eq!(
            violation(change).map(|v| v.to_string()).as_deref(),
            expected
        );
    }

    #[test]
    fn each_limit_and_its_boundary() {
        let key = |s: String| move |r: &mut MirrorRecord| r.natural_key = Some(s);
        // 250 astral characters are 500 UTF-16 units; 251 are 502.
        check_one(|_| {}, None);
        check_one(key("k".repeat(500)), None);
        check_one(key("😀".repeat(250)), None);
        check_one(|r| r.exchange_type = "t".repeat(50), None);
        check_one(
            key("k".repeat(501)),
            Some("natural_key is 501 characters long; the limit is 500"),
        );
        check_one(
            key("😀".repeat(251)),
            Some("natural_key is 502 characters long; the limit is 500"),
        );
        check_one(
            |r| r.source_system = "s".repeat(101),
            Some("source_system is 101 characters long; the limit is 100"),
        );
        for bad_id in [
            "not-a-uuid",
            "21636369-8B52-4B4A-97B7-50923CEB3FFD",
            "{21636369-8b52-4b4a-97b7-50923ceb3ffd}",
            "216363698b524b4a97b750923ceb3ffd",
            "21636369-8b52-4b4a-97b7-50923ceb3ffg",
        ] {
            assert_eq!(
                violation(|r| r.exchange_id = bad_id.into()),
                Some(Violation::NotUuid),
                "{bad_id}"
            );
        }
        assert_eq!(
            violation(key("k ".into())),
            Some(Violation::TrailingSpace {
                column: "natural_key"
            })
        );
        check_one(key(" k\t".into()), None);
        assert_eq!(
            violation(|r| r.schema_version = 1 << 31),
            Some(Violation::SchemaVersion(1 << 31))
        );
    }

    #[test]
    fn datetime2_range_is_judged_in_utc() {
        use time::macros::datetime;
        assert!(in_datetime2_range(datetime!(0001-01-01 00:00 UTC)));
        assert!(in_datetime2_range(
            datetime!(9999-12-31 23:59:59.999999 UTC)
        ));
        assert!(!in_datetime2_range(datetime!(0000-12-31 23:59 UTC)));
        // 00:30 on 1 January of year 1 at +01:00 is still year 0 in UTC.
        assert!(!in_datetime2_range(datetime!(0001-01-01 00:30 +01:00)));
        // 23:00 on 31 December 9999 at -05:00 is year 10000 in UTC.
        assert!(!in_datetime2_range(datetime!(9999-12-31 23:00 -05:00)));
    }
}
