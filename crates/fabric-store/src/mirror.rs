//! The exchange-record mirror table (SQLite target).
//!
//! One table per manifest `sql_target`, named `<schema>_<table>` (default
//! `lake_RawExchangeRecord`, created with the schema). Unique `exchange_id`, unique
//! `content_sha256`, unique `(source_system, entity_type, natural_key)` for non-NULL
//! keys. exchange-sync's SQLite `Mirror` backend is the only caller; it decides every
//! write, this module only stores and fetches rows.

use rusqlite::{OptionalExtension, params, params_from_iter};

use crate::Store;
use crate::error::{Error, Result};
use crate::store::CACHE_KIB;

/// The default table's DDL (also run when the schema is created).
const DEFAULT_DDL: &str = include_str!("schema/mirror.sql");
const DEFAULT_TABLE: &str = "lake_RawExchangeRecord";

/// One mirror row as stored (text columns exactly as given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorRow {
    /// Primary key (lowercase UUID).
    pub exchange_id: String,
    /// `exchange_type`.
    pub exchange_type: String,
    /// `source_system`.
    pub source_system: String,
    /// `entity_type`.
    pub entity_type: String,
    /// `natural_key` (NULL for none).
    pub natural_key: Option<String>,
    /// Fixed-width UTC text `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    pub observed_at_utc: String,
    /// 64 lowercase hex.
    pub content_sha256: String,
    /// The whole record line.
    pub payload_json: String,
    /// Envelope schema version.
    pub schema_version: i64,
}

impl MirrorRow {
    /// The row borrowed, for [`Store::mirror_write_batch`].
    pub fn as_ref(&self) -> MirrorRowRef<'_> {
        MirrorRowRef {
            exchange_id: &self.exchange_id,
            exchange_type: &self.exchange_type,
            source_system: &self.source_system,
            entity_type: &self.entity_type,
            natural_key: self.natural_key.as_deref(),
            observed_at_utc: &self.observed_at_utc,
            content_sha256: &self.content_sha256,
            payload_json: &self.payload_json,
            schema_version: self.schema_version,
        }
    }
}

/// One mirror row to write, borrowed from the caller (no copies of the payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MirrorRowRef<'a> {
    /// Primary key (lowercase UUID).
    pub exchange_id: &'a str,
    /// `exchange_type`.
    pub exchange_type: &'a str,
    /// `source_system`.
    pub source_system: &'a str,
    /// `entity_type`.
    pub entity_type: &'a str,
    /// `natural_key` (NULL for none).
    pub natural_key: Option<&'a str>,
    /// Fixed-width UTC text `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    pub observed_at_utc: &'a str,
    /// 64 lowercase hex.
    pub content_sha256: &'a str,
    /// The whole record line, stored byte for byte.
    pub payload_json: &'a str,
    /// Envelope schema version.
    pub schema_version: i64,
}

impl MirrorRowRef<'_> {
    /// The nine stored columns in the order both the INSERT and the UPDATE of
    /// [`Store::mirror_write_batch`] bind them (`?1`..`?9`).
    fn columns(&self) -> [&dyn rusqlite::ToSql; 9] {
        [
            &self.exchange_id,
            &self.exchange_type,
            &self.source_system,
            &self.entity_type,
            &self.natural_key,
            &self.observed_at_utc,
            &self.content_sha256,
            &self.payload_json,
            &self.schema_version,
        ]
    }
}

/// One write of a batch ([`Store::mirror_write_batch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorWriteRef<'a> {
    /// Insert a new row.
    Insert(MirrorRowRef<'a>),
    /// Replace every column of the row whose primary key is `exchange_id`.
    Update {
        /// The primary key of the row to replace.
        exchange_id: &'a str,
        /// Its new contents.
        row: MirrorRowRef<'a>,
    },
}

/// The row holding a natural key, without its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// Primary key.
    pub exchange_id: String,
    /// Content hash (hex).
    pub content_sha256: String,
    /// Fixed-width UTC text.
    pub observed_at_utc: String,
}

/// The SQLite table name for `sql_target` `schema.table`: `<schema>_<table>`.
/// Both parts must be letters, digits or `_` and not start with a digit.
pub fn table_name(schema: &str, table: &str) -> Result<String> {
    for part in [schema, table] {
        let ok = !part.is_empty()
            && part.chars().all(|c| c.is_alphanumeric() || c == '_')
            && !part.chars().next().is_some_and(|c| c.is_ascii_digit());
        if !ok {
            return Err(Error::MirrorTableName {
                name: format!("{schema}.{table}"),
            });
        }
    }
    Ok(format!("{schema}_{table}"))
}

/// The DDL of the mirror table `table` (idempotent: `IF NOT EXISTS`, no `DROP`).
pub fn ddl(table: &str) -> String {
    DEFAULT_DDL.replace(DEFAULT_TABLE, table)
}

fn quoted(table: &str) -> String {
    format!("\"{}\"", table.replace('"', "\"\""))
}

/// The table and its four indexes. A table made before exchange_id's unique index
/// existed (its PRIMARY KEY did the job) gets the index when the schema is next
/// applied: redundant there, harmless.
fn object_names(table: &str) -> [String; 5] {
    [
        table.to_owned(),
        format!("{table}_exchange_id"),
        format!("{table}_content_sha256"),
        format!("{table}_natural_key"),
        format!("{table}_scope_time"),
    ]
}

/// The page cache (KiB) while [`Store::mirror_restore_indexes`] builds indexes.
const INDEX_BUILD_CACHE_KIB: i64 = 8 * 1024;

impl Store {
    /// The schema objects (table, indexes) of mirror `table` that do not exist.
    pub fn mirror_missing_objects(&self, table: &str) -> Result<Vec<String>> {
        let mut missing = Vec::new();
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT count(*) FROM sqlite_master WHERE name = ?1")
            .map_err(|e| self.err("listing mirror objects", e))?;
        for name in object_names(table) {
            let n: i64 = stmt
                .query_row([&name], |r| r.get(0))
                .map_err(|e| self.err("listing mirror objects", e))?;
            if n == 0 {
                missing.push(name);
            }
        }
        Ok(missing)
    }

    /// Create what is missing of mirror `table` (never dropping anything), in one
    /// transaction. Returns the objects created.
    pub fn mirror_apply_schema(&mut self, table: &str) -> Result<Vec<String>> {
        let missing = self.mirror_missing_objects(table)?;
        if missing.is_empty() {
            return Ok(missing);
        }
        let path = self.path().to_path_buf();
        let tx = self
            .conn_mut()
            .transaction()
            .map_err(|e| crate::store::classify(&path, "starting the mirror schema", e))?;
        tx.execute_batch(&ddl(table)).map_err(|e| {
            crate::store::classify(&path, format!("creating mirror table {table}"), e)
        })?;
        tx.commit()
            .map_err(|e| crate::store::classify(&path, "committing the mirror schema", e))?;
        Ok(missing)
    }

    /// Start the command's write transaction (`BEGIN IMMEDIATE`), with a larger page
    /// cache for bulk work. The rollback journal (not WAL) is kept: one big
    /// transaction is faster with it.
    pub fn mirror_begin(&mut self) -> Result<()> {
        self.conn()
            .execute_batch(&format!(
                "PRAGMA cache_size = -{CACHE_KIB}; PRAGMA threads = 2; BEGIN IMMEDIATE"
            ))
            .map_err(|e| self.err("starting the mirror transaction", e))
    }

    /// Commit the transaction started by [`Store::mirror_begin`].
    pub fn mirror_commit(&mut self) -> Result<()> {
        self.conn()
            .execute_batch("COMMIT")
            .map_err(|e| self.err("committing the mirror transaction", e))
    }

    /// Inside the open transaction, when mirror `table` holds no row: drop its
    /// exchange_id and content_sha256 indexes so that a bulk load does not insert
    /// a million random keys into them one by one, and return `true`.
    /// [`Store::mirror_restore_indexes`] must run before anything reads or updates
    /// through them and before the commit; a rollback restores them too.
    ///
    /// Each is built once at the end instead (a table scan and a sort). With 1M
    /// rows that measured 2 s faster than deferring all four: the natural-key and
    /// time indexes take their keys mostly in order (packs are written in time
    /// order), so keeping them costs less than the table scan a rebuild needs, and
    /// lookups by natural key keep working mid-load. Uniqueness is checked when
    /// each unique index is rebuilt (a duplicate fails the command, which then
    /// rolls back).
    pub fn mirror_defer_indexes(&mut self, table: &str) -> Result<bool> {
        let ctx = || format!("preparing a bulk load of {table}");
        let conn = self.conn();
        if conn.is_autocommit() {
            return Ok(false);
        }
        let has_rows: bool = conn
            .query_row(
                &format!("SELECT EXISTS (SELECT 1 FROM {})", quoted(table)),
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(ctx(), e))?;
        if has_rows {
            return Ok(false);
        }
        let [_, id, hash, ..] = object_names(table);
        let drops: String = [id, hash]
            .iter()
            .map(|name| format!("DROP INDEX IF EXISTS {};", quoted(name)))
            .collect();
        conn.execute_batch(&drops).map_err(|e| self.err(ctx(), e))?;
        Ok(true)
    }

    /// Re-create whatever index of mirror `table` is missing (after
    /// [`Store::mirror_defer_indexes`]), inside the open transaction. A duplicate
    /// exchange_id or hash among the loaded rows is [`Error::MirrorConstraint`]
    /// naming the record.
    ///
    /// The builds run with an 8 MB page cache: SQLite's sorter keeps as much
    /// in memory as the cache allows before it writes a sorted run, and sorting
    /// many 8 MB runs (then merging them) was twice as fast as sorting 64 MB ones:
    /// both indexes over 1M rows, same file, warm, 2.7 s with 64 MB, 1.3-1.5 s with
    /// 2 to 8 MB.
    pub fn mirror_restore_indexes(&mut self, table: &str) -> Result<()> {
        let build = format!(
            "PRAGMA cache_size = -{INDEX_BUILD_CACHE_KIB}; {} PRAGMA cache_size = -{CACHE_KIB};",
            ddl(table)
        );
        let Err(e) = self.conn().execute_batch(&build) else {
            return Ok(());
        };
        // The builds stopped before the cache size was set back.
        let _ = self
            .conn()
            .execute_batch(&format!("PRAGMA cache_size = -{CACHE_KIB}"));
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
            && let Some(id) = self.mirror_duplicate(table)?
        {
            return Err(self.row_err(table, &id, e));
        }
        Err(self.err(format!("building the indexes of {table}"), e))
    }

    /// The exchange_id of a row whose exchange_id or hash another row also has.
    fn mirror_duplicate(&self, table: &str) -> Result<Option<String>> {
        let t = quoted(table);
        let sql = format!(
            "SELECT exchange_id FROM {t} WHERE exchange_id IN \
               (SELECT exchange_id FROM {t} GROUP BY exchange_id HAVING count(*) > 1) \
             UNION ALL \
             SELECT max(exchange_id) FROM {t} GROUP BY content_sha256 HAVING count(*) > 1 \
             LIMIT 1"
        );
        self.conn()
            .query_row(&sql, [], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(format!("looking for duplicates in {table}"), e))
    }

    /// Roll back the open transaction, if any.
    pub fn mirror_rollback(&mut self) -> Result<()> {
        if self.conn().is_autocommit() {
            return Ok(());
        }
        self.conn()
            .execute_batch("ROLLBACK")
            .map_err(|e| self.err("rolling back the mirror transaction", e))
    }

    /// Whether a transaction is open.
    pub fn mirror_in_transaction(&self) -> bool {
        !self.conn().is_autocommit()
    }

    /// Every content hash in scope, handed to `each`.
    pub fn mirror_hashes(
        &self,
        table: &str,
        source_system: &str,
        entity_type: &str,
        mut each: impl FnMut(&str),
    ) -> Result<()> {
        let ctx = || format!("reading hashes of {table}");
        // When every row is in scope (the usual case: one manifest per table), read
        // the hashes from their unique index (about 80 bytes a row) instead of
        // visiting every row of the table (about 2 KB a row). Two index probes
        // (`(source_system, entity_type)` below and above the scope) tell.
        let others: bool = self
            .conn()
            .query_row(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM {t} WHERE (source_system, entity_type) < (?1, ?2)) \
                     OR EXISTS (SELECT 1 FROM {t} WHERE (source_system, entity_type) > (?1, ?2))",
                    t = quoted(table)
                ),
                params![source_system, entity_type],
                |r| r.get(0),
            )
            .map_err(|e| self.err(ctx(), e))?;
        let sql = if others {
            format!(
                "SELECT content_sha256 FROM {} WHERE source_system = ?1 AND entity_type = ?2",
                quoted(table)
            )
        } else {
            // ?1 and ?2 are bound but unused here.
            format!(
                "SELECT content_sha256 FROM {} WHERE ?1 IS NOT NULL AND ?2 IS NOT NULL",
                quoted(table)
            )
        };
        let mut stmt = self
            .conn()
            .prepare_cached(&sql)
            .map_err(|e| self.err(ctx(), e))?;
        let mut rows = stmt
            .query(params![source_system, entity_type])
            .map_err(|e| self.err(ctx(), e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(ctx(), e))? {
            let h = row.get_ref(0).map_err(|e| self.err(ctx(), e))?;
            if let Ok(s) = h.as_str() {
                each(s);
            }
        }
        Ok(())
    }

    /// The row of `natural_key` in scope (the newest if a legacy table has several).
    pub fn mirror_find_key(
        &self,
        table: &str,
        source_system: &str,
        entity_type: &str,
        natural_key: &str,
    ) -> Result<Option<KeyRow>> {
        let sql = format!(
            "SELECT exchange_id, content_sha256, observed_at_utc FROM {} \
             WHERE source_system = ?1 AND entity_type = ?2 AND natural_key = ?3 \
             ORDER BY observed_at_utc DESC, exchange_id DESC LIMIT 1",
            quoted(table)
        );
        let ctx = || format!("looking up natural key {natural_key:?} in {table}");
        let mut stmt = self
            .conn()
            .prepare_cached(&sql)
            .map_err(|e| self.err(ctx(), e))?;
        stmt.query_row(params![source_system, entity_type, natural_key], |r| {
            Ok(KeyRow {
                exchange_id: r.get(0)?,
                content_sha256: r.get(1)?,
                observed_at_utc: r.get(2)?,
            })
        })
        .optional()
        .map_err(|e| self.err(ctx(), e))
    }

    /// Every row in scope, newest first (`observed_at_utc` descending, ties by
    /// `exchange_id` ascending), streamed to `each`. Stops at the first error of
    /// `each` and returns it.
    pub fn mirror_scan<E: From<Error>>(
        &self,
        table: &str,
        source_system: &str,
        entity_type: &str,
        mut each: impl FnMut(MirrorRow) -> std::result::Result<(), E>,
    ) -> std::result::Result<u64, E> {
        let sql = scan_sql(table);
        let ctx = || format!("reading {table}");
        let mut stmt = self
            .conn()
            .prepare_cached(&sql)
            .map_err(|e| self.err(ctx(), e))?;
        let mut rows = stmt
            .query(params![source_system, entity_type])
            .map_err(|e| self.err(ctx(), e))?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(|e| self.err(ctx(), e))? {
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
            .map_err(|e| self.err(ctx(), e))?;
            each(row)?;
            n += 1;
        }
        Ok(n)
    }

    /// Number of rows in scope (or in the table when `scope` is `None`).
    pub fn mirror_count(&self, table: &str, scope: Option<(&str, &str)>) -> Result<u64> {
        let ctx = || format!("counting {table}");
        let n: i64 = match scope {
            Some((ss, et)) => self.conn().query_row(
                &format!(
                    "SELECT count(*) FROM {} WHERE source_system = ?1 AND entity_type = ?2",
                    quoted(table)
                ),
                params![ss, et],
                |r| r.get(0),
            ),
            None => self.conn().query_row(
                &format!("SELECT count(*) FROM {}", quoted(table)),
                [],
                |r| r.get(0),
            ),
        }
        .map_err(|e| self.err(ctx(), e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Carry out `writes` in order inside the open transaction, with one prepared
    /// statement per kind and one audit timestamp for the whole batch (read once
    /// from SQLite's clock, the same text the column defaults would give), so a
    /// row costs its binds and its B-tree inserts, nothing else.
    pub fn mirror_write_batch(&self, table: &str, writes: &[MirrorWriteRef<'_>]) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let now: String = self
            .conn()
            .query_row("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(format!("reading the clock for {table}"), e))?;
        let insert_sql = format!(
            "INSERT INTO {} (exchange_id, exchange_type, source_system, entity_type, natural_key, \
             observed_at_utc, content_sha256, payload_json, schema_version, created_at_utc, \
             updated_at_utc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
            quoted(table)
        );
        let mut insert = None;
        for w in writes {
            match w {
                MirrorWriteRef::Insert(row) => {
                    if insert.is_none() {
                        insert =
                            Some(self.conn().prepare_cached(&insert_sql).map_err(|e| {
                                self.err(format!("preparing inserts into {table}"), e)
                            })?);
                    }
                    let Some(stmt) = insert.as_mut() else {
                        continue;
                    };
                    let now: &dyn rusqlite::ToSql = &now;
                    stmt.execute(params_from_iter(row.columns().into_iter().chain([now])))
                        .map_err(|e| self.row_err(table, row.exchange_id, e))?;
                }
                MirrorWriteRef::Update { exchange_id, row } => {
                    self.update_row(table, exchange_id, row, &now)?;
                }
            }
        }
        Ok(())
    }

    /// One update of [`Store::mirror_write_batch`]; `now` is the audit time.
    fn update_row(
        &self,
        table: &str,
        exchange_id: &str,
        row: &MirrorRowRef<'_>,
        now: &str,
    ) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET exchange_id = ?1, exchange_type = ?2, source_system = ?3, entity_type = ?4, \
             natural_key = ?5, observed_at_utc = ?6, content_sha256 = ?7, payload_json = ?8, \
             schema_version = ?9, updated_at_utc = ?10 \
             WHERE exchange_id = ?11",
            quoted(table)
        );
        let mut stmt = self
            .conn()
            .prepare_cached(&sql)
            .map_err(|e| self.err(format!("preparing updates of {table}"), e))?;
        let tail: [&dyn rusqlite::ToSql; 2] = [&now, &exchange_id];
        let n = stmt
            .execute(params_from_iter(row.columns().into_iter().chain(tail)))
            .map_err(|e| self.row_err(table, row.exchange_id, e))?;
        if n != 1 {
            return Err(Error::MirrorNoRow {
                path: self.path().to_path_buf(),
                table: table.to_owned(),
                exchange_id: exchange_id.to_owned(),
            });
        }
        Ok(())
    }

    fn row_err(&self, table: &str, exchange_id: &str, e: rusqlite::Error) -> Error {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) {
            Error::MirrorConstraint {
                path: self.path().to_path_buf(),
                table: table.to_owned(),
                exchange_id: exchange_id.to_owned(),
                source: Box::new(e),
            }
        } else {
            self.err(format!("writing record {exchange_id} to {table}"), e)
        }
    }
}

/// The query of [`Store::mirror_scan`]. On a table made by this version the scope
/// index, `(source_system, entity_type, observed_at_utc, exchange_id DESC)` read
/// backwards, gives this order as it stands; on older tables (index without
/// `exchange_id`) SQLite sorts each run of equal times, copying every row once more.
fn scan_sql(table: &str) -> String {
    format!(
        "SELECT exchange_id, exchange_type, source_system, entity_type, natural_key, \
         observed_at_utc, content_sha256, payload_json, schema_version FROM {} \
         WHERE source_system = ?1 AND entity_type = ?2 \
         ORDER BY observed_at_utc DESC, exchange_id ASC",
        quoted(table)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn row<'a>(id: &'a str, hash: &'a str) -> MirrorWriteRef<'a> {
        MirrorWriteRef::Insert(MirrorRowRef {
            exchange_id: id,
            exchange_type: "file",
            source_system: "s",
            entity_type: "e",
            natural_key: None,
            observed_at_utc: "2026-01-01T00:00:00.000000Z",
            content_sha256: hash,
            payload_json: "{}",
            schema_version: 1,
        })
    }

    #[test]
    fn a_new_store_gets_large_pages() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = Store::open(dir.path().join("f.db"))?;
        let size: u32 = store
            .conn()
            .query_row("PRAGMA page_size", [], |r| r.get(0))?;
        assert_eq!(size, crate::PAGE_SIZE);
        Ok(())
    }

    /// The scan reads the scope index backwards (no sort step: a sort copies every
    /// row), newest first with ties by exchange_id ascending.
    #[test]
    fn the_scan_needs_no_sort_and_orders_ties_by_id() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut store = Store::open(dir.path().join("f.db"))?;
        let table = DEFAULT_TABLE;
        store.mirror_apply_schema(table)?;
        let plan: Vec<String> = store
            .conn()
            .prepare(&format!("EXPLAIN QUERY PLAN {}", scan_sql(table)))?
            .query_map(params!["s", "e"], |r| r.get::<_, String>(3))?
            .collect::<rusqlite::Result<_>>()?;
        assert!(plan.iter().any(|p| p.contains("_scope_time")), "{plan:?}");
        assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "{plan:?}");

        let at = |id: &'static str, t: &'static str, h: char| {
            (id, t, std::iter::repeat_n(h, 64).collect::<String>())
        };
        let rows = [
            at("b", "2026-01-01T00:00:00.000000Z", 'a'),
            at("c", "2026-01-02T00:00:00.000000Z", 'b'),
            at("a", "2026-01-01T00:00:00.000000Z", 'c'),
            at("d", "2026-01-01T00:00:00.000000Z", 'd'),
        ];
        let writes: Vec<MirrorWriteRef<'_>> = rows
            .iter()
            .map(|(id, t, h)| match row(id, h) {
                MirrorWriteRef::Insert(r) => MirrorWriteRef::Insert(MirrorRowRef {
                    observed_at_utc: t,
                    ..r
                }),
                other => other,
            })
            .collect();
        store.mirror_begin()?;
        store.mirror_write_batch(table, &writes)?;
        store.mirror_commit()?;
        let mut order = Vec::new();
        store.mirror_scan::<Error>(table, "s", "e", |r| {
            order.push(r.exchange_id);
            Ok(())
        })?;
        assert_eq!(order, ["c", "a", "b", "d"]);
        Ok(())
    }

    #[test]
    fn a_bulk_load_defers_the_indexes_and_gets_them_back() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut store = Store::open(dir.path().join("f.db"))?;
        let table = DEFAULT_TABLE;
        let [_, indexes @ ..] = object_names(table);

        // Outside a transaction nothing is dropped.
        assert!(!store.mirror_defer_indexes(table)?);

        // Empty table: the exchange_id and hash indexes dropped, and back on
        // restore; the unique checks come back with them: a duplicate hash or
        // exchange_id fails the rebuild, naming the record.
        for (first, second) in [("1", "2"), ("1", "1")] {
            store.mirror_begin()?;
            assert!(store.mirror_defer_indexes(table)?);
            assert_eq!(store.mirror_missing_objects(table)?, indexes[..2]);
            let h = "a".repeat(64);
            let other = if first == second {
                "b".repeat(64)
            } else {
                h.clone()
            };
            store.mirror_write_batch(table, &[row(first, &h), row(second, &other)])?;
            match store.mirror_restore_indexes(table) {
                Err(Error::MirrorConstraint { exchange_id, .. }) => {
                    assert_eq!(exchange_id, second)
                }
                other => panic!("expected a constraint error, got {other:?}"),
            }
            store.mirror_rollback()?;
            assert!(store.mirror_missing_objects(table)?.is_empty());
            assert_eq!(store.mirror_count(table, None)?, 0);
        }

        // A rollback after the drop brings the indexes back.
        store.mirror_begin()?;
        assert!(store.mirror_defer_indexes(table)?);
        store.mirror_rollback()?;
        assert!(store.mirror_missing_objects(table)?.is_empty());

        // A bulk load then restore then commit: rows and every index there.
        store.mirror_begin()?;
        assert!(store.mirror_defer_indexes(table)?);
        let (h1, h2) = ("b".repeat(64), "c".repeat(64));
        store.mirror_write_batch(table, &[row("1", &h1), row("2", &h2)])?;
        store.mirror_restore_indexes(table)?;
        store.mirror_commit()?;
        assert!(store.mirror_missing_objects(table)?.is_empty());
        assert_eq!(store.mirror_count(table, None)?, 2);

        // A table with rows is never bulk loaded.
        store.mirror_begin()?;
        assert!(!store.mirror_defer_indexes(table)?);
        assert!(store.mirror_missing_objects(table)?.is_empty());
        store.mirror_rollback()?;
        Ok(())
    }
}
