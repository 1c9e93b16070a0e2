//! The SQL Server mirror: [`SqlServerMirror`] implements [`crate::Mirror`] over
//! tiberius 0.13 (rustls TLS, no OpenSSL), driven by a private current-thread tokio
//! runtime so callers stay synchronous.
//!
//! * [`SqlServerConfig`]: connection settings from `--target` (an `mssql://` URL or
//!   an ADO.NET/ODBC string) or the original system's `INGEST_SQLSERVER_*` variables. The
//!   password is a [`SecretString`], which never prints.
//! * [`tsql`]: every statement and the DDL, as pure functions (snapshot-tested).
//! * `client`: the blocking facade over tiberius (connect, query, bulk insert,
//!   transactions).
//!
//! ```no_run
//! use exchange_sync::mssql::{SqlServerConfig, SqlServerMirror, TableName};
//! use exchange_sync::Mirror;
//!
//! let config = SqlServerConfig::from_target(
//!     "mssql://fabric:secret@db.example:1433/Holocron?trustServerCertificate=true",
//! )?;
//! let mut mirror = SqlServerMirror::connect(&config, TableName::new("lake", "RawExchangeRecord")?)?;
//! println!("{}", mirror.schema_script());
//! mirror.apply_schema()?;
//! # Ok::<(), exchange_sync::Error>(())
//! ```

mod client;
mod config;
pub mod conn_string;
mod mirror;
pub mod tsql;

pub use client::ConnectError;
pub use config::{
    DEFAULT_COMMAND_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_ENV_PORT, DEFAULT_PACKET_SIZE,
    DEFAULT_PORT, ENV_VARS, Encrypt, SqlServerConfig,
};
pub use mirror::SqlServerMirror;
pub use secrecy::{ExposeSecret, SecretString};
pub use tsql::TableName;
