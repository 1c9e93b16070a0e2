//! Timestamps as the reference reads and writes them (spec §1.1).

use time::OffsetDateTime;

/// `t` (any offset) as UTC in fixed-width text, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, so
/// that text order is time order.
pub fn fixed_utc_text(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}
