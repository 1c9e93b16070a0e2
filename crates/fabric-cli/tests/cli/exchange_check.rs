//! `fabric exchange check`: every record against the mirror's column limits, with
//! no connection and no store; and `import` refusing the same records (exit 2)
//! before it writes, so SQLite and SQL Server accept exactly the same packs.

use std::path::{Path, PathBuf};

use exchange_sync::ExchangeRecord;

use crate::common::fabric;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const GOOD: &str = r#"{"exchange_id": "00000000-0000-4000-8000-000000000001", "natural_key": "k1", "request": null, "response": {"n": 1}, "observed_at_utc": "2024-03-01T10:00:00Z", "provenance": {"runner_name": "t", "host": "h", "git_sha": "abc", "connector_version": "1"}}
"#;

/// A pack record (scope src/thing, type http) with `edit` applied to its JSON and
/// its hash recomputed, as one line.
fn line(edit: impl FnOnce(&mut serde_json::Value)) -> Result<String, Box<dyn std::error::Error>> {
    let mut v = serde_json::json!({
        "exchange_id": "00000000-0000-4000-8000-0000000000aa",
        "exchange_type": "http",
        "source_system": "src",
        "entity_type": "thing",
        "natural_key": "k",
        "request": null,
        "response": {"n": 2},
        "observed_at_utc": "2024-03-01T11:00:00+00:00",
        "provenance": null,
        "content_sha256": "0".repeat(64),
        "schema_version": 1,
        "tags": [],
        "redactions_applied": [],
        "response_ref": null
    });
    edit(&mut v);
    let mut record = ExchangeRecord::parse_line(&v.to_string())
        .map_err(|e| format!("{e:?}"))?
        .record;
    record.content_sha256 = record.compute_hash();
    Ok(record.to_line())
}

/// A dataset with one good record (added by `fabric exchange add`) and, appended
/// to its chunk, the lines `extra`.
fn pack(home: &Path, extra: &[String]) -> Result<PathBuf, Box<dyn std::error::Error>> {
    crate::common::dataset_with(home, "ds", GOOD)?;
    let out = home.join("packs");
    let m = out.join("ds/manifest.json");
    let chunk = out.join("ds/records/2024/2024-03-01/chunk-0001.ndjson");
    let mut text = std::fs::read_to_string(&chunk)?;
    for l in extra {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(&chunk, text)?;
    Ok(m)
}

/// One record past each limit, plus a lone surrogate the reader refuses.
fn bad_lines() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let id = |n: u32| format!("00000000-0000-4000-8000-{n:012x}");
    Ok(vec![
        line(|v| v["exchange_id"] = "not-a-uuid".into())?,
        line(|v| {
            v["exchange_id"] = id(3).into();
            v["natural_key"] = "k".repeat(600).into();
        })?,
        line(|v| {
            v["exchange_id"] = id(4).into();
            v["exchange_type"] = "t".repeat(60).into();
        })?,
        line(|v| {
            v["exchange_id"] = id(5).into();
            v["observed_at_utc"] = "0001-01-01T00:30:00+01:00".into();
        })?,
        line(|v| {
            v["exchange_id"] = id(6).into();
            v["natural_key"] = "k1 ".into();
        })?,
        // A lone surrogate cannot round-trip through NVARCHAR; the reader refuses it.
        line(|v| v["exchange_id"] = id(7).into())?.replace("\"k\"", "\"\\ud800\""),
        // Fits every limit exactly.
        line(|v| {
            v["exchange_id"] = id(8).into();
            v["natural_key"] = "😀".repeat(250).into();
            v["exchange_type"] = "t".repeat(50).into();
        })?,
    ])
}

#[test]
fn check_lists_every_refused_record_the_same_for_both_targets() -> TestResult {
    let home = tempfile::tempdir()?;
    let m = pack(home.path(), &bad_lines()?)?;
    let db = home.path().join("never.db");
    let mut texts = Vec::new();
    for target in [
        format!("sqlite://{}", db.display()),
        // A closed port and a password: check connects to nothing.
        "mssql://sa:hunter2@127.0.0.1:9/Holocron".to_owned(),
    ] {
        let out = fabric(home.path())
            .args(["exchange", "check", "--manifest"])
            .arg(&m)
            .args(["--target", &target])
            .assert()
            .code(1)
            .get_output()
            .clone();
        let text = String::from_utf8(out.stdout)?;
        assert!(!text.contains("hunter2"), "{text}");
        texts.push(text);
    }
    assert!(!db.exists(), "check created the store");
    let [sqlite, sqlserver] = &texts[..] else {
        return Err("two runs".into());
    };
    assert_eq!(
        sqlite.strip_prefix("sqlite "),
        sqlserver.strip_prefix("sqlserver "),
        "the two targets disagree"
    );
    insta::assert_snapshot!("exchange_check_text", sqlite);

    let out = fabric(home.path())
        .args(["--json", "exchange", "check", "--manifest"])
        .arg(&m)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    insta::assert_snapshot!("exchange_check_json", serde_json::to_string_pretty(&json)?);
    Ok(())
}

#[test]
fn check_passes_a_clean_pack() -> TestResult {
    let home = tempfile::tempdir()?;
    let m = pack(home.path(), &[])?;
    let out = fabric(home.path())
        .args(["exchange", "check", "--manifest"])
        .arg(&m)
        .args(["--target", "mssql://sa:x@127.0.0.1:9/Holocron"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(
        String::from_utf8(out.stdout)?.trim_end(),
        "sqlserver lake.RawExchangeRecord: 0 of 1 record(s) would be refused"
    );
    Ok(())
}

/// Each refused record alone: `import` into SQLite refuses it with exit 2 naming
/// its line, and the store is left without a row; `check` says exit 1.
#[test]
fn import_refuses_what_check_refuses_and_writes_nothing() -> TestResult {
    for (n, bad) in bad_lines()?.into_iter().enumerate() {
        let home = tempfile::tempdir()?;
        let m = pack(home.path(), &[bad])?;
        let db = home.path().join("fabric.db");
        let target = format!("sqlite://{}", db.display());
        let check = fabric(home.path())
            .args(["exchange", "check", "--manifest"])
            .arg(&m)
            .output()?;
        let import = fabric(home.path())
            .args(["exchange", "import", "--manifest"])
            .arg(&m)
            .args(["--target", &target])
            .output()?;
        let stderr = String::from_utf8_lossy(&import.stderr);
        if check.status.code() == Some(0) {
            // The last line fits every limit: both accept it.
            assert_eq!(import.status.code(), Some(0), "line {n}: {stderr}");
            continue;
        }
        assert_eq!(check.status.code(), Some(1), "line {n}");
        assert_eq!(import.status.code(), Some(2), "line {n}: {stderr}");
        assert!(stderr.contains("line 2"), "line {n}: {stderr}");
        let conn = rusqlite::Connection::open(&db)?;
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM lake_RawExchangeRecord", [], |r| {
                r.get(0)
            })
            .unwrap_or(0);
        assert_eq!(rows, 0, "line {n}: import wrote before refusing");
    }
    Ok(())
}

/// NDJSON for `exchange add`: one record per `(n, key, text)`, all on one day.
fn records(rows: &[(u32, String, &str)]) -> String {
    rows.iter()
        .map(|(n, key, text)| {
            let (m, s) = (n / 60 % 60, n % 60);
            format!(
                "{{\"exchange_id\": \"00000000-0000-4000-8000-{n:012x}\", \"natural_key\": \"{key}\", \"request\": null, \"response\": {{\"text\": \"{text}\"}}, \"observed_at_utc\": \"2024-03-01T10:{m:02}:{s:02}Z\", \"provenance\": {{\"runner_name\": \"t\", \"host\": \"h\", \"git_sha\": \"abc\", \"connector_version\": \"1\"}}}}\n"
            )
        })
        .collect()
}

/// `exchange init` dataset `name` under `home/packs` with `input` added.
fn dataset(home: &Path, name: &str, input: &str) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let out = home.join("packs");
    fabric(home)
        .args(["exchange", "init", "--name", name])
        .args([
            "--source", "src", "--entity", "thing", "--type", "http", "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let m = out.join(name).join("manifest.json");
    let file = home.join(format!("{name}.ndjson"));
    std::fs::write(&file, input)?;
    fabric(home)
        .args(["exchange", "add", "--manifest"])
        .arg(&m)
        .arg(&file)
        .assert()
        .success();
    Ok(m)
}

fn rows(db: &Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let conn = rusqlite::Connection::open(db)?;
    let mut stmt =
        conn.prepare("SELECT natural_key FROM lake_RawExchangeRecord ORDER BY natural_key")?;
    let keys = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(keys)
}

/// `--batch-commit N` commits every N records: a run stopped by a conflict keeps
/// what it committed (the default keeps nothing), and a re-run resumes.
#[test]
fn batch_commit_keeps_committed_batches_and_resumes() -> TestResult {
    let home = tempfile::tempdir()?;
    let db = home.path().join("fabric.db");
    let target = format!("sqlite://{}", db.display());
    let first = dataset(home.path(), "first", &records(&[(1, "k1".into(), "a")]))?;
    // 600 new keys, then a changed k1, then one more: the engine writes in
    // batches of 512 lines, so the first batch is committed before the conflict.
    let mut later: Vec<(u32, String, &str)> = (0..600)
        .map(|n| (100 + n, format!("n{n:03}"), "new"))
        .collect();
    later.push((900, "k1".into(), "changed"));
    later.push((901, "z".into(), "last"));
    let second = dataset(home.path(), "second", &records(&later))?;
    let count = |db: &Path| rows(db).map(|r| r.len());
    let import = |m: &Path, extra: &[&str]| {
        fabric(home.path())
            .args(["exchange", "import", "--manifest"])
            .arg(m)
            .args(["--target", &target])
            .args(extra)
            .output()
    };
    assert_eq!(import(&first, &[])?.status.code(), Some(0));
    // All or nothing by default: the conflict on k1 leaves the table as it was.
    let out = import(&second, &["--conflict", "fail"])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing was written"));
    assert_eq!(rows(&db)?, ["k1"]);
    // Commit every record: the first batch (512 records) is committed before the
    // conflict, and stays.
    let out = import(&second, &["--conflict", "fail", "--batch-commit", "1"])?;
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("the 512 record(s) committed before it by --batch-commit stay"),
        "{stdout}"
    );
    assert_eq!(count(&db)?, 1 + 512);
    // The re-run resumes: the committed records are skipped by hash.
    let out = import(
        &second,
        &[
            "--json",
            "--conflict",
            "prefer_json",
            "--batch-commit",
            "100",
        ],
    )?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let counts = &report["json_to_sql"];
    assert_eq!(
        (
            counts["inserted"].as_u64(),
            counts["updated"].as_u64(),
            counts["skipped"].as_u64()
        ),
        (Some(600 - 512 + 1), Some(1), Some(512)),
        "{report}"
    );
    assert_eq!(count(&db)?, 1 + 600 + 1);
    Ok(())
}

/// With `--batch-commit` a record the table would refuse stops the run before
/// the first commit (the whole pack is checked first), naming it.
#[test]
fn batch_commit_checks_the_whole_pack_first() -> TestResult {
    let home = tempfile::tempdir()?;
    let late_bad = line(|v| v["natural_key"] = "k".repeat(501).into())?;
    let m = pack(home.path(), &[late_bad])?;
    let db = home.path().join("fabric.db");
    let out = fabric(home.path())
        .args(["exchange", "import", "--batch-commit", "1", "--manifest"])
        .arg(&m)
        .args(["--target", &format!("sqlite://{}", db.display())])
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2: natural_key is 501 characters long"),
        "{stderr}"
    );
    assert!(stderr.contains("fabric exchange check"), "{stderr}");
    let written = if db.exists() {
        rows(&db).unwrap_or_default()
    } else {
        Vec::new()
    };
    assert!(written.is_empty(), "{written:?}");
    Ok(())
}

#[test]
fn batch_commit_help_states_the_trade_off() -> TestResult {
    let home = tempfile::tempdir()?;
    let out = fabric(home.path())
        .args(["exchange", "import", "--help"])
        .output()?;
    let help = String::from_utf8(out.stdout)?;
    for needle in ["all or nothing", "escalates", "resumes", "--batch-commit"] {
        assert!(help.contains(needle), "{needle:?} not in {help}");
    }
    Ok(())
}

/// Under the manifest's conflict strategy `fail`, a natural key that two records of
/// the pack hold with different content is listed: the import would stop on it.
/// The same record twice is not a conflict.
#[test]
fn check_lists_key_conflicts_under_fail() -> TestResult {
    let home = tempfile::tempdir()?;
    let m = dataset(
        home.path(),
        "ds",
        &records(&[
            (1, "k1".into(), "a"),
            (2, "k2".into(), "b"),
            (3, "k1".into(), "changed"),
        ]),
    )?;
    let check = |home: &Path| {
        fabric(home)
            .args(["exchange", "check", "--manifest"])
            .arg(&m)
            .output()
    };
    // prefer_newest (the default): the later k1 replaces the earlier one.
    assert_eq!(check(home.path())?.status.code(), Some(0));
    let text = std::fs::read_to_string(&m)?;
    std::fs::write(&m, text.replace("\"prefer_newest\"", "\"fail\""))?;
    let out = check(home.path())?;
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout)?;
    assert!(
        stdout.contains("line 3 (record 00000000-0000-4000-8000-000000000003): natural_key \"k1\" is also held, with other content, by records/2024/2024-03-01/chunk-0001.ndjson line 1"),
        "{stdout}"
    );
    let db = home.path().join("fabric.db");
    let import = fabric(home.path())
        .args(["exchange", "import", "--manifest"])
        .arg(&m)
        .args(["--target", &format!("sqlite://{}", db.display())])
        .output()?;
    assert_eq!(import.status.code(), Some(1));
    Ok(())
}
