//! The synchronous facade over tiberius: one current-thread tokio runtime and one
//! connection, so the CLI and the sync engine stay synchronous.
//!
//! Every method blocks until the server answers. Errors are tiberius' own, boxed
//! by the caller into the crate's mirror variants (never stringified).

use tiberius::{Client, ColumnData, Query, Row, SqlBulkCopyOption, SqlBulkCopyOptions, TokenRow};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

use super::config::SqlServerConfig;
use super::tsql;
use crate::error::BoxError;

/// Said when a connection to the original system's default port 1434 fails: on a default
/// install that port is the dedicated admin connection or the Browser service.
pub const PORT_HINT: &str = " (INGEST_SQLSERVER_PORT is unset, so the original system's default port 1434 \
was used; SQL Server usually listens on 1433: set INGEST_SQLSERVER_PORT to its port)";

/// A bound parameter value.
pub type Param = ColumnData<'static>;

/// An open connection and the runtime that drives it.
pub struct Connection {
    rt: Runtime,
    /// `None` once closed after a failed bulk load (see [`Connection::bulk_insert`]).
    client: Option<Client<Compat<TcpStream>>>,
}

/// A request on a connection that was closed after a failed bulk load.
#[derive(Debug, thiserror::Error)]
#[error(
    "the connection was closed after a failed bulk load (the server rolls its transaction back)"
)]
pub struct Closed;

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

/// Why a connection could not be opened (the password is never part of it).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The runtime could not start.
    #[error("starting the I/O runtime")]
    Runtime(#[source] std::io::Error),
    /// TCP connect did not finish within the connect timeout.
    #[error("connecting to {address}: no answer within {seconds} s (connect timeout){hint}")]
    Timeout {
        /// `host:port`.
        address: String,
        /// The timeout.
        seconds: u64,
        /// Advice when the port is the original system's default 1434 (else empty).
        hint: &'static str,
    },
    /// TCP connect failed (refused, unreachable, unknown host).
    #[error("connecting to {address}{hint}")]
    Tcp {
        /// `host:port`.
        address: String,
        /// Advice when the port is the original system's default 1434 (else empty).
        hint: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// TLS or login failed; the source holds the server's message.
    #[error("logging in to {address}{hint}")]
    Login {
        /// `host:port`.
        address: String,
        /// Advice when the port is the original system's default 1434 (else empty).
        hint: &'static str,
        /// tiberius' error (server message, TLS failure...), boxed: it is large.
        #[source]
        source: Box<tiberius::error::Error>,
    },
}

impl Connection {
    /// Open a connection: TCP within `connect_timeout`, then TLS and login (tiberius
    /// bounds the handshake by the same timeout). Follows one Azure SQL redirect.
    pub fn open(config: &SqlServerConfig) -> Result<Self, ConnectError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(ConnectError::Runtime)?;
        let hint = if config.port_is_env_default {
            PORT_HINT
        } else {
            ""
        };
        let client = rt.block_on(async {
            let mut cfg = config.clone();
            let mut redirected = false;
            loop {
                let address = cfg.address();
                let tcp = match tokio::time::timeout(
                    cfg.connect_timeout,
                    TcpStream::connect((cfg.host.as_str(), cfg.port)),
                )
                .await
                {
                    Err(_) => {
                        return Err(ConnectError::Timeout {
                            address,
                            seconds: cfg.connect_timeout.as_secs(),
                            hint,
                        });
                    }
                    Ok(Err(source)) => {
                        return Err(ConnectError::Tcp {
                            address,
                            hint,
                            source,
                        });
                    }
                    Ok(Ok(tcp)) => tcp,
                };
                // Best effort: small requests should not wait for Nagle.
                let _ = tcp.set_nodelay(true);
                match Client::connect(cfg.to_tiberius(), tcp.compat_write()).await {
                    Ok(mut client) => {
                        client
                            .simple_query(tsql::SESSION_SETTINGS)
                            .await
                            .map_err(|source| ConnectError::Login {
                                address: address.clone(),
                                hint,
                                source: Box::new(source),
                            })?
                            .into_results()
                            .await
                            .map_err(|source| ConnectError::Login {
                                address,
                                hint,
                                source: Box::new(source),
                            })?;
                        return Ok(client);
                    }
                    Err(tiberius::error::Error::Routing { host, port }) if !redirected => {
                        redirected = true;
                        cfg.host = host;
                        cfg.port = port;
                    }
                    Err(source) => {
                        return Err(ConnectError::Login {
                            address,
                            hint,
                            source: Box::new(source),
                        });
                    }
                }
            }
        })?;
        Ok(Self {
            rt,
            client: Some(client),
        })
    }

    /// Run a batch with parameters; the row count of each statement, in order.
    pub fn execute(&mut self, sql: &str, params: Vec<Param>) -> Result<Vec<u64>, BoxError> {
        let Self { rt, client } = self;
        let client = client.as_mut().ok_or(Closed)?;
        rt.block_on(async {
            let res = bound(sql, params).execute(client).await?;
            Ok(res.rows_affected().to_vec())
        })
    }

    /// Run a query and collect the rows of its first result set.
    pub fn query(&mut self, sql: &str, params: Vec<Param>) -> Result<Vec<Row>, BoxError> {
        let Self { rt, client } = self;
        let client = client.as_mut().ok_or(Closed)?;
        rt.block_on(async {
            Ok(bound(sql, params)
                .query(client)
                .await?
                .into_first_result()
                .await?)
        })
    }

    /// Run a query and hand each row of its first result set to `each`, streaming.
    /// Stops at the first error of `each` and returns it. Returns the row count.
    pub fn query_each(
        &mut self,
        sql: &str,
        params: Vec<Param>,
        each: &mut dyn FnMut(Row) -> Result<(), BoxError>,
    ) -> Result<u64, BoxError> {
        use futures_util::TryStreamExt as _;
        let Self { rt, client } = self;
        let client = client.as_mut().ok_or(Closed)?;
        rt.block_on(async {
            let mut stream = bound(sql, params).query(client).await?.into_row_stream();
            let mut n = 0u64;
            let mut failed = None;
            while let Some(row) = stream.try_next().await? {
                if failed.is_some() {
                    continue; // drain so the connection stays usable
                }
                n += 1;
                if let Err(e) = each(row) {
                    failed = Some(e);
                }
            }
            match failed {
                Some(e) => Err(e),
                None => Ok(n),
            }
        })
    }

    /// Bulk-insert `rows` into `table` (`[schema].[table]`) over the listed columns,
    /// with constraint checks on. Returns the number of rows the server took.
    ///
    /// A bulk load that fails part way (a row refused while it streams, a broken
    /// socket) leaves the request half sent: nothing more may go out on that
    /// connection, not even a `ROLLBACK`, which the server would read as bulk data.
    /// So on any failure after the request started the connection is closed (the
    /// server then rolls the open transaction back itself) and the failure that
    /// happened is returned; every later request answers [`Closed`].
    pub fn bulk_insert(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: Vec<TokenRow<'static>>,
    ) -> Result<u64, BoxError> {
        let Self { rt, client } = self;
        let conn = client.as_mut().ok_or(Closed)?;
        let res: Result<u64, tiberius::error::Error> = rt.block_on(async {
            let mut req = conn
                .bulk_insert_with_options(
                    table,
                    columns,
                    SqlBulkCopyOptions::from(SqlBulkCopyOption::CheckConstraints),
                    &[],
                )
                .await?;
            for row in rows {
                req.send(row).await?;
            }
            Ok(req.finalize().await?.total())
        });
        close_on_failure(client, res)
    }

    /// `BEGIN TRANSACTION`.
    pub fn begin(&mut self) -> Result<(), BoxError> {
        let Self { rt, client } = self;
        let client = client.as_mut().ok_or(Closed)?;
        Ok(rt.block_on(client.begin_transaction())?)
    }

    /// `COMMIT`.
    pub fn commit(&mut self) -> Result<(), BoxError> {
        let Self { rt, client } = self;
        let client = client.as_mut().ok_or(Closed)?;
        Ok(rt.block_on(client.commit_transaction())?)
    }

    /// `ROLLBACK`. On a connection closed after a failed bulk load there is
    /// nothing to send: the server rolled back when it closed.
    pub fn rollback(&mut self) -> Result<(), BoxError> {
        let Self { rt, client } = self;
        let Some(client) = client.as_mut() else {
            return Ok(());
        };
        rt.block_on(async {
            client
                .simple_query(tsql::ROLLBACK)
                .await?
                .into_results()
                .await?;
            Ok(())
        })
    }
}

/// The end of a bulk load: on failure the client is dropped (its socket closes and
/// the server rolls the transaction back, so no `ROLLBACK` is ever sent after a
/// half-sent bulk request) and the load's own error is returned, untouched.
fn close_on_failure<C, T>(
    client: &mut Option<C>,
    res: Result<T, tiberius::error::Error>,
) -> Result<T, BoxError> {
    res.map_err(|e| {
        *client = None;
        Box::new(e) as BoxError
    })
}

/// `sql` with its parameters bound in order.
fn bound(sql: &str, params: Vec<Param>) -> Query<'_> {
    let mut q = Query::new(sql);
    for p in params {
        q.bind(p);
    }
    q
}

#[cfg(test)]
impl Connection {
    /// A connection in the state a failed bulk load leaves (for the mirror's tests).
    pub(super) fn closed() -> Result<Self, std::io::Error> {
        Ok(Self {
            rt: tokio::runtime::Builder::new_current_thread().build()?,
            client: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After a failed bulk load the connection is closed: nothing more goes out
    /// on it (no ROLLBACK read as bulk data), the rollback the engine then asks for
    /// succeeds without a request (closing made the server roll back), and every
    /// other request says why it cannot run.
    #[test]
    fn a_closed_connection_sends_nothing() -> Result<(), Box<dyn std::error::Error>> {
        let mut conn = Connection::closed()?;
        assert!(conn.rollback().is_ok());
        for err in [
            conn.execute("SELECT 1", Vec::new()).err(),
            conn.query("SELECT 1", Vec::new())
                .err()
                .map(|e| e as BoxError),
            conn.bulk_insert("[a].[b]", &["x"], Vec::new()).err(),
            conn.begin().err(),
            conn.commit().err(),
        ] {
            let err = err.ok_or("a closed connection answered")?;
            assert!(err.downcast_ref::<Closed>().is_some(), "{err}");
        }
        Ok(())
    }

    /// A bulk load whose `send` fails (here: the server refused a row while it
    /// streamed) reports that failure itself, and leaves the connection closed, so
    /// the ROLLBACK the engine asks for next sends nothing on it.
    #[test]
    fn a_failed_send_reports_its_own_error_and_closes() -> Result<(), Box<dyn std::error::Error>> {
        let refused = || tiberius::error::Error::Protocol("bulk row 3: column 8 too long".into());
        let mut client = Some("open connection");
        let err = close_on_failure::<_, u64>(&mut client, Err(refused()))
            .err()
            .ok_or("a failed send was reported as success")?;
        assert!(
            client.is_none(),
            "the connection stayed open after a failed send"
        );
        let own = err
            .downcast_ref::<tiberius::error::Error>()
            .ok_or("the error is not the bulk load's")?;
        assert_eq!(own.to_string(), refused().to_string());
        // The same state on a real connection: rollback sends nothing.
        let mut conn = Connection::closed()?;
        assert!(conn.rollback().is_ok());
        // And success leaves the connection open with the server's count.
        let mut open = Some("open connection");
        assert_eq!(close_on_failure(&mut open, Ok(7u64)).ok(), Some(7));
        assert!(open.is_some(), "a good load closed the connection");
        Ok(())
    }
}
