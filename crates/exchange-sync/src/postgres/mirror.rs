//! [`PostgresMirror`]: the [`Mirror`] trait on PostgreSQL through tokio-postgres.
//!
//! Statements come from [`super::sql`]; this file binds values, runs them through
//! the synchronous [`Connection`] and maps rows and errors. Writes: each run of
//! consecutive inserts is one binary `COPY`; each run of updates is one `UPDATE ...
//! FROM unnest(...)` whose `RETURNING` proves that every addressed row was touched.
//! A server-side refusal (unique violation, bad byte) names the record it was about:
//! the one whose key the server's `DETAIL` quotes, else the first of the run.

use super::client::{Connection, Failure};
use super::config::PgConfig;
use super::sql::{self, TableName};
use crate::error::{Error, Result};
use crate::mirror::server::{self, ServerConnection, ServerTx};
use crate::mirror::{Mirror, MirrorRecord, MirrorTransaction, Scope};

mod read;
mod write;

/// A mirror table on PostgreSQL. Construct with [`PostgresMirror::connect`].
pub struct PostgresMirror {
    conn: Connection,
    table: TableName,
    target: String,
    /// Whether the table exists (reads of a missing table see no rows; `begin`
    /// creates it).
    exists: bool,
}

/// How long [`Mirror::begin`] waits for another writer of the scope before
/// [`Error::ScopeBusy`], unless the session sets its own `lock_timeout` (e.g.
/// `options=-c%20lock_timeout%3D5000` in the URL): long enough for another sync of
/// a million records.
pub const SCOPE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

impl PostgresMirror {
    /// Connect to the server of `config` and bind to `table`. A failure is
    /// [`Error::MirrorUnavailable`] naming `postgres://user@host:port/db` (never the
    /// password), with the driver's error (the server's message) as source. A
    /// database whose encoding is not UTF-8 is refused: it could not hold every
    /// record byte for byte.
    pub fn connect(config: &PgConfig, table: TableName) -> Result<Self> {
        let target = format!("{} ({})", config.describe(), table.plain());
        let conn = server::open(&target, || Connection::open(config))?;
        let mut m = Self {
            conn,
            table,
            target,
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

    fn begin(&mut self, scope: &Scope) -> Result<Box<dyn MirrorTransaction + '_>> {
        Ok(Box::new(ServerTx::begin(self, scope)?))
    }
}

impl ServerConnection for PostgresMirror {
    fn target(&self) -> &str {
        &self.target
    }

    fn tx_begin(&mut self) -> Result<()> {
        if !self.exists {
            // Like the other backends: a sync into a new table creates it.
            self.apply_schema()?;
        }
        let r = self.conn.batch("BEGIN");
        r.map_err(self.err("starting the transaction"))
    }

    fn tx_lock(&mut self, scope: &Scope) -> Result<()> {
        self.scope_lock(scope)
    }

    fn tx_insert(&mut self, run: &[&MirrorRecord]) -> Result<()> {
        self.insert_run(run)
    }

    fn tx_update(&mut self, run: &[(&str, &MirrorRecord)]) -> Result<()> {
        self.update_run(run)
    }

    fn tx_commit(&mut self) -> Result<()> {
        let r = self.conn.batch("COMMIT");
        r.map_err(self.err("committing"))
    }

    fn tx_rollback(&mut self) -> Result<()> {
        let r = self.conn.batch("ROLLBACK");
        r.map_err(self.err("rolling back"))
    }
}

impl std::fmt::Debug for PostgresMirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        server::debug("PostgresMirror", &self.target, f)
    }
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
