//! ISO-8601 timestamps as Fabric reads, stores and prints them (spec §1.5).

/// A parsed timestamp: a local date-time plus its offset as given (none for a
/// "naive" time). Printed as `YYYY-MM-DDTHH:MM:SS[.ffffff][±HH:MM]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// The date and wall-clock time as written (microsecond precision).
    pub local: time::PrimitiveDateTime,
    /// The offset as written; `Z` is `+00:00`; none for a naive time.
    pub offset: Option<time::UtcOffset>,
}
