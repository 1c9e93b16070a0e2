//! The ingest batch: file order, all or nothing, `keep_going`, and an early stop
//! with the channel to the writer full.

use std::path::{Path, PathBuf};

use fabric_core::ingest::batch::BatchPolicy;
use fabric_core::timestamp::Timestamp;

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn job(id: &str, status: &str) -> String {
    format!(
        r#"{{"job_id": "{id}", "final_status": "{status}", "started_at": "2025-03-01T08:00:00Z", "clips": []}}"#
    )
}

fn options(keep_going: bool) -> Result<IngestOptions, Box<dyn std::error::Error>> {
    Ok(IngestOptions {
        policy: BatchPolicy { keep_going },
        ingested_at: Timestamp::parse("2025-03-02T00:00:00Z")?,
        cwd: "/srv".into(),
    })
}

/// `n` job files under `dir/jobs/`, named so that their batch order is their
/// number; the file numbered `bad` (if any) is not JSON.
fn corpus(dir: &Path, n: usize, bad: Option<usize>) -> std::io::Result<Vec<PathBuf>> {
    let folder = dir.join("jobs");
    std::fs::create_dir_all(&folder)?;
    for i in 0..n {
        let text = if Some(i) == bad {
            "{not json".to_owned()
        } else {
            job(&format!("j{i:05}"), "COMPLETED")
        };
        std::fs::write(folder.join(format!("{i:05}.json")), text)?;
    }
    Ok(collect_files(&[folder]).unwrap_or_default())
}

fn read(path: &Path) -> Result<Vec<u8>, std::io::Error> {
    std::fs::read(path)
}

fn stored(store: &Store) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut ids = Vec::new();
    store.fold_job_rows(|| (), |(), row| ids.push(row.job_id.clone()))?;
    Ok(ids)
}

/// More files than the channel holds: every job is stored, in file order, and a job
/// given twice counts once as inserted and once as replaced.
#[test]
fn a_batch_is_written_in_file_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut files = corpus(dir.path(), AHEAD + 7, None)?;
    files.push(files[0].clone());
    let mut store = Store::open(dir.path().join("f.db"))?;
    let mut seen = 0;
    let outcome = ingest(&mut store, &files, &options(false)?, read, || seen += 1)
        .map_err(|e| format!("{e:?}"))?;
    assert_eq!(seen, files.len());
    assert_eq!(outcome.files_read, files.len());
    assert_eq!(outcome.summary.inserted, AHEAD + 7);
    assert_eq!(outcome.summary.replaced, 1);
    assert!(outcome.rejected.is_empty());
    let ids = stored(&store)?;
    let mut expected: Vec<String> = (1..AHEAD + 7).map(|i| format!("j{i:05}")).collect();
    expected.push("j00000".into());
    assert_eq!(ids, expected);
    Ok(())
}

/// A bad file early in the batch aborts it while the pool has filled the
/// channel: nothing is written, the error names the file, and the run
/// ends (the parser blocked on the full channel is released).
#[test]
fn a_bad_file_aborts_the_batch_and_writes_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let files = corpus(dir.path(), 2 * AHEAD, Some(3))?;
    let mut store = Store::open(dir.path().join("f.db"))?;
    let result = ingest(&mut store, &files, &options(false)?, read, || {});
    match result {
        Err(IngestError::File(Rejected {
            file,
            error: FileError::Parse(_),
        })) => assert_eq!(file, files[3]),
        other => return Err(format!("expected the bad file, got {other:?}").into()),
    }
    assert_eq!(stored(&store)?, Vec::<String>::new());
    Ok(())
}

/// Under `keep_going` the bad files are rejected in file order with their
/// error (a read error as the reader gave it) and the others stored.
#[test]
fn keep_going_rejects_bad_files_and_stores_the_rest() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut files = corpus(dir.path(), 10, Some(4))?;
    files.insert(2, dir.path().join("missing.json"));
    let mut store = Store::open(dir.path().join("f.db"))?;
    let outcome =
        ingest(&mut store, &files, &options(true)?, read, || {}).map_err(|e| format!("{e:?}"))?;
    assert_eq!(outcome.summary.inserted, 9);
    let rejected: Vec<(&Path, bool)> = outcome
        .rejected
        .iter()
        .map(|r| (r.file.as_path(), matches!(r.error, FileError::Read(_))))
        .collect();
    assert_eq!(
        rejected,
        [(files[2].as_path(), true), (files[5].as_path(), false)]
    );
    assert_eq!(stored(&store)?.len(), 9);
    Ok(())
}

/// A folder's files come in batch order; a file given by name keeps its place.
#[test]
fn collect_files_orders_folders_and_keeps_named_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    let folder = dir.path().join("r");
    std::fs::create_dir_all(folder.join("a"))?;
    for name in ["b.json", "a.json", "a/z.json", "a/skip.txt"] {
        std::fs::write(folder.join(name), "{}")?;
    }
    let named = dir.path().join("first.json");
    std::fs::write(&named, "{}")?;
    let files = collect_files(&[named.clone(), folder.clone()])?;
    assert_eq!(
        files,
        [
            named,
            folder.join("a/z.json"),
            folder.join("a.json"),
            folder.join("b.json")
        ]
    );
    let missing = collect_files(&[dir.path().join("nope")]);
    assert!(matches!(missing, Err(UnreadablePath { .. })));
    Ok(())
}
