//! Connection settings for the SQL Server mirror: from `--target` (URL or
//! ADO.NET/ODBC string) or from the original system's `INGEST_SQLSERVER_*` variables.
//!
//! The password is a [`SecretString`]: its `Debug` prints `[REDACTED]`, it has no
//! `Display`, it is wiped from memory when dropped, and it is exposed in one
//! place, [`SqlServerConfig::to_tiberius`], where the driver takes it. No `{:?}`
//! of a config, error or log line can leak it.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tiberius::{AuthMethod, EncryptionLevel};

use super::conn_string::{self, is_secret_key};
use crate::error::{Error, Result};

/// Default TDS packet size: 16 KiB. tiberius' default is 4 KiB; the server accepts
/// 512..=32767. 16 KiB is what tiberius users report 100k-180k rows/s bulk insert
/// with, and it stays under the 32 KiB limit that forces server-side re-buffering.
pub const DEFAULT_PACKET_SIZE: u32 = 16_384;
/// Default time to open the TCP connection and finish the login handshake.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Default time the server may stay silent while answering one command.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Port used when a URL or connection string names none (SQL Server's default).
pub const DEFAULT_PORT: u16 = 1433;
/// Port used by `INGEST_SQLSERVER_*` when `INGEST_SQLSERVER_PORT` is unset (the original system's default).
pub const DEFAULT_ENV_PORT: u16 = 1434;

/// The environment variables of the original system, in the order they are read.
pub const ENV_VARS: [&str; 7] = [
    "INGEST_SQLSERVER_CONN_STR",
    "INGEST_SQLSERVER_HOST",
    "INGEST_SQLSERVER_PORT",
    "INGEST_SQLSERVER_DATABASE",
    "INGEST_SQLSERVER_USER",
    "INGEST_SQLSERVER_PASSWORD",
    "INGEST_SQLSERVER_DRIVER",
];

/// Why a string is refused whose password seems cut by an unquoted `;`.
const SPLIT_PASSWORD: &str = "an unknown setting follows the password: a password holding ';' \
     must be quoted ({...}, '...' or \"...\")";

/// The `Encrypt` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encrypt {
    /// `false`/`no`/`optional`: TLS for the login packet only.
    Off,
    /// `true`/`yes`/`mandatory` (the default): everything encrypted, fail otherwise.
    Required,
    /// `strict`: TDS 8.0, TLS before the prelogin.
    Strict,
    /// `DANGER_PLAINTEXT`: no TLS at all, the password crosses the wire in clear.
    Plaintext,
}

/// Everything needed to open a connection. Build it with
/// [`SqlServerConfig::from_target`] or [`SqlServerConfig::from_env`].
#[derive(Debug, Clone)]
pub struct SqlServerConfig {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database (`None`: the login's default database).
    pub database: Option<String>,
    /// SQL Server login.
    pub user: String,
    /// Its password (never printed; exposed only to the driver).
    pub password: SecretString,
    /// The `Encrypt` setting.
    pub encrypt: Encrypt,
    /// `TrustServerCertificate`: accept any server certificate.
    pub trust_server_certificate: bool,
    /// `TrustServerCertificateCA`: a PEM/DER CA file to trust in addition to the system store.
    pub trust_ca: Option<PathBuf>,
    /// `HostNameInCertificate`: the name the certificate must carry (default: `host`).
    pub host_name_in_certificate: Option<String>,
    /// `Application Name`, shown by the server in `APP_NAME()`.
    pub application_name: String,
    /// `Connect Timeout` (seconds in strings): TCP connect plus login handshake.
    pub connect_timeout: Duration,
    /// `Command Timeout` (seconds in strings): longest server silence within one command.
    pub command_timeout: Duration,
    /// `Packet Size` in bytes (512..=32767).
    pub packet_size: u32,
    /// The port is the original system's default 1434 because `INGEST_SQLSERVER_PORT` was
    /// unset: a failed connection then says that SQL Server usually listens on 1433.
    pub port_is_env_default: bool,
}

impl SqlServerConfig {
    fn base(host: String, port: u16) -> Self {
        Self {
            host,
            port,
            database: None,
            user: String::new(),
            password: SecretString::default(),
            encrypt: Encrypt::Required,
            trust_server_certificate: false,
            trust_ca: None,
            host_name_in_certificate: None,
            application_name: "fabric".to_owned(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            packet_size: DEFAULT_PACKET_SIZE,
            port_is_env_default: false,
        }
    }

    /// True when `target` is meant for SQL Server: an `mssql://`/`sqlserver://` URL
    /// or a `key=value;` string (anything with `=` and no `://`).
    pub fn is_sql_server_target(target: &str) -> bool {
        target.starts_with("mssql://")
            || target.starts_with("sqlserver://")
            || (!target.contains("://") && target.contains('='))
    }

    /// Parse a `--target` value: an `mssql://` URL or an ADO.NET/ODBC string.
    /// Errors are [`Error::Target`], showing the target with its password removed.
    pub fn from_target(target: &str) -> Result<Self> {
        let bad = |reason: String| Error::Target {
            target: conn_string::redact(target),
            reason,
        };
        let pairs = if target.contains("://") {
            conn_string::parse_url(target)
        } else {
            conn_string::parse_ado(target)
        }
        .map_err(|e| bad(e.to_string()))?;
        Self::from_pairs(&pairs, DEFAULT_PORT).map_err(|reason| {
            if reason == SPLIT_PASSWORD {
                // The redacted target would show the pieces as settings.
                Error::Target {
                    target: "<connection string>".to_owned(),
                    reason,
                }
            } else {
                bad(reason)
            }
        })
    }

    /// Build from the `INGEST_SQLSERVER_*` variables read through `var` (the CLI
    /// passes `std::env::var`; tests pass a map). Returns `Ok(None)` when neither
    /// `INGEST_SQLSERVER_CONN_STR` nor `INGEST_SQLSERVER_HOST` is set.
    ///
    /// `CONN_STR` wins when set. Otherwise: `HOST`, `PORT` (default 1434),
    /// `DATABASE` (default `Holocron`), `USER` (default `sa`), `PASSWORD`
    /// (default empty), with `Encrypt=yes;TrustServerCertificate=yes` like the
    /// reference. `DRIVER` is ignored: there is no ODBC here.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        if let Some(s) = var("INGEST_SQLSERVER_CONN_STR").filter(|s| !s.trim().is_empty()) {
            return Self::from_target(&s).map(Some).map_err(|e| match e {
                Error::Target { reason, .. } => Error::Target {
                    target: "INGEST_SQLSERVER_CONN_STR".to_owned(),
                    reason,
                },
                other => other,
            });
        }
        let Some(host) = var("INGEST_SQLSERVER_HOST").filter(|s| !s.trim().is_empty()) else {
            return Ok(None);
        };
        let port = var("INGEST_SQLSERVER_PORT").filter(|s| !s.trim().is_empty());
        let defaulted = port.is_none();
        let port = match port {
            Some(p) => p.trim().parse::<u16>().map_err(|_| Error::Target {
                target: "INGEST_SQLSERVER_PORT".to_owned(),
                reason: format!("{p:?} is not a port number"),
            })?,
            // Kept for the original tool's environments; see `port_is_env_default`.
            None => DEFAULT_ENV_PORT,
        };
        let mut c = Self::base(host.trim().to_owned(), port);
        c.port_is_env_default = defaulted;
        c.database = Some(var("INGEST_SQLSERVER_DATABASE").unwrap_or_else(|| "Holocron".into()));
        c.user = var("INGEST_SQLSERVER_USER").unwrap_or_else(|| "sa".into());
        c.password = SecretString::from(var("INGEST_SQLSERVER_PASSWORD").unwrap_or_default());
        c.trust_server_certificate = true;
        Ok(Some(c))
    }

    fn from_pairs(
        pairs: &[(String, String)],
        default_port: u16,
    ) -> std::result::Result<Self, String> {
        let mut c = Self::base(String::new(), default_port);
        let mut port_given = None;
        let mut after_secret = false;
        for (key, value) in pairs {
            let follows_secret = std::mem::replace(&mut after_secret, is_secret_key(key));
            match key.as_str() {
                "server" | "data source" | "address" | "addr" | "network address" => {
                    let v = value.strip_prefix("tcp:").unwrap_or(value);
                    let (host, port) = match v.split_once(',') {
                        Some((h, p)) => (h.trim(), Some(p.trim())),
                        None => (v.trim(), None),
                    };
                    if host.contains('\\') {
                        return Err(format!(
                            "named instance in {key:?} needs SQL Browser, which this build lacks: give the instance's port (host,port)"
                        ));
                    }
                    c.host = host.replace("(local)", "localhost");
                    if let Some(p) = port {
                        port_given = Some(parse_num::<u16>(key, p)?);
                    }
                }
                "port" => port_given = Some(parse_num::<u16>(key, value)?),
                "database" | "initial catalog" => c.database = Some(value.clone()),
                "user id" | "uid" | "user" | "username" => c.user = value.clone(),
                k if is_secret_key(k) => c.password = SecretString::from(value.as_str()),
                "encrypt" => {
                    c.encrypt = match value.to_lowercase().as_str() {
                        "true" | "yes" | "mandatory" => Encrypt::Required,
                        "false" | "no" | "optional" => Encrypt::Off,
                        "strict" => Encrypt::Strict,
                        "danger_plaintext" => Encrypt::Plaintext,
                        _ => {
                            return Err(format!(
                                "encrypt must be true, false, strict or DANGER_PLAINTEXT, not {value:?}"
                            ));
                        }
                    }
                }
                "trustservercertificate" | "trust server certificate" => {
                    c.trust_server_certificate = parse_bool(key, value)?;
                }
                "trustservercertificateca" => c.trust_ca = Some(PathBuf::from(value)),
                "hostnameincertificate" | "host name in certificate" => {
                    c.host_name_in_certificate = Some(value.clone());
                }
                "application name" | "applicationname" | "app" => {
                    c.application_name = value.clone()
                }
                "connect timeout" | "connection timeout" | "connecttimeout" | "timeout"
                | "logintimeout" => c.connect_timeout = Duration::from_secs(parse_num(key, value)?),
                "command timeout" | "commandtimeout" => {
                    c.command_timeout = Duration::from_secs(parse_num(key, value)?);
                }
                "packet size" | "packetsize" => {
                    let size = parse_num::<u32>(key, value)?;
                    if !(512..=32_767).contains(&size) {
                        return Err(format!("packet size must be 512..=32767 bytes, not {size}"));
                    }
                    c.packet_size = size;
                }
                "integrated security" | "integratedsecurity" | "trusted_connection" => {
                    if parse_bool(key, value)? {
                        return Err(format!(
                            "{key}: Windows authentication is not supported; use a SQL login (user and password)"
                        ));
                    }
                }
                // ODBC and pooling keys that have no meaning for this driver.
                "driver"
                | "dsn"
                | "pooling"
                | "max pool size"
                | "min pool size"
                | "multipleactiveresultsets"
                | "mars_connection"
                | "persist security info"
                | "connection lifetime"
                | "load balance timeout"
                | "workstation id"
                | "wsid"
                | "language"
                | "applicationintent"
                | "multisubnetfailover" => {}
                // An unknown "setting" right after the password is most likely
                // the rest of a password holding an unquoted `;`: not shown.
                _ if follows_secret => return Err(SPLIT_PASSWORD.to_owned()),
                other => return Err(format!("unknown setting {other:?}")),
            }
        }
        if c.host.is_empty() {
            return Err("no server (host) given".to_owned());
        }
        if let Some(p) = port_given {
            c.port = p;
        }
        if c.user.is_empty() {
            return Err("no user given (SQL Server login)".to_owned());
        }
        if c.trust_server_certificate && c.trust_ca.is_some() {
            return Err(
                "TrustServerCertificate and TrustServerCertificateCA exclude each other".to_owned(),
            );
        }
        Ok(c)
    }

    /// `mssql://user@host:port/database`: for messages and reports, no password.
    pub fn describe(&self) -> String {
        format!(
            "mssql://{}@{}:{}/{}",
            self.user,
            self.host,
            self.port,
            self.database.as_deref().unwrap_or("")
        )
    }

    /// `host:port`, what a failed connection names.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The tiberius configuration for this connection.
    pub fn to_tiberius(&self) -> tiberius::Config {
        let mut c = tiberius::Config::new();
        c.host(&self.host);
        c.port(self.port);
        if let Some(db) = &self.database {
            c.database(db);
        }
        c.application_name(&self.application_name);
        c.authentication(AuthMethod::sql_server(
            &self.user,
            self.password.expose_secret(),
        ));
        c.encryption(match self.encrypt {
            Encrypt::Off => EncryptionLevel::Off,
            Encrypt::Required => EncryptionLevel::Required,
            Encrypt::Strict => EncryptionLevel::Strict,
            Encrypt::Plaintext => EncryptionLevel::NotSupported,
        });
        // `from_pairs` refuses both together, so at most one of these runs
        // (tiberius panics on the combination).
        if self.trust_server_certificate {
            c.trust_cert();
        } else if let Some(ca) = &self.trust_ca {
            c.trust_cert_ca(ca.display());
        }
        if let Some(h) = &self.host_name_in_certificate {
            c.hostname_in_certificate(h);
        }
        c.packet_size(self.packet_size);
        c.handshake_timeout(Some(self.connect_timeout));
        c.command_timeout(Some(self.command_timeout));
        c
    }
}

fn parse_num<T: std::str::FromStr>(key: &str, value: &str) -> std::result::Result<T, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{key} must be a whole number, not {value:?}"))
}

fn parse_bool(key: &str, value: &str) -> std::result::Result<bool, String> {
    match value.trim().to_lowercase().as_str() {
        "true" | "yes" | "1" | "sspi" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format!("{key} must be true/false/yes/no, not {value:?}")),
    }
}
