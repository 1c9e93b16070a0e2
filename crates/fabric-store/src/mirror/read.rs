//! The reads of a mirror table: hashes, natural-key lookups, the newest-first scan
//! and counts, on a table that may not exist yet (then it reads as empty).

use rusqlite::{Connection, OptionalExtension, params};

use super::{KeyRow, MirrorRow, TableName};
use crate::error::{At, Error, Result};

/// The reads of one mirror table, outside a transaction
/// ([`super::MirrorTable::reader`]) or inside one ([`super::MirrorTx::reader`],
/// seeing its writes).
#[derive(Debug, Clone, Copy)]
pub struct MirrorReader<'a> {
    conn: &'a Connection,
    at: At<'a>,
    table: &'a TableName,
    /// Whether the table exists (a missing one reads as empty).
    exists: bool,
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
    pub(super) fn new(conn: &'a Connection, at: At<'a>, table: &'a TableName) -> Result<Self> {
        let exists = conn
            .prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")
            .and_then(|mut s| s.exists([table.as_str()]))
            .map_err(|e| at.err("listing mirror objects", e))?;
        Ok(MirrorReader {
            conn,
            at,
            table,
            exists,
        })
    }

    /// Every content hash in scope, handed to `each`.
    pub fn hashes(
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
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| self.at.err(ctx(), e))?;
        let mut rows = stmt
            .query(params![source_system, entity_type])
            .map_err(|e| self.at.err(ctx(), e))?;
        while let Some(row) = rows.next().map_err(|e| self.at.err(ctx(), e))? {
            let h = row.get_ref(0).map_err(|e| self.at.err(ctx(), e))?;
            if let Ok(s) = h.as_str() {
                each(s);
            }
        }
        Ok(())
    }

    /// The row of `natural_key` in scope (the newest if a legacy table has several).
    pub fn find_key(
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

    /// [`MirrorReader::find_key`] for each of `keys`, in order.
    pub fn find_keys(
        &self,
        source_system: &str,
        entity_type: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<KeyRow>>> {
        keys.iter()
            .map(|k| self.find_key(source_system, entity_type, k))
            .collect()
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
        if !self.exists {
            return Ok(0);
        }
        let table = self.table;
        let sql = scan_sql(table);
        let ctx = || format!("reading {table}");
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| self.at.err(ctx(), e))?;
        let mut rows = stmt
            .query(params![source_system, entity_type])
            .map_err(|e| self.at.err(ctx(), e))?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(|e| self.at.err(ctx(), e))? {
            let row = (|| {
                Ok::<_, rusqlite::Error>(MirrorRow {
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
            each(row)?;
            n += 1;
        }
        Ok(n)
    }

    /// Number of rows in scope (or in the table when `scope` is `None`).
    pub fn count(&self, scope: Option<(&str, &str)>) -> Result<u64> {
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
