//! ISO-8601 timestamps as Fabric reads, stores and prints them.
//!
//! Accepted spellings (the grammar):
//!
//! * a date `YYYY-MM-DD` (extended) or `YYYYMMDD` (basic), alone or followed by
//! * a separator `T`, `t` or a space, then a time `HH:MM[:SS[.f+]]` (extended) or
//!   `HHMM[SS[.f+]]` (basic); the fraction keeps six digits, further ones are
//!   truncated;
//! * an optional offset after a time: `Z`, `±HH:MM`, `±HHMM` or `±HH`.
//!
//! Dates and times must exist (no February 30, no hour 24, no second 60). A value
//! without an offset stays "naive". Printed as `YYYY-MM-DDTHH:MM:SS[.ffffff][±HH:MM]`.

use std::fmt;
use std::str::FromStr;

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

/// A parsed timestamp: a local date-time plus its offset as given (none for a
/// "naive" time). Printed as `YYYY-MM-DDTHH:MM:SS[.ffffff][±HH:MM]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// The date and wall-clock time as written (microsecond precision).
    pub local: time::PrimitiveDateTime,
    /// The offset as written; `Z` is `+00:00`; none for a naive time.
    pub offset: Option<time::UtcOffset>,
}

/// A string that is not a timestamp of the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ISO-8601 timestamp {input:?}: {reason}")]
pub struct TimestampError {
    /// The rejected text.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Timestamp {
    /// Parse the grammar (see the module documentation).
    ///
    /// ```
    /// use fabric_core::timestamp::Timestamp;
    /// let t = Timestamp::parse("2025-03-01T08:00:00.123Z").unwrap();
    /// assert_eq!(t.to_string(), "2025-03-01T08:00:00.123000+00:00");
    /// assert!(Timestamp::parse("2025-02-30T08:00:00").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Timestamp, TimestampError> {
        let fail = |reason: &'static str| TimestampError {
            input: s.to_owned(),
            reason,
        };
        let b = s.as_bytes();
        let mut p = Cursor { b, i: 0 };
        let date = parse_date(&mut p).map_err(fail)?;
        if p.at_end() {
            return Ok(Timestamp {
                local: PrimitiveDateTime::new(date, Time::MIDNIGHT),
                offset: None,
            });
        }
        match p.next() {
            Some(b'T' | b't' | b' ') => {}
            _ => return Err(fail("expected `T`, `t` or a space after the date")),
        }
        let time = parse_time(&mut p).map_err(fail)?;
        let offset = parse_offset(&mut p).map_err(fail)?;
        if !p.at_end() {
            return Err(fail("unexpected text after the timestamp"));
        }
        Ok(Timestamp {
            local: PrimitiveDateTime::new(date, time),
            offset,
        })
    }

    /// The timestamp of an instant, in UTC (offset `+00:00`), truncated to
    /// microseconds. An instant whose UTC form lies outside the years `time`
    /// can hold (`9999-12-31T23:30:00-01:00`, say) keeps its own offset: the
    /// same instant, written another way, rather than a panic.
    pub fn from_utc(t: time::OffsetDateTime) -> Timestamp {
        let utc = t.checked_to_offset(UtcOffset::UTC).unwrap_or(t);
        let time = utc.time();
        let micro_time = Time::from_hms_micro(
            time.hour(),
            time.minute(),
            time.second(),
            time.microsecond(),
        )
        .unwrap_or(time);
        Timestamp {
            local: PrimitiveDateTime::new(utc.date(), micro_time),
            offset: Some(utc.offset()),
        }
    }

    /// Whether the timestamp has no offset.
    pub fn is_naive(&self) -> bool {
        self.offset.is_none()
    }

    /// The instant, treating a naive time as UTC.
    pub fn to_offset_date_time(&self) -> time::OffsetDateTime {
        self.local
            .assume_offset(self.offset.unwrap_or(UtcOffset::UTC))
    }

    /// Seconds from `earlier` to `self` (negative when `earlier` is later), naive
    /// times treated as UTC. Computed like Python's `timedelta.total_seconds()`:
    /// whole microseconds divided by 10^6.
    pub fn seconds_since(&self, earlier: &Timestamp) -> f64 {
        let delta = self.to_offset_date_time() - earlier.to_offset_date_time();
        let micros = delta.whole_microseconds();
        micros as f64 / 1e6
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.local.date();
        let t = self.local.time();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            d.year(),
            u8::from(d.month()),
            d.day(),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        if t.microsecond() != 0 {
            write!(f, ".{:06}", t.microsecond())?;
        }
        if let Some(offset) = self.offset {
            let (h, m, _) = offset.as_hms();
            let sign = if offset.is_negative() { '-' } else { '+' };
            write!(f, "{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())?;
        }
        Ok(())
    }
}

/// A byte cursor over ASCII input.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `n` ASCII digits as a number.
    fn digits(&mut self, n: usize, what: &'static str) -> Result<u32, &'static str> {
        let mut v = 0u32;
        for _ in 0..n {
            match self.peek() {
                Some(c @ b'0'..=b'9') => {
                    v = v * 10 + u32::from(c - b'0');
                    self.i += 1;
                }
                _ => return Err(what),
            }
        }
        Ok(v)
    }

    fn is_digit(&self) -> bool {
        self.peek().is_some_and(|c| c.is_ascii_digit())
    }
}

fn parse_date(p: &mut Cursor<'_>) -> Result<Date, &'static str> {
    let year = p.digits(4, "expected a four-digit year")?;
    let extended = p.eat(b'-');
    let month = p.digits(2, "expected a two-digit month")?;
    if extended && !p.eat(b'-') {
        return Err("expected `-` after the month");
    }
    let day = p.digits(2, "expected a two-digit day")?;
    if year == 0 {
        return Err("year 0 does not exist");
    }
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .ok_or("month out of range")?;
    let year = i32::try_from(year).map_err(|_| "year out of range")?;
    let day = u8::try_from(day).map_err(|_| "day out of range")?;
    Date::from_calendar_date(year, month, day).map_err(|_| "day out of range for the month")
}

fn parse_time(p: &mut Cursor<'_>) -> Result<Time, &'static str> {
    let hour = p.digits(2, "expected a two-digit hour")?;
    let extended = p.eat(b':');
    let minute = p.digits(2, "expected a two-digit minute")?;
    let mut second = 0;
    let mut micro = 0;
    let has_seconds = if extended { p.eat(b':') } else { p.is_digit() };
    if has_seconds {
        second = p.digits(2, "expected two-digit seconds")?;
        if p.eat(b'.') {
            if !p.is_digit() {
                return Err("expected digits after `.`");
            }
            let mut n = 0;
            while let Some(c @ b'0'..=b'9') = p.peek() {
                if n < 6 {
                    micro = micro * 10 + u32::from(c - b'0');
                    n += 1;
                }
                p.i += 1;
            }
            for _ in n..6 {
                micro *= 10;
            }
        }
    }
    if hour > 23 {
        return Err("hour out of range");
    }
    if minute > 59 {
        return Err("minute out of range");
    }
    if second > 59 {
        return Err("second out of range");
    }
    // All in range after the checks above.
    Time::from_hms_micro(hour as u8, minute as u8, second as u8, micro)
        .map_err(|_| "time out of range")
}

fn parse_offset(p: &mut Cursor<'_>) -> Result<Option<UtcOffset>, &'static str> {
    let negative = match p.peek() {
        None => return Ok(None),
        Some(b'Z') => {
            p.i += 1;
            return Ok(Some(UtcOffset::UTC));
        }
        Some(b'+') => false,
        Some(b'-') => true,
        Some(_) => return Err("unexpected text after the time"),
    };
    p.i += 1;
    let hours = p.digits(2, "expected a two-digit offset hour")?;
    let minutes = if p.eat(b':') || p.is_digit() {
        p.digits(2, "expected two-digit offset minutes")?
    } else {
        0
    };
    if hours > 23 || minutes > 59 {
        return Err("offset out of range");
    }
    let sign = if negative { -1 } else { 1 };
    // Both in range after the check above.
    let offset = UtcOffset::from_hms(sign * hours as i8, sign * minutes as i8, 0)
        .map_err(|_| "offset out of range")?;
    Ok(Some(offset))
}

#[cfg(test)]
mod tests;
