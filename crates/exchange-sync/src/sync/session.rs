//! [`Session`]: the mirror as one command uses it, read only (a dry run) or
//! through its write transaction.

use crate::error::Result;
use crate::mirror::{Mirror, MirrorRead, MirrorTransaction, MirrorWrite, Scope};

/// The mirror as one command uses it.
pub(crate) enum Session<'m> {
    /// A dry run: reads only, nothing is begun.
    Read(&'m mut dyn Mirror),
    /// A real run: every read and write inside the command's transaction, rolled
    /// back if the session is dropped uncommitted.
    Write(Box<dyn MirrorTransaction + 'm>),
}

impl<'m> Session<'m> {
    /// A dry run's session on `mirror`, or a real run's: its transaction begun
    /// with the writer lock of `scope`.
    pub(crate) fn open(mirror: &'m mut dyn Mirror, scope: &Scope, dry_run: bool) -> Result<Self> {
        if dry_run {
            Ok(Session::Read(mirror))
        } else {
            Ok(Session::Write(mirror.begin(scope)?))
        }
    }

    /// The reads (inside the transaction when there is one).
    pub(crate) fn reads(&mut self) -> &mut dyn MirrorRead {
        match self {
            Session::Read(mirror) => &mut **mirror,
            Session::Write(tx) => &mut **tx,
        }
    }

    /// Carry out `writes` in the transaction (a dry run never writes).
    pub(crate) fn write_batch(&mut self, writes: &[MirrorWrite]) -> Result<()> {
        match self {
            Session::Read(_) => Err(dry_run_write()),
            Session::Write(tx) => tx.write_batch(writes),
        }
    }

    /// Commit what is written and go on in a new transaction (`--batch-commit`).
    pub(crate) fn checkpoint(&mut self) -> Result<()> {
        match self {
            Session::Read(_) => Err(dry_run_write()),
            Session::Write(tx) => tx.checkpoint(),
        }
    }

    /// Commit what the transaction wrote, if there is one (a dry run's reads
    /// gave their answers as they went).
    pub(crate) fn commit(self) -> Result<()> {
        match self {
            Session::Read(_) => Ok(()),
            Session::Write(tx) => tx.commit(),
        }
    }

    /// Undo what the transaction wrote, if there is one.
    pub(crate) fn rollback(self) -> Result<()> {
        match self {
            Session::Read(_) => Ok(()),
            Session::Write(tx) => tx.rollback(),
        }
    }
}

fn dry_run_write() -> crate::Error {
    crate::Error::Internal("a dry run tried to write to the mirror".into())
}
