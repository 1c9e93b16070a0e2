//! The reads of a mirror table: hashes, natural-key lookups, the newest-first scan
//! and counts, on a table that may not exist yet (then it reads as empty).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{KeyRow, MirrorRow, TableName};
use crate::check::{BackgroundCheck, after_check, failure_after_check};
use crate::error::{At, Error, Result};

/// The reads of one mirror table, outside a transaction
/// ([`super::MirrorTable::reader`]) or inside one ([`super::MirrorTx::reader`],
/// seeing its writes).
///
/// With a whole-file check running beside the command
/// ([`crate::check::BackgroundCheck`]), a read outside a transaction gives its
/// answer once the check has answered `ok` (the answer may be the command's
/// result); inside one only the end of [`MirrorReader::scan`] waits (its rows leave
/// the store: an export commits what it wrote once the scan has returned), since
/// the transaction's first write and its commit wait too. A failed read always
/// waits, and gives the check's failure when the check fails too.
#[derive(Debug, Clone, Copy)]
pub struct MirrorReader<'a> {
    conn: &'a Connection,
    at: At<'a>,
    table: &'a TableName,
    /// Whether the table exists (a missing one reads as empty).
    exists: bool,
    waits: Waits<'a>,
}

/// Which answers of a [`MirrorReader`] wait for the whole-file check running
/// beside the command (a failure always does).
#[derive(Debug, Clone, Copy)]
pub(super) enum Waits<'a> {
    /// No check runs.
    Never,
    /// Outside a transaction: every answer.
    Every(&'a BackgroundCheck),
    /// Inside a transaction: the end of the scan.
    Scan(&'a BackgroundCheck),
}

impl<'a> Waits<'a> {
    /// The check waited for, if any.
    fn check(self) -> Option<&'a BackgroundCheck> {
        match self {
            Waits::Never => None,
            Waits::Every(check) | Waits::Scan(check) => Some(check),
        }
    }

    /// `result`, given when these waits say (`scan`: it ends a scan).
    fn answer<T, E: From<Error>>(
        self,
        result: std::result::Result<T, E>,
        scan: bool,
    ) -> std::result::Result<T, E> {
        match self {
            Waits::Every(_) => after_check(self.check(), result),
            Waits::Scan(_) if scan => after_check(self.check(), result),
            Waits::Never | Waits::Scan(_) => failure_after_check(self.check(), result),
        }
    }
}

/// The schema objects of `table` that do not exist.
pub(super) fn missing_objects(
    conn: &Connection,
    at: At<'_>,
    table: &TableName,
) -> Result<Vec<String>> {
    let mut missing = Vec::new();
    let mut stmt = conn
        .prepare_cached("SELECT count(*) FROM sqlite_master WHERE name = ?1")
        .map_err(|e| at.err("listing mirror objects", e))?;
    for name in table.object_names() {
        let n: i64 = stmt
            .query_row([&name], |r| r.get(0))
            .map_err(|e| at.err("listing mirror objects", e))?;
        if n == 0 {
            missing.push(name);
        }
    }
    Ok(missing)
}

impl<'a> MirrorReader<'a> {
    pub(super) fn new(
        conn: &'a Connection,
        at: At<'a>,
        table: &'a TableName,
        waits: Waits<'a>,
    ) -> Result<Self> {
        let exists = conn
            .prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")
            .and_then(|mut s| s.exists([table.as_str()]))
            .map_err(|e| at.err("listing mirror objects", e));
        // Not an answer yet: only a failure waits.
        let exists = failure_after_check(waits.check(), exists)?;
        Ok(MirrorReader {
            conn,
            at,
            table,
            exists,
            waits,
        })
    }

    /// Every content hash in scope, handed to `each`.
    pub fn hashes(
        &self,
        source_system: &str,
        entity_type: &str,
        each: impl FnMut(&str),
    ) -> Result<()> {
        self.waits
            .answer(self.read_hashes(source_system, entity_type, each), false)
    }

    /// The row of `natural_key` in scope (the newest if a legacy table has several).
    pub fn find_key(
        &self,
        source_system: &str,
        entity_type: &str,
        natural_key: &str,
    ) -> Result<Option<KeyRow>> {
        let found = self.read_key(source_system, entity_type, natural_key);
        self.waits.answer(found, false)
    }

    /// [`MirrorReader::find_key`] for each of `keys`, in order.
    pub fn find_keys(
        &self,
        source_system: &str,
        entity_type: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<KeyRow>>> {
        let found = keys
            .iter()
            .map(|k| self.read_key(source_system, entity_type, k))
            .collect();
        self.waits.answer(found, false)
    }

    /// Every row in scope, newest first (`observed_at_utc` descending, ties by
    /// `exchange_id` ascending), streamed to `each`. Stops at the first error of
    /// `each` and returns it.
    pub fn scan<E: From<Error>>(
        &self,
        source_system: &str,
        entity_type: &str,
        mut each: impl FnMut(MirrorRow) -> std::result::Result<(), E>,
    ) -> std::result::Result<u64, E> {
        let table = self.table;
        let ctx = || format!("reading {table}");
        let scanned = self.each_row(&scan_sql(table), [source_system, entity_type], &ctx, |r| {
            let row = (|| {
                Ok::<MirrorRow, rusqlite::Error>(MirrorRow {
                    exchange_id: r.get(0)?,
                    exchange_type: r.get(1)?,
                    source_system: r.get(2)?,
                    entity_type: r.get(3)?,
                    natural_key: r.get(4)?,
                    observed_at_utc: r.get(5)?,
                    content_sha256: r.get(6)?,
                    payload_json: r.get(7)?,
                    schema_version: r.get(8)?,
                })
            })()
            .map_err(|e| self.at.err(ctx(), e))?;
            each(row)
        });
        self.waits.answer(scanned, true)
    }

    /// Number of rows in scope (or in the table when `scope` is `None`).
    pub fn count(&self, scope: Option<(&str, &str)>) -> Result<u64> {
        self.waits.answer(self.read_count(scope), false)
    }

    fn read_hashes(
        &self,
        source_system: &str,
        entity_type: &str,
        mut each: impl FnMut(&str),
    ) -> Result<()> {
        if !self.exists {
            return Ok(());
        }
        let table = self.table;
        let ctx = || format!("reading hashes of {table}");
        // When every row is in scope (the usual case: one manifest per table), read
        // the hashes from their unique index (about 80 bytes a row) instead of
        // visiting every row of the table (about 2 KB a row). Two index probes
        // (`(source_system, entity_type)` below and above the scope) tell.
        let t = table.quoted();
        let others: bool = self
            .conn
            .query_row(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM {t} WHERE (source_system, entity_type) < (?1, ?2)) \
                     OR EXISTS (SELECT 1 FROM {t} WHERE (source_system, entity_type) > (?1, ?2))"
                ),
                params![source_system, entity_type],
                |r| r.get(0),
            )
            .map_err(|e| self.at.err(ctx(), e))?;
        let sql = if others {
            format!("SELECT content_sha256 FROM {t} WHERE source_system = ?1 AND entity_type = ?2")
        } else {
            // ?1 and ?2 are bound but unused here.
            format!("SELECT content_sha256 FROM {t} WHERE ?1 IS NOT NULL AND ?2 IS NOT NULL")
        };
        self.each_row(&sql, [source_system, entity_type], &ctx, |row| {
            // A hash that is not text (the length check passes a 64-byte blob)
            // is an error, never a row left out: a sync would take its record
            // for a new one.
            let h = row.get_ref(0).and_then(|v| {
                v.as_str().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(0, v.data_type(), Box::new(e))
                })
            });
            each(h.map_err(|e| self.at.err(ctx(), e))?);
            Ok::<_, Error>(())
        })
        .map(drop)
    }

    fn read_key(
        &self,
        source_system: &str,
        entity_type: &str,
        natural_key: &str,
    ) -> Result<Option<KeyRow>> {
        if !self.exists {
            return Ok(None);
        }
        let table = self.table;
        let sql = format!(
            "SELECT exchange_id, content_sha256, observed_at_utc FROM {} \
             WHERE source_system = ?1 AND entity_type = ?2 AND natural_key = ?3 \
             ORDER BY observed_at_utc DESC, exchange_id DESC LIMIT 1",
            table.quoted()
        );
        let ctx = || format!("looking up natural key {natural_key:?} in {table}");
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| self.at.err(ctx(), e))?;
        stmt.query_row(params![source_system, entity_type, natural_key], |r| {
            Ok(KeyRow {
                exchange_id: r.get(0)?,
                content_sha256: r.get(1)?,
                observed_at_utc: r.get(2)?,
            })
        })
        .optional()
        .map_err(|e| self.at.err(ctx(), e))
    }

    fn read_count(&self, scope: Option<(&str, &str)>) -> Result<u64> {
        if !self.exists {
            return Ok(0);
        }
        let table = self.table;
        let ctx = || format!("counting {table}");
        let t = table.quoted();
        let n: i64 = match scope {
            Some((ss, et)) => self.conn.query_row(
                &format!("SELECT count(*) FROM {t} WHERE source_system = ?1 AND entity_type = ?2"),
                params![ss, et],
                |r| r.get(0),
            ),
            None => self
                .conn
                .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0)),
        }
        .map_err(|e| self.at.err(ctx(), e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Run `sql` with the scope `(source_system, entity_type)` bound as `?1` and
    /// `?2` and hand each row to `each`, stopping at its first error; returns the
    /// number of rows. A missing table has none. `ctx` says what is being read.
    fn each_row<E: From<Error>>(
        &self,
        sql: &str,
        scope: [&str; 2],
        ctx: &dyn Fn() -> String,
        mut each: impl FnMut(&Row<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<u64, E> {
        if !self.exists {
            return Ok(0);
        }
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(|e| self.at.err(ctx(), e))?;
        let mut rows = stmt.query(scope).map_err(|e| self.at.err(ctx(), e))?;
        let mut n = 0;
        while let Some(row) = rows.next().map_err(|e| self.at.err(ctx(), e))? {
            each(row)?;
            n += 1;
        }
        Ok(n)
    }
}

/// The query of [`MirrorReader::scan`]. On a table made by this version the scope
/// index, `(source_system, entity_type, observed_at_utc, exchange_id DESC)` read
/// backwards, gives this order as it stands; on older tables (index without
/// `exchange_id`) SQLite sorts each run of equal times, copying every row once more.
pub(super) fn scan_sql(table: &TableName) -> String {
    format!(
        "SELECT exchange_id, exchange_type, source_system, entity_type, natural_key, \
         observed_at_utc, content_sha256, payload_json, schema_version FROM {} \
         WHERE source_system = ?1 AND entity_type = ?2 \
         ORDER BY observed_at_utc DESC, exchange_id ASC",
        table.quoted()
    )
}
