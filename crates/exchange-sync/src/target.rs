//! Where `--target` points: the embedded SQLite store, SQL Server or PostgreSQL.
//!
//! `sqlite://PATH` (or no target: the `--db` file) opens [`SqliteMirror`]. A
//! `mssql://...` URL, an ADO-style connection string (`Server=...;Database=...`) or,
//! without `--target`, the `INGEST_SQLSERVER_*` variables select SQL Server, which is
//! routed to [`open_mssql`]. A `postgres://` / `postgresql://` URL or, without
//! `--target`, `PGHOST` or `PGDATABASE` select PostgreSQL (`open_postgres`, in
//! builds with the `postgres` feature).

use std::path::{Path, PathBuf};

use fabric_store::StoreOptions;

use crate::error::{Error, Result};
use crate::manifest::SqlTarget;
use crate::mirror::Mirror;
use crate::mirror::sqlite::SqliteMirror;

/// The `--target` backends this build can open, by URL scheme.
#[cfg(feature = "mssql")]
pub const BACKENDS: &[&str] = &["sqlite", "mssql"];
/// The `--target` backends this build can open, by URL scheme.
#[cfg(not(feature = "mssql"))]
pub const BACKENDS: &[&str] = &["sqlite"];

/// A parsed `--target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The SQLite store at this path.
    Sqlite(PathBuf),
    /// SQL Server, with the connection text as given (`mssql://...` or ADO), or
    /// `None` to build it from the `INGEST_SQLSERVER_*` variables.
    SqlServer(Option<String>),
    /// PostgreSQL, with the URL as given, or `None` to build it from libpq's `PG*`
    /// variables.
    Postgres(Option<String>),
}

impl Target {
    /// Resolve `--target` (if given) against the default store `db`. Without a
    /// target, `INGEST_SQLSERVER_CONN_STR` or `INGEST_SQLSERVER_HOST` select SQL
    /// Server, else `PGHOST` or `PGDATABASE` select PostgreSQL, else SQLite at `db`.
    pub fn resolve(
        target: Option<&str>,
        db: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let Some(t) = target else {
            let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
            return Ok(
                if set("INGEST_SQLSERVER_CONN_STR") || set("INGEST_SQLSERVER_HOST") {
                    Target::SqlServer(None)
                } else if set("PGHOST") || set("PGDATABASE") {
                    Target::Postgres(None)
                } else {
                    Target::Sqlite(db.to_path_buf())
                },
            );
        };
        if let Some(path) = t.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(Error::Target {
                    target: t.to_owned(),
                    reason: "sqlite:// needs a path, e.g. sqlite:///home/me/fabric.db".into(),
                });
            }
            return Ok(Target::Sqlite(PathBuf::from(path)));
        }
        let lower = t.to_ascii_lowercase();
        if lower.starts_with("mssql://") || lower.starts_with("sqlserver://") {
            return Ok(Target::SqlServer(Some(t.to_owned())));
        }
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(Target::Postgres(Some(t.to_owned())));
        }
        if lower.contains('=') && (lower.contains("server=") || lower.contains("data source=")) {
            return Ok(Target::SqlServer(Some(t.to_owned())));
        }
        Err(Error::Target {
            target: redact(t),
            reason:
                "expected sqlite://PATH, mssql://..., an ADO connection string or postgres://..."
                    .into(),
        })
    }

    /// Open the mirror for `sql_target` on this target (a SQLite store with
    /// `store`). Each backend is one arm; a backend left out of this build answers
    /// [`Error::TargetUnsupported`].
    pub fn open(&self, sql_target: &SqlTarget, store: &StoreOptions) -> Result<Box<dyn Mirror>> {
        sql_target.validate()?;
        match self {
            Target::Sqlite(path) => Ok(Box::new(SqliteMirror::open(
                path,
                &sql_target.schema,
                &sql_target.table,
                store,
            )?)),
            Target::SqlServer(conn) => open_mssql(conn.as_deref(), sql_target),
            Target::Postgres(conn) => open_postgres(conn.as_deref(), sql_target),
        }
    }
}

impl Target {
    /// Open the mirror for a dry run: a SQLite file is opened read only and a
    /// missing one is not created. SQL Server and PostgreSQL open as usual (a dry
    /// run there writes nothing either: no transaction is begun).
    pub fn open_for_dry_run(
        &self,
        sql_target: &SqlTarget,
        store: &StoreOptions,
    ) -> Result<Box<dyn Mirror>> {
        sql_target.validate()?;
        match self {
            Target::Sqlite(path) => Ok(Box::new(SqliteMirror::open_read(
                path,
                &sql_target.schema,
                &sql_target.table,
                store,
            )?)),
            Target::SqlServer(_) | Target::Postgres(_) => self.open(sql_target, store),
        }
    }
}

// ---- PostgreSQL routing (postgres feature) ----

/// The PostgreSQL settings for `conn` (a `--target` URL), or from libpq's `PG*`
/// variables when `conn` is `None`.
#[cfg(feature = "postgres")]
pub fn postgres_config(conn: Option<&str>) -> Result<crate::postgres::PgConfig> {
    use crate::postgres::PgConfig;
    let env = |k: &str| std::env::var(k).ok();
    match conn {
        Some(c) => PgConfig::from_target(c, env),
        None => PgConfig::from_env(env),
    }
}

/// Open a PostgreSQL mirror: parse the URL, validate the table name, connect. A
/// failed connection is [`Error::MirrorUnavailable`] (exit 3) naming the host.
#[cfg(feature = "postgres")]
pub fn open_postgres(conn: Option<&str>, sql_target: &SqlTarget) -> Result<Box<dyn Mirror>> {
    let config = postgres_config(conn)?;
    let table = crate::postgres::TableName::from_sql_target(sql_target)?;
    Ok(Box::new(crate::postgres::PostgresMirror::connect(
        &config, table,
    )?))
}

/// `(description, DDL script)` of the PostgreSQL mirror for `sql_target`, without
/// connecting.
#[cfg(feature = "postgres")]
pub fn postgres_schema_offline(
    conn: Option<&str>,
    sql_target: &SqlTarget,
) -> Result<(String, String)> {
    let config = postgres_config(conn)?;
    let table = crate::postgres::TableName::from_sql_target(sql_target)?;
    Ok((
        format!("{} ({})", config.describe(), table.plain()),
        crate::postgres::sql::schema_script(&table),
    ))
}

/// This build has no PostgreSQL support: say so (exit 2).
#[cfg(not(feature = "postgres"))]
pub fn open_postgres(conn: Option<&str>, _sql_target: &SqlTarget) -> Result<Box<dyn Mirror>> {
    Err(no_postgres(conn))
}

/// This build has no PostgreSQL support: say so (exit 2).
#[cfg(not(feature = "postgres"))]
pub fn postgres_schema_offline(
    conn: Option<&str>,
    _sql_target: &SqlTarget,
) -> Result<(String, String)> {
    Err(no_postgres(conn))
}

#[cfg(not(feature = "postgres"))]
fn no_postgres(conn: Option<&str>) -> Error {
    Error::TargetUnsupported {
        target: conn.map_or_else(|| "PG* variables".to_owned(), redact),
        backend: "PostgreSQL".into(),
    }
}

// ---- end PostgreSQL routing ----
// ---- SQL Server routing (feature `mssql`) ----

/// The backend name in [`Error::TargetUnsupported`] for SQL Server.
pub const SQL_SERVER: &str = "SQL Server";

/// Whether this build includes the SQL Server mirror (cargo feature `mssql`).
pub const HAS_SQL_SERVER: bool = cfg!(feature = "mssql");

/// The refusal for an SQL Server target in a build without the `mssql` feature:
/// exit 2, "this build has no SQL Server support".
#[cfg_attr(
    all(feature = "mssql", not(test)),
    allow(dead_code) // reason: used only without the feature (and by its test)
)]
fn no_sql_server(conn: Option<&str>) -> Error {
    Error::TargetUnsupported {
        target: conn.map_or_else(|| "INGEST_SQLSERVER_* variables".to_owned(), redact),
        backend: SQL_SERVER.to_owned(),
    }
}

/// The SQL Server settings for `conn` (a `--target` string), or from the
/// `INGEST_SQLSERVER_*` variables when `conn` is `None`.
#[cfg(feature = "mssql")]
pub fn mssql_config(conn: Option<&str>) -> Result<crate::mssql::SqlServerConfig> {
    use crate::mssql::SqlServerConfig;
    match conn {
        Some(c) => SqlServerConfig::from_target(c),
        None => {
            SqlServerConfig::from_env(|k| std::env::var(k).ok())?.ok_or_else(|| Error::Target {
                target: "INGEST_SQLSERVER_* variables".to_owned(),
                reason: "neither INGEST_SQLSERVER_CONN_STR nor INGEST_SQLSERVER_HOST is set".into(),
            })
        }
    }
}

/// Open a SQL Server mirror: parse the connection, validate the table name,
/// connect. A failed connection is [`Error::MirrorUnavailable`] (exit 3). Without
/// the `mssql` feature: [`Error::TargetUnsupported`].
pub fn open_mssql(conn: Option<&str>, sql_target: &SqlTarget) -> Result<Box<dyn Mirror>> {
    #[cfg(feature = "mssql")]
    {
        let config = mssql_config(conn)?;
        let table = crate::mssql::TableName::from_sql_target(sql_target)?;
        Ok(Box::new(crate::mssql::SqlServerMirror::connect(
            &config, table,
        )?))
    }
    #[cfg(not(feature = "mssql"))]
    {
        let _ = sql_target;
        Err(no_sql_server(conn))
    }
}

/// `(description, DDL script)` of the SQL Server mirror for `sql_target`, without
/// connecting: the DDL is a pure function of the table name. Without the `mssql`
/// feature: [`Error::TargetUnsupported`].
pub fn mssql_schema_offline(
    conn: Option<&str>,
    sql_target: &SqlTarget,
) -> Result<(String, String)> {
    #[cfg(feature = "mssql")]
    {
        let config = mssql_config(conn)?;
        let table = crate::mssql::TableName::from_sql_target(sql_target)?;
        Ok((
            format!("{} ({})", config.describe(), table.quoted()),
            crate::mssql::tsql::schema_script(&table),
        ))
    }
    #[cfg(not(feature = "mssql"))]
    {
        let _ = sql_target;
        Err(no_sql_server(conn))
    }
}

// ---- end SQL Server routing ----

/// `t` with any password removed, for messages.
pub fn redact(t: &str) -> String {
    let mut out = Vec::new();
    for part in t.split(';') {
        let key = part
            .split('=')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if key == "password" || key == "pwd" {
            out.push(format!("{}=***", part.split('=').next().unwrap_or("")));
        } else {
            out.push(part.to_owned());
        }
    }
    let mut s = out.join(";");
    // URL query parameters: ?password=...&... (postgres://, mssql://).
    if let Some((base, query)) = s.split_once('?') {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_owned(),
            })
            .collect();
        s = format!("{base}?{}", params.join("&"));
    }
    // mssql://user:pass@host
    match (s.find("://"), s.find('@')) {
        (Some(a), Some(b)) if b > a => {
            let userinfo = &s[a + 3..b];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &s[..a + 3], user, &s[b..]),
                None => s,
            }
        }
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(target: Option<&str>, vars: &[(&str, &str)]) -> Result<Target> {
        Target::resolve(target, Path::new("/db"), |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn postgres_targets_and_variables() -> Result<()> {
        for t in ["postgres://u@h/d", "POSTGRESQL://u@h/d"] {
            assert_eq!(resolve(Some(t), &[])?, Target::Postgres(Some(t.to_owned())));
        }
        assert_eq!(resolve(None, &[("PGHOST", "h")])?, Target::Postgres(None));
        assert_eq!(
            resolve(None, &[("PGDATABASE", "d")])?,
            Target::Postgres(None)
        );
        // SQL Server's variables win; PGUSER alone selects nothing.
        assert_eq!(
            resolve(None, &[("PGHOST", "h"), ("INGEST_SQLSERVER_HOST", "s")])?,
            Target::SqlServer(None)
        );
        assert_eq!(
            resolve(None, &[("PGUSER", "u")])?,
            Target::Sqlite(PathBuf::from("/db"))
        );
        Ok(())
    }

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            redact("postgres://u:pw1@h/d?password=pw2&sslmode=require"),
            "postgres://u:***@h/d?password=***&sslmode=require"
        );
    }

    fn sql_target() -> SqlTarget {
        SqlTarget::default()
    }

    /// The refusal a build without the `mssql` feature gives, checked in every
    /// build (CI's workspace build has the feature on): exit-2 kind, the message
    /// the CLI prints, no password.
    #[test]
    fn the_refusal_without_sql_server_says_so() {
        for (conn, shown) in [
            (
                Some("mssql://sa:hunter2@h:1433/db"),
                "target mssql://sa:***@h:1433/db: this build has no SQL Server support",
            ),
            (
                None,
                "target INGEST_SQLSERVER_* variables: this build has no SQL Server support",
            ),
        ] {
            let err = no_sql_server(conn);
            assert!(matches!(err, Error::TargetUnsupported { .. }), "{err:?}");
            let text = err.to_string();
            assert!(text.starts_with(shown), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }

    /// The dispatch of an SQL Server target: without the `mssql` feature it is
    /// refused (exit 2 in the CLI) with "this build has no SQL Server support" and
    /// no password; with it, the connection is attempted (a closed port: exit 3).
    #[test]
    fn sql_server_dispatch_follows_the_feature() -> Result<()> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")
                .map_err(|e| Error::Internal(e.to_string()))?;
            l.local_addr()
                .map_err(|e| Error::Internal(e.to_string()))?
                .port()
        };
        let t = format!("mssql://sa:hunter2@127.0.0.1:{port}/db?connectTimeout=5");
        let target = Target::resolve(Some(&t), Path::new("x.db"), |_| None)?;
        assert_eq!(target, Target::SqlServer(Some(t.clone())));
        let err = match target.open(&sql_target(), &StoreOptions::default()) {
            Ok(_) => return Err(Error::Internal("a closed port answered".into())),
            Err(e) => e,
        };
        let offline = mssql_schema_offline(Some(&t), &sql_target());
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        if HAS_SQL_SERVER {
            assert!(matches!(err, Error::MirrorUnavailable { .. }), "{err:?}");
            assert!(offline.is_ok(), "{offline:?}");
        } else {
            assert!(matches!(err, Error::TargetUnsupported { .. }), "{err:?}");
            assert!(
                text.contains("this build has no SQL Server support"),
                "{text}"
            );
            assert!(matches!(offline, Err(Error::TargetUnsupported { .. })));
        }
        Ok(())
    }
}
