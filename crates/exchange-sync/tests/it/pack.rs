//! The sample pack: read back exactly as `pack-expected.json`, rewritten byte for
//! byte, appended to without touching old chunks.

use std::path::{Path, PathBuf};

use exchange_sync::manifest::Manifest;
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
