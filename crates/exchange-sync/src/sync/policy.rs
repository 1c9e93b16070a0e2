//! The import's policy: what becomes of one verified pack record, decided from
//! what the mirror holds, before anything is written.
//!
//! This is the only place the manifest's conflict strategy is read. The engine
//! ([`super::import`]) looks up what it needs (is the record's content hash in
//! scope already, which row holds its natural key), calls [`decide`], and then
//! carries the decision out: count, write, report.
//!
//! ```
//! use exchange_sync::manifest::ConflictStrategy;
//! use exchange_sync::sync::{Decision, Resolution, decide};
//! use time::macros::datetime;
//!
//! let pack = datetime!(2026-01-02 00:00 UTC);
//! let sql = datetime!(2026-01-01 00:00 UTC);
//! // A record whose content the mirror holds is left alone, whatever the strategy.
//! assert_eq!(decide(ConflictStrategy::Fail, true, pack, Some((sql, "row"))), Decision::Unchanged);
//! // No row holds its natural key: a new row.
//! assert_eq!(decide::<()>(ConflictStrategy::Fail, false, pack, None), Decision::Insert);
//! // Another row holds it: the strategy resolves the conflict.
//! assert_eq!(
//!     decide(ConflictStrategy::PreferNewest, false, pack, Some((sql, "row"))),
//!     Decision::Conflict(Resolution::JsonWins, "row")
//! );
//! ```

use time::OffsetDateTime;

use super::Resolution;
use crate::manifest::ConflictStrategy;

/// What import does with one verified pack record; `R` is the mirror row a
/// conflict is with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<R> {
    /// The mirror holds this content hash in scope already (counted as skipped).
    Unchanged,
    /// No row in scope holds the record's natural key (or it has none): a new row.
    Insert,
    /// A row with the same natural key holds other content: a conflict, and how
    /// the strategy resolves it, and that row. [`Resolution::Failed`] aborts the
    /// import.
    Conflict(Resolution, R),
}

/// Decide one record under `strategy`. `known`: its content hash is in scope
/// (as this run sees the mirror). `pack_observed`: its `observed_at_utc`.
/// `sql`: the row holding its natural key and that row's `observed_at_utc`,
/// `None` when no row does.
///
/// Under `prefer_newest` the pack record wins a tie (equal times).
pub fn decide<R>(
    strategy: ConflictStrategy,
    known: bool,
    pack_observed: OffsetDateTime,
    sql: Option<(OffsetDateTime, R)>,
) -> Decision<R> {
    if known {
        return Decision::Unchanged;
    }
    let Some((sql_observed, row)) = sql else {
        return Decision::Insert;
    };
    let resolution = match strategy {
        ConflictStrategy::Fail => Resolution::Failed,
        ConflictStrategy::PreferSql => Resolution::SqlWins,
        ConflictStrategy::PreferJson => Resolution::JsonWins,
        ConflictStrategy::PreferNewest if pack_observed >= sql_observed => Resolution::JsonWins,
        ConflictStrategy::PreferNewest => Resolution::SqlWins,
    };
    Decision::Conflict(resolution, row)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use ConflictStrategy::{Fail, PreferJson, PreferNewest, PreferSql};
    use Decision::{Conflict, Insert, Unchanged};
    use Resolution::{Failed, JsonWins, SqlWins};

    const EARLY: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
    const LATE: OffsetDateTime = datetime!(2026-01-02 00:00 UTC);

    /// Where the mirror's row stands in time against the pack record.
    #[derive(Clone, Copy, Debug)]
    enum Row {
        None,
        Older,
        Same,
        Newer,
    }

    fn check(strategy: ConflictStrategy, known: bool, row: Row, expected: Decision<()>) {
        let sql = match row {
            Row::None => None,
            Row::Older => Some((EARLY, ())),
            Row::Same => Some((LATE, ())),
            Row::Newer => Some((LATE + time::Duration::seconds(1), ())),
        };
        assert_eq!(
            decide(strategy, known, LATE, sql),
            expected,
            "{strategy:?}, known {known}, row {row:?}"
        );
    }

    #[test]
    fn every_strategy_against_every_row() {
        let table = [
            // strategy, row, decision when the hash is not yet in scope
            (Fail, Row::None, Insert),
            (Fail, Row::Older, Conflict(Failed, ())),
            (Fail, Row::Same, Conflict(Failed, ())),
            (Fail, Row::Newer, Conflict(Failed, ())),
            (PreferSql, Row::None, Insert),
            (PreferSql, Row::Older, Conflict(SqlWins, ())),
            (PreferSql, Row::Same, Conflict(SqlWins, ())),
            (PreferSql, Row::Newer, Conflict(SqlWins, ())),
            (PreferJson, Row::None, Insert),
            (PreferJson, Row::Older, Conflict(JsonWins, ())),
            (PreferJson, Row::Same, Conflict(JsonWins, ())),
            (PreferJson, Row::Newer, Conflict(JsonWins, ())),
            (PreferNewest, Row::None, Insert),
            (PreferNewest, Row::Older, Conflict(JsonWins, ())),
            (PreferNewest, Row::Same, Conflict(JsonWins, ())),
            (PreferNewest, Row::Newer, Conflict(SqlWins, ())),
        ];
        for (strategy, row, expected) in table {
            check(strategy, false, row, expected);
            // Content already in scope is never written again, whatever else holds.
            check(strategy, true, row, Unchanged);
        }
    }
}
