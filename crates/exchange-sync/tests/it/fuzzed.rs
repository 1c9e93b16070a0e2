//! The in-memory read paths the fuzz targets drive (`fuzz/fuzz_targets/exchange_*`),
//! and the inputs saved under `tests/fuzz-regressions/<target>/` (hand-picked edge
//! cases, and every input the fuzzer found crashing), replayed as raw bytes.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use exchange_sync::archive::unpack_bytes;
use exchange_sync::crypto::{decrypt_with_iterations, encrypt_with_iterations};
use exchange_sync::manifest::{Manifest, ManifestFile};
use exchange_sync::pack::{IndexEntry, PackLine, read_index_from};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const KEY: &[u8] = b"fabric-interop-TEST-KEY-not-a-secret";

fn sample_dir() -> PathBuf {
    super::pack::sample_dir()
}

/// One saved input: its name and bytes.
type Input = (String, Vec<u8>);

/// The inputs saved for `target`, sorted by name. The folder must exist and hold at
/// least one file: a renamed or emptied folder would make the replay prove nothing.
fn regressions(target: &str) -> Result<Vec<Input>, Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: the saved fuzz inputs of {target}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        out.push((name.unwrap_or_default(), std::fs::read(&path)?));
    }
    if out.is_empty() {
        return Err(format!("{}: no saved fuzz inputs for {target}", dir.display()).into());
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
    // A line that is not UTF-8 is skipped like one that is not JSON,
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
    let target = unpack_bytes(
        sealed,
        Path::new("x.zip.enc"),
        &out,
        Some(KEY),
        1,
        false,
        &Default::default(),
        &mut |_, _| {},
    )?;
    assert_eq!(target, out.join("fabric-interop-sample"));
    let manifest = Manifest::load(&target.join("manifest.json"))?;
    assert_eq!(manifest.dataset_name, "fabric-interop-sample");
    Ok(())
}

/// The fuzz target `exchange_manifest`'s property: an accepted manifest round-trips.
fn check_manifest(bytes: &[u8]) -> TestResult {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(());
    };
    let path = Path::new("manifest.json");
    if let Ok(m) = Manifest::parse(text, path) {
        let written = m.to_text();
        let back = Manifest::parse(&written, path)?;
        assert_eq!(back, m);
        assert_eq!(back.to_text(), written);
    }
    Ok(())
}

/// The fuzz target `exchange_index`'s property: entries round-trip, alone and as a file.
fn check_index(bytes: &[u8]) -> TestResult {
    let (entries, _) = read_index_bytes(bytes)?;
    let mut file = String::new();
    for e in &entries {
        assert_eq!(IndexEntry::parse(&e.to_line()).as_ref(), Some(e));
        file.push_str(&e.to_line());
        file.push('\n');
    }
    assert_eq!(read_index_bytes(file.as_bytes())?, (entries, 0));
    Ok(())
}

/// The fuzz target `exchange_chunk_line`'s property: stable hash, and one write
/// gives a fixed point with the same hash.
fn check_chunk_line(bytes: &[u8]) -> TestResult {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| i + 1);
    let read = |b: Vec<u8>| {
        PackLine::from_bytes("c.ndjson", 1, b)
            .ok()
            .flatten()
            .and_then(|l| l.parse(Path::new(".")).ok())
    };
    let Some(first) = read(bytes[..end].to_vec()) else {
        return Ok(());
    };
    let hash = first.record.compute_hash();
    assert_eq!(first.record.compute_hash(), hash);
    let line = first.record.to_line();
    let second = read(line.clone().into_bytes()).ok_or("a written line reads back")?;
    assert_eq!(second.record.compute_hash(), hash);
    assert_eq!(second.record.to_line(), line);
    Ok(())
}

/// The fuzz target `exchange_unpack`'s property: no panic, nothing outside `out`,
/// success lands in `out/<dataset_name>`, failure leaves `out` empty.
fn check_unpack(bytes: &[u8]) -> TestResult {
    let Some((&mode, rest)) = bytes.split_first() else {
        return Ok(());
    };
    let raw = if mode & 1 == 1 {
        encrypt_with_iterations(KEY, rest, 1).ok_or("encrypt")?
    } else {
        rest.to_vec()
    };
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("out");
    let result = unpack_bytes(
        raw,
        Path::new("fuzz.zip"),
        &out,
        Some(KEY),
        1,
        false,
        &Default::default(),
        &mut |_, _| {},
    );
    let top: Vec<_> = std::fs::read_dir(tmp.path())?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    assert!(top.iter().all(|p| p == &out), "written beside out: {top:?}");
    let inside: Vec<_> = match std::fs::read_dir(&out) {
        Ok(d) => d.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?,
        Err(_) => Vec::new(),
    };
    match result {
        Ok(target) => assert_eq!(inside, vec![target]),
        Err(_) => assert!(inside.is_empty(), "a failed unpack left {inside:?}"),
    }
    Ok(())
}

/// The saved crash inputs of `target` plus its vector seeds, through `check`.
fn replay(target: &str, seeds: &[PathBuf], check: fn(&[u8]) -> TestResult) -> TestResult {
    let mut inputs = regressions(target)?;
    for seed in seeds {
        inputs.push((seed.display().to_string(), std::fs::read(seed)?));
    }
    for (name, bytes) in inputs {
        check(&bytes).map_err(|e| format!("{target}/{name}: {e}"))?;
    }
    Ok(())
}

#[test]
fn fuzz_inputs_replay_for_the_manifest() -> TestResult {
    replay(
        "exchange_manifest",
        &[sample_dir().join("manifest.json")],
        check_manifest,
    )
}

#[test]
fn fuzz_inputs_replay_for_the_index() -> TestResult {
    replay(
        "exchange_index",
        &[sample_dir().join("index.jsonl")],
        check_index,
    )
}

#[test]
fn fuzz_inputs_replay_for_chunk_lines() -> TestResult {
    let chunk = sample_dir().join("records/2024/2024-01-15/chunk-0001.ndjson");
    replay("exchange_chunk_line", &[chunk], check_chunk_line)
}

#[test]
fn fuzz_inputs_replay_for_unpack() -> TestResult {
    let mut inputs = regressions("exchange_unpack")?;
    let zip = std::fs::read(sample_dir().with_extension("zip"))?;
    for mode in [0u8, 1] {
        let mut seed = vec![mode];
        seed.extend_from_slice(&zip);
        inputs.push((format!("sample-{mode}"), seed));
    }
    for (name, bytes) in inputs {
        check_unpack(&bytes).map_err(|e| format!("exchange_unpack/{name}: {e}"))?;
    }
    Ok(())
}
