//! [`PostgresMirror`]: the [`Mirror`] trait on PostgreSQL through tokio-postgres.
//!
//! Statements come from [`super::sql`]; this file binds values, runs them through
//! the synchronous [`Connection`] and maps rows and errors. Writes: each run of
//! consecutive inserts is one binary `COPY`; each run of updates is one `UPDATE ...
//! FROM unnest(...)` whose `RETURNING` proves that every addressed row was touched.
//! A server-side refusal (unique violation, bad byte) names the record it was about:
//! the one whose key the server's `DETAIL` quotes, else the first of the run.

use std::pin::pin;

use futures_util::StreamExt as _;
use time::OffsetDateTime;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::client::{Connection, Failure};
use super::config::PgConfig;
use super::sql::{self, TableName};
use crate::error::{BoxError, Error, Result};
use crate::hash::{ContentHash, ContentHashSet};
use crate::mirror::{Mirror, MirrorKeyRow, MirrorRecord, MirrorWrite, Scope, WriteRun, write_runs};

/// A mirror table on PostgreSQL. Construct with [`PostgresMirror::connect`].
pub struct PostgresMirror {
    conn: Connection,
    table: TableName,
    target: String,
    in_transaction: bool,
    /// Whether the table exists (reads of a missing table see no rows; `begin`
    /// creates it).
    exists: bool,
}

/// How long [`Mirror::lock_scope`] waits for another writer of the scope before
/// [`Error::ScopeBusy`], unless the session sets its own `lock_timeout` (e.g.
/// `options=-c%20lock_timeout%3D5000` in the URL): long enough for another sync of
/// a million records.
pub const SCOPE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

impl std::fmt::Debug for PostgresMirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresMirror")
            .field("target", &self.target)
            .field("in_transaction", &self.in_transaction)
            .finish_non_exhaustive()
    }
}

impl PostgresMirror {
    /// Connect to the server of `config` and bind to `table`. A failure is
    /// [`Error::MirrorUnavailable`] naming `postgres://user@host:port/db` (never the
    /// password), with the driver's error (the server's message) as source. A
    /// database whose encoding is not UTF-8 is refused: it could not hold every
    /// record byte for byte.
    pub fn connect(config: &PgConfig, table: TableName) -> Result<Self> {
        let target = format!("{} ({})", config.describe(), table.plain());
        let conn = Connection::open(config).map_err(|source| Error::MirrorUnavailable {
            target: target.clone(),
            source,
        })?;
        let mut m = Self {
            conn,
            table,
            target,
            in_transaction: false,
            exists: true,
        };
        let encoding: String = m
            .conn
            .run(|c| async move {
                let row = c.query_one("SHOW server_encoding", &[]).await?;
                Ok(row.try_get::<_, String>(0)?)
            })
            .map_err(m.err("reading the server encoding"))?;
        if encoding != "UTF8" {
            return Err(Error::MirrorUnavailable {
                target: m.target.clone(),
                source: format!(
                    "the database's encoding is {encoding}, not UTF8: it cannot store every \
                     record byte for byte (create it with `createdb -E UTF8 -T template0`)"
                )
                .into(),
            });
        }
        let table_object = m.table.plain();
        m.exists = !m.missing_schema_objects()?.contains(&table_object);
        Ok(m)
    }

    /// Run parameterless SQL on this connection. For administration and the live
    /// test suite's clean-up; the sync engine never calls it.
    pub fn execute_batch(&mut self, sql_text: &str) -> Result<()> {
        let r = self.conn.batch(sql_text);
        r.map_err(self.err("running an administrative batch"))
    }

    /// The bound table.
    pub fn table(&self) -> &TableName {
        &self.table
    }

    fn err(&self, context: impl Into<String>) -> impl FnOnce(Failure) -> Error + '_ {
        let context = context.into();
        move |f| self.failure(f, context)
    }

    fn failure(&self, f: Failure, context: String) -> Error {
        match f {
            Failure::Interrupted => Error::Interrupted {
                target: self.target.clone(),
            },
            Failure::Db(e) if e.is_closed() || e.as_db_error().is_none() && is_io(&e) => {
                Error::MirrorUnavailable {
                    target: self.target.clone(),
                    source: Box::new(e),
                }
            }
            Failure::Db(e) if is_admin_shutdown(&e) => Error::MirrorUnavailable {
                target: self.target.clone(),
                source: Box::new(e),
            },
            Failure::Db(e) => Error::Mirror {
                target: self.target.clone(),
                context: if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) {
                    format!(
                        "{context}: the table is missing; create it with \
                         `fabric exchange schema --manifest FILE --target URL --apply`"
                    )
                } else {
                    context
                },
                source: Box::new(e),
            },
        }
    }

    fn write_failure(&self, f: Failure, records: &[&MirrorRecord], what: String) -> Error {
        match f {
            Failure::Db(e) if e.as_db_error().is_some() && !is_admin_shutdown(&e) => {
                let (record, reason) = match culprit(&e, records) {
                    Some(r) => (Some(r), format!("the server refused it ({what})")),
                    None => (
                        records.first().copied(),
                        format!("{what} refused; the server named no record, this is the first"),
                    ),
                };
                Error::MirrorWrite {
                    target: self.target.clone(),
                    exchange_id: record.map_or_else(String::new, |r| r.exchange_id.clone()),
                    reason,
                    source: Some(Box::new(e)),
                }
            }
            other => self.failure(other, what),
        }
    }

    fn insert_run(&mut self, records: &[&MirrorRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut rows = Vec::with_capacity(records.len());
        for r in records {
            rows.push(CopyRow::of(r).map_err(|reason| Error::MirrorWrite {
                target: self.target.clone(),
                exchange_id: r.exchange_id.clone(),
                reason,
                source: None,
            })?);
        }
        let copy = sql::copy_in(&self.table);
        let n = records.len() as u64;
        let taken = self.conn.run(|c| async move {
            let sink = c.copy_in(copy.as_str()).await?;
            let types = [
                Type::UUID,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TIMESTAMPTZ,
                Type::TEXT,
                Type::BPCHAR,
                Type::TEXT,
                Type::INT4,
            ];
            let mut w = pin!(BinaryCopyInWriter::new(sink, &types));
            for row in &rows {
                w.as_mut()
                    .write(&[
                        &row.id,
                        &row.exchange_type,
                        &row.source_system,
                        &row.entity_type,
                        &row.natural_key,
                        &row.observed_at,
                        &row.observed_at_text,
                        &row.hash,
                        &row.payload,
                        &row.schema_version,
                    ])
                    .await?;
            }
            Ok(w.finish().await?)
        });
        let taken =
            taken.map_err(|f| self.write_failure(f, records, format!("COPY of {n} new rows")))?;
        if taken != n {
            return Err(Error::MirrorWrite {
                target: self.target.clone(),
                exchange_id: records[0].exchange_id.clone(),
                reason: format!("COPY of {n} rows stored {taken}"),
                source: None,
            });
        }
        Ok(())
    }

    fn update_run(&mut self, updates: &[(&str, &MirrorRecord)]) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        let records: Vec<&MirrorRecord> = updates.iter().map(|(_, r)| *r).collect();
        let mut cols = UpdateColumns::default();
        for (old, r) in updates {
            let schema_version =
                i32::try_from(r.schema_version).map_err(|_| Error::MirrorWrite {
                    target: self.target.clone(),
                    exchange_id: r.exchange_id.clone(),
                    reason: format!(
                        "schema_version {} does not fit an integer",
                        r.schema_version
                    ),
                    source: None,
                })?;
            cols.old_id.push((*old).to_owned());
            cols.exchange_id.push(r.exchange_id.clone());
            cols.exchange_type.push(r.exchange_type.clone());
            cols.source_system.push(r.source_system.clone());
            cols.entity_type.push(r.entity_type.clone());
            cols.natural_key
                .push(r.natural_key.clone().filter(|k| !k.is_empty()));
            cols.observed_at.push(r.observed_at_utc);
            cols.observed_at_text.push(observed_at_text(r));
            cols.hash.push(r.content_sha256.to_hex());
            cols.payload.push(r.payload_json.clone());
            cols.schema_version.push(schema_version);
        }
        let statement = sql::update_batch(&self.table);
        let cols_ref = &cols;
        let touched = self.conn.run(|c| async move {
            let rows = c
                .query(
                    statement.as_str(),
                    &[
                        &cols_ref.old_id,
                        &cols_ref.exchange_id,
                        &cols_ref.exchange_type,
                        &cols_ref.source_system,
                        &cols_ref.entity_type,
                        &cols_ref.natural_key,
                        &cols_ref.observed_at,
                        &cols_ref.observed_at_text,
                        &cols_ref.hash,
                        &cols_ref.payload,
                        &cols_ref.schema_version,
                    ],
                )
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                out.push(row.try_get::<_, String>(0)?);
            }
            Ok(out)
        });
        let n = updates.len();
        let touched =
            touched.map_err(|f| self.write_failure(f, &records, format!("UPDATE of {n} rows")))?;
        if touched.len() != n {
            let set: std::collections::HashSet<&str> = touched.iter().map(String::as_str).collect();
            let missing = updates
                .iter()
                .find(|(old, _)| !set.contains(old))
                .map_or("", |(old, _)| *old);
            return Err(Error::MirrorWrite {
                target: self.target.clone(),
                exchange_id: missing.to_owned(),
                reason: format!(
                    "no row has this exchange_id (the UPDATE touched {} of {n} rows)",
                    touched.len()
                ),
                source: None,
            });
        }
        Ok(())
    }

    fn scope_lock(&mut self, scope: &Scope) -> Result<()> {
        let key = sql::scope_lock_key(&self.table, &scope.source_system, &scope.entity_type);
        let started = std::time::Instant::now();
        let r = self.conn.run(|c| async move {
            c.execute(
                sql::LOCK_WAIT,
                &[&(SCOPE_LOCK_WAIT.as_millis().to_string() + "ms")],
            )
            .await?;
            c.execute(sql::ADVISORY_LOCK, &[&key]).await?;
            c.batch_execute("SET LOCAL lock_timeout TO DEFAULT").await?;
            Ok(())
        });
        match r {
            Err(Failure::Db(e))
                if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) =>
            {
                Err(Error::ScopeBusy {
                    target: self.target.clone(),
                    scope: format!("{}/{}", scope.source_system, scope.entity_type),
                    waited_secs: started.elapsed().as_secs(),
                })
            }
            r => r.map_err(self.err(format!(
                "waiting for the lock of scope {}/{}",
                scope.source_system, scope.entity_type
            ))),
        }
    }
}

impl Drop for PostgresMirror {
    fn drop(&mut self) {
        if self.in_transaction {
            // Best effort: closing the connection makes the server roll back anyway.
            let _ = self.conn.batch("ROLLBACK");
        }
    }
}

impl Mirror for PostgresMirror {
    fn describe(&self) -> String {
        self.target.clone()
    }

    fn schema_script(&self) -> String {
        sql::schema_script(&self.table)
    }

    fn missing_schema_objects(&mut self) -> Result<Vec<String>> {
        let q = sql::missing_query(&self.table);
        let objects = sql::schema_objects(&self.table);
        let flags = self
            .conn
            .run(|c| async move {
                let row = c.query_one(q.as_str(), &[]).await?;
                let mut flags = Vec::with_capacity(row.len());
                for i in 0..row.len() {
                    flags.push(row.try_get::<_, bool>(i)?);
                }
                Ok(flags)
            })
            .map_err(self.err("checking which schema objects exist"))?;
        Ok(objects
            .into_iter()
            .zip(flags)
            .filter(|(_, missing)| *missing)
            .map(|(o, _)| o.name)
            .collect())
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
        // Two commands creating one table at once would race in the catalog: the
        // table's own advisory key serializes them (the second then creates nothing).
        let mut script = format!(
            "BEGIN;\nSELECT pg_advisory_xact_lock({});\n",
            sql::scope_lock_key(&self.table, "", "")
        );
        for o in sql::schema_objects(&self.table) {
            if missing.contains(&o.name) {
                script.push_str(&o.create);
                script.push_str(";\n");
            }
        }
        script.push_str("COMMIT;");
        if let Err(f) = self.conn.batch(&script) {
            let _ = self.conn.batch("ROLLBACK");
            return Err(self.failure(f, format!("creating {}", missing.join(", "))));
        }
        self.exists = true;
        Ok(missing)
    }

    fn hashes_in_scope(&mut self, scope: &Scope) -> Result<ContentHashSet> {
        if !self.exists {
            return Ok(ContentHashSet::default());
        }
        let q = sql::hashes_in_scope(&self.table);
        let (a, b) = (scope.source_system.as_str(), scope.entity_type.as_str());
        let r = self.conn.run(|c| async move {
            let mut out = ContentHashSet::default();
            let mut rows = pin!(c.query_raw(q.as_str(), [a, b]).await?);
            while let Some(row) = rows.next().await {
                let row = row?;
                let text: &str = row.try_get(0)?;
                match text.parse::<ContentHash>() {
                    Ok(h) => {
                        out.insert(h);
                    }
                    Err(_) => return Ok(Err(text.to_owned())),
                }
            }
            Ok(Ok(out))
        });
        let r = r.map_err(self.err(format!(
            "reading hashes in scope {}/{}",
            scope.source_system, scope.entity_type
        )))?;
        r.map_err(|bad| Error::MirrorRow {
            target: self.target.clone(),
            exchange_id: "?".into(),
            reason: format!("content_sha256 {bad:?} is not 64 hex digits"),
        })
    }

    fn find_by_natural_keys(
        &mut self,
        scope: &Scope,
        keys: &[&str],
    ) -> Result<Vec<Option<MirrorKeyRow>>> {
        let mut out: Vec<Option<MirrorKeyRow>> = vec![None; keys.len()];
        if keys.is_empty() || !self.exists {
            return Ok(out);
        }
        let q = sql::find_by_natural_keys(&self.table);
        let (a, b) = (scope.source_system.as_str(), scope.entity_type.as_str());
        let rows = self
            .conn
            .run(|c| async move { Ok(c.query(q.as_str(), &[&a, &b, &keys]).await?) })
            .map_err(self.err(format!(
                "looking up natural keys in scope {}/{}",
                scope.source_system, scope.entity_type
            )))?;
        for row in rows {
            let ord: Option<i64> = row.try_get(0).ok();
            let id: Option<String> = row.try_get(1).ok();
            let hash: Option<ContentHash> =
                row.try_get::<_, &str>(2).ok().and_then(|h| h.parse().ok());
            let at: Option<OffsetDateTime> = row.try_get(3).ok();
            let (Some(ord), Some(exchange_id), Some(content_sha256), Some(at)) =
                (ord, id, hash, at)
            else {
                return Err(Error::MirrorRow {
                    target: self.target.clone(),
                    exchange_id: "?".into(),
                    reason: "a natural-key lookup returned an unreadable row".into(),
                });
            };
            let slot = usize::try_from(ord - 1).ok().and_then(|i| out.get_mut(i));
            if let Some(slot) = slot {
                *slot = Some(MirrorKeyRow {
                    exchange_id,
                    content_sha256,
                    observed_at_utc: at,
                });
            }
        }
        Ok(out)
    }

    fn export_scope(
        &mut self,
        scope: &Scope,
        sink: &mut dyn FnMut(MirrorRecord) -> Result<()>,
    ) -> Result<u64> {
        if !self.exists {
            return Ok(0);
        }
        let q = sql::export_scope(&self.table);
        let target = self.target.clone();
        let (a, b) = (scope.source_system.as_str(), scope.entity_type.as_str());
        let r = self.conn.run(|c| async move {
            let mut rows = pin!(c.query_raw(q.as_str(), [a, b]).await?);
            let mut n = 0u64;
            while let Some(row) = rows.next().await {
                let row = row?;
                let record = match record_from_row(&row) {
                    Ok(r) => r,
                    Err((exchange_id, reason)) => {
                        return Ok(Err(Error::MirrorRow {
                            target,
                            exchange_id,
                            reason,
                        }));
                    }
                };
                if let Err(e) = sink(record) {
                    return Ok(Err(e));
                }
                n += 1;
            }
            Ok(Ok(n))
        });
        r.map_err(self.err(format!(
            "exporting scope {}/{}",
            scope.source_system, scope.entity_type
        )))?
    }

    fn count(&mut self, scope: Option<&Scope>) -> Result<u64> {
        if !self.exists {
            return Ok(0);
        }
        let q = sql::count(&self.table, scope.is_some());
        let n = self
            .conn
            .run(|c| async move {
                let row = match scope {
                    Some(s) => {
                        c.query_one(q.as_str(), &[&s.source_system, &s.entity_type])
                            .await?
                    }
                    None => c.query_one(q.as_str(), &[]).await?,
                };
                Ok(row.try_get::<_, i64>(0)?)
            })
            .map_err(self.err("counting rows"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn begin(&mut self) -> Result<()> {
        if self.in_transaction {
            return Err(Error::Internal(
                "begin called with a transaction already open".into(),
            ));
        }
        if !self.exists {
            // Like the other backends: a sync into a new table creates it.
            self.apply_schema()?;
        }
        let r = self.conn.batch("BEGIN");
        r.map_err(self.err("starting the transaction"))?;
        self.in_transaction = true;
        Ok(())
    }

    fn lock_scope(&mut self, scope: &Scope) -> Result<()> {
        if !self.in_transaction {
            return Err(Error::Internal(
                "lock_scope called outside a transaction".into(),
            ));
        }
        self.scope_lock(scope)
    }

    fn write_batch(&mut self, writes: &[MirrorWrite]) -> Result<()> {
        if !self.in_transaction {
            return Err(Error::Internal(
                "write_batch called outside a transaction".into(),
            ));
        }
        // The same column limits as the other backends: a record one takes, all take.
        crate::limits::check_writes(&self.target, writes)?;
        for run in write_runs(writes) {
            match run {
                WriteRun::Inserts(run) => self.insert_run(&run)?,
                WriteRun::Updates(run) => self.update_run(&run)?,
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
        let r = self.conn.batch("COMMIT");
        r.map_err(self.err("committing"))
    }

    fn rollback(&mut self) -> Result<()> {
        if !self.in_transaction {
            return Ok(());
        }
        self.in_transaction = false;
        let r = self.conn.batch("ROLLBACK");
        r.map_err(self.err("rolling back"))
    }
}

/// The arrays of one batched UPDATE, one per column.
#[derive(Default)]
struct UpdateColumns {
    old_id: Vec<String>,
    exchange_id: Vec<String>,
    exchange_type: Vec<String>,
    source_system: Vec<String>,
    entity_type: Vec<String>,
    natural_key: Vec<Option<String>>,
    observed_at: Vec<OffsetDateTime>,
    observed_at_text: Vec<String>,
    hash: Vec<String>,
    payload: Vec<String>,
    schema_version: Vec<i32>,
}

/// One row of a binary COPY, borrowing the record's text.
struct CopyRow<'a> {
    id: Uuid,
    exchange_type: &'a str,
    source_system: &'a str,
    entity_type: &'a str,
    natural_key: Option<&'a str>,
    observed_at: OffsetDateTime,
    observed_at_text: String,
    hash: String,
    payload: &'a str,
    schema_version: i32,
}

impl<'a> CopyRow<'a> {
    fn of(r: &'a MirrorRecord) -> std::result::Result<Self, String> {
        Ok(Self {
            id: Uuid::parse(&r.exchange_id).ok_or("exchange_id is not a UUID")?,
            exchange_type: &r.exchange_type,
            source_system: &r.source_system,
            entity_type: &r.entity_type,
            natural_key: r.natural_key.as_deref().filter(|k| !k.is_empty()),
            observed_at: r.observed_at_utc,
            observed_at_text: observed_at_text(r),
            hash: r.content_sha256.to_hex(),
            payload: &r.payload_json,
            schema_version: i32::try_from(r.schema_version).map_err(|_| {
                format!(
                    "schema_version {} does not fit an integer",
                    r.schema_version
                )
            })?,
        })
    }
}

/// A UUID's 16 bytes, written as PostgreSQL's binary `uuid`.
#[derive(Debug)]
struct Uuid([u8; 16]);

impl Uuid {
    /// `8-4-4-4-12` hex, either case.
    fn parse(s: &str) -> Option<Self> {
        let groups: Vec<&str> = s.split('-').collect();
        if groups.iter().map(|g| g.len()).collect::<Vec<_>>() != [8, 4, 4, 4, 12] {
            return None;
        }
        let mut out = [0u8; 16];
        hex::decode_to_slice(groups.concat(), &mut out).ok()?;
        Some(Self(out))
    }
}

impl ToSql for Uuid {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> std::result::Result<IsNull, BoxError> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::UUID
    }

    to_sql_checked!();
}

/// The record's own spelling of `observed_at_utc`, read from its payload (the
/// envelope's top-level field); the fixed microsecond text if it cannot be found.
///
/// Fast path: the last `"observed_at_utc":` in the line (the writer puts the field
/// after `request` and `response`, where a nested key of that name could sit), taken
/// only if its text parses to the record's own instant; else the whole line is
/// parsed.
fn observed_at_text(r: &MirrorRecord) -> String {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        observed_at_utc: Option<std::borrow::Cow<'a, str>>,
    }
    let fast = r
        .payload_json
        .rfind("\"observed_at_utc\":")
        .and_then(|i| r.payload_json.get(i + "\"observed_at_utc\":".len()..))
        .and_then(|rest| rest.trim_start().strip_prefix('"'))
        .and_then(|rest| rest.split_once('"'))
        .map(|(text, _)| text)
        .filter(|text| {
            !text.contains('\\')
                && crate::timestamp::parse(text).map(crate::timestamp::truncate_micros)
                    == Some(r.observed_at_utc)
        });
    if let Some(text) = fast {
        return text.to_owned();
    }
    serde_json::from_str::<Envelope<'_>>(&r.payload_json)
        .ok()
        .and_then(|e| e.observed_at_utc)
        .map_or_else(|| r.observed_at_text(), std::borrow::Cow::into_owned)
}

/// The record of the server's complaint: the one whose hash, id or natural key the
/// error's `DETAIL` quotes (`Key (column)=(value) already exists.`).
fn culprit<'r>(
    e: &tokio_postgres::Error,
    records: &[&'r MirrorRecord],
) -> Option<&'r MirrorRecord> {
    let detail = e.as_db_error()?.detail()?;
    let rest = detail.strip_prefix("Key (")?;
    let (columns, rest) = rest.split_once(")=(")?;
    let value = rest.rsplit_once(')')?.0;
    records.iter().copied().find(|r| match columns {
        "content_sha256" => r.content_sha256.to_hex() == value,
        "exchange_id" => r.exchange_id.eq_ignore_ascii_case(value),
        "source_system, entity_type, natural_key" => r
            .natural_key
            .as_deref()
            .is_some_and(|k| value == format!("{}, {}, {k}", r.source_system, r.entity_type)),
        _ => false,
    })
}

fn is_io(e: &tokio_postgres::Error) -> bool {
    use std::error::Error as _;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(c) = cur {
        if c.is::<std::io::Error>() {
            return true;
        }
        cur = c.source();
    }
    false
}

/// The server is going away (`pg_ctl stop -m immediate`, admin shutdown, crash).
fn is_admin_shutdown(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.code().is_some_and(|c| {
        [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
        ]
        .contains(c)
    })
}

/// Rebuild a [`MirrorRecord`] from a row of [`sql::export_scope`]; on failure the
/// row's id (or `?`) and why.
fn record_from_row(
    row: &tokio_postgres::Row,
) -> std::result::Result<MirrorRecord, (String, String)> {
    let id: String = row
        .try_get(0)
        .map_err(|_| ("?".to_owned(), "exchange_id is unreadable".to_owned()))?;
    let fail = |what: &str| (id.clone(), format!("{what} is unreadable"));
    let text = |i: usize, what: &str| row.try_get::<_, String>(i).map_err(|_| fail(what));
    let hash: &str = row.try_get(6).map_err(|_| fail("content_sha256"))?;
    Ok(MirrorRecord {
        exchange_type: text(1, "exchange_type")?,
        source_system: text(2, "source_system")?,
        entity_type: text(3, "entity_type")?,
        natural_key: row
            .try_get::<_, Option<String>>(4)
            .map_err(|_| fail("natural_key"))?,
        observed_at_utc: row.try_get(5).map_err(|_| fail("observed_at_utc"))?,
        content_sha256: hash.parse().map_err(|_| fail("content_sha256"))?,
        payload_json: text(7, "payload_json")?,
        schema_version: i64::from(
            row.try_get::<_, i32>(8)
                .map_err(|_| fail("schema_version"))?,
        ),
        exchange_id: id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(payload: &str) -> MirrorRecord {
        MirrorRecord {
            exchange_id: "00000000-0000-4000-8000-000000000001".into(),
            exchange_type: "http".into(),
            source_system: "s".into(),
            entity_type: "e".into(),
            natural_key: None,
            observed_at_utc: time::macros::datetime!(2024-01-15 10:00:00.123456 UTC),
            content_sha256: ContentHash([1; 32]),
            payload_json: payload.into(),
            schema_version: 1,
        }
    }

    #[test]
    fn the_original_time_text_is_found_and_checked() {
        let top = "2024-01-15T10:00:00.1234567Z";
        // A nested key of the same name before the envelope's own field.
        let r = rec(&format!(
            "{{\"response\": {{\"observed_at_utc\": \"1999-01-01\"}}, \"observed_at_utc\": \"{top}\"}}"
        ));
        assert_eq!(observed_at_text(&r), top);
        // A nested key after it, naming another time: the full parse decides.
        let r = rec(&format!(
            "{{\"observed_at_utc\": \"{top}\", \"tags\": {{\"observed_at_utc\": \"1999-01-01\"}}}}"
        ));
        assert_eq!(observed_at_text(&r), top);
        // No such field: the fixed text of the instant.
        assert_eq!(observed_at_text(&rec("{}")), "2024-01-15T10:00:00.123456Z");
    }

    #[test]
    fn uuids_parse_in_either_case_and_nothing_else() {
        assert!(Uuid::parse("00000000-0000-4000-8000-00000000ABCD").is_some());
        for bad in [
            "",
            "0000000-00000-4000-8000-000000000000",
            "zzzzzzzz-0000-4000-8000-000000000000",
        ] {
            assert!(Uuid::parse(bad).is_none(), "{bad}");
        }
    }
}
