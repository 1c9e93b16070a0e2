//! [`MirrorTx`]: the write transaction of a mirror table, rolled back unless
//! committed, with the batch writer and the index deferral of a first load.

use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::read::Waits;
use super::{MirrorReader, MirrorRowRef, MirrorWriteRef, TableName};
use crate::Store;
use crate::check::{BackgroundCheck, failure_after_check};
use crate::error::{At, Error, Result};
use crate::store::CACHE_KIB;

/// The page cache (KiB) while the indexes deferred by a first load are built.
const INDEX_BUILD_CACHE_KIB: i64 = 8 * 1024;

/// The write transaction of one mirror table ([`super::MirrorTable::begin`]):
/// `BEGIN IMMEDIATE` with a larger page cache for bulk work. Dropping it
/// uncommitted rolls back every write, and the indexes a first load dropped come
/// back with the rollback.
#[derive(Debug)]
pub struct MirrorTx<'s> {
    pub(super) conn: &'s Connection,
    pub(super) at: At<'s>,
    pub(super) table: &'s TableName,
    /// The whole-file check running beside the command: every write, the commit,
    /// the rollback and the end of a scan wait for its answer.
    check: Option<&'s BackgroundCheck>,
    /// No write yet since the transaction began: the first one may be a bulk load.
    fresh: bool,
    /// The exchange_id and hash indexes are dropped (a bulk load) and must be
    /// rebuilt before a read through them or the commit.
    deferred: bool,
    /// The store file written back as it grows (see [`super::writeback`]);
    /// declared last, so it stops after the rollback of a dropped transaction.
    writeback: Option<super::writeback::Writeback>,
}

impl<'s> MirrorTx<'s> {
    pub(super) fn begin(store: &'s mut Store, table: &'s TableName) -> Result<Self> {
        // Shared from here on: the transaction borrows the store whole.
        let store: &'s Store = store;
        let (conn, at, check) = (store.conn(), store.at(), store.background_check());
        let begun = conn
            .execute_batch(&format!(
                "PRAGMA cache_size = -{CACHE_KIB}; PRAGMA threads = 2; BEGIN IMMEDIATE"
            ))
            .map_err(|e| at.err("starting the mirror transaction", e));
        failure_after_check(check, begun)?;
        Ok(MirrorTx {
            conn,
            at,
            table,
            check,
            fresh: true,
            deferred: false,
            writeback: super::writeback::Writeback::start(at.path()),
        })
    }

    /// Carry out `writes` in order, with one prepared statement per kind and one
    /// audit timestamp for the whole batch (read once from SQLite's clock, the same
    /// text the column defaults would give), so a row costs its binds and its
    /// B-tree inserts, nothing else. Waits first for the whole-file check running
    /// beside the command, if any.
    ///
    /// The first batch of a transaction on an empty table is a bulk load: the
    /// exchange_id and content_sha256 indexes are dropped so that a million random
    /// keys do not go into them one by one, and each is built once (a table scan
    /// and a sort) before anything reads or updates through it and before the
    /// commit. With 1M rows that measured 2 s faster than deferring all four: the
    /// natural-key and time indexes take their keys mostly in order (packs are
    /// written in time order), so keeping them costs less than the table scan a
    /// rebuild needs, and lookups by natural key keep working mid-load. Uniqueness
    /// is checked when each unique index is rebuilt: a duplicate is then
    /// [`Error::MirrorConstraint`] naming the record.
    pub fn write_batch(&mut self, writes: &[MirrorWriteRef<'_>]) -> Result<()> {
        self.settle()?;
        if writes.is_empty() {
            return Ok(());
        }
        if std::mem::take(&mut self.fresh) {
            self.deferred = self.defer_indexes()?;
        }
        if writes
            .iter()
            .any(|w| matches!(w, MirrorWriteRef::Update { .. }))
        {
            // An update finds its row through the exchange_id index.
            self.restore_indexes()?;
        }
        let table = self.table;
        let now: String = self
            .conn
            .query_row("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.at.err(format!("reading the clock for {table}"), e))?;
        let insert_sql = format!(
            "INSERT INTO {} (exchange_id, exchange_type, source_system, entity_type, natural_key, \
             observed_at_utc, content_sha256, payload_json, schema_version, created_at_utc, \
             updated_at_utc) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
            table.quoted()
        );
        // The statement keeps its bindings from one row to the next: the audit
        // time is bound once, and a row's type, scope and schema version only
        // when they differ from the row before. Each text bound is copied into
        // a buffer SQLite allocates; five binds a row instead of ten took a 1M
        // import from 14.8 to 14.3 s of user time (wall 0.972, pairs of four).
        let mut insert = None;
        let mut before: Option<&MirrorRowRef<'_>> = None;
        for w in writes {
            match w {
                MirrorWriteRef::Insert(row) => {
                    let stmt = match insert.as_mut() {
                        Some(stmt) => stmt,
                        None => {
                            let mut stmt = self.conn.prepare_cached(&insert_sql).map_err(|e| {
                                self.at.err(format!("preparing inserts into {table}"), e)
                            })?;
                            stmt.raw_bind_parameter(10, &now).map_err(|e| {
                                self.at.err(format!("binding the audit time of {table}"), e)
                            })?;
                            insert.insert(stmt)
                        }
                    };
                    bind_insert(stmt, row, before)
                        .and_then(|()| stmt.raw_execute())
                        .map_err(|e| self.row_err(row.exchange_id, e))?;
                    before = Some(row);
                }
                MirrorWriteRef::Update { exchange_id, row } => {
                    self.update_row(exchange_id, row, &now)?;
                }
            }
        }
        Ok(())
    }

    /// The reads of the table inside this transaction (they see its writes). The
    /// indexes a bulk load dropped are built first.
    pub fn reader(&mut self) -> Result<MirrorReader<'_>> {
        let restored = self.restore_indexes();
        failure_after_check(self.check, restored)?;
        MirrorReader::new(self.conn, self.at, self.table, self.waits())
    }

    /// [`MirrorReader::find_keys`] inside this transaction. The lookups go
    /// through the natural-key index, which a bulk load keeps: they do not build
    /// the indexes it dropped, so a first load whose keys repeat stays a bulk load.
    pub fn find_keys(
        &self,
        source_system: &str,
        entity_type: &str,
        keys: &[&str],
    ) -> Result<Vec<Option<super::KeyRow>>> {
        MirrorReader::new(self.conn, self.at, self.table, self.waits())?.find_keys(
            source_system,
            entity_type,
            keys,
        )
    }

    /// Commit what is written so far and go on in a new transaction (`BEGIN
    /// IMMEDIATE` again): for an import that commits every so many records.
    pub fn checkpoint(&mut self) -> Result<()> {
        self.finish(false)?;
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.at.err("starting the mirror transaction", e))?;
        self.fresh = true;
        Ok(())
    }

    /// Make every write durable, atomically, once the whole-file check running
    /// beside the command (if any) has answered `ok` and the indexes a bulk load
    /// dropped are built (a duplicate found then is [`Error::MirrorConstraint`]).
    /// On any failure nothing is committed.
    pub fn commit(mut self) -> Result<()> {
        self.finish(true)
    }

    /// Undo every write (as dropping does), and wait for the whole-file check
    /// running beside the command, if any: its failure says more than what the
    /// command was doing.
    pub fn rollback(mut self) -> Result<()> {
        let rolled = self.roll_back();
        self.settle()?;
        rolled
    }

    /// Commit; `last`: the transaction ends here (not a checkpoint), and
    /// nothing is reserved ahead of the file again.
    fn finish(&mut self, last: bool) -> Result<()> {
        self.settle()?;
        self.restore_indexes()?;
        if let Some(writeback) = &self.writeback {
            writeback.release(last);
        }
        self.conn
            .execute_batch("COMMIT")
            .map_err(|e| self.at.err("committing the mirror transaction", e))
    }

    fn roll_back(&mut self) -> Result<()> {
        self.deferred = false;
        if self.conn.is_autocommit() {
            return Ok(());
        }
        self.conn
            .execute_batch("ROLLBACK")
            .map_err(|e| self.at.err("rolling back the mirror transaction", e))
    }

    /// Wait for the whole-file check running beside the command, if any.
    fn settle(&self) -> Result<()> {
        self.check.map_or(Ok(()), BackgroundCheck::wait)
    }

    /// What the reads inside this transaction wait for.
    fn waits(&self) -> Waits<'s> {
        self.check.map_or(Waits::Never, Waits::Scan)
    }

    /// When the table holds no row: drop its exchange_id and content_sha256
    /// indexes (see [`MirrorTx::write_batch`]) and return `true`.
    fn defer_indexes(&mut self) -> Result<bool> {
        let table = self.table;
        let ctx = || format!("preparing a bulk load of {table}");
        let has_rows: bool = self
            .conn
            .query_row(
                &format!("SELECT EXISTS (SELECT 1 FROM {})", table.quoted()),
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.at.err(ctx(), e))?;
        if has_rows {
            return Ok(false);
        }
        let [_, id, hash, ..] = table.object_names();
        let drops: String = [id, hash]
            .iter()
            .map(|name| format!("DROP INDEX IF EXISTS \"{}\";", name.replace('"', "\"\"")))
            .collect();
        self.conn
            .execute_batch(&drops)
            .map_err(|e| self.at.err(ctx(), e))?;
        Ok(true)
    }

    /// Re-create whatever index of the table is missing after a bulk load. A
    /// duplicate exchange_id or hash among the loaded rows is
    /// [`Error::MirrorConstraint`] naming the record.
    ///
    /// The builds run with an 8 MB page cache: SQLite's sorter keeps as much
    /// in memory as the cache allows before it writes a sorted run, and sorting
    /// many 8 MB runs (then merging them) was twice as fast as sorting 64 MB ones:
    /// both indexes over 1M rows, same file, warm, 2.7 s with 64 MB, 1.3-1.5 s with
    /// 2 to 8 MB.
    fn restore_indexes(&mut self) -> Result<()> {
        if !std::mem::take(&mut self.deferred) {
            return Ok(());
        }
        let table = self.table;
        let build = format!(
            "PRAGMA cache_size = -{INDEX_BUILD_CACHE_KIB}; {} PRAGMA cache_size = -{CACHE_KIB};",
            table.ddl()
        );
        let Err(e) = self.conn.execute_batch(&build) else {
            return Ok(());
        };
        // The builds stopped before the cache size was set back.
        let _ = self
            .conn
            .execute_batch(&format!("PRAGMA cache_size = -{CACHE_KIB}"));
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
            && let Some(id) = self.duplicate()?
        {
            return Err(self.row_err(&id, e));
        }
        Err(self.at.err(format!("building the indexes of {table}"), e))
    }

    /// The exchange_id of a row whose exchange_id or hash another row also has.
    fn duplicate(&self) -> Result<Option<String>> {
        let t = self.table.quoted();
        let sql = format!(
            "SELECT exchange_id FROM {t} WHERE exchange_id IN \
               (SELECT exchange_id FROM {t} GROUP BY exchange_id HAVING count(*) > 1) \
             UNION ALL \
             SELECT max(exchange_id) FROM {t} GROUP BY content_sha256 HAVING count(*) > 1 \
             LIMIT 1"
        );
        self.conn
            .query_row(&sql, [], |r| r.get(0))
            .optional()
            .map_err(|e| {
                self.at
                    .err(format!("looking for duplicates in {}", self.table), e)
            })
    }

    /// One update of [`MirrorTx::write_batch`]; `now` is the audit time.
    fn update_row(&self, exchange_id: &str, row: &MirrorRowRef<'_>, now: &str) -> Result<()> {
        let table = self.table;
        let sql = format!(
            "UPDATE {} SET exchange_id = ?1, exchange_type = ?2, source_system = ?3, entity_type = ?4, \
             natural_key = ?5, observed_at_utc = ?6, content_sha256 = ?7, payload_json = ?8, \
             schema_version = ?9, updated_at_utc = ?10 \
             WHERE exchange_id = ?11",
            table.quoted()
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| self.at.err(format!("preparing updates of {table}"), e))?;
        let tail: [&dyn rusqlite::ToSql; 2] = [&now, &exchange_id];
        let n = stmt
            .execute(params_from_iter(columns(row).into_iter().chain(tail)))
            .map_err(|e| self.row_err(row.exchange_id, e))?;
        if n != 1 {
            return Err(Error::MirrorNoRow {
                path: self.at.path().to_path_buf(),
                table: table.to_string(),
                exchange_id: exchange_id.to_owned(),
            });
        }
        Ok(())
    }

    fn row_err(&self, exchange_id: &str, e: rusqlite::Error) -> Error {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) {
            Error::MirrorConstraint {
                path: self.at.path().to_path_buf(),
                table: self.table.to_string(),
                exchange_id: exchange_id.to_owned(),
                source: Box::new(e),
            }
        } else {
            self.at
                .err(format!("writing record {exchange_id} to {}", self.table), e)
        }
    }
}

impl Drop for MirrorTx<'_> {
    fn drop(&mut self) {
        let _ = self.roll_back();
    }
}

/// Bind `row` to the INSERT of [`MirrorTx::write_batch`] (`?1`..`?9`, as
/// [`columns`]), leaving bound what equals `before`, the row the statement ran
/// with last.
fn bind_insert(
    stmt: &mut rusqlite::CachedStatement<'_>,
    row: &MirrorRowRef<'_>,
    before: Option<&MirrorRowRef<'_>>,
) -> rusqlite::Result<()> {
    let kept = |same: fn(&MirrorRowRef<'_>, &MirrorRowRef<'_>) -> bool| {
        before.is_some_and(|b| same(b, row))
    };
    stmt.raw_bind_parameter(1, row.exchange_id)?;
    if !kept(|a, b| a.exchange_type == b.exchange_type) {
        stmt.raw_bind_parameter(2, row.exchange_type)?;
    }
    if !kept(|a, b| a.source_system == b.source_system) {
        stmt.raw_bind_parameter(3, row.source_system)?;
    }
    if !kept(|a, b| a.entity_type == b.entity_type) {
        stmt.raw_bind_parameter(4, row.entity_type)?;
    }
    stmt.raw_bind_parameter(5, row.natural_key)?;
    stmt.raw_bind_parameter(6, row.observed_at_utc)?;
    stmt.raw_bind_parameter(7, row.content_sha256)?;
    stmt.raw_bind_parameter(8, row.payload_json)?;
    if !kept(|a, b| a.schema_version == b.schema_version) {
        stmt.raw_bind_parameter(9, row.schema_version)?;
    }
    Ok(())
}

/// The nine stored columns in the order both the INSERT and the UPDATE of
/// [`MirrorTx::write_batch`] bind them (`?1`..`?9`).
fn columns<'r>(row: &'r MirrorRowRef<'_>) -> [&'r dyn rusqlite::ToSql; 9] {
    [
        &row.exchange_id,
        &row.exchange_type,
        &row.source_system,
        &row.entity_type,
        &row.natural_key,
        &row.observed_at_utc,
        &row.content_sha256,
        &row.payload_json,
        &row.schema_version,
    ]
}
