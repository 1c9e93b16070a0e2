//! [`SqlServerMirror`]: the [`Mirror`] trait on SQL Server through tiberius.
//!
//! Statements come from [`super::tsql`]; this file binds values, runs them through
//! the synchronous [`Connection`] and maps rows and errors.
//!
//! * Inserts: rows whose payload fits [`tsql::BULK_PAYLOAD_MAX`] are gathered and
//!   sent as one `INSERT BULK` (constraint checks on) when the next read, update or
//!   commit needs them, or at [`write::PENDING_MAX_BYTES`]: one metadata query per bulk
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

use tiberius::ColumnData;

use super::client::{Connection, Param};
use super::config::SqlServerConfig;
use super::tsql::{self, TableName};
use crate::error::{BoxError, Error, Result};
use crate::mirror::server::{self, ServerConnection, ServerTx};
use crate::mirror::{Mirror, MirrorRecord, MirrorTransaction, Scope};

mod read;
mod write;

use write::Pending;

/// A mirror table on SQL Server. Construct with [`SqlServerMirror::connect`].
pub struct SqlServerMirror {
    conn: Connection,
    table: TableName,
    target: String,
    /// Whether the table exists (reads of a missing table see no rows; `begin`
    /// creates it).
    exists: bool,
    /// The server clock, read once per command for the audit columns.
    server_now: Option<time::PrimitiveDateTime>,
    /// Bulk rows not sent yet.
    pending: Pending<tiberius::TokenRow<'static>>,
    /// How long [`Mirror::begin`] waits for another writer of the scope.
    lock_timeout: Duration,
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

/// What [`Mirror::begin`] sends (before the scope lock) once it knows which schema objects are `missing`
/// (asked with [`tsql::missing_query`] only when the table was missing at
/// connect): the schema transaction that creates them, as the SQLite backend
/// creates a missing table, then the command's own `BEGIN TRANSACTION`.
fn begin_requests(table: &TableName, missing: &[String]) -> Vec<Request> {
    let mut out = schema_requests(table, missing);
    out.push(Request::Begin);
    out
}

impl SqlServerMirror {
    /// Connect to the server of `config` and bind to `table`. A failure is
    /// [`Error::MirrorUnavailable`] naming `mssql://user@host:port/db` (never the
    /// password), with the driver's error (the server's message) as source.
    pub fn connect(config: &SqlServerConfig, table: TableName) -> Result<Self> {
        let target = format!("{} ({})", config.describe(), table.quoted());
        let conn = server::open(&target, || Connection::open(config))?;
        let mut mirror = Self {
            conn,
            table,
            target,
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
        let missing = self.missing_schema_objects()?;
        if missing.is_empty() {
            return Ok(missing);
        }
        self.send(&schema_requests(&self.table, &missing))?;
        self.exists = true;
        Ok(missing)
    }

    fn begin(&mut self, scope: &Scope) -> Result<Box<dyn MirrorTransaction + '_>> {
        Ok(Box::new(ServerTx::begin(self, scope)?))
    }
}

impl ServerConnection for SqlServerMirror {
    fn target(&self) -> &str {
        &self.target
    }

    fn tx_begin(&mut self) -> Result<()> {
        // Like the SQLite backend: a sync into a new table creates it.
        let missing = if self.exists {
            Vec::new()
        } else {
            self.missing_schema_objects()?
        };
        self.send(&begin_requests(&self.table, &missing))?;
        self.exists = true;
        Ok(())
    }

    fn tx_lock(&mut self, scope: &Scope) -> Result<()> {
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

    fn tx_insert(&mut self, run: &[&MirrorRecord]) -> Result<()> {
        self.insert_run(run)
    }

    fn tx_update(&mut self, run: &[(&str, &MirrorRecord)]) -> Result<()> {
        self.update_run(run)
    }

    fn tx_commit(&mut self) -> Result<()> {
        if let Err(e) = self.flush() {
            let _ = self.conn.rollback();
            return Err(e);
        }
        self.conn.commit().map_err(self.err("committing"))
    }

    fn tx_rollback(&mut self) -> Result<()> {
        self.pending = Pending::default();
        self.conn.rollback().map_err(self.err("rolling back"))
    }
}

impl std::fmt::Debug for SqlServerMirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        server::debug("SqlServerMirror", &self.target, f)
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

#[cfg(test)]
mod tests;
