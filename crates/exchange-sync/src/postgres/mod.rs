//! The PostgreSQL mirror: [`PostgresMirror`] implements [`crate::Mirror`] over
//! tokio-postgres, driven by a private current-thread tokio runtime so callers stay
//! synchronous. TLS goes through rustls (no OpenSSL). Built with the `postgres`
//! feature.
//!
//! * [`PgConfig`]: connection settings from a `postgres://` / `postgresql://` URL,
//!   libpq's `PG*` variables, or both (the variables fill what the URL leaves out).
//! * [`sql`]: every statement and the DDL, as pure functions.
//! * `client`: the blocking facade (connect, run, Ctrl-C → the server's cancel
//!   request).
//!
//! How the table keeps a record exact: `payload_json` is `text` (not `jsonb`, which
//! reorders keys and respells numbers); `observed_at_utc` is a `timestamptz` used
//! for ordering and `prefer_newest`, and `observed_at_utc_text` keeps the record's
//! own spelling of it. New rows go in by binary `COPY`, changed rows by one
//! `UPDATE ... FROM unnest(...)` per batch, all in the command's one transaction.
//! Writers on one scope are serialized by `pg_advisory_xact_lock` on a key derived
//! from the table and the scope ([`sql::scope_lock_key`]).
//!
//! ```no_run
//! use exchange_sync::postgres::{PgConfig, PostgresMirror, TableName};
//! use exchange_sync::manifest::SqlTarget;
//! use exchange_sync::Mirror;
//!
//! let config = PgConfig::from_target(
//!     "postgres://fabric@db.example/lake?sslmode=verify-full&sslrootcert=/etc/ssl/lake-ca.pem",
//!     |k| std::env::var(k).ok(),
//! )?;
//! let table = TableName::from_sql_target(&SqlTarget {
//!     schema: "lake".into(),
//!     table: "RawExchangeRecord".into(),
//!     ..SqlTarget::default()
//! })?;
//! let mut mirror = PostgresMirror::connect(&config, table)?;
//! println!("{}", mirror.schema_script());
//! mirror.apply_schema()?;
//! # Ok::<(), exchange_sync::Error>(())
//! ```

mod client;
mod config;
mod mirror;
pub mod sql;
mod tls;

pub use config::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_PORT, ENV_VARS, PgConfig, SslMode};
pub use mirror::PostgresMirror;
pub use sql::TableName;
