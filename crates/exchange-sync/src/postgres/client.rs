//! The synchronous facade over tokio-postgres: one current-thread tokio runtime,
//! one connection, and Ctrl-C wired to the server's cancel request.
//!
//! Every call blocks until the server answers. While one runs, SIGINT sends the
//! connection's cancel request (the client's `CancelToken`), waits for the
//! statement to stop, and returns [`Failure::Interrupted`]; the mirror then rolls
//! back. A SIGINT that arrives between calls is kept and stops the next call
//! before it is sent.

use std::future::Future;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio_postgres::{CancelToken, Client, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::config::{PgConfig, SslMode};
use super::tls;
use crate::error::BoxError;

/// Why a call failed.
#[derive(Debug)]
pub enum Failure {
    /// The driver's error (server message, lost connection, bad value).
    Db(tokio_postgres::Error),
    /// Ctrl-C: the statement was cancelled on the server.
    Interrupted,
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e)
    }
}

/// An open connection and the runtime that drives it.
pub struct Connection {
    rt: Runtime,
    /// The driver's client; borrowed by the mirror for each call.
    pub client: Client,
    cancel: CancelToken,
    /// The TLS connector, `None` for a plain-text connection.
    tls: Option<MakeRustlsConnect>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl Connection {
    /// Connect and log in (bounded by the config's connect timeout). The error is
    /// the driver's, carrying the server's message.
    pub fn open(config: &PgConfig) -> Result<Self, BoxError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let tls = tls::connector(config.ssl_mode, config.ssl_root_cert.as_deref())?;
        // libpq ignores sslmode on Unix sockets, and `disable`/`allow` mean plain
        // text: no TLS connector then (it would refuse a socket path as a name).
        let plain = matches!(config.ssl_mode, SslMode::Disable | SslMode::Allow)
            || config
                .driver
                .get_hosts()
                .iter()
                .all(|h| !matches!(h, tokio_postgres::config::Host::Tcp(_)));
        // The connection task runs whenever the runtime is driven (every call).
        let client = if plain {
            let (client, connection) = rt.block_on(config.driver.connect(NoTls))?;
            rt.spawn(async move {
                let _ = connection.await;
            });
            client
        } else {
            let (client, connection) = rt.block_on(config.driver.connect(tls.clone()))?;
            rt.spawn(async move {
                let _ = connection.await;
            });
            client
        };
        #[cfg(unix)]
        let interrupt = {
            let _guard = rt.enter();
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok()
        };
        let cancel = client.cancel_token();
        Ok(Self {
            rt,
            client,
            cancel,
            tls: (!plain).then_some(tls),
            #[cfg(unix)]
            interrupt,
        })
    }

    /// Run `f` (built from the client) to completion, cancelling it on Ctrl-C.
    pub fn run<'c, T, F>(&'c mut self, f: impl FnOnce(&'c Client) -> F) -> Result<T, Failure>
    where
        F: Future<Output = Result<T, Failure>> + 'c,
    {
        let Self {
            rt,
            client,
            cancel,
            tls,
            #[cfg(unix)]
            interrupt,
        } = self;
        let fut = f(client);
        rt.block_on(async move {
            tokio::pin!(fut);
            #[cfg(unix)]
            if let Some(sig) = interrupt.as_mut() {
                return tokio::select! {
                    biased;
                    _ = sig.recv() => {
                        let _ = match tls {
                            Some(tls) => cancel.cancel_query(tls.clone()).await,
                            None => cancel.cancel_query(NoTls).await,
                        };
                        // Let the cancelled statement finish so the connection stays
                        // usable for the rollback.
                        let _ = tokio::time::timeout(Duration::from_secs(10), &mut fut).await;
                        Err(Failure::Interrupted)
                    }
                    r = &mut fut => r,
                };
            }
            let _ = (cancel, tls);
            fut.await
        })
    }

    /// Run one or more statements without parameters.
    pub fn batch(&mut self, sql: &str) -> Result<(), Failure> {
        self.run(|c| async move { Ok(c.batch_execute(sql).await?) })
    }
}
