//! The in-memory read paths the fuzz targets drive (`fuzz/fuzz_targets/exchange_*`),
//! and every input the fuzzer found crashing, replayed from
//! `tests/fuzz-regressions/<target>/` as raw bytes.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use exchange_sync::archive::unpack_bytes;
use exchange_sync::crypto::{decrypt_with_iterations, encrypt_with_iterations};
use exchange_sync::manifest::Manifest;
use exchange_sync::pack::{IndexEntry, PackLine, read_index_from};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const KEY: &[u8] = b"fabric-interop-TEST-KEY-not-a-secret";

fn sample_dir() -> PathBuf {
    super::pack::sample_dir()
}

/// The crashing inputs saved for `target`, sorted by name.
fn regressions(target: &str) -> Result<Vec<(String, Vec<u8>)>, std::io::Error> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target);
    let mut out = Vec::new();
    if dir.is_dir() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            out.push((name.unwrap_or_default(), std::fs::read(&path)?));
        }
    }
    out.sort();
    Ok(out)
}

/// `read_index_from` over bytes: the entries and the number of skipped lines.
fn read_index_bytes(bytes: &[u8]) -> Result<(Vec<IndexEntry>, usize), exchange_sync::Error> {
    let mut entries = Vec::new();
    let mut bad = 0;
    read_index_from(Cursor::new(bytes), Path::new("index.jsonl"), |_, e| {
        match e {
            Ok(e) => entries.push(e),
            Err(_) => bad += 1,
        }
        Ok(())
    })?;
    Ok((entries, bad))
}

#[test]
fn index_from_bytes_reads_the_sample_and_skips_bad_lines() -> TestResult {
    let text = std::fs::read(sample_dir().join("index.jsonl"))?;
    let (entries, bad) = read_index_bytes(&text)?;
    assert_eq!((entries.len(), bad), (50, 0));
    // A line that is not UTF-8 is skipped like one that is not JSON (spec §3.3),
    // and the lines after it are still read.
    let mut broken = b"not json\n\xff\xfe\n\r\n".to_vec();
    broken.extend_from_slice(&text);
    let (again, bad) = read_index_bytes(&broken)?;
    assert_eq!((again, bad), (entries, 2));
    Ok(())
}

#[test]
fn chunk_line_from_bytes_cuts_line_ends_and_skips_blanks() -> TestResult {
    assert!(PackLine::from_bytes("c.ndjson", 1, b" \t\r\n".to_vec())?.is_none());
    assert!(PackLine::from_bytes("c.ndjson", 1, b"{\xff}\n".to_vec()).is_err());
    let chunk =
        std::fs::read_to_string(sample_dir().join("records/2024/2024-01-15/chunk-0001.ndjson"))?;
    let first = chunk.lines().next().unwrap_or_default();
    let line = PackLine::from_bytes("c.ndjson", 7, format!("{first}\r\n").into_bytes())?
        .ok_or("a record line is not blank")?;
    assert_eq!((line.line, line.text.as_str()), (7, first));
    let parsed = line.parse(&sample_dir())?;
    assert_eq!(parsed.record.compute_hash(), parsed.record.content_sha256);
    Ok(())
}

#[test]
fn encrypted_archive_unpacks_from_bytes_with_a_low_iteration_count() -> TestResult {
    let zip = std::fs::read(sample_dir().with_extension("zip"))?;
    let sealed = encrypt_with_iterations(KEY, &zip, 1).ok_or("encrypt")?;
    assert!(
        decrypt_with_iterations(KEY, &sealed, 2).is_none(),
        "count is part of the key"
    );
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("out");
    let target = unpack_bytes(sealed, Path::new("x.zip.enc"), &out, Some(KEY), 1, false)?;
    assert_eq!(target, out.join("fabric-interop-sample"));
    let manifest = Manifest::load(&target.join("manifest.json"))?;
    assert_eq!(manifest.dataset_name, "fabric-interop-sample");
    Ok(())
}
