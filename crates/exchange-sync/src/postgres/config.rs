//! Connection settings for the PostgreSQL mirror: a `postgres://` (or
//! `postgresql://`) URL, or libpq's `PG*` variables, or both (the variables fill
//! what the URL leaves out, as libpq does).
//!
//! The URL is read by tokio-postgres' own parser; only the two TLS settings it does
//! not know (`sslmode=verify-ca|verify-full` and `sslrootcert`) are taken out first.
//! The password stays inside [`tokio_postgres::Config`], whose `Debug` redacts it,
//! and [`PgConfig::describe`] never includes it. It is not also held as a
//! `SecretString`: the driver's URL parser puts it in its `Config`, the driver
//! needs it there to log in, and a second copy would only be one more to wipe.
//! `PGPASSWORD` passes through a `SecretString` on its way in.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::config::{Host, SslMode as DriverSslMode};

use crate::error::{Error, Result};

use crate::target::redact;

/// Port used when neither the URL nor `PGPORT` names one.
pub const DEFAULT_PORT: u16 = 5432;
/// Time to open the connection and log in, unless `connect_timeout` says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// libpq's variables that this backend reads, in the order they are documented.
pub const ENV_VARS: [&str; 10] = [
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGOPTIONS",
    "PGAPPNAME",
    "PGCONNECT_TIMEOUT",
];

/// libpq's `sslmode`, all six values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain text only.
    Disable,
    /// Plain text (libpq tries plain text first; so does this backend).
    Allow,
    /// TLS if the server offers it, without checking its certificate; else plain text.
    Prefer,
    /// TLS or nothing; the certificate is not checked (encryption only).
    Require,
    /// TLS; the certificate must chain to `sslrootcert` (host name not checked).
    VerifyCa,
    /// TLS; the certificate must chain to `sslrootcert` and name the host.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// Everything needed to connect: the driver's config plus the TLS policy.
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// tokio-postgres' settings (hosts, port, user, password, database, options).
    pub driver: tokio_postgres::Config,
    /// The TLS policy.
    pub ssl_mode: SslMode,
    /// PEM file of the certificate authorities for `verify-ca`/`verify-full`.
    pub ssl_root_cert: Option<PathBuf>,
}

impl PgConfig {
    /// Parse a `postgres://` / `postgresql://` URL; settings it leaves out come from
    /// `env` (libpq's `PG*` variables, see [`ENV_VARS`]).
    pub fn from_target(target: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let lower = target.to_ascii_lowercase();
        if !(lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
            return Err(bad(target, "expected postgres://USER@HOST[:PORT]/DATABASE"));
        }
        let (base, query) = match target.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (target, None),
        };
        let mut kept = Vec::new();
        let mut ssl_mode = None;
        let mut ssl_root_cert = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "sslmode" => {
                    ssl_mode = Some(SslMode::parse(v).ok_or_else(|| bad_sslmode(target, v))?);
                }
                "sslrootcert" => ssl_root_cert = Some(PathBuf::from(percent_decode(v))),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        // The scheme is matched case-insensitively above; the driver wants it lower.
        let rest = match rest.find("://") {
            Some(i) => format!("postgresql{}", &rest[i..]),
            None => rest,
        };
        // tokio-postgres puts 5432 in when the URL names no port; libpq would use
        // PGPORT then.
        let rest = match env("PGPORT").filter(|p| !p.is_empty()) {
            Some(p) if !names_port(&rest) => {
                p.parse::<u16>()
                    .map_err(|_| bad(target, "PGPORT is not a port number"))?;
                with_port(&rest, &p)
            }
            _ => rest,
        };
        let driver: tokio_postgres::Config = rest.parse().map_err(|source| Error::TargetParse {
            target: redact(target),
            source: Box::new(source),
        })?;
        let mut config = Self {
            driver,
            ssl_mode: ssl_mode.unwrap_or(SslMode::Prefer),
            ssl_root_cert,
        };
        config.fill_from_env(&env, ssl_mode.is_some(), target)?;
        Ok(config)
    }

    /// Settings from libpq's variables alone (no `--target`).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut config = Self {
            driver: tokio_postgres::Config::new(),
            ssl_mode: SslMode::Prefer,
            ssl_root_cert: None,
        };
        config.fill_from_env(&env, false, "PG* variables")?;
        Ok(config)
    }

    fn fill_from_env(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
        ssl_mode_given: bool,
        target: &str,
    ) -> Result<()> {
        let var = |k: &str| env(k).filter(|v| !v.is_empty());
        let d = &mut self.driver;
        if d.get_hosts().is_empty() {
            for h in var("PGHOST")
                .unwrap_or_else(|| "localhost".into())
                .split(',')
            {
                if h.starts_with('/') {
                    d.host_path(h);
                } else {
                    d.host(h);
                }
            }
        }
        if d.get_ports().is_empty() {
            let port = match var("PGPORT") {
                Some(p) => p
                    .parse::<u16>()
                    .map_err(|_| bad(target, "PGPORT is not a port number"))?,
                None => DEFAULT_PORT,
            };
            d.port(port);
        }
        if d.get_user().is_none() {
            match var("PGUSER").or_else(|| var("USER")) {
                Some(u) => d.user(u),
                None => return Err(bad(target, "no user: put one in the URL or set PGUSER")),
            };
        }
        if d.get_password().is_none()
            && let Some(p) = var("PGPASSWORD").map(SecretString::from)
        {
            // The driver keeps its own copy (its `Debug` redacts it); ours is
            // wiped when it drops here.
            d.password(p.expose_secret());
        }
        if d.get_dbname().is_none()
            && let Some(db) = var("PGDATABASE")
        {
            d.dbname(db);
        }
        if d.get_options().is_none()
            && let Some(o) = var("PGOPTIONS")
        {
            d.options(o);
        }
        if d.get_application_name().is_none() {
            d.application_name(var("PGAPPNAME").unwrap_or_else(|| "fabric".into()));
        }
        if d.get_connect_timeout().is_none() {
            let t = match var("PGCONNECT_TIMEOUT") {
                Some(t) => Duration::from_secs(
                    t.parse::<u64>()
                        .map_err(|_| bad(target, "PGCONNECT_TIMEOUT is not a number of seconds"))?
                        .max(2),
                ),
                None => DEFAULT_CONNECT_TIMEOUT,
            };
            d.connect_timeout(t);
        }
        if !ssl_mode_given && let Some(m) = var("PGSSLMODE") {
            self.ssl_mode = SslMode::parse(&m).ok_or_else(|| bad_sslmode("PGSSLMODE", &m))?;
        }
        if self.ssl_root_cert.is_none() {
            self.ssl_root_cert = var("PGSSLROOTCERT").map(PathBuf::from);
        }
        if matches!(self.ssl_mode, SslMode::VerifyCa | SslMode::VerifyFull)
            && self.ssl_root_cert.is_none()
        {
            return Err(bad(
                target,
                "sslmode=verify-ca/verify-full needs sslrootcert=FILE (or PGSSLROOTCERT): \
                 the PEM file of the certificate authority",
            ));
        }
        self.driver.ssl_mode(match self.ssl_mode {
            SslMode::Disable | SslMode::Allow => DriverSslMode::Disable,
            SslMode::Prefer => DriverSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverSslMode::Require,
        });
        Ok(())
    }

    /// The first host, for messages: a name, or a Unix socket folder.
    pub fn host(&self) -> String {
        match self.driver.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        }
    }

    /// `postgres://user@host:port/db`, never the password.
    pub fn describe(&self) -> String {
        let port = self
            .driver
            .get_ports()
            .first()
            .copied()
            .unwrap_or(DEFAULT_PORT);
        format!(
            "postgres://{}@{}:{}/{}",
            self.driver.get_user().unwrap_or(""),
            self.host(),
            port,
            self.driver
                .get_dbname()
                .or(self.driver.get_user())
                .unwrap_or("")
        )
    }
}

/// `url` with `:port` after each host of its authority (which names none).
fn with_port(url: &str, port: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), authority),
    };
    if hosts.is_empty() {
        // `postgres://u@/db?host=/run/pg`: no host in the authority, no port put in.
        let sep = if url.contains('?') { '&' } else { '?' };
        return format!("{url}{sep}port={port}");
    }
    let hosts: Vec<String> = hosts.split(',').map(|h| format!("{h}:{port}")).collect();
    format!("{scheme}://{userinfo}{}{tail}", hosts.join(","))
}

/// Whether a `scheme://...` URL names a port (`host:port` or `port=`).
fn names_port(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, q),
        None => (rest, ""),
    };
    let authority = authority.split('/').next().unwrap_or("");
    let hosts = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // `[::1]:5433`: only a colon after the closing bracket names a port.
    let hosts = hosts.rsplit_once(']').map_or(hosts, |(_, h)| h);
    hosts.contains(':') || query.split('&').any(|p| p.starts_with("port="))
}

fn bad(target: &str, reason: &str) -> Error {
    Error::Target {
        target: redact(target),
        reason: reason.to_owned(),
    }
}

fn bad_sslmode(target: &str, value: &str) -> Error {
    bad(
        target,
        &format!(
            "sslmode {value:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
        ),
    )
}

/// `%XX` escapes decoded (for a file path in the query string); a malformed
/// escape is kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes.get(i), hex) {
            (Some(b'%'), Some(b)) => {
                out.push(b);
                i += 3;
            }
            (Some(&b), _) => {
                out.push(b);
                i += 1;
            }
            (None, _) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn url_with_everything() -> Result<()> {
        let c = PgConfig::from_target(
            "postgresql://fabric:s3cret@db.example:6432/lake?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
            env(&[]),
        )?;
        assert_eq!(c.describe(), "postgres://fabric@db.example:6432/lake");
        assert_eq!(c.ssl_mode, SslMode::VerifyFull);
        assert_eq!(c.ssl_root_cert, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(c.driver.get_password(), Some(&b"s3cret"[..]));
        assert!(!format!("{c:?}").contains("s3cret"));
        Ok(())
    }

    #[test]
    fn env_fills_what_the_url_leaves_out() -> Result<()> {
        let vars = [
            ("PGHOST", "/run/pg"),
            ("PGPORT", "5433"),
            ("PGUSER", "u"),
            ("PGPASSWORD", "pw"),
            ("PGDATABASE", "d"),
            ("PGSSLMODE", "disable"),
        ];
        let c = PgConfig::from_env(env(&vars))?;
        assert_eq!(c.describe(), "postgres://u@/run/pg:5433/d");
        assert_eq!(c.ssl_mode, SslMode::Disable);
        let c = PgConfig::from_target("postgres://other@h/x", env(&vars))?;
        assert_eq!(c.describe(), "postgres://other@h:5433/x");
        let c = PgConfig::from_target("postgres://other@/x?host=/run/pg", env(&vars))?;
        assert_eq!(c.describe(), "postgres://other@/run/pg:5433/x");
        let c = PgConfig::from_target("postgres://other@h:6000/x", env(&vars))?;
        assert_eq!(c.describe(), "postgres://other@h:6000/x");
        assert_eq!(c.driver.get_password(), Some(&b"pw"[..]));
        Ok(())
    }

    #[test]
    fn bad_settings_are_refused_without_the_password() {
        for (t, needle) in [
            ("postgres://u:topsecret@h/d?sslmode=maybe", "sslmode"),
            (
                "postgres://u:topsecret@h/d?sslmode=verify-full",
                "sslrootcert",
            ),
            ("postgres://u:topsecret@h/d?nonsense=1", "not a valid"),
            ("postgres://u@h/d?password=topsecret&sslmode=no", "sslmode"),
        ] {
            let e = PgConfig::from_target(t, env(&[]))
                .err()
                .map(|e| e.to_string());
            let e = e.unwrap_or_default();
            assert!(e.contains(needle), "{t}: {e}");
            assert!(!e.contains("topsecret"), "{e}");
        }
    }
}
