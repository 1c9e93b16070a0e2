//! [`SqlServerMirror`]: the [`Mirror`] trait on SQL Server through tiberius.
//!
//! Statements come from [`super::tsql`]; this file binds values, runs them through
//! the synchronous [`Connection`] and maps rows and errors. Writes: each run of
//! consecutive inserts is one `INSERT BULK` (tiberius `bulk_insert`, constraint
//! checks on); each run of updates is sent [`tsql::UPDATES_PER_REQUEST`] statements
//! per request (10 parameters each, under the 2,100-parameter limit), and every
//! statement must touch exactly one row.

use tiberius::{ColumnData, Row, ToSql, TokenRow, Uuid};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::client::{Connection, Param};
use super::config::SqlServerConfig;
use super::tsql::{self, TableName};
use crate::error::{BoxError, Error, Result};
use crate::hash::ContentHash;
use crate::mirror::{Mirror, MirrorKeyRow, MirrorRecord, MirrorWrite, Scope};

/// A mirror table on SQL Server. Construct with [`SqlServerMirror::connect`].
pub struct SqlServerMirror {
    conn: Connection,
    table: TableName,
    target: String,
    in_transaction: bool,
}

impl std::fmt::Debug for SqlServerMirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlServerMirror")
            .field("target", &self.target)
            .field("in_transaction", &self.in_transaction)
            .finish_non_exhaustive()
    }
}

impl SqlServerMirror {
    /// Connect to the server of `config` and bind to `table`. A failure is
    /// [`Error::MirrorUnavailable`] naming `mssql://user@host:port/db` (never the
    /// password), with the driver's error (the server's message) as source.
    pub fn connect(config: &SqlServerConfig, table: TableName) -> Result<Self> {
        let target = format!("{} ({})", config.describe(), table.quoted());
        let conn = Connection::open(config).map_err(|e| Error::MirrorUnavailable {
            target: target.clone(),
            source: Box::new(e),
        })?;
        Ok(Self {
            conn,
            table,
            target,
            in_transaction: false,
        })
    }

    /// Run a parameterless T-SQL batch on this connection and return each
    /// statement's row count. For administration and the live test suite's
    /// clean-up; the sync engine never calls it.
    pub fn execute_batch(&mut self, sql: &str) -> Result<Vec<u64>> {
        self.conn
            .execute(sql, Vec::new())
            .map_err(self.err("running an administrative batch"))
    }

    /// The bound table.
    pub fn table(&self) -> &TableName {
        &self.table
    }

    fn err(&self, context: impl Into<String>) -> impl FnOnce(BoxError) -> Error + '_ {
        let context = context.into();
        move |source| Error::Mirror {
            target: self.target.clone(),
            context,
            source,
        }
    }

    fn scope_params(scope: &Scope) -> Vec<Param> {
        vec![
            ColumnData::String(Some(scope.source_system.clone().into())),
            ColumnData::String(Some(scope.entity_type.clone().into())),
        ]
    }

    fn write_error(&self, exchange_id: &str, reason: String, source: Option<BoxError>) -> Error {
        Error::MirrorWrite {
            target: self.target.clone(),
            exchange_id: exchange_id.to_owned(),
            reason,
            source,
        }
    }

    fn insert_run(&mut self, records: &[&MirrorRecord]) -> Result<()> {
        let Some(first) = records.first() else {
            return Ok(());
        };
        let now_rows = self
            .conn
            .query(tsql::SERVER_TIME, Vec::new())
            .map_err(self.err("reading the server clock"))?;
        let now: Option<PrimitiveDateTime> = now_rows
            .first()
            .and_then(|r| r.try_get::<PrimitiveDateTime, _>(0).ok().flatten());
        let Some(now) = now else {
            return Err(self.write_error(
                &first.exchange_id,
                "the server clock is unreadable".into(),
                None,
            ));
        };
        let mut rows = Vec::with_capacity(records.len());
        for r in records {
            rows.push(self.bulk_row(r, now)?);
        }
        let table = self.table.quoted();
        let n = records.len();
        let taken = self
            .conn
            .bulk_insert(&table, &tsql::INSERT_COLUMNS, rows)
            .map_err(|source| {
                self.write_error(
                    &first.exchange_id,
                    format!("bulk insert of {n} rows (starting with this record) refused"),
                    Some(source),
                )
            })?;
        if taken != n as u64 {
            return Err(self.write_error(
                &first.exchange_id,
                format!("bulk insert of {n} rows stored {taken}"),
                None,
            ));
        }
        Ok(())
    }

    fn bulk_row(&self, r: &MirrorRecord, now: PrimitiveDateTime) -> Result<TokenRow<'static>> {
        let mut row = TokenRow::with_capacity(tsql::INSERT_COLUMNS.len());
        for value in self.record_values(r)? {
            row.push(value);
        }
        row.push(datetime2(now));
        row.push(datetime2(now));
        Ok(row)
    }

    /// The nine data columns of `r`, in table order.
    fn record_values(&self, r: &MirrorRecord) -> Result<Vec<Param>> {
        let id = parse_uuid(&r.exchange_id).ok_or_else(|| {
            self.write_error(&r.exchange_id, "exchange_id is not a UUID".into(), None)
        })?;
        let schema_version = i32::try_from(r.schema_version).map_err(|_| {
            self.write_error(
                &r.exchange_id,
                format!("schema_version {} does not fit an INT", r.schema_version),
                None,
            )
        })?;
        Ok(vec![
            ColumnData::Guid(Some(id)),
            ColumnData::String(Some(r.exchange_type.clone().into())),
            ColumnData::String(Some(r.source_system.clone().into())),
            ColumnData::String(Some(r.entity_type.clone().into())),
            ColumnData::String(
                r.natural_key
                    .clone()
                    .filter(|k| !k.is_empty())
                    .map(Into::into),
            ),
            datetime2(to_utc_primitive(r.observed_at_utc)),
            ColumnData::String(Some(r.content_sha256.to_hex().into())),
            ColumnData::String(Some(r.payload_json.clone().into())),
            ColumnData::I32(Some(schema_version)),
        ])
    }

    fn update_run(&mut self, updates: &[(&str, &MirrorRecord)]) -> Result<()> {
        for chunk in updates.chunks(tsql::UPDATES_PER_REQUEST) {
            let sql = tsql::update_batch(&self.table, chunk.len());
            let mut params = Vec::with_capacity(chunk.len() * tsql::PARAMS_PER_UPDATE);
            for (old_id, record) in chunk {
                params.extend(self.record_values(record)?);
                let old = parse_uuid(old_id).ok_or_else(|| {
                    self.write_error(
                        old_id,
                        "the row to update has no UUID exchange_id".into(),
                        None,
                    )
                })?;
                params.push(ColumnData::Guid(Some(old)));
            }
            let first = chunk.first().map_or("", |(id, _)| *id);
            let counts = self.conn.execute(&sql, params).map_err(|source| {
                self.write_error(
                    first,
                    format!(
                        "update of {} rows (starting with this one) refused",
                        chunk.len()
                    ),
                    Some(source),
                )
            })?;
            for (i, (old_id, _)) in chunk.iter().enumerate() {
                match counts.get(i) {
                    Some(1) => {}
                    Some(0) => {
                        return Err(self.write_error(
                            old_id,
                            "no row has this exchange_id".into(),
                            None,
                        ));
                    }
                    other => {
                        return Err(self.write_error(
                            old_id,
                            format!("the update touched {other:?} rows instead of one"),
                            None,
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn row_error(&self, exchange_id: &str, reason: impl Into<String>) -> Error {
        Error::MirrorRow {
            target: self.target.clone(),
            exchange_id: exchange_id.to_owned(),
            reason: reason.into(),
        }
    }
}

impl Drop for SqlServerMirror {
    fn drop(&mut self) {
        if self.in_transaction {
            // Best effort: closing the connection makes the server roll back anyway.
            let _ = self.conn.rollback();
        }
    }
}

impl Mirror for SqlServerMirror {
    fn describe(&self) -> String {
        self.target.clone()
    }

    fn schema_script(&self) -> String {
        tsql::schema_script(&self.table)
    }

    fn missing_schema_objects(&mut self) -> Result<Vec<String>> {
        let rows = self
            .conn
            .query(&tsql::missing_query(&self.table), Vec::new())
            .map_err(self.err("checking which schema objects exist"))?;
        let objects = tsql::schema_objects(&self.table);
        let mut missing = Vec::new();
        if let Some(row) = rows.first() {
            for (i, o) in objects.iter().enumerate() {
                if row.try_get::<i32, _>(i).ok().flatten() == Some(1) {
                    missing.push(o.name.clone());
                }
            }
        }
        Ok(missing)
    }

    fn apply_schema(&mut self) -> Result<Vec<String>> {
        if self.in_transaction {
            return Err(Error::Internal(
                "apply_schema called inside a transaction".into(),
            ));
        }
        let missing = self.missing_schema_objects()?;
        if missing.is_empty() {
            return Ok(missing);
        }
        self.conn
            .begin()
            .map_err(self.err("starting the schema transaction"))?;
        for o in tsql::schema_objects(&self.table) {
            if !missing.contains(&o.name) {
                continue;
            }
            if let Err(e) = self.conn.execute(&tsql::create_if_missing(&o), Vec::new()) {
                let _ = self.conn.rollback();
                return Err(Error::Mirror {
                    target: self.target.clone(),
                    context: format!("creating {}", o.name),
                    source: e,
                });
            }
        }
        self.conn
            .commit()
            .map_err(self.err("committing the schema"))?;
        Ok(missing)
    }

    fn hashes_in_scope(&mut self, scope: &Scope) -> Result<crate::hash::ContentHashSet> {
        let mut out = crate::hash::ContentHashSet::default();
        let sql = tsql::hashes_in_scope(&self.table);
        let target = self.target.clone();
        self.conn
            .query_each(&sql, Self::scope_params(scope), &mut |row: Row| {
                let text: &str = row.try_get(0)?.unwrap_or("");
                let hash: ContentHash = text.trim().parse()?;
                out.insert(hash);
                Ok(())
            })
            .map_err(|source| Error::Mirror {
                target,
                context: format!(
                    "reading hashes in scope {}/{}",
                    scope.source_system, scope.entity_type
                ),
                source,
            })?;
        Ok(out)
    }

    fn find_by_natural_keys(
        &mut self,
        scope: &Scope,
        keys: &[&str],
    ) -> Result<Vec<Option<MirrorKeyRow>>> {
        let mut out: Vec<Option<MirrorKeyRow>> = vec![None; keys.len()];
        for (chunk_no, chunk) in keys.chunks(tsql::KEYS_PER_LOOKUP).enumerate() {
            let sql = tsql::find_by_natural_keys(&self.table, chunk.len());
            let mut params = Self::scope_params(scope);
            params.extend(
                chunk
                    .iter()
                    .map(|k| ColumnData::String(Some((*k).to_owned().into()))),
            );
            let rows = self.conn.query(&sql, params).map_err(self.err(format!(
                "looking up natural keys in scope {}/{}",
                scope.source_system, scope.entity_type
            )))?;
            for row in rows {
                let ord = row.try_get::<i32, _>(0).ok().flatten();
                let id = row.try_get::<Uuid, _>(1).ok().flatten();
                let (Some(ord), Some(id)) = (ord, id) else {
                    return Err(
                        self.row_error("?", "natural-key lookup returned a row without ord or id")
                    );
                };
                let exchange_id = id.to_string();
                let key_row = self.key_row(&row, exchange_id)?;
                let slot = usize::try_from(ord)
                    .ok()
                    .map(|o| chunk_no * tsql::KEYS_PER_LOOKUP + o)
                    .and_then(|i| out.get_mut(i));
                if let Some(slot) = slot {
                    *slot = Some(key_row);
                }
            }
        }
        Ok(out)
    }

    fn export_scope(
        &mut self,
        scope: &Scope,
        sink: &mut dyn FnMut(MirrorRecord) -> Result<()>,
    ) -> Result<u64> {
        let sql = tsql::export_scope(&self.table);
        let target = self.target.clone();
        let mut sink_error: Option<Error> = None;
        let res = self
            .conn
            .query_each(&sql, Self::scope_params(scope), &mut |row: Row| {
                let record = record_from_row(&row).map_err(|reason| -> BoxError {
                    Box::new(Error::MirrorRow {
                        target: target.clone(),
                        exchange_id: row
                            .try_get::<Uuid, _>(0)
                            .ok()
                            .flatten()
                            .map_or_else(|| "?".to_owned(), |u| u.to_string()),
                        reason,
                    })
                })?;
                if let Err(e) = sink(record) {
                    sink_error = Some(e);
                    return Err("export stopped by its sink".into());
                }
                Ok(())
            });
        if let Some(e) = sink_error {
            return Err(e);
        }
        res.map_err(|source| match source.downcast::<Error>() {
            Ok(e) => *e,
            Err(source) => Error::Mirror {
                target: self.target.clone(),
                context: format!(
                    "exporting scope {}/{}",
                    scope.source_system, scope.entity_type
                ),
                source,
            },
        })
    }

    fn count(&mut self, scope: Option<&Scope>) -> Result<u64> {
        let sql = tsql::count(&self.table, scope.is_some());
        let params = scope.map(Self::scope_params).unwrap_or_default();
        let rows = self
            .conn
            .query(&sql, params)
            .map_err(self.err("counting rows"))?;
        let n = rows
            .first()
            .and_then(|r| r.try_get::<i64, _>(0).ok().flatten())
            .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn begin(&mut self) -> Result<()> {
        if self.in_transaction {
            return Err(Error::Internal(
                "begin called with a transaction already open".into(),
            ));
        }
        self.conn
            .begin()
            .map_err(self.err("starting the transaction"))?;
        self.in_transaction = true;
        Ok(())
    }

    fn write_batch(&mut self, writes: &[MirrorWrite]) -> Result<()> {
        if !self.in_transaction {
            return Err(Error::Internal(
                "write_batch called outside a transaction".into(),
            ));
        }
        let mut i = 0;
        while i < writes.len() {
            match writes.get(i) {
                Some(MirrorWrite::Insert(_)) => {
                    let run: Vec<&MirrorRecord> = writes[i..]
                        .iter()
                        .map_while(|w| match w {
                            MirrorWrite::Insert(r) => Some(r),
                            MirrorWrite::Update { .. } => None,
                        })
                        .collect();
                    i += run.len();
                    self.insert_run(&run)?;
                }
                Some(MirrorWrite::Update { .. }) => {
                    let run: Vec<(&str, &MirrorRecord)> = writes[i..]
                        .iter()
                        .map_while(|w| match w {
                            MirrorWrite::Update {
                                exchange_id,
                                record,
                            } => Some((exchange_id.as_str(), record)),
                            MirrorWrite::Insert(_) => None,
                        })
                        .collect();
                    i += run.len();
                    self.update_run(&run)?;
                }
                None => break,
            }
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        if !self.in_transaction {
            return Err(Error::Internal(
                "commit called outside a transaction".into(),
            ));
        }
        self.in_transaction = false;
        self.conn.commit().map_err(self.err("committing"))
    }

    fn rollback(&mut self) -> Result<()> {
        if !self.in_transaction {
            return Ok(());
        }
        self.in_transaction = false;
        self.conn.rollback().map_err(self.err("rolling back"))
    }
}

impl SqlServerMirror {
    fn key_row(&self, row: &Row, exchange_id: String) -> Result<MirrorKeyRow> {
        let hash = row
            .try_get::<&str, _>(2)
            .ok()
            .flatten()
            .and_then(|h| h.trim().parse::<ContentHash>().ok());
        let at = row.try_get::<PrimitiveDateTime, _>(3).ok().flatten();
        match (hash, at) {
            (Some(content_sha256), Some(at)) => Ok(MirrorKeyRow {
                exchange_id,
                content_sha256,
                observed_at_utc: at.assume_utc(),
            }),
            _ => Err(self.row_error(
                &exchange_id,
                "content_sha256 or observed_at_utc is unreadable",
            )),
        }
    }
}

/// Rebuild a [`MirrorRecord`] from a row of [`tsql::export_scope`].
fn record_from_row(row: &Row) -> std::result::Result<MirrorRecord, String> {
    let text = |i: usize, name: &str| -> std::result::Result<Option<String>, String> {
        row.try_get::<&str, _>(i)
            .map(|v| v.map(str::to_owned))
            .map_err(|_| format!("{name} is not text"))
    };
    let required = |i: usize, name: &str| -> std::result::Result<String, String> {
        text(i, name)?.ok_or_else(|| format!("{name} is NULL"))
    };
    let id = row
        .try_get::<Uuid, _>(0)
        .ok()
        .flatten()
        .ok_or("exchange_id is not a UUID")?;
    let at = row
        .try_get::<PrimitiveDateTime, _>(5)
        .ok()
        .flatten()
        .ok_or("observed_at_utc is not a DATETIME2")?;
    let hash = required(6, "content_sha256")?;
    Ok(MirrorRecord {
        exchange_id: id.to_string(),
        exchange_type: required(1, "exchange_type")?,
        source_system: required(2, "source_system")?,
        entity_type: required(3, "entity_type")?,
        natural_key: text(4, "natural_key")?,
        observed_at_utc: at.assume_utc(),
        content_sha256: hash
            .trim()
            .parse()
            .map_err(|_| "content_sha256 is not 64 hex".to_owned())?,
        payload_json: required(7, "payload_json")?,
        schema_version: i64::from(
            row.try_get::<i32, _>(8)
                .ok()
                .flatten()
                .ok_or("schema_version is not an INT")?,
        ),
    })
}

fn parse_uuid(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s).ok()
}

fn to_utc_primitive(t: OffsetDateTime) -> PrimitiveDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    PrimitiveDateTime::new(t.date(), t.time())
}

/// `t` as a `DATETIME2` parameter (tiberius' `time` mapping, owned).
fn datetime2(t: PrimitiveDateTime) -> Param {
    match t.to_sql() {
        ColumnData::DateTime2(v) => ColumnData::DateTime2(v),
        // tiberius maps PrimitiveDateTime to DATETIME2 (tds73); nothing else occurs.
        _ => ColumnData::DateTime2(None),
    }
}
