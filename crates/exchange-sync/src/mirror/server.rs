//! [`ServerTx`]: the [`MirrorTransaction`] of the server backends (SQL Server,
//! PostgreSQL), whose connection has one transaction at a time: the guard that
//! rolls it back when dropped uncommitted.

use super::{MirrorKeyRow, MirrorRead, MirrorRecord, MirrorTransaction, MirrorWrite, Scope};
use crate::error::Result;
use crate::hash::{ContentHash, ContentHashSet};

/// The transaction steps of a server backend, each one round trip or a few; only
/// [`ServerTx`] calls them, so they always come in order (begin, lock, writes,
/// then commit or rollback). Reads between them run in the transaction.
pub(crate) trait ServerConnection: MirrorRead {
    /// Create the table if it is missing (in its own transaction), then start the
    /// command's transaction.
    fn tx_begin(&mut self) -> Result<()>;
    /// Take the writer lock of `scope`, held until the transaction ends.
    fn tx_lock(&mut self, scope: &Scope) -> Result<()>;
    /// Carry out `writes` in the transaction.
    fn tx_write(&mut self, writes: &[MirrorWrite]) -> Result<()>;
    /// Send what is still buffered and commit. On failure nothing is committed.
    fn tx_commit(&mut self) -> Result<()>;
    /// Drop what is buffered and roll back.
    fn tx_rollback(&mut self) -> Result<()>;
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

    /// The guard of a transaction a test has set up on `conn` by other means.
    #[cfg(test)]
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

    fn export_scope(
        &mut self,
        scope: &Scope,
        sink: &mut dyn FnMut(MirrorRecord) -> Result<()>,
    ) -> Result<u64> {
        self.conn.export_scope(scope, sink)
    }

    fn count(&mut self, scope: Option<&Scope>) -> Result<u64> {
        self.conn.count(scope)
    }
}

impl<C: ServerConnection> MirrorTransaction for ServerTx<'_, C> {
    fn write_batch(&mut self, writes: &[MirrorWrite]) -> Result<()> {
        self.conn.tx_write(writes)
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
