//! End-to-end tests of `fabric exchange`: the real binary, a real SQLite store,
//! the sample pack and archives of `tests/vectors/exchange`.

use std::path::{Path, PathBuf};

use crate::common::{copy_dir, fabric, vectors};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn sample() -> PathBuf {
    vectors().join("exchange/pack/fabric-interop-sample")
}

/// Run `fabric --db DB exchange ARGS --json` and parse stdout; returns (code, json).
fn run_json(
    home: &Path,
    args: &[&str],
) -> Result<(i32, serde_json::Value), Box<dyn std::error::Error>> {
    let db = home.join("fabric.db");
    let out = fabric(home)
        .arg("--db")
        .arg(&db)
        .arg("--json")
        .arg("exchange")
        .args(args)
        .output()?;
    let code = out.status.code().unwrap_or(-1);
    let text = String::from_utf8(out.stdout)?;
    let value = if text.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text)
            .map_err(|e| format!("{e}: {text} / {}", String::from_utf8_lossy(&out.stderr)))?
    };
    Ok((code, value))
}

fn counts(v: &serde_json::Value) -> (u64, u64, u64, u64) {
    (
        v["json_to_sql"]["inserted"].as_u64().unwrap_or(99),
        v["json_to_sql"]["updated"].as_u64().unwrap_or(99),
        v["json_to_sql"]["skipped"].as_u64().unwrap_or(99),
        v["sql_to_json"]["inserted"].as_u64().unwrap_or(99),
    )
}

fn redact_times(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let l = if line.trim_start().starts_with("Duration:") {
            "  Duration: [duration]".to_owned()
        } else {
            line.to_owned()
        };
        out.push_str(&l);
        out.push('\n');
    }
    out
}

#[test]
fn sample_pack_imports_then_a_second_sync_changes_nothing() -> TestResult {
    let home = tempfile::tempdir()?;
    let ds = home.path().join("ds");
    copy_dir(&sample(), &ds)?;
    let manifest = ds.join("manifest.json");
    let m = manifest.to_str().ok_or("path")?;
    let (code, dry) = run_json(home.path(), &["import", "--manifest", m, "--dry-run"])?;
    assert_eq!(code, 0);
    let (code, real) = run_json(home.path(), &["import", "--manifest", m])?;
    assert_eq!(code, 0);
    assert_eq!(counts(&dry), counts(&real), "dry run and real run agree");
    assert_eq!(real["json_record_count"], 51);
    assert_eq!(real["sql_record_count"], 18);
    let (code, second) = run_json(home.path(), &["sync", "--manifest", m])?;
    assert_eq!(code, 0);
    assert_eq!(counts(&second), (0, 0, 51, 0));
    let (_, third) = run_json(home.path(), &["sync", "--manifest", m])?;
    assert_eq!(counts(&third), (0, 0, 51, 0));
    // The pack was not touched by those syncs.
    let (code, verify) = run_json(home.path(), &["verify", "--manifest", m])?;
    assert_eq!(code, 0, "{verify}");
    Ok(())
}

/// The exchange commands check each page they read (the default check policy,
/// see crates/exchange-sync/README.md): a damaged file is still refused, exit 3,
/// naming the file, and nothing is written.
#[test]
fn a_damaged_store_is_refused_with_exit_3() -> TestResult {
    let home = tempfile::tempdir()?;
    let ds = home.path().join("ds");
    copy_dir(&sample(), &ds)?;
    let manifest = ds.join("manifest.json");
    let m = manifest.to_str().ok_or("path")?;
    let (code, _) = run_json(home.path(), &["import", "--manifest", m])?;
    assert_eq!(code, 0);
    // Break the page-type byte of every B-tree page after the first.
    let db = home.path().join("fabric.db");
    let mut bytes = std::fs::read(&db)?;
    let page = 4096;
    let mut at = page;
    while at < bytes.len() {
        if let Some(b) = bytes.get_mut(at) {
            *b = 0x07;
        }
        at += page;
    }
    std::fs::write(&db, &bytes)?;
    for command in ["import", "sync", "export"] {
        let out = fabric(home.path())
            .arg("--db")
            .arg(&db)
            .arg("exchange")
            .args([command, "--manifest", m])
            .output()?;
        assert_eq!(out.status.code(), Some(3), "{command}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("fabric.db"),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(std::fs::read(&db)?, bytes, "nothing was written");
    Ok(())
}

#[test]
fn export_into_a_fresh_pack_keeps_every_hash() -> TestResult {
    let home = tempfile::tempdir()?;
    let m = sample().join("manifest.json");
    let (code, _) = run_json(
        home.path(),
        &["import", "--manifest", m.to_str().ok_or("path")?],
    )?;
    assert_eq!(code, 0);
    let out = home.path().join("packs");
    let (code, _) = run_json(
        home.path(),
        &[
            "init",
            "--name",
            "copy",
            "--source",
            "example-api",
            "--entity",
            "page",
            "--type",
            "http",
            "--out",
            out.to_str().ok_or("path")?,
        ],
    )?;
    assert_eq!(code, 0);
    let copy = out.join("copy/manifest.json");
    let c = copy.to_str().ok_or("path")?;
    let (code, exported) = run_json(home.path(), &["export", "--manifest", c])?;
    assert_eq!(code, 0);
    assert_eq!(exported["sql_to_json"]["inserted"], 18);
    let (code, verify) = run_json(home.path(), &["verify", "--manifest", c])?;
    assert_eq!(code, 0, "{verify}");
    assert_eq!(verify["records"], 18);
    // Exporting again appends nothing.
    let (_, again) = run_json(home.path(), &["export", "--manifest", c])?;
    assert_eq!(again["sql_to_json"]["inserted"], 0);
    assert_eq!(again["sql_to_json"]["skipped"], 18);
    Ok(())
}

#[test]
fn both_vector_archives_unpack_and_import() -> TestResult {
    let home = tempfile::tempdir()?;
    let out = home.path().join("unpacked");
    let plain = vectors().join("exchange/pack/fabric-interop-sample.zip");
    let (code, v) = run_json(
        home.path(),
        &[
            "unpack",
            "--in",
            plain.to_str().ok_or("path")?,
            "--out",
            out.to_str().ok_or("path")?,
        ],
    )?;
    assert_eq!(code, 0);
    assert!(
        v["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("fabric-interop-sample"))
    );
    let key = std::fs::read_to_string(vectors().join("exchange/TEST-KEY.txt"))?;
    let enc = vectors().join("exchange/pack/fabric-interop-sample-encrypted.zip.enc");
    let out2 = home.path().join("unpacked2");
    let status = fabric(home.path())
        .env(
            "SNAPSHOT_ENCRYPTION_KEY",
            key.trim_end_matches(['\n', '\r']),
        )
        .args(["exchange", "unpack", "--in"])
        .arg(&enc)
        .arg("--out")
        .arg(&out2)
        .output()?;
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    for dir in [&out, &out2] {
        let m = dir.join("fabric-interop-sample/manifest.json");
        let (code, report) = run_json(
            home.path(),
            &["verify", "--manifest", m.to_str().ok_or("path")?],
        )?;
        assert_eq!(code, 0, "{report}");
        assert_eq!(report["records"], 51);
    }
    let m = out2.join("fabric-interop-sample/manifest.json");
    let (code, imported) = run_json(
        home.path(),
        &["import", "--manifest", m.to_str().ok_or("path")?],
    )?;
    assert_eq!(code, 0);
    assert_eq!(imported["json_record_count"], 51);
    Ok(())
}

#[test]
fn a_wrong_key_is_exit_2_and_writes_nothing() -> TestResult {
    let home = tempfile::tempdir()?;
    let enc = vectors().join("exchange/pack/fabric-interop-sample-encrypted.zip.enc");
    let out = home.path().join("out");
    let result = fabric(home.path())
        .env("SNAPSHOT_ENCRYPTION_KEY", "not the key")
        .args(["exchange", "unpack", "--in"])
        .arg(&enc)
        .arg("--out")
        .arg(&out)
        .output()?;
    assert_eq!(result.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&result.stderr).contains("wrong key or corrupted archive"));
    assert!(!out.exists());
    Ok(())
}

#[test]
fn conflicts_under_fail_abort_with_nothing_written() -> TestResult {
    let home = tempfile::tempdir()?;
    let m = sample().join("manifest.json");
    let m = m.to_str().ok_or("path")?;
    let (code, report) = run_json(
        home.path(),
        &["import", "--manifest", m, "--conflict", "fail"],
    )?;
    assert_eq!(code, 1);
    assert!(!report["errors"].as_array().ok_or("errors")?.is_empty());
    assert!(
        report["conflicts"]
            .as_array()
            .ok_or("conflicts")?
            .iter()
            .all(|c| c["resolution"] == "failed")
    );
    // Nothing was written: a dry run still sees an empty mirror.
    let (_, dry) = run_json(
        home.path(),
        &[
            "sync",
            "--manifest",
            m,
            "--direction",
            "sql_to_json",
            "--dry-run",
        ],
    )?;
    assert_eq!(dry["sql_record_count"], 0);
    Ok(())
}

fn bad_dataset(home: &Path, line: &str) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let ds = home.join("bad");
    copy_dir(&sample(), &ds)?;
    let chunk = ds.join("records/2024/2024-01-15/chunk-0002.ndjson");
    let mut text = std::fs::read_to_string(&chunk)?;
    text.push_str(line);
    text.push('\n');
    std::fs::write(&chunk, text)?;
    Ok(ds.join("manifest.json"))
}

#[test]
fn a_malformed_line_names_file_and_line_and_writes_nothing() -> TestResult {
    let home = tempfile::tempdir()?;
    let m = bad_dataset(home.path(), "{not json")?;
    let out = fabric(home.path())
        .arg("--db")
        .arg(home.path().join("fabric.db"))
        .args(["exchange", "import", "--manifest"])
        .arg(&m)
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chunk-0002.ndjson line 11"), "{err}");
    // Nothing was written: not even the store the failed import created.
    assert!(!home.path().join("fabric.db").exists());
    let (code, lenient) = run_json(
        home.path(),
        &[
            "import",
            "--manifest",
            m.to_str().ok_or("path")?,
            "--lenient",
        ],
    )?;
    assert_eq!(code, 0);
    assert_eq!(lenient["warnings"].as_array().map(Vec::len), Some(1));
    Ok(())
}

#[test]
fn a_hash_mismatch_or_foreign_scope_is_refused() -> TestResult {
    let first =
        std::fs::read_to_string(sample().join("records/2024/2024-01-15/chunk-0001.ndjson"))?;
    let line = first.lines().next().ok_or("line")?;
    // (a field changed, the claimed hash changed, what the refusal names)
    for (field, hash, named) in [
        (("\"rev\": 1000", "\"rev\": 1001"), "7513270e", "7513270e"),
        (
            ("example-api", "other-api"),
            "8513270e",
            "outside the manifest scope",
        ),
    ] {
        let home = tempfile::tempdir()?;
        let edited = line.replace(field.0, field.1).replace("6513270e", hash);
        assert_ne!(edited, line);
        let m = bad_dataset(home.path(), &edited)?;
        let out = fabric(home.path())
            .arg("--db")
            .arg(home.path().join("fabric.db"))
            .args(["exchange", "import", "--manifest"])
            .arg(&m)
            .output()?;
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains(named));
    }
    Ok(())
}

const ADD_INPUT: &str = r#"{"exchange_id": "00000000-0000-4000-8000-000000000001", "natural_key": "k1", "request": {"url": "https://x.example/a?api_key=SECRET123&x=1", "headers": {"Authorization": "Bearer abc", "Accept": "*/*"}}, "response": {"n": 1.0, "big": 18446744073709551616}, "observed_at_utc": "2024-03-01T10:00:00Z", "provenance": {"runner_name": "t", "host": "h", "git_sha": "abc", "connector_version": "1"}}
{"exchange_id": "00000000-0000-4000-8000-000000000002", "natural_key": "k2", "request": null, "response": {"text": "plain"}, "observed_at_utc": "2024-03-02T10:00:00.5+00:00", "provenance": {"runner_name": "t", "host": "h", "git_sha": "abc", "connector_version": "1"}}
"#;

fn init_add(home: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    crate::common::dataset_with(home, "mine", ADD_INPUT)
}

#[test]
fn add_redacts_hashes_and_lays_out_the_pack() -> TestResult {
    let home = tempfile::tempdir()?;
    let m = init_add(home.path())?;
    let dir = m.parent().ok_or("dir")?;
    let chunk = std::fs::read_to_string(dir.join("records/2024/2024-03-01/chunk-0001.ndjson"))?;
    insta::assert_snapshot!("add_chunk", chunk);
    insta::assert_snapshot!(
        "add_index",
        std::fs::read_to_string(dir.join("index.jsonl"))?
    );
    let manifest = std::fs::read_to_string(&m)?;
    let manifest: String = manifest
        .lines()
        .map(|l| {
            if l.contains("\"created_at\"") || l.contains("\"updated_at\"") {
                "  [time]".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("manifest", manifest);
    let out = fabric(home.path())
        .args(["exchange", "verify", "--manifest"])
        .arg(&m)
        .output()?;
    assert!(out.status.success());
    insta::assert_snapshot!("verify_ok", String::from_utf8(out.stdout)?);
    Ok(())
}

#[test]
fn sync_reports_as_text_and_json() -> TestResult {
    let home = tempfile::tempdir()?;
    let m = init_add(home.path())?;
    let db = home.path().join("fabric.db");
    let out = fabric(home.path())
        .arg("--db")
        .arg(&db)
        .args(["exchange", "sync", "--manifest"])
        .arg(&m)
        .output()?;
    assert!(out.status.success());
    insta::assert_snapshot!("sync_text", redact_times(&String::from_utf8(out.stdout)?));
    // Change one record's content (same natural key) and sync again: a conflict.
    let input = home.path().join("in2.ndjson");
    std::fs::write(
        &input,
        ADD_INPUT
            .lines()
            .next()
            .ok_or("line")?
            .replace("\"n\": 1.0", "\"n\": 2.0")
            .replace("0001\"", "0003\"")
            .replace("10:00:00Z", "11:00:00Z"),
    )?;
    fabric(home.path())
        .args(["exchange", "add", "--manifest"])
        .arg(&m)
        .arg(&input)
        .assert()
        .success();
    let out = fabric(home.path())
        .arg("--db")
        .arg(&db)
        .arg("--json")
        .args(["exchange", "sync", "--manifest"])
        .arg(&m)
        .output()?;
    assert!(out.status.success());
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    v["started_at"] = "[time]".into();
    v["completed_at"] = "[time]".into();
    insta::assert_snapshot!("sync_json", serde_json::to_string_pretty(&v)?);
    Ok(())
}

#[test]
fn verify_reports_a_tampered_pack() -> TestResult {
    let home = tempfile::tempdir()?;
    let m = init_add(home.path())?;
    let chunk = m
        .parent()
        .ok_or("dir")?
        .join("records/2024/2024-03-01/chunk-0001.ndjson");
    let text = std::fs::read_to_string(&chunk)?.replace("plain", "changed");
    std::fs::write(&chunk, text)?;
    let out = fabric(home.path())
        .args(["exchange", "verify", "--manifest"])
        .arg(&m)
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("verify_failed", String::from_utf8(out.stdout)?);
    Ok(())
}

#[test]
fn add_refuses_nan_and_infinity() -> TestResult {
    let home = tempfile::tempdir()?;
    let m = init_add(home.path())?;
    let input = home.path().join("nan.ndjson");
    std::fs::write(
        &input,
        "{\"natural_key\": \"x\", \"response\": {\"v\": NaN}}\n{\"natural_key\": \"y\", \"response\": {\"v\": 1e999}}\n",
    )?;
    let out = fabric(home.path())
        .args(["exchange", "add", "--manifest"])
        .arg(&m)
        .arg(&input)
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
    Ok(())
}

/// A time whose UTC form is past year 9999 (its last hour at a negative
/// offset) is refused naming the line, in the fast reader and in the full
/// parse alike; `add` once panicked on it.
#[test]
fn add_refuses_a_time_with_no_utc_form() -> TestResult {
    let home = tempfile::tempdir()?;
    let m = init_add(home.path())?;
    let before = std::fs::read_to_string(m.parent().ok_or("dir")?.join("index.jsonl"))?;
    for (i, line) in [
        // The lean reader's path.
        "{\"natural_key\": \"late\", \"response\": {\"v\": 1}, \"observed_at_utc\": \"9999-12-31T23:30:00-01:00\"}",
        // A duplicate key sends the line to the full parse.
        "{\"natural_key\": \"late\", \"natural_key\": \"late\", \"observed_at_utc\": \"9999-12-31T23:30:00-01:00\"}",
    ]
    .into_iter()
    .enumerate()
    {
        let input = home.path().join(format!("late{i}.ndjson"));
        std::fs::write(&input, format!("{line}\n"))?;
        let out = fabric(home.path())
            .args(["exchange", "add", "--manifest"])
            .arg(&m)
            .arg(&input)
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{i}: {stderr}");
        assert!(stderr.contains("line 1"), "{i}: {stderr}");
        assert!(!stderr.contains("panicked"), "{i}: {stderr}");
    }
    let after = std::fs::read_to_string(m.parent().ok_or("dir")?.join("index.jsonl"))?;
    assert_eq!(before, after, "the pack changed");
    Ok(())
}

#[test]
fn pack_is_deterministic_and_round_trips() -> TestResult {
    let home = tempfile::tempdir()?;
    let m = sample().join("manifest.json");
    let a = home.path().join("a.zip");
    let b = home.path().join("b.zip");
    for out in [&a, &b] {
        fabric(home.path())
            .args(["exchange", "pack", "--manifest"])
            .arg(&m)
            .arg("--out")
            .arg(out)
            .assert()
            .success();
    }
    assert_eq!(std::fs::read(&a)?, std::fs::read(&b)?);
    let enc = home.path().join("c.zip.enc");
    fabric(home.path())
        .env("SNAPSHOT_ENCRYPTION_KEY", "pass phrase")
        .args(["exchange", "pack", "--encrypt", "--manifest"])
        .arg(&m)
        .arg("--out")
        .arg(&enc)
        .assert()
        .success();
    assert!(enc.exists());
    assert!(
        !home.path().join("c.zip").exists(),
        "the plaintext zip never reaches the disk"
    );
    let out = home.path().join("u");
    fabric(home.path())
        .env("SNAPSHOT_ENCRYPTION_KEY", "pass phrase")
        .args(["exchange", "unpack", "--in"])
        .arg(home.path().join("c.zip.enc"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    for rel in [
        "manifest.json",
        "index.jsonl",
        "records/2024/2024-01-16/chunk-0006.ndjson",
    ] {
        assert_eq!(
            std::fs::read(sample().join(rel))?,
            std::fs::read(out.join("fabric-interop-sample").join(rel))?
        );
    }
    // Unpacking again into the same place is refused.
    let again = fabric(home.path())
        .args(["exchange", "unpack", "--in"])
        .arg(&a)
        .arg("--out")
        .arg(&out)
        .output()?;
    assert_eq!(again.status.code(), Some(2));
    Ok(())
}
