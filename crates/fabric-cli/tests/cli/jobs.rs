//! End-to-end tests of the jobs pipeline (`ingest`, `jobs`, `job`, `report`,
//! `snapshot create`, `diff`) against the compatibility vectors in
//! `tests/vectors/fabric`, through the real binary on a real SQLite file.

use std::path::{Path, PathBuf};

use crate::common::{Env, vectors};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CASES: &[&str] = &[
    "01-empty",
    "02-one-job",
    "03-typical-mix",
    "04-reingested",
    "05-unicode",
    "06-nondeterminism",
    "07-rounding",
];

fn case_dir(case: &str) -> PathBuf {
    vectors().join("fabric").join("cases").join(case)
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

fn read(p: &Path) -> Result<String, Box<dyn std::error::Error>> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()).into())
}

/// Pretty JSON (two-space indent, UTF-8), as the vectors are written.
fn pretty(v: &serde_json::Value) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(v)
}

#[test]
fn every_case_reproduces_the_reference_outputs() -> TestResult {
    let mut previous_snapshot: Option<PathBuf> = None;
    for case in CASES {
        let dir = case_dir(case);
        let env = Env::in_new_folder()?;
        env.ok(&["ingest", path_str(&dir.join("results"))])?;

        // report.json: same keys, order, types and float spellings.
        let mut report: serde_json::Value =
            serde_json::from_str(&env.ok(&["report", "--format", "json"])?)?;
        let generated_at = report
            .as_object_mut()
            .and_then(|m| m.shift_remove("generated_at"))
            .ok_or("report has no generated_at")?;
        assert!(generated_at.as_str().is_some_and(|s| s.ends_with("+00:00")));
        let expected = read(&dir.join("report.json"))?;
        assert_eq!(pretty(&report)?, expected.trim_end(), "{case}: report.json");

        // report.txt: byte for byte, plus one newline.
        let text = env.ok(&["report", "--format", "text"])?;
        let expected_text = read(&dir.join("report.txt"))?;
        assert_eq!(text, format!("{expected_text}\n"), "{case}: report.txt");

        // snapshot_id from the store and from the report file.
        let expected_id = read(&dir.join("snapshot_id.txt"))?;
        let snap: serde_json::Value = serde_json::from_str(&env.ok(&["snapshot", "create"])?)?;
        assert_eq!(
            snap["snapshot_id"].as_str(),
            Some(expected_id.trim()),
            "{case}: snapshot_id from the store"
        );
        let from_file: serde_json::Value = serde_json::from_str(&env.ok(&[
            "snapshot",
            "create",
            "--from-report",
            path_str(&dir.join("report.json")),
        ])?)?;
        assert_eq!(from_file["snapshot_id"].as_str(), Some(expected_id.trim()));

        // The diff from the previous case's snapshot.
        if let Some(prev) = &previous_snapshot {
            let this = dir.join("snapshot.json");
            let diff: serde_json::Value =
                serde_json::from_str(&env.ok(&["diff", path_str(prev), path_str(&this)])?)?;
            let expected = read(&dir.join("diff_from_prev.json"))?;
            assert_eq!(
                pretty(&diff)?,
                expected.trim_end(),
                "{case}: diff_from_prev"
            );
        }
        previous_snapshot = Some(dir.join("snapshot.json"));
    }
    Ok(())
}

#[test]
fn case_08_tiny_rates_hash_and_diffs() -> TestResult {
    // Its 10,144 inputs are not shipped (the benchmark generates and ingests them):
    // check report -> snapshot_id and the diff from case 07.
    let env = Env::in_new_folder()?;
    let dir = case_dir("08-tiny-rates");
    let snap: serde_json::Value = serde_json::from_str(&env.ok(&[
        "snapshot",
        "create",
        "--from-report",
        path_str(&dir.join("report.json")),
    ])?)?;
    assert_eq!(
        snap["snapshot_id"].as_str(),
        Some(read(&dir.join("snapshot_id.txt"))?.trim())
    );
    let diff: serde_json::Value = serde_json::from_str(&env.ok(&[
        "diff",
        path_str(&case_dir("07-rounding").join("snapshot.json")),
        path_str(&dir.join("snapshot.json")),
    ])?)?;
    assert_eq!(
        pretty(&diff)?,
        read(&dir.join("diff_from_prev.json"))?.trim_end()
    );
    Ok(())
}

#[test]
fn every_invalid_file_is_rejected_and_the_store_is_untouched() -> TestResult {
    let env = Env::in_new_folder()?;
    env.ok(&["ingest", path_str(&case_dir("02-one-job").join("results"))])?;
    let before = env.ok(&["jobs"])?;
    let db_bytes = std::fs::read(env.db())?;
    let invalid = vectors().join("fabric").join("invalid");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&invalid)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n != "reasons.json"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 37);
    for file in &names {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        // Alone, and after a valid file in the same batch: nothing is stored.
        for args in [
            vec!["ingest", path_str(file)],
            vec![
                "ingest",
                path_str(
                    &case_dir("03-typical-mix")
                        .join("results")
                        .join("r00001.json"),
                ),
                path_str(file),
            ],
        ] {
            let (code, _, stderr) = env.run(&args)?;
            assert_eq!(code, 2, "{name}: exit code; stderr: {stderr}");
            assert!(stderr.starts_with("error: "), "{name}: {stderr}");
            assert!(
                stderr.contains(name),
                "{name}: error must name the file: {stderr}"
            );
        }
    }
    assert_eq!(env.ok(&["jobs"])?, before);
    assert_eq!(
        std::fs::read(env.db())?,
        db_bytes,
        "the database file changed"
    );
    Ok(())
}

#[test]
fn keep_going_stores_the_valid_files_and_reports_the_bad_ones() -> TestResult {
    let env = Env::in_new_folder()?;
    let good = case_dir("02-one-job").join("results").join("r00001.json");
    let bad = vectors().join("fabric/invalid/17-status-running.json");
    let (code, stdout, _) = env.run(&[
        "--json",
        "ingest",
        "--keep-going",
        path_str(&bad),
        path_str(&good),
    ])?;
    assert_eq!(code, 1);
    let summary: serde_json::Value = serde_json::from_str(&stdout)?;
    assert_eq!(summary["files_read"], 2);
    assert_eq!(summary["inserted"], 1);
    assert_eq!(summary["rejected"], 1);
    assert!(
        summary["rejections"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("RUNNING"))
    );
    assert_eq!(env.ok(&["jobs"])?.lines().count(), 1);
    Ok(())
}

#[test]
fn reingestion_counts_replacements_and_survives_restart() -> TestResult {
    let env = Env::in_new_folder()?;
    let results = case_dir("03-typical-mix").join("results");
    let first: serde_json::Value =
        serde_json::from_str(&env.ok(&["--json", "ingest", path_str(&results)])?)?;
    let second: serde_json::Value =
        serde_json::from_str(&env.ok(&["--json", "ingest", path_str(&results)])?)?;
    assert_eq!(first["files_read"], second["files_read"]);
    let total = second["files_read"].as_u64().ok_or("files_read")?;
    assert_eq!(second["inserted"], 0);
    assert_eq!(second["replaced"].as_u64(), Some(total));
    // Each command is its own process: the second report reads what the first wrote.
    let report = env.ok(&["report", "--format", "text"])?;
    assert_eq!(
        report,
        format!(
            "{}\n",
            read(&case_dir("03-typical-mix").join("report.txt"))?
        )
    );
    Ok(())
}

#[test]
fn ingest_summary_and_job_output_contracts() -> TestResult {
    let env = Env::in_new_folder()?;
    let results = case_dir("05-unicode").join("results");
    let summary = env.ok(&["ingest", path_str(&results)])?;
    insta::assert_snapshot!("ingest_summary_text", summary);
    let ids = env.ok(&["jobs"])?;
    insta::assert_snapshot!("jobs_05_unicode", ids);
    let first = ids.lines().next().ok_or("no jobs")?;
    let mut job: serde_json::Value = serde_json::from_str(&env.ok(&["job", first])?)?;
    // Redact what depends on the clock and on the working directory.
    job["ingested_at"] = "[ingested_at]".into();
    for output in job["outputs"].as_array_mut().ok_or("outputs")? {
        let clip_id = output["clip_id"].as_str().unwrap_or_default();
        assert!(clip_id.len() == 16 && clip_id.bytes().all(|b| b.is_ascii_hexdigit()));
        output["clip_id"] = "[clip_id]".into();
    }
    insta::assert_snapshot!("job_05_first", pretty(&job)?);
    Ok(())
}

#[test]
fn job_filters_combine_and_validate() -> TestResult {
    let env = Env::in_new_folder()?;
    env.ok(&[
        "ingest",
        path_str(&case_dir("03-typical-mix").join("results")),
    ])?;
    let all = env.ok(&["jobs"])?;
    let failed = env.ok(&["jobs", "--status", "FAILED"])?;
    let ffmpeg = env.ok(&["jobs", "--engine", "ffmpeg"])?;
    let both = env.ok(&["jobs", "--status", "FAILED", "--engine", "ffmpeg"])?;
    for id in both.lines() {
        assert!(failed.lines().any(|l| l == id) && ffmpeg.lines().any(|l| l == id));
    }
    for id in failed.lines().filter(|id| ffmpeg.lines().any(|l| l == *id)) {
        assert!(both.lines().any(|l| l == id), "{id} missing from the AND");
    }
    let mut sorted: Vec<&str> = all.lines().collect();
    sorted.sort_unstable();
    assert_eq!(sorted, all.lines().collect::<Vec<_>>(), "ids are sorted");
    insta::assert_snapshot!("jobs_03_failed_ffmpeg", both);
    let (code, _, stderr) = env.run(&["jobs", "--reason", ""])?;
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = env.run(&["jobs", "--status", "done"])?;
    assert_eq!(code, 2, "{stderr}");
    Ok(())
}

#[test]
fn a_read_on_a_missing_store_creates_nothing() -> TestResult {
    let env = Env::in_new_folder()?;
    let (code, _, stderr) = env.run(&["report"])?;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error: no store at "), "{stderr}");
    assert!(!env.db().exists());
    assert!(!env.db().parent().ok_or("parent")?.exists());
    Ok(())
}

/// Garbage over a page in the middle of the file (there: the chain indexes, which
/// `report` never reads). Under the default check policy the report, made only of
/// pages it read and checked, is the same as before; a whole-file policy and `db
/// check` refuse the file, exit 3 naming it.
#[test]
fn garbage_in_the_middle_of_the_file_is_reported_corrupt() -> TestResult {
    let env = Env::in_new_folder()?;
    env.ok(&[
        "ingest",
        path_str(&case_dir("03-typical-mix").join("results")),
    ])?;
    let (code, before, stderr) = env.run(&["report"])?;
    assert_eq!(code, 0, "{stderr}");
    let mut bytes = std::fs::read(env.db())?;
    assert!(
        bytes.len() > 8192,
        "store too small to damage: {}",
        bytes.len()
    );
    // A whole page's worth: whatever the page size (32 KiB by default), the
    // damage covers the start of a page.
    let middle = bytes.len() / 2;
    let page = usize::try_from(fabric_store::PAGE_SIZE)?;
    assert!(bytes.len() >= 2 * page, "store too small: {}", bytes.len());
    for b in &mut bytes[middle - page / 2..middle + page / 2] {
        *b = 0xA5;
    }
    std::fs::write(env.db(), &bytes)?;
    let (code, after, stderr) = env.run(&["report"])?;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(after, before, "the report reads none of the damaged pages");
    for (what, args) in [
        ("quick", vec!["report"]),
        ("full", vec!["report"]),
        ("touched", vec!["db", "check"]),
    ] {
        let (code, _, stderr) = env.run_env(&args, &[("FABRIC_CHECK", what)])?;
        assert_eq!(code, 3, "{what} {args:?}: {stderr}");
        assert!(stderr.contains("corrupt"), "{stderr}");
        assert!(stderr.contains("fabric.db"), "{stderr}");
    }
    Ok(())
}

#[test]
fn another_schema_version_is_refused_unchanged() -> TestResult {
    let env = Env::in_new_folder()?;
    env.ok(&["ingest", path_str(&case_dir("02-one-job").join("results"))])?;
    {
        let conn = rusqlite::Connection::open(env.db())?;
        conn.pragma_update(None, "user_version", 7)?;
    }
    let bytes = std::fs::read(env.db())?;
    for args in [
        &["report"][..],
        &[
            "ingest",
            path_str(&case_dir("03-typical-mix").join("results")),
        ],
    ] {
        let (code, _, stderr) = env.run(args)?;
        assert_eq!(code, 3, "{stderr}");
        assert!(stderr.contains("expected 2, found 7"), "{stderr}");
    }
    assert_eq!(std::fs::read(env.db())?, bytes);
    Ok(())
}

#[test]
fn a_reference_version_1_file_is_upgraded_only_on_request() -> TestResult {
    let env = Env::in_new_folder()?;
    std::fs::create_dir_all(env.db().parent().ok_or("parent")?)?;
    {
        // The reference system's file: only the jobs table, user_version 1.
        let conn = rusqlite::Connection::open(env.db())?;
        conn.execute_batch(include_str!("../../../fabric-store/src/schema/jobs.sql"))?;
        conn.pragma_update(None, "user_version", 1)?;
    }
    let (code, _, stderr) = env.run(&["report"])?;
    assert_eq!(code, 3);
    assert!(
        stderr.contains("expected 2, found 1") && stderr.contains("fabric db upgrade"),
        "{stderr}"
    );
    let out = env.ok(&["db", "upgrade"])?;
    assert!(out.contains("from version 1 to 2"), "{out}");
    env.ok(&["ingest", path_str(&case_dir("02-one-job").join("results"))])?;
    assert_eq!(env.ok(&["jobs"])?.lines().count(), 1);
    Ok(())
}

#[test]
fn disk_full_is_exit_3_and_keeps_every_job() -> TestResult {
    let env = Env::in_new_folder()?;
    env.ok(&["ingest", path_str(&case_dir("02-one-job").join("results"))])?;
    let before = env.ok(&["jobs"])?;
    let pages: i64 = {
        let conn = rusqlite::Connection::open(env.db())?;
        conn.query_row("PRAGMA page_count", [], |r| r.get(0))?
    };
    // Cap the file at its current size: the next batch cannot grow it.
    let (code, _, stderr) = env
        .cmd()
        .env("FABRIC_SQLITE_MAX_PAGE_COUNT", pages.to_string())
        .args([
            "ingest",
            path_str(&case_dir("03-typical-mix").join("results")),
        ])
        .output()
        .map(|o| {
            (
                o.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })?;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("full"), "{stderr}");
    assert_eq!(env.ok(&["jobs"])?, before);
    Ok(())
}

#[test]
fn diff_verifies_ids_and_can_signal_changes() -> TestResult {
    let env = Env::in_new_folder()?;
    let a = case_dir("06-nondeterminism").join("snapshot.json");
    let b = case_dir("07-rounding").join("snapshot.json");
    let (code, _, _) = env.run(&["diff", "--exit-code", path_str(&a), path_str(&b)])?;
    assert_eq!(code, 1);
    let (code, _, _) = env.run(&["diff", "--exit-code", path_str(&a), path_str(&a)])?;
    assert_eq!(code, 0);
    // A snapshot whose report was edited no longer matches its id.
    let mut doc: serde_json::Value = serde_json::from_str(&read(&a)?)?;
    doc["report"]["execution_summary"]["completed"] = serde_json::json!(999);
    let tampered = env.home().join("tampered.json");
    std::fs::write(&tampered, serde_json::to_string(&doc)?)?;
    let (code, _, stderr) = env.run(&["diff", path_str(&tampered), path_str(&b)])?;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("tampered.json"), "{stderr}");
    Ok(())
}

#[test]
fn version_help_and_completions() -> TestResult {
    let env = Env::in_new_folder()?;
    assert!(env.ok(&["--version"])?.starts_with("fabric "));
    assert!(env.ok(&["completions", "bash"])?.contains("fabric"));
    let (code, _, _) = env.run(&["no-such-command"])?;
    assert_eq!(code, 2);
    Ok(())
}

#[test]
fn saved_snapshots_form_a_chain_that_diff_reads_by_version() -> TestResult {
    let env = Env::in_new_folder()?;
    env.ok(&["ingest", path_str(&case_dir("02-one-job").join("results"))])?;
    let first: serde_json::Value =
        serde_json::from_str(&env.ok(&["snapshot", "create", "--save"])?)?;
    env.ok(&[
        "ingest",
        path_str(&case_dir("03-typical-mix").join("results")),
    ])?;
    // Optimistic locking: the chain is at version 1, not 5.
    let (code, _, stderr) = env.run(&["snapshot", "create", "--save", "--expect-version", "5"])?;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("expected 5") || stderr.contains('5'),
        "{stderr}"
    );
    let second: serde_json::Value = serde_json::from_str(&env.ok(&[
        "snapshot",
        "create",
        "--save",
        "--expect-version",
        "1",
    ])?)?;
    // A report file saved under its own key.
    env.ok(&[
        "snapshot",
        "create",
        "--save",
        "--key",
        "vectors",
        "--from-report",
        path_str(&case_dir("07-rounding").join("report.json")),
    ])?;

    let by_version: serde_json::Value =
        serde_json::from_str(&env.ok(&["diff", "fabric@1", "fabric@2"])?)?;
    let a = env.home().join("a.json");
    let b = env.home().join("b.json");
    std::fs::write(&a, serde_json::to_string(&first)?)?;
    std::fs::write(&b, serde_json::to_string(&second)?)?;
    let by_file: serde_json::Value =
        serde_json::from_str(&env.ok(&["diff", path_str(&a), path_str(&b)])?)?;
    assert_eq!(by_version, by_file);
    assert_eq!(by_version["from_snapshot"], first["snapshot_id"]);
    assert_eq!(by_version["to_snapshot"], second["snapshot_id"]);
    let vectors_id = read(&case_dir("07-rounding").join("snapshot_id.txt"))?;
    let to_vectors: serde_json::Value =
        serde_json::from_str(&env.ok(&["diff", "fabric@2", "vectors@1"])?)?;
    assert_eq!(to_vectors["to_snapshot"].as_str(), Some(vectors_id.trim()));

    let (code, _, stderr) = env.run(&["diff", "fabric@1", "fabric@9"])?;
    assert_eq!(code, 2, "{stderr}");
    Ok(())
}
