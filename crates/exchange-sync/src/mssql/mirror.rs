//! [`SqlServerMirror`]: the [`Mirror`] trait on SQL Server through tiberius.
//!
//! Statements come from [`super::tsql`]; this file binds values, runs them through
//! the synchronous [`Connection`] and maps rows and errors.
//!
//! * Inserts: rows whose payload fits [`tsql::BULK_PAYLOAD_MAX`] are gathered and
//!   sent as one `INSERT BULK` (constraint checks on) when the next read, update or
//!   commit needs them, or at [`PENDING_MAX_BYTES`]: one metadata query per bulk
//!   load, not per batch. Longer payloads go through a parameterized `INSERT`
//!   ([`tsql::insert_path`], tiberius issue #322).
//! * The server clock for the audit columns is read once per command.
//! * Updates: [`tsql::UPDATES_PER_REQUEST`] statements per request (10 parameters
//!   each, under the 2,100-parameter limit); every one must touch exactly one row.
//! * Writers of one scope are serialized by `sp_getapplock` ([`tsql::LOCK_SCOPE`]).
//! * Export reads keyset pages of [`tsql::EXPORT_PAGE`] rows in index order and
//!   orders the rows of one `observed_at_utc` by text `exchange_id` (the contract's
//!   tie order, which SQL Server's `UNIQUEIDENTIFIER` order is not).

use std::time::Duration;

use tiberius::{ColumnData, Row, ToSql, TokenRow, Uuid};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::client::{Connection, Param};
use super::config::SqlServerConfig;
use super::tsql::{self, TableName};
use crate::error::{BoxError, Error, Result};
use crate::hash::ContentHash;
use crate::mirror::{Mirror, MirrorKeyRow, MirrorRecord, MirrorWrite, Scope, WriteRun, write_runs};

/// Bulk rows gathered before they are sent anyway (see the module docs).
pub const PENDING_MAX_BYTES: usize = 32 << 20;

/// A mirror table on SQL Server. Construct with [`SqlServerMirror::connect`].
pub struct SqlServerMirror {
    conn: Connection,
    table: TableName,
    target: String,
    in_transaction: bool,
    /// Whether the table exists (reads of a missing table see no rows; `begin`
    /// creates it).
    exists: bool,
    /// The server clock, read once per command for the audit columns.
    server_now: Option<PrimitiveDateTime>,
    /// Bulk rows not sent yet.
    pending: Pending<TokenRow<'static>>,
    /// How long [`Mirror::lock_scope`] waits for another writer.
    lock_timeout: Duration,
}

/// Rows waiting for one `INSERT BULK` (`R` is a tiberius row; the tests use `()`).
struct Pending<R> {
    rows: Vec<R>,
    first: String,
    last: String,
    bytes: usize,
}

impl<R> Default for Pending<R> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            first: String::new(),
            last: String::new(),
            bytes: 0,
        }
    }
}

impl<R> Pending<R> {
    /// Gather the bulk row of record `exchange_id` with a payload of `bytes`;
    /// true when the gathered rows reached [`PENDING_MAX_BYTES`] and must be sent
    /// now. Otherwise they go when the next read, update or commit needs them.
    fn add(&mut self, exchange_id: &str, bytes: usize, row: R) -> bool {
        if self.rows.is_empty() {
            exchange_id.clone_into(&mut self.first);
        }
        exchange_id.clone_into(&mut self.last);
        self.bytes += bytes;
        self.rows.push(row);
        self.bytes >= PENDING_MAX_BYTES
    }
}

/// Route one run of inserts: rows whose payload may go by bulk load
/// ([`tsql::insert_path`]) are built by `row` and gathered into `pending`; each time
/// it reaches [`PENDING_MAX_BYTES`] it is taken out as a load to send now. Returns
/// the records for the parameterized `INSERT` and those full loads. What stays in
/// `pending` goes at the next read, update or commit.
fn gather<'r, R>(
    pending: &mut Pending<R>,
    records: &[&'r MirrorRecord],
    mut row: impl FnMut(&MirrorRecord) -> Result<R>,
) -> Result<(Vec<&'r MirrorRecord>, Vec<Pending<R>>)> {
    let mut parameterized = Vec::new();
    let mut full = Vec::new();
    for r in records {
        match tsql::insert_path(&r.payload_json) {
            tsql::InsertPath::Bulk => {
                if pending.add(&r.exchange_id, r.payload_json.len(), row(r)?) {
                    full.push(std::mem::take(pending));
                }
            }
            tsql::InsertPath::Parameterized => parameterized.push(*r),
        }
    }
    Ok((parameterized, full))
}

/// One request of a planned sequence ([`schema_requests`], [`begin_requests`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    /// `BEGIN TRANSACTION` (tiberius sends it as a TDS transaction-manager request).
    Begin,
    /// A parameterless batch that creates one schema object if it is missing.
    Create {
        /// The object's name, for the error message.
        object: String,
        /// The guarded statement ([`tsql::create_if_missing`]).
        sql: String,
    },
    /// `COMMIT` (a transaction-manager request too).
    Commit,
}

/// What creating the `missing` schema objects of `table` sends: one transaction
/// with the guarded `CREATE` of each, in creation order. Nothing when none is
/// missing.
fn schema_requests(table: &TableName, missing: &[String]) -> Vec<Request> {
    if missing.is_empty() {
        return Vec::new();
    }
    let mut out = vec![Request::Begin];
    out.extend(
        tsql::schema_objects(table)
            .iter()
            .filter(|o| missing.contains(&o.name))
            .map(|o| Request::Create {
                object: o.name.clone(),
                sql: tsql::create_if_missing(o),
            }),
    );
    out.push(Request::Commit);
    out
}

/// What [`Mirror::begin`] sends once it knows which schema objects are `missing`
/// (asked with [`tsql::missing_query`] only when the table was missing at
/// connect): the schema transaction that creates them, as the SQLite backend
/// creates a missing table, then the command's own `BEGIN TRANSACTION`.
fn begin_requests(table: &TableName, missing: &[String]) -> Vec<Request> {
    let mut out = schema_requests(table, missing);
    out.push(Request::Begin);
    out
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
        let mut mirror = Self {
            conn,
            table,
            target,
            in_transaction: false,
            exists: true,
            server_now: None,
            pending: Pending::default(),
            // Inside the command timeout, so the lock's own answer comes first.
            lock_timeout: config
                .command_timeout
                .saturating_sub(Duration::from_secs(1))
                .max(Duration::from_secs(1)),
        };
        let table_object = tsql::schema_objects(&mirror.table)
            .get(1)
            .map(|o| o.name.clone())
            .unwrap_or_default();
        mirror.exists = !mirror.missing_schema_objects()?.contains(&table_object);
        Ok(mirror)
    }

    /// The server clock, read on first use and kept for the command.
    fn server_now(&mut self, first: &str) -> Result<PrimitiveDateTime> {
        if let Some(now) = self.server_now {
            return Ok(now);
        }
        let rows = self
            .conn
            .query(tsql::SERVER_TIME, Vec::new())
            .map_err(self.err("reading the server clock"))?;
        let now = rows
            .first()
            .and_then(|r| r.try_get::<PrimitiveDateTime, _>(0).ok().flatten())
            .ok_or_else(|| {
                self.write_error(first, "the server clock is unreadable".into(), None)
            })?;
        self.server_now = Some(now);
        Ok(now)
    }

    /// Send the gathered bulk rows, if any, as one `INSERT BULK`.
    fn flush(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        self.load(pending)
    }

    /// Send `pending` as one `INSERT BULK` (nothing when it is empty).
    fn load(&mut self, pending: Pending<TokenRow<'static>>) -> Result<()> {
        let Pending {
            rows, first, last, ..
        } = pending;
        if rows.is_empty() {
            return Ok(());
        }
        let n = rows.len();
        let table = self.table.quoted();
        let taken = self
            .conn
            .bulk_insert(&table, &tsql::INSERT_COLUMNS, rows)
            .map_err(|source| Error::Mirror {
                target: self.target.clone(),
                // The server does not say which row it refused.
                context: format!(
                    "bulk insert of {n} rows (records {first} .. {last}) refused; \
                     `fabric exchange check` lists records that break a column limit"
                ),
                source,
            })?;
        if taken != n as u64 {
            return Err(self.write_error(
                &first,
                format!("bulk insert of {n} rows (records {first} .. {last}) stored {taken}"),
                None,
            ));
        }
        Ok(())
    }

    /// Send planned `requests` in order. On a failure, whatever they opened is
    /// rolled back (best effort) and the failure is returned, naming the request.
    fn send(&mut self, requests: &[Request]) -> Result<()> {
        for r in requests {
            let (res, context) = match r {
                Request::Begin => (self.conn.begin(), "starting the transaction".to_owned()),
                Request::Create { object, sql } => (
                    self.conn.execute(sql, Vec::new()).map(drop),
                    format!("creating {object}"),
                ),
                Request::Commit => (self.conn.commit(), "committing the schema".to_owned()),
            };
            if let Err(source) = res {
                let _ = self.conn.rollback();
                return Err(Error::Mirror {
                    target: self.target.clone(),
                    context,
                    source,
                });
            }
        }
        Ok(())
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
        let now = self.server_now(&first.exchange_id)?;
        let mut pending = std::mem::take(&mut self.pending);
        let gathered = gather(&mut pending, records, |r| self.bulk_row(r, now));
        self.pending = pending;
        let (parameterized, full) = gathered?;
        for load in full {
            self.load(load)?;
        }
        for chunk in parameterized.chunks(tsql::INSERTS_PER_REQUEST) {
            let sql = tsql::insert_rows(&self.table, chunk.len());
            let mut params = Vec::with_capacity(chunk.len() * tsql::PARAMS_PER_INSERT);
            for r in chunk {
                params.extend(self.record_values(r)?);
                params.push(datetime2(now));
            }
            let first = chunk.first().map_or("", |r| r.exchange_id.as_str());
            self.conn.execute(&sql, params).map_err(|source| {
                self.write_error(
                    first,
                    format!(
                        "insert of {} rows with payloads over {} characters (starting with this one) refused",
                        chunk.len(),
                        tsql::BULK_PAYLOAD_MAX
                    ),
                    Some(source),
                )
            })?;
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
        // An update may address a row still waiting in the bulk buffer.
        self.flush()?;
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
        self.send(&schema_requests(&self.table, &missing))?;
        self.exists = true;
        Ok(missing)
    }

    fn hashes_in_scope(&mut self, scope: &Scope) -> Result<crate::hash::ContentHashSet> {
        let mut out = crate::hash::ContentHashSet::default();
        self.flush()?;
        if !self.exists {
            return Ok(out);
        }
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
        self.flush()?;
        if !self.exists {
            return Ok(out);
        }
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
        self.flush()?;
        if !self.exists {
            return Ok(0);
        }
        let target = self.target.clone();
        let page = tsql::EXPORT_PAGE;
        // Rows of one observed_at_utc, ordered by text exchange_id before they go.
        let mut ties = Ties::default();
        let mut after: Option<(PrimitiveDateTime, Uuid)> = None;
        loop {
            let sql = tsql::export_page(&self.table, after.is_some());
            let mut params = Self::scope_params(scope);
            params.push(ColumnData::I32(i32::try_from(page).ok()));
            if let Some((at, id)) = after {
                params.push(datetime2(at));
                params.push(ColumnData::Guid(Some(id)));
            }
            let mut got = 0usize;
            let mut last = None;
            let res = self.conn.query_each(&sql, params, &mut |row: Row| {
                let id = row.try_get::<Uuid, _>(0).ok().flatten();
                let at = row.try_get::<PrimitiveDateTime, _>(5).ok().flatten();
                let record = record_from_row(&row).map_err(|reason| -> BoxError {
                    Box::new(Error::MirrorRow {
                        target: target.clone(),
                        exchange_id: id.map_or_else(|| "?".to_owned(), |u| u.to_string()),
                        reason,
                    })
                })?;
                got += 1;
                last = at.zip(id);
                ties.push(record, sink)
                    .map_err(|e| -> BoxError { Box::new(e) })
            });
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
            })?;
            if got < page || last.is_none() {
                break;
            }
            after = last;
        }
        ties.finish(sink)?;
        Ok(ties.sent)
    }

    fn count(&mut self, scope: Option<&Scope>) -> Result<u64> {
        self.flush()?;
        if !self.exists {
            return Ok(0);
        }
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
        // Like the SQLite backend: a sync into a new table creates it.
        let missing = if self.exists {
            Vec::new()
        } else {
            self.missing_schema_objects()?
        };
        self.send(&begin_requests(&self.table, &missing))?;
        self.exists = true;
        self.in_transaction = true;
        Ok(())
    }

    fn lock_scope(&mut self, scope: &Scope) -> Result<()> {
        let resource = tsql::lock_resource(&self.table, &scope.source_system, &scope.entity_type);
        let millis = i32::try_from(self.lock_timeout.as_millis()).unwrap_or(i32::MAX);
        let rows = self
            .conn
            .query(
                tsql::LOCK_SCOPE,
                vec![
                    ColumnData::String(Some(resource.into())),
                    ColumnData::I32(Some(millis)),
                ],
            )
            .map_err(self.err(format!(
                "locking scope {}/{}",
                scope.source_system, scope.entity_type
            )))?;
        let mode = rows
            .first()
            .and_then(|r| r.try_get::<&str, _>(0).ok().flatten());
        lock_outcome(mode, &self.target, scope, self.lock_timeout)
    }

    fn write_batch(&mut self, writes: &[MirrorWrite]) -> Result<()> {
        if !self.in_transaction {
            return Err(Error::Internal(
                "write_batch called outside a transaction".into(),
            ));
        }
        // The same column limits as every backend, before anything is sent.
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
        if let Err(e) = self.flush() {
            self.in_transaction = false;
            let _ = self.conn.rollback();
            return Err(e);
        }
        self.in_transaction = false;
        self.conn.commit().map_err(self.err("committing"))
    }

    fn rollback(&mut self) -> Result<()> {
        if !self.in_transaction {
            return Ok(());
        }
        self.in_transaction = false;
        self.pending = Pending::default();
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

/// What the `APPLOCK_MODE` answer of [`tsql::LOCK_SCOPE`] means: the lock is
/// held ([`tsql::LOCK_GRANTED`]); any other mode (`NoLock`: the wait ran out, was
/// cancelled or lost a deadlock) is [`Error::ScopeBusy`], exit 3 with the scope and
/// the wait; no row at all is a failure of the statement itself.
fn lock_outcome(mode: Option<&str>, target: &str, scope: &Scope, waited: Duration) -> Result<()> {
    let name = format!("{}/{}", scope.source_system, scope.entity_type);
    match mode {
        Some(tsql::LOCK_GRANTED) => Ok(()),
        Some(_) => Err(Error::ScopeBusy {
            target: target.to_owned(),
            scope: name,
            waited_secs: waited.as_secs(),
        }),
        None => Err(Error::Mirror {
            target: target.to_owned(),
            context: format!("locking scope {name}"),
            source: "sp_getapplock: APPLOCK_MODE returned no row".into(),
        }),
    }
}

/// The rows of one `observed_at_utc`, held until the time changes and then sent
/// in text order of `exchange_id`.
#[derive(Default)]
struct Ties {
    group: Vec<MirrorRecord>,
    sent: u64,
}

impl Ties {
    fn push(
        &mut self,
        r: MirrorRecord,
        sink: &mut dyn FnMut(MirrorRecord) -> Result<()>,
    ) -> Result<()> {
        if self
            .group
            .first()
            .is_some_and(|g| g.observed_at_utc != r.observed_at_utc)
        {
            self.finish(sink)?;
        }
        self.group.push(r);
        Ok(())
    }

    fn finish(&mut self, sink: &mut dyn FnMut(MirrorRecord) -> Result<()>) -> Result<()> {
        self.group
            .sort_unstable_by(|a, b| a.exchange_id.cmp(&b.exchange_id));
        for r in self.group.drain(..) {
            sink(r)?;
            self.sent += 1;
        }
        Ok(())
    }
}

/// Rebuild a [`MirrorRecord`] from a row of [`tsql::export_page`].
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, micros: i64) -> Result<MirrorRecord> {
        Ok(MirrorRecord {
            exchange_id: id.to_owned(),
            exchange_type: "http".into(),
            source_system: "s".into(),
            entity_type: "e".into(),
            natural_key: None,
            observed_at_utc: time::macros::datetime!(2024-01-15 10:00 UTC)
                + time::Duration::microseconds(micros),
            content_sha256: "0"
                .repeat(64)
                .parse()
                .map_err(|_| Error::Internal("hash".into()))?,
            payload_json: "{}".into(),
            schema_version: 1,
        })
    }

    /// Rows come from the server newest first, ties in `UNIQUEIDENTIFIER` order
    /// (which compares the last six bytes first); they leave ordered by text
    /// `exchange_id` within each time, as the SQLite backend gives them.
    #[test]
    fn ties_leave_in_text_order() -> Result<()> {
        let server_order = [
            row("ffffffff-0000-4000-8000-000000000001", 5)?,
            row("00000000-0000-4000-8000-000000000002", 5)?,
            row("bbbbbbbb-0000-4000-8000-000000000003", 5)?,
            row("cccccccc-0000-4000-8000-000000000001", 3)?,
            row("aaaaaaaa-0000-4000-8000-000000000002", 3)?,
            row("11111111-0000-4000-8000-000000000009", 1)?,
        ];
        let mut ties = Ties::default();
        let mut out = Vec::new();
        let mut sink = |r: MirrorRecord| -> Result<()> {
            out.push(r.exchange_id);
            Ok(())
        };
        for r in server_order {
            ties.push(r, &mut sink)?;
        }
        ties.finish(&mut sink)?;
        assert_eq!(ties.sent, 6);
        assert_eq!(
            out,
            [
                "00000000-0000-4000-8000-000000000002",
                "bbbbbbbb-0000-4000-8000-000000000003",
                "ffffffff-0000-4000-8000-000000000001",
                "aaaaaaaa-0000-4000-8000-000000000002",
                "cccccccc-0000-4000-8000-000000000001",
                "11111111-0000-4000-8000-000000000009",
            ]
        );
        Ok(())
    }

    fn lake() -> Result<TableName> {
        TableName::new("lake", "RawExchangeRecord")
    }

    /// The requests as text, one per paragraph (transaction-manager requests by
    /// name: tiberius sends them as TDS requests, not as T-SQL).
    fn render(requests: &[Request]) -> String {
        requests
            .iter()
            .map(|r| match r {
                Request::Begin => "-- BEGIN TRANSACTION (TDS request)".to_owned(),
                Request::Create { object, sql } => format!("-- create {object}\n{sql}"),
                Request::Commit => "-- COMMIT (TDS request)".to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    /// `begin` on a table that was missing at connect: it asks which objects are
    /// missing, creates them in a transaction of their own (guarded, as
    /// `schema --apply` does), then opens the command's transaction. The exact
    /// sequence is pinned.
    #[test]
    fn begin_creates_a_missing_table_first() -> Result<()> {
        let t = lake()?;
        let all: Vec<String> = tsql::schema_objects(&t)
            .into_iter()
            .map(|o| o.name)
            .collect();
        let plan = begin_requests(&t, &all);
        assert_eq!(plan.first(), Some(&Request::Begin));
        assert_eq!(plan.last(), Some(&Request::Begin));
        assert_eq!(plan.iter().filter(|r| **r == Request::Commit).count(), 1);
        insta::assert_snapshot!(
            "begin_on_a_missing_table",
            format!(
                "-- which objects are missing (asked only when the table was missing at connect)\n{}\n\n{}",
                tsql::missing_query(&t),
                render(&plan)
            )
        );
        // A table that exists: only the command's transaction.
        assert_eq!(begin_requests(&t, &[]), [Request::Begin]);
        // Only what is missing is created (an index dropped by hand, say).
        let last = all
            .last()
            .cloned()
            .ok_or(Error::Internal("no objects".into()))?;
        let some = begin_requests(&t, std::slice::from_ref(&last));
        assert!(matches!(
            some.as_slice(),
            [Request::Begin, Request::Create { object, .. }, Request::Commit, Request::Begin] if *object == last
        ));
        Ok(())
    }

    /// A mirror call, as the batching sees it.
    enum Call {
        /// An insert run: the payload length (ASCII characters) of each record.
        Insert(Vec<usize>),
        /// An update run, a read of the scope, or the commit: gathered rows go first.
        Flush,
    }

    /// What a sequence of calls costs in round trips through the mirror's own
    /// routing ([`gather`], [`Pending::add`]): the clock is read once per command,
    /// and every bulk load is one metadata query plus one `INSERT BULK`.
    #[derive(Debug, Default, PartialEq, Eq)]
    struct Trips {
        clock_reads: usize,
        bulk_loads: usize,
        metadata_queries: usize,
        parameterized_requests: usize,
    }

    impl Trips {
        /// The expected cost: one metadata query per bulk load, always.
        fn of(clock_reads: usize, bulk_loads: usize, parameterized_requests: usize) -> Self {
            Self {
                clock_reads,
                bulk_loads,
                metadata_queries: bulk_loads,
                parameterized_requests,
            }
        }
    }

    fn trips(calls: &[Call]) -> Result<Trips> {
        let mut t = Trips::default();
        let mut clock = None;
        let mut pending = Pending::<usize>::default();
        let load = |p: Pending<usize>, t: &mut Trips| {
            if !p.rows.is_empty() {
                t.metadata_queries += 1;
                t.bulk_loads += 1;
            }
        };
        let mut n = 0usize;
        for call in calls {
            match call {
                Call::Insert(sizes) => {
                    let records = sizes
                        .iter()
                        .map(|&len| {
                            n += 1;
                            let mut r = row(&format!("00000000-0000-4000-8000-{n:012x}"), 0)?;
                            r.payload_json = "x".repeat(len);
                            Ok(r)
                        })
                        .collect::<Result<Vec<_>>>()?;
                    if records.is_empty() {
                        continue;
                    }
                    if clock.is_none() {
                        clock = Some(());
                        t.clock_reads += 1;
                    }
                    let refs: Vec<&MirrorRecord> = records.iter().collect();
                    let (parameterized, full) =
                        gather(&mut pending, &refs, |r| Ok(r.payload_json.len()))?;
                    for p in full {
                        load(p, &mut t);
                    }
                    t.parameterized_requests +=
                        parameterized.len().div_ceil(tsql::INSERTS_PER_REQUEST);
                }
                Call::Flush => load(std::mem::take(&mut pending), &mut t),
            }
        }
        Ok(t)
    }

    /// Defect "three round trips per batch": many small batches before one commit
    /// are one clock read and one bulk load (one metadata query), not three per
    /// batch; a read between batches sends what was gathered; 32 MiB sends early;
    /// long payloads never enter a bulk load.
    #[test]
    fn bulk_rows_are_gathered_per_boundary() -> Result<()> {
        let batch = || Call::Insert(vec![100; 512]);
        // 20 batches of 512 small rows, then commit.
        let mut calls: Vec<Call> = (0..20).map(|_| batch()).collect();
        calls.push(Call::Flush);
        assert_eq!(trips(&calls)?, Trips::of(1, 1, 0));
        // A read (or update) between batches: one load per boundary with rows.
        let calls = [
            batch(),
            Call::Flush,
            Call::Flush,
            batch(),
            batch(),
            Call::Flush,
        ];
        assert_eq!(trips(&calls)?, Trips::of(1, 2, 0));
        // 3,000-character rows: 32 MiB is 11,185 of them, so 12,000 rows make one
        // load at the threshold and one at the commit.
        let big = 3_000;
        assert!(PENDING_MAX_BYTES / big < 12_000);
        let mut calls: Vec<Call> = (0..24).map(|_| Call::Insert(vec![big; 500])).collect();
        calls.push(Call::Flush);
        assert_eq!(trips(&calls)?, Trips::of(1, 2, 0));
        // Payloads over 4,000 characters go by parameterized INSERT (200 a request).
        let calls = [
            Call::Insert(vec![tsql::BULK_PAYLOAD_MAX + 1; 201]),
            Call::Insert(vec![tsql::BULK_PAYLOAD_MAX; 3]),
            Call::Flush,
        ];
        assert_eq!(trips(&calls)?, Trips::of(1, 1, 2));
        // Nothing written: no clock read, no load.
        assert_eq!(
            trips(&[Call::Insert(Vec::new()), Call::Flush])?,
            Trips::default()
        );
        Ok(())
    }

    /// The first and last record of each load are the ones its error names.
    #[test]
    fn a_full_load_names_its_own_records() -> Result<()> {
        // Rows of the longest bulk payload: `fill` of them reach 32 MiB.
        let fill = PENDING_MAX_BYTES.div_ceil(tsql::BULK_PAYLOAD_MAX);
        let id = |i: usize| format!("00000000-0000-4000-8000-{i:012x}");
        let mut records = Vec::new();
        for i in 1..=fill + 1 {
            let mut r = row(&id(i), 0)?;
            r.payload_json = "x".repeat(tsql::BULK_PAYLOAD_MAX);
            records.push(r);
        }
        let refs: Vec<&MirrorRecord> = records.iter().collect();
        let mut pending = Pending::<()>::default();
        let (parameterized, full) = gather(&mut pending, &refs, |_| Ok(()))?;
        assert!(
            parameterized.is_empty(),
            "{} rows were not bulk",
            parameterized.len()
        );
        let loads: Vec<(String, String, usize)> = full
            .into_iter()
            .map(|p| (p.first, p.last, p.rows.len()))
            .collect();
        assert_eq!(loads, [(id(1), id(fill), fill)]);
        assert_eq!(
            (pending.first, pending.last, pending.rows.len()),
            (id(fill + 1), id(fill + 1), 1)
        );
        Ok(())
    }

    fn scope() -> Scope {
        Scope {
            source_system: "crm".into(),
            entity_type: "order".into(),
        }
    }

    /// Any lock mode but `Exclusive` (`NoLock` after the wait ran out, was
    /// cancelled or lost a deadlock) is "scope busy", exit 3, naming the scope
    /// and the wait; no answer is a failure of the statement; `Exclusive` goes on.
    #[test]
    fn a_lock_not_granted_is_scope_busy() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let target = "mssql://fabric@db:1433/Holocron ([lake].[RawExchangeRecord])";
        let wait = Duration::from_secs(29);
        assert!(lock_outcome(Some(tsql::LOCK_GRANTED), target, &scope(), wait).is_ok());
        for mode in ["NoLock", "Shared", "Update", ""] {
            let err = lock_outcome(Some(mode), target, &scope(), wait)
                .err()
                .ok_or("a lock not granted went on")?;
            assert!(matches!(err, Error::ScopeBusy { .. }), "{mode}: {err:?}");
            assert_eq!(err.class(), fabric_core::ErrorClass::Storage, "{mode}");
        }
        let busy = lock_outcome(Some("NoLock"), target, &scope(), wait)
            .err()
            .ok_or("granted")?;
        insta::assert_snapshot!("scope_busy_message", busy.to_string());
        let none = lock_outcome(None, target, &scope(), wait)
            .err()
            .ok_or("no answer went on")?;
        assert!(matches!(none, Error::Mirror { .. }), "{none:?}");
        assert!(
            none.to_string().contains("locking scope crm/order"),
            "{none}"
        );
        Ok(())
    }

    /// A bulk load that failed closed its connection: the commit that sends it
    /// reports the load's own failure (never "rolling back" or "committing"),
    /// the transaction is over, and the engine's rollback succeeds without a
    /// request (a closed connection sends nothing).
    #[test]
    fn commit_after_a_failed_load_reports_the_load()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let conn = Connection::closed()?;
        let mut mirror = SqlServerMirror {
            conn,
            table: lake()?,
            target: "mssql://db:1433/x ([lake].[RawExchangeRecord])".into(),
            in_transaction: true,
            exists: true,
            server_now: None,
            pending: Pending::default(),
            lock_timeout: Duration::from_secs(1),
        };
        let _ = mirror
            .pending
            .add("00000000-0000-4000-8000-000000000001", 2, TokenRow::new());
        let _ = mirror
            .pending
            .add("00000000-0000-4000-8000-000000000002", 2, TokenRow::new());
        let err = mirror.commit().err().ok_or("the commit succeeded")?;
        let text = err.to_string();
        assert!(
            text.contains("bulk insert of 2 rows (records 00000000-0000-4000-8000-000000000001 .. 00000000-0000-4000-8000-000000000002)"),
            "{text}"
        );
        let Error::Mirror { source, .. } = &err else {
            return Err(format!("not the load's error: {err:?}").into());
        };
        assert!(
            source
                .downcast_ref::<super::super::client::Closed>()
                .is_some(),
            "{source}"
        );
        assert!(!mirror.in_transaction);
        assert!(mirror.rollback().is_ok());
        Ok(())
    }
}
