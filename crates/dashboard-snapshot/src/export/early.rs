//! The `student_support_list` entry compressed while the bundle is still being
//! read ([`crate::SnapshotBundle::from_reader_for_export`]).
//!
//! Deflate at level 6 (miniz_oxide, whose output the ZIP's bytes are) is one
//! stream and the largest single cost of a big export: 78 MB of CSV for a
//! million students, about 2.7 s of one core. The student rows come early in the
//! bundle, before hundreds of MB of oracle payloads and the pre-flight checks, so
//! the reader hands each row to a [`Feed`] as it reads it, and a thread writes
//! them as CSV into a one-entry ZIP in memory, through the same CSV writer, ZIP
//! options and flushes as the archive's own entry: the same bytes. The archive
//! writer then copies that entry as it is ([`Early::take`]).
//!
//! The copy is taken only when the rows written are exactly those the
//! serializer writes from the bundle as read: the same bucket ids, in the same
//! order, with as many students each (the reader starts the feed again at every
//! `student_support` it reads, so a key given twice keeps its last value here
//! too). Any other case (a bucket whose `id` is not a string or comes after its
//! students, rows the typed form does not hold, another Deflate level, another
//! file name or serializer) takes the usual road, which gives the same bytes or
//! the same error. On 1,000,000 students `dashboard export` went from 6.3 s to
//! 3.4 s wall (3.27x Python's csv + zipfile, which takes 11.2 s), the ZIP byte
//! for byte the same (docs/performance.md).

use std::cell::RefCell;
use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use serde_json::Value;
use zip::ZipWriter;

use super::archive::options;
use super::datasets::{SUPPORT_LIST_FILE, support_list_columns, support_row};
use super::{CsvSink, DEFAULT_DEFLATE_LEVEL, HashingWriter, RowSink};
use crate::compact::{StudentRow, SupportRows};

/// Rows sent to the compressing thread at a time.
const BATCH: usize = 4096;

/// What the reader tells the compressing thread.
enum Message {
    /// A `student_support` value begins: forget what came before.
    Start,
    /// A bucket's students begin; its `id`, if it was a string read before them.
    Bucket(Option<String>),
    /// The next students of the current bucket.
    Rows(Vec<StudentRow>),
}

/// The reader's end: rows are copied into batches and sent as they are read.
pub(crate) struct Feed {
    tx: Sender<Message>,
    batch: RefCell<Vec<StudentRow>>,
}

impl Feed {
    /// A `student_support` value begins.
    pub(crate) fn start(&self) {
        self.batch.borrow_mut().clear();
        self.send(Message::Start);
    }

    /// A bucket's students begin.
    pub(crate) fn bucket(&self, id: Option<&str>) {
        self.flush();
        self.send(Message::Bucket(id.map(str::to_owned)));
    }

    /// A student of the current bucket, read.
    pub(crate) fn row(&self, row: &StudentRow) {
        let mut batch = self.batch.borrow_mut();
        batch.push(row.clone());
        if batch.len() >= BATCH {
            let rows = std::mem::replace(&mut *batch, Vec::with_capacity(BATCH));
            drop(batch);
            self.send(Message::Rows(rows));
        }
    }

    /// Send the rows batched so far.
    pub(crate) fn flush(&self) {
        let rows = std::mem::take(&mut *self.batch.borrow_mut());
        if !rows.is_empty() {
            self.send(Message::Rows(rows));
        }
    }

    fn send(&self, message: Message) {
        // A thread that stopped has given up on the entry: the archive writer
        // then serializes the dataset itself.
        let _ = self.tx.send(message);
    }
}

/// The compressed entry, once written.
#[derive(Debug)]
pub(crate) struct Compressed {
    /// A ZIP holding the one entry.
    pub(crate) zip: Vec<u8>,
    /// Data rows, CSV bytes and their SHA-256, as the manifest records them.
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    pub(crate) sha256: String,
    /// Each bucket's id and number of students, in order.
    buckets: Vec<(String, usize)>,
}

/// The compressing thread, as the bundle holds it.
pub(crate) struct Early {
    cancel: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<Option<Compressed>>>>,
}

impl std::fmt::Debug for Early {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Early { .. }")
    }
}

/// Bytes derived from the bundle's rows, not part of what the bundle holds.
impl PartialEq for Early {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Drop for Early {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// A feed and the thread it feeds; `None` when no thread could be started.
pub(crate) fn spawn() -> Option<(Feed, Early)> {
    let (tx, rx) = channel();
    let cancel = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&cancel);
    let thread = std::thread::Builder::new()
        .name("support-list".to_owned())
        .spawn(move || compress(&rx, &stop))
        .ok()?;
    Some((
        Feed {
            tx,
            batch: RefCell::new(Vec::with_capacity(BATCH)),
        },
        Early {
            cancel,
            thread: Mutex::new(Some(thread)),
        },
    ))
}

impl Early {
    /// The entry, when it holds exactly the rows of `support` (see the module
    /// doc). Waits for the thread; a second call answers `None`.
    pub(crate) fn take(&self, support: &SupportRows) -> Option<Compressed> {
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        let compressed = thread.join().ok()??;
        let ids = support.skeleton.get("buckets").and_then(Value::as_array)?;
        let same = compressed.buckets.len() == support.students.len()
            && ids.len() == support.students.len()
            && compressed
                .buckets
                .iter()
                .zip(ids.iter().zip(&support.students))
                .all(|((id, n), (bucket, rows))| {
                    bucket.get("id").and_then(Value::as_str) == Some(id) && *n == rows.len()
                });
        same.then_some(compressed)
    }
}

/// The entry being written.
struct Writing {
    sink: CsvSink<HashingWriter<ZipWriter<Cursor<Vec<u8>>>>>,
    buckets: Vec<(String, usize)>,
}

impl Writing {
    fn new() -> Option<Self> {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file(SUPPORT_LIST_FILE, options(DEFAULT_DEFLATE_LEVEL))
            .ok()?;
        let sink = CsvSink::new(HashingWriter::new(zip), support_list_columns()).ok()?;
        Some(Writing {
            sink,
            buckets: Vec::new(),
        })
    }

    /// `None`: the entry cannot be the serializer's (rows outside a bucket with
    /// a known id, or a write failed).
    fn rows(&mut self, rows: &[StudentRow]) -> Option<()> {
        let (id, n) = self.buckets.last_mut()?;
        for row in rows {
            self.sink.row(&support_row(id, row)).ok()?;
        }
        *n += rows.len();
        Some(())
    }

    fn finish(self) -> Option<Compressed> {
        let rows = self.sink.rows();
        let (zip, bytes, sha256) = self.sink.finish().ok()?.finish();
        Some(Compressed {
            zip: zip.finish().ok()?.into_inner(),
            rows,
            bytes,
            sha256,
            buckets: self.buckets,
        })
    }
}

/// The thread: the entry of the last `student_support` value, or `None`.
fn compress(rx: &Receiver<Message>, cancel: &AtomicBool) -> Option<Compressed> {
    let mut writing: Option<Writing> = None;
    for message in rx {
        if cancel.load(Ordering::Relaxed) {
            return None;
        }
        match message {
            Message::Start => writing = Writing::new(),
            Message::Bucket(id) => {
                writing = writing.and_then(|mut w| {
                    w.buckets.push((id?, 0));
                    Some(w)
                });
            }
            Message::Rows(rows) => {
                writing = writing.and_then(|mut w| w.rows(&rows).map(|()| w));
            }
        }
    }
    writing?.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ProjectionSet, SnapshotBundle, Telemetry, assemble_bundle};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    /// The example vector's bundle, as `assemble` prints it.
    fn example_text() -> std::result::Result<String, Box<dyn std::error::Error>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/vectors/dashboard/example");
        let bundle = assemble_bundle(
            &ProjectionSet::instructor(),
            &std::fs::read_to_string(dir.join("scope.json"))?,
            &std::fs::read_to_string(dir.join("oracles.json"))?,
            None,
            &Telemetry::none(),
        )?;
        Ok(bundle.to_json_string()?)
    }

    /// The entry compressed while `text` was read for export, if it is taken.
    fn taken(text: &str) -> std::result::Result<Option<Compressed>, Box<dyn std::error::Error>> {
        let bundle = SnapshotBundle::from_reader_for_export(text.as_bytes())?;
        let typed = bundle.typed.as_ref().ok_or("read for export")?;
        let support = typed.support.as_ref().ok_or("rows held typed")?;
        Ok(typed.early.as_ref().ok_or("a thread")?.take(support))
    }

    /// The bundle `assemble` prints: the entry is taken, and its CSV is the
    /// serializer's (the archive tests compare the whole ZIP).
    #[test]
    fn the_entry_of_an_assembled_bundle_is_taken() -> TestResult {
        let text = example_text()?;
        let entry = taken(&text)?.ok_or("the entry is taken")?;
        let whole = SnapshotBundle::from_json_str(&text)?;
        let spec = crate::export::Registry::instructor()
            .dataset_spec(SUPPORT_LIST_FILE.trim_end_matches(".csv"))?
            .clone();
        let ctx = crate::export::ExportContext::new(&whole);
        let expected = super::super::archive::write_dataset(&spec, &ctx, std::io::sink())?;
        assert!(expected.0 > 0, "the example has students");
        assert_eq!((entry.rows, entry.bytes, entry.sha256), expected);
        Ok(())
    }

    /// A bucket with no id read before its students, or a bucket's students
    /// given twice: the entry is not the serializer's and is not taken.
    #[test]
    fn an_entry_of_other_rows_is_not_taken() -> TestResult {
        let text = example_text()?;
        let at = text.find("\"buckets\": [").ok_or("buckets")?;
        let (head, tail) = text.split_at(at);
        let twice = format!(
            "{head}{}",
            tail.replacen("\"students\": [", "\"students\": [], \"students\": [", 1)
        );
        assert!(taken(&twice)?.is_none(), "students twice");
        let no_id = format!("{head}{}", tail.replacen("\"id\": ", "\"id_\": ", 1));
        assert!(taken(&no_id)?.is_none(), "no id before the students");
        Ok(())
    }
}
