//! What the server backends (SQL Server, PostgreSQL) share. Each speaks its own
//! dialect through [`ServerRead`] (the reads of a table that exists) and
//! [`ServerConnection`] (the steps of a transaction). Written once on top of them:
//! every server backend's [`MirrorRead`] (a table that does not exist yet has no
//! rows), the batch a transaction writes (the column limits first, then its runs),
//! and [`ServerTx`], the guard that rolls the transaction back when it is dropped
//! uncommitted. Also the record's columns in the order both tables hold them
//! ([`RECORD_COLUMNS`]), the opening of a connection and a mirror's `Debug`.

use super::{
    MirrorKeyRow, MirrorRead, MirrorRecord, MirrorTransaction, MirrorWrite, Scope, WriteRun,
    write_runs,
};
use crate::error::{BoxError, Error, Result};
use crate::hash::{ContentHash, ContentHashSet};

/// The columns of a [`MirrorRecord`], in the order both server tables hold them.
pub(crate) const RECORD_COLUMNS: [&str; 9] = [
    "exchange_id",
    "exchange_type",
    "source_system",
    "entity_type",
    "natural_key",
    "observed_at_utc",
    "content_sha256",
    "payload_json",
    "schema_version",
];

/// [`RECORD_COLUMNS`] with a backend's own `extra` columns before the `before`-th
/// one; `N` counts them all (a wrong count does not compile).
pub(crate) const fn record_columns_with<const N: usize>(
    before: usize,
    extra: &[&'static str],
) -> [&'static str; N] {
    assert!(N == RECORD_COLUMNS.len() + extra.len() && before <= RECORD_COLUMNS.len());
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = if i < before {
            RECORD_COLUMNS[i]
        } else if i < before + extra.len() {
            extra[i - before]
        } else {
            RECORD_COLUMNS[i - extra.len()]
        };
        i += 1;
    }
    out
}

/// Open a server backend's connection with `open`; a failure is
/// [`Error::MirrorUnavailable`] naming `target` (never a password), with the
/// driver's error as source.
pub(crate) fn open<C, E: Into<BoxError>>(
    target: &str,
    open: impl FnOnce() -> std::result::Result<C, E>,
) -> Result<C> {
    open().map_err(|e| Error::MirrorUnavailable {
        target: target.to_owned(),
        source: e.into(),
    })
}

/// The `Debug` of a server mirror: its type `name` and its `target`, never its
/// connection.
pub(crate) fn debug(name: &str, target: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct(name)
        .field("target", &target)
        .finish_non_exhaustive()
}

/// Where an export sends its rows, in order.
pub(crate) type RecordSink<'s> = &'s mut dyn FnMut(MirrorRecord) -> Result<()>;

/// The reads of a server backend on its table, in the backend's dialect; every
/// server backend's [`MirrorRead`] is written on them, once.
pub(crate) trait ServerRead {
    /// Make every earlier write visible to reads (send what is still buffered), then
    /// say whether the table exists: the reads below run only when it does.
    fn readable(&mut self) -> Result<bool>;
    /// All `content_sha256` values of the rows in `scope`.
    fn read_hashes(&mut self, scope: &Scope) -> Result<ContentHashSet>;
    /// The rows in `scope` whose natural key is one of `keys` (never empty), each
    /// with the index in `keys` of the key it holds (the newest row of a key).
    fn read_keys(&mut self, scope: &Scope, keys: &[&str]) -> Result<Vec<(usize, MirrorKeyRow)>>;
    /// Stream every row in `scope` to `sink` in export order; the number sent.
    fn read_export(&mut self, scope: &Scope, sink: RecordSink<'_>) -> Result<u64>;
    /// The number of rows in `scope`, or in the whole table.
    fn read_count(&mut self, scope: Option<&Scope>) -> Result<u64>;
}

/// The transaction steps of a server backend, each one round trip or a few; only
/// [`ServerTx`] calls them, so they always come in order (begin, lock, writes,
/// then commit or rollback). Reads between them run in the transaction.
pub(crate) trait ServerConnection: ServerRead {
    /// The target named in messages (no password).
    fn target(&self) -> &str;
    /// Create the table if it is missing (in its own transaction), then start the
    /// command's transaction.
    fn tx_begin(&mut self) -> Result<()>;
    /// Take the writer lock of `scope`, held until the transaction ends.
    fn tx_lock(&mut self, scope: &Scope) -> Result<()>;
    /// Insert one run of records (within the column limits), in order.
    fn tx_insert(&mut self, run: &[&MirrorRecord]) -> Result<()>;
    /// Replace the row of each `(exchange_id, record)` of one run, in order.
    fn tx_update(&mut self, run: &[(&str, &MirrorRecord)]) -> Result<()>;
    /// Send what is still buffered and commit. On failure nothing is committed.
    fn tx_commit(&mut self) -> Result<()>;
    /// Drop what is buffered and roll back.
    fn tx_rollback(&mut self) -> Result<()>;
}

/// The reads of every server backend: none reaches a table that does not exist.
impl<C: ServerRead> MirrorRead for C {
    fn hashes_in_scope(&mut self, scope: &Scope) -> Result<ContentHashSet> {
        if !self.readable()? {
            return Ok(ContentHashSet::default());
        }
        self.read_hashes(scope)
    }

    fn find_by_natural_keys(
        &mut self,
        scope: &Scope,
        keys: &[&str],
    ) -> Result<Vec<Option<MirrorKeyRow>>> {
        let mut out: Vec<Option<MirrorKeyRow>> = vec![None; keys.len()];
        if !self.readable()? || keys.is_empty() {
            return Ok(out);
        }
        for (i, row) in self.read_keys(scope, keys)? {
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(row);
            }
        }
        Ok(out)
    }

    fn export_scope(&mut self, scope: &Scope, sink: RecordSink<'_>) -> Result<u64> {
        if !self.readable()? {
            return Ok(0);
        }
        self.read_export(scope, sink)
    }

    fn count(&mut self, scope: Option<&Scope>) -> Result<u64> {
        if !self.readable()? {
            return Ok(0);
        }
        self.read_count(scope)
    }
}

/// A server backend's connection with the command's transaction open.
pub(crate) struct ServerTx<'m, C: ServerConnection> {
    conn: &'m mut C,
    scope: Scope,
    /// Whether a transaction is open on `conn` (false after a commit or
    /// rollback, even a failed one: the server then has none either).
    open: bool,
}

impl<'m, C: ServerConnection> ServerTx<'m, C> {
    /// Begin on `conn` and lock `scope`; if the lock is refused, the transaction is
    /// rolled back (the guard drops) and the refusal returned.
    pub(crate) fn begin(conn: &'m mut C, scope: &Scope) -> Result<Self> {
        conn.tx_begin()?;
        let tx = ServerTx {
            conn,
            scope: scope.clone(),
            open: true,
        };
        tx.conn.tx_lock(scope)?;
        Ok(tx)
    }

    /// The guard of a transaction a test has set up on `conn` by other means
    /// (the SQL Server tests use it).
    #[cfg(all(test, feature = "mssql"))]
    pub(crate) fn assume_open(conn: &'m mut C, scope: Scope) -> Self {
        ServerTx {
            conn,
            scope,
            open: true,
        }
    }
}

impl<C: ServerConnection> Drop for ServerTx<'_, C> {
    fn drop(&mut self) {
        if std::mem::take(&mut self.open) {
            // Best effort: closing the connection makes the server roll back anyway.
            let _ = self.conn.tx_rollback();
        }
    }
}

impl<C: ServerConnection> MirrorRead for ServerTx<'_, C> {
    fn hashes_in_scope(&mut self, scope: &Scope) -> Result<ContentHashSet> {
        self.conn.hashes_in_scope(scope)
    }

    fn for_each_hash_in_scope(
        &mut self,
        scope: &Scope,
        each: &mut dyn FnMut(ContentHash),
    ) -> Result<()> {
        self.conn.for_each_hash_in_scope(scope, each)
    }

    fn find_by_natural_keys(
        &mut self,
        scope: &Scope,
        keys: &[&str],
    ) -> Result<Vec<Option<MirrorKeyRow>>> {
        self.conn.find_by_natural_keys(scope, keys)
    }

    fn export_scope(&mut self, scope: &Scope, sink: RecordSink<'_>) -> Result<u64> {
        self.conn.export_scope(scope, sink)
    }

    fn count(&mut self, scope: Option<&Scope>) -> Result<u64> {
        self.conn.count(scope)
    }
}

impl<C: ServerConnection> MirrorTransaction for ServerTx<'_, C> {
    fn write_batch(&mut self, writes: &[MirrorWrite]) -> Result<()> {
        // The same column limits as every backend, before anything is sent.
        crate::limits::check_writes(self.conn.target(), writes)?;
        for run in write_runs(writes) {
            match run {
                WriteRun::Inserts(run) => self.conn.tx_insert(&run)?,
                WriteRun::Updates(run) => self.conn.tx_update(&run)?,
            }
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<()> {
        self.open = false;
        self.conn.tx_commit()?;
        self.conn.tx_begin()?;
        self.open = true;
        self.conn.tx_lock(&self.scope)
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.open = false;
        self.conn.tx_commit()
    }

    fn rollback(mut self: Box<Self>) -> Result<()> {
        self.open = false;
        self.conn.tx_rollback()
    }
}
