//! The sample pack: read back exactly as `pack-expected.json`, rewritten byte for
//! byte, appended to without touching old chunks.

use std::path::{Path, PathBuf};

use exchange_sync::manifest::{Manifest, ManifestFile};
use exchange_sync::pack::{PackEntry, PackReader, PackWriter, chunk_files};

type TestResult = Result<(), Box<dyn std::error::Error>>;

pub fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/vectors/exchange/pack/fabric-interop-sample")
}

fn now() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-22 03:00:00 UTC)
}

#[test]
fn sample_pack_reads_as_expected() -> TestResult {
    let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        sample_dir().join("../../pack-expected.json"),
    )?)?;
    let reader = PackReader::open(&sample_dir())?;
    let mut got = Vec::new();
    let dir = sample_dir();
    reader.for_each_line(|line| {
        let parsed = line.parse(&dir)?;
        let r = parsed.record;
        assert_eq!(
            r.compute_hash(),
            r.content_sha256,
            "{} line {}",
            line.file,
            line.line
        );
        got.push(serde_json::json!({
            "file": line.file,
            "line": line.line,
            "exchange_id": r.exchange_id,
            "content_sha256": r.content_sha256.to_hex(),
            "natural_key": r.natural_key,
            "observed_at_utc": r.observed_at_text(),
        }));
        Ok(())
    })?;
    let want: Vec<serde_json::Value> = expected["records"]
        .as_array()
        .ok_or("records")?
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if r["observed_at_utc"].is_null() {
                r["observed_at_utc"] = serde_json::json!("");
            }
            r
        })
        .collect();
    assert_eq!(got, want);
    let files: Vec<String> = reader
        .files()
        .iter()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    let want_files: Vec<String> = expected["files"]
        .as_object()
        .ok_or("files")?
        .keys()
        .cloned()
        .collect();
    assert_eq!(files, want_files);
    Ok(())
}

/// Read every record of `dir` in order.
pub fn read_all(dir: &Path) -> Result<Vec<exchange_sync::ExchangeRecord>, exchange_sync::Error> {
    let reader = PackReader::open(dir)?;
    let mut out = Vec::new();
    reader.for_each_line(|line| {
        out.push(line.parse(dir)?.record);
        Ok(())
    })?;
    Ok(out)
}

#[test]
fn rewriting_the_sample_gives_the_same_bytes() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("copy");
    let manifest = Manifest::load(&sample_dir().join("manifest.json"))?;
    let mut writer = PackWriter::open(&out, manifest, 10, now())?;
    for record in read_all(&sample_dir())? {
        writer.write(PackEntry::from_record(&record))?;
    }
    writer.close()?;
    for rel in chunk_files(&sample_dir())? {
        assert_eq!(
            std::fs::read(sample_dir().join(&rel))?,
            std::fs::read(out.join(&rel))?,
            "{}",
            rel.display()
        );
    }
    assert_eq!(
        std::fs::read_to_string(sample_dir().join("index.jsonl"))?,
        std::fs::read_to_string(out.join("index.jsonl"))?
    );
    Ok(())
}

#[test]
fn appending_keeps_old_chunks_and_extends_the_index() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("ds");
    let manifest = Manifest::load(&sample_dir().join("manifest.json"))?;
    let records = read_all(&sample_dir())?;
    let mut writer = PackWriter::open(&out, manifest.clone(), 10, now())?;
    for r in &records[..20] {
        writer.write(PackEntry::from_record(r))?;
    }
    writer.close()?;
    let first = std::fs::read(out.join("records/2024/2024-01-15/chunk-0001.ndjson"))?;
    let mut writer = PackWriter::open(&out, manifest, 10, now())?;
    for r in &records[20..] {
        writer.write(PackEntry::from_record(r))?;
    }
    writer.close()?;
    assert_eq!(
        first,
        std::fs::read(out.join("records/2024/2024-01-15/chunk-0001.ndjson"))?
    );
    assert_eq!(read_all(&out)?, records);
    assert_eq!(
        std::fs::read_to_string(sample_dir().join("index.jsonl"))?,
        std::fs::read_to_string(out.join("index.jsonl"))?
    );
    Ok(())
}

/// A pack file read back: relative path and bytes.
pub type PackFile = (String, Vec<u8>);

/// Every file of a pack folder but the manifest (its `updated_at` is the clock),
/// with its bytes.
pub fn pack_bytes(dir: &Path) -> Result<Vec<PackFile>, Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry?;
        // The lock file (the writer's process id) is no part of the pack.
        if entry.file_type().is_file()
            && entry.file_name() != "manifest.json"
            && entry.file_name() != exchange_sync::pack::LOCK_FILE
        {
            let rel = entry
                .path()
                .strip_prefix(dir)?
                .to_string_lossy()
                .into_owned();
            files.push((rel, std::fs::read(entry.path())?));
        }
    }
    Ok(files)
}

/// The entries of `dir` but the pack's lock file (which stays: removing a lock
/// file others may wait on would let two writers in).
fn entries_but_lock(dir: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        if entry?.file_name() != exchange_sync::pack::LOCK_FILE {
            n += 1;
        }
    }
    Ok(n)
}

/// Rename this process's scratch files in `dir` as if a process that no longer
/// runs had left them (what a SIGKILL leaves).
fn as_if_killed(dir: &Path) -> TestResult {
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(&me) {
            std::fs::rename(dir.join(&name), dir.join(name.replace(&me, "4294967294")))?;
        }
    }
    Ok(())
}

/// A writer killed after some chunks but before its index: the next writer
/// removes those chunks and the scratch files, and the pack ends as if the killed
/// run had never happened (regression: the chunks stayed, unindexed, and the
/// re-run wrote the records a second time).
#[test]
fn a_killed_writers_chunks_are_removed_by_the_next_writer() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let manifest = Manifest::load(&sample_dir().join("manifest.json"))?;
    let records = read_all(&sample_dir())?;
    let want = tmp.path().join("want");
    let mut writer = PackWriter::open(&want, manifest.clone(), 10, now())?;
    for r in &records {
        writer.write(PackEntry::from_record(r))?;
    }
    writer.close()?;

    let out = tmp.path().join("ds");
    let mut killed = PackWriter::open(&out, manifest.clone(), 10, now())?;
    for r in &records[..25] {
        killed.write(PackEntry::from_record(r))?;
    }
    std::mem::forget(killed);
    // What a kill mid-chunk and mid-index leaves: their temporary files.
    let folder = out.join("records/2024/2024-01-15");
    std::fs::write(folder.join(".chunk-0003.ndjson.tmp-4294967294"), b"half")?;
    std::fs::write(out.join(".index.jsonl.tmp-4294967294"), b"half")?;
    std::fs::write(
        out.join(".chunks.pending-4294967294"),
        b"records/2024/2024-01-15/chunk-0003.ndjson\n",
    )?;
    assert_eq!(
        chunk_files(&out)?.len(),
        2,
        "two chunks written, not indexed"
    );
    as_if_killed(&out)?;
    // The next reader does not see them (and clears them, with the journal).
    assert!(PackReader::open(&out)?.files().is_empty());
    assert!(chunk_files(&out)?.is_empty());
    assert_eq!(entries_but_lock(&out)?, 1, "only records/ is left");
    let mut writer = PackWriter::open(&out, manifest, 10, now())?;
    for r in &records {
        writer.write(PackEntry::from_record(r))?;
    }
    writer.close()?;
    assert_eq!(pack_bytes(&out)?, pack_bytes(&want)?);
    assert_eq!(read_all(&out)?, records);
    Ok(())
}

/// A writer killed after its index was written keeps its chunks (they are the
/// pack now); only the journal goes.
#[test]
fn a_writer_killed_after_its_index_keeps_its_chunks() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let manifest = Manifest::load(&sample_dir().join("manifest.json"))?;
    let records = read_all(&sample_dir())?;
    let out = tmp.path().join("ds");
    let mut writer = PackWriter::open(&out, manifest.clone(), 10, now())?;
    for r in &records {
        writer.write(PackEntry::from_record(r))?;
    }
    writer.close()?;
    let before = pack_bytes(&out)?;
    // The journal of a run that died between its index and its manifest.
    let chunks: Vec<String> = chunk_files(&out)?
        .iter()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    std::fs::write(out.join(".chunks.pending-4294967294"), chunks.join("\n"))?;
    PackWriter::open(&out, manifest, 10, now())?.close()?;
    assert_eq!(pack_bytes(&out)?, before);
    Ok(())
}

/// A writer dropped without `close` (a failed export) removes the chunks it wrote.
#[test]
fn a_dropped_writer_removes_its_chunks() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let manifest = Manifest::load(&sample_dir().join("manifest.json"))?;
    let records = read_all(&sample_dir())?;
    let out = tmp.path().join("ds");
    let mut writer = PackWriter::open(&out, manifest, 10, now())?;
    for r in &records[..25] {
        writer.write(PackEntry::from_record(r))?;
    }
    drop(writer);
    assert!(chunk_files(&out)?.is_empty());
    assert_eq!(entries_but_lock(&out)?, 1, "only records/ is left");
    Ok(())
}
