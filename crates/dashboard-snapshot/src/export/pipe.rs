//! Both cores for one dataset: its rows are serialized, CSV-encoded and hashed on
//! a worker thread while the caller's thread compresses them into the ZIP. The
//! bytes handed to the ZIP are the same, in the same order, as when one thread
//! does both, so the archive is byte-identical (Deflate's output depends on the
//! byte stream, not on how it is cut into writes).

use std::io::Write;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::{DatasetSpec, ExportContext};
use crate::error::{Error, Result};

/// Chunks in flight between the threads (each up to the CSV sink's 64 KiB).
const IN_FLIGHT: usize = 16;

/// What a dataset's writer returns: (rows, bytes, sha256).
type Written = Result<(u64, u64, String)>;

/// A dataset's writer.
type WriteDataset = fn(&DatasetSpec, &ExportContext<'_>, Sender) -> Written;

/// Write the CSV of `spec` into `out` with `write` running on a worker thread:
/// (rows, bytes, sha256) as `write` returns them.
pub(super) fn piped<W: Write>(
    spec: &DatasetSpec,
    ctx: &ExportContext<'_>,
    out: &mut W,
    write: WriteDataset,
) -> Written {
    let (tx, rx) = sync_channel(IN_FLIGHT);
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || write(spec, ctx, Sender(tx)));
        let written = drain(rx, out);
        // A failed write dropped the receiver: the worker stops at its next send.
        let produced = worker.join().unwrap_or_else(|_| {
            Err(Error::Registry(format!(
                "dataset {}: serializer panicked",
                spec.dataset_id
            )))
        });
        match written {
            Err(source) => Err(Error::Csv {
                dataset_id: spec.dataset_id.to_owned(),
                source: csv::Error::from(source),
            }),
            Ok(()) => produced,
        }
    })
}

/// What the worker hands over: bytes, or a flush at that point of the stream (a
/// flush of the ZIP entry ends a Deflate block: it is part of the bytes).
pub(super) enum Chunk {
    Bytes(Vec<u8>),
    Flush,
}

fn drain<W: Write>(rx: Receiver<Chunk>, out: &mut W) -> std::io::Result<()> {
    for chunk in rx {
        match chunk {
            Chunk::Bytes(bytes) => out.write_all(&bytes)?,
            Chunk::Flush => out.flush()?,
        }
    }
    Ok(())
}

/// The worker's end: every write and flush is sent to the compressing thread.
pub(super) struct Sender(SyncSender<Chunk>);

impl Sender {
    fn send(&self, chunk: Chunk) -> std::io::Result<()> {
        self.0
            .send(chunk)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl Write for Sender {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.send(Chunk::Bytes(buf.to_vec()))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.send(Chunk::Flush)
    }
}
