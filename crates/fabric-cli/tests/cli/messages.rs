//! Messages a new user met that did not say what to do (issue item 8). A folder
//! or a text file given as `--db` is in `answers` (`db_check_refuses_what_is_not_a_store`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{Outcome, empty_dataset, fabric, outcome, s, vectors};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn results(case: &str) -> PathBuf {
    vectors().join("fabric/cases").join(case).join("results")
}

/// `fabric --db HOME/fabric.db ARGS`.
fn run(home: &Path, args: &[&str]) -> Result<Outcome, Box<dyn std::error::Error>> {
    outcome(
        fabric(home)
            .arg("--db")
            .arg(home.join("fabric.db"))
            .args(args),
    )
}

/// Pretty-printed JSON given to `exchange add` (NDJSON) says that one document
/// per line is expected, not only "EOF while parsing an object".
#[test]
fn pretty_json_given_as_ndjson_says_one_document_per_line() -> TestResult {
    let home = tempfile::tempdir()?;
    let manifest = s(&empty_dataset(home.path())?);
    let input = home.path().join("pretty.json");
    std::fs::write(
        &input,
        "{\n  \"natural_key\": \"k1\",\n  \"response\": {\"a\": 1}\n}\n",
    )?;
    let (code, _, stderr) = run(
        home.path(),
        &["exchange", "add", "--manifest", &manifest, &s(&input)],
    )?;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("line 1: expected one JSON document per line (NDJSON)"),
        "{stderr}"
    );
    Ok(())
}

/// With `--keep-going`, a rejected file's reason keeps the parser's line and
/// column, in the text and in the JSON summary.
#[test]
fn keep_going_keeps_the_line_and_column_of_a_parse_error() -> TestResult {
    let home = tempfile::tempdir()?;
    let folder = home.path().join("in");
    std::fs::create_dir(&folder)?;
    for entry in std::fs::read_dir(results("02-one-job"))? {
        let entry = entry?;
        std::fs::copy(entry.path(), folder.join(entry.file_name()))?;
    }
    std::fs::write(
        folder.join("zz.json"),
        "{\n  \"job_id\": \"x\",\n  \"bad\": tru\n}\n",
    )?;
    let (code, _, stderr) = run(home.path(), &["ingest", "--keep-going", &s(&folder)])?;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("zz.json: not valid JSON: expected ident at line 4 column 0"),
        "{stderr}"
    );
    let (_, stdout, _) = run(
        home.path(),
        &["--json", "ingest", "--keep-going", &s(&folder)],
    )?;
    let summary: serde_json::Value = serde_json::from_str(&stdout)?;
    let reason = summary["rejections"][0]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("at line 4 column 0"), "{summary}");
    Ok(())
}

/// The report prints `Ffmpeg` and "Validation failed"; `--engine Ffmpeg` and
/// `--status "Validation failed"` find those jobs (they found nothing, or were
/// refused). An engine no job ran on says so on stderr.
#[test]
fn the_reports_words_work_as_filters() -> TestResult {
    let home = tempfile::tempdir()?;
    let (code, _, stderr) = run(home.path(), &["ingest", &s(&results("03-typical-mix"))])?;
    assert_eq!(code, 0, "{stderr}");
    let (_, report, _) = run(home.path(), &["report"])?;
    assert!(report.contains("Ffmpeg:") && report.contains("Validation failed: 6"));
    let ids = |args: &[&str]| -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let (code, stdout, stderr) = run(home.path(), &[&["jobs"], args].concat())?;
        assert_eq!(code, 0, "{args:?}: {stderr}");
        Ok(stdout.lines().map(str::to_owned).collect())
    };
    let exact = ids(&["--engine", "ffmpeg"])?;
    assert_eq!(exact.len(), 23);
    assert_eq!(ids(&["--engine", "Ffmpeg"])?, exact);
    assert_eq!(ids(&["--engine", "FFMPEG"])?, exact);
    let partial = ids(&["--status", "PARTIAL"])?;
    assert_eq!(partial.len(), 6);
    assert_eq!(ids(&["--status", "Validation failed"])?, partial);
    assert_eq!(ids(&["--status", "partial"])?, partial);
    assert_eq!(ids(&["--status", "completed"])?.len(), 26);
    let (code, stdout, stderr) = run(home.path(), &["jobs", "--engine", "handbrake"])?;
    assert_eq!(code, 0);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("no job ran on engine \"handbrake\"; engines in the store: ffmpeg"),
        "{stderr}"
    );
    Ok(())
}

/// A lock is reported with the time really waited: a read used to wait out the
/// busy timeout twice (a probe, then the check at open) and report one.
#[test]
fn a_lock_is_reported_after_the_time_it_says() -> TestResult {
    let home = tempfile::tempdir()?;
    let (code, _, stderr) = run(home.path(), &["db", "init"])?;
    assert_eq!(code, 0, "{stderr}");
    let conn = rusqlite::Connection::open(home.path().join("fabric.db"))?;
    conn.execute_batch("BEGIN EXCLUSIVE; INSERT INTO chain_activity (chain_key, action, actor, at, to_version) VALUES ('k', 'create', 'a', 'now', 1);")?;
    let timeout = Duration::from_millis(2000);
    for args in [vec!["jobs"], vec!["report"], vec!["db", "check"]] {
        let started = Instant::now();
        let out = fabric(home.path())
            .env(
                "FABRIC_SQLITE_BUSY_TIMEOUT_MS",
                timeout.as_millis().to_string(),
            )
            .arg("--db")
            .arg(home.path().join("fabric.db"))
            .args(&args)
            .output()?;
        let took = started.elapsed();
        let stderr = String::from_utf8(out.stderr)?;
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(
            stderr.contains("is locked by another process (waited 2000 ms)"),
            "{stderr}"
        );
        // One wait, not two (which took 4 s): the margin is for a loaded machine.
        assert!(
            took >= timeout && took < timeout * 7 / 4,
            "{args:?} took {took:?} and said it waited {timeout:?}"
        );
    }
    conn.execute_batch("ROLLBACK")?;
    Ok(())
}
