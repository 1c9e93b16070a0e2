//! One spelling per idea: output names are the names given, sizes are the real
//! sizes in bytes and human units, and reading a terminal says so.

use std::path::Path;

use crate::common::{StderrText, fabric};
use crate::progress::on_a_terminal;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn records() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/records.ndjson")
}

/// A pack of the example records; returns its manifest.
fn pack_of_examples(home: &Path) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let packs = home.join("packs");
    fabric(home)
        .args(["exchange", "init", "--name", "orders", "--source", "shop"])
        .args(["--entity", "order", "--type", "http", "--out"])
        .arg(&packs)
        .assert()
        .success();
    let manifest = packs.join("orders/manifest.json");
    fabric(home)
        .args(["exchange", "add", "--manifest"])
        .arg(&manifest)
        .arg(records())
        .assert()
        .success();
    Ok(manifest)
}

#[test]
fn pack_reports_the_size_of_the_file_it_wrote() -> TestResult {
    let home = tempfile::tempdir()?;
    let manifest = pack_of_examples(home.path())?;
    let zip = home.path().join("orders.zip");
    let out = fabric(home.path())
        .args(["exchange", "pack", "--manifest"])
        .arg(&manifest)
        .arg("--out")
        .arg(&zip)
        .output()?;
    assert!(out.status.success());
    let size = std::fs::metadata(&zip)?.len();
    let text = String::from_utf8(out.stdout)?;
    assert!(
        text.contains(&format!("{size} bytes (")) && text.contains(" KiB)"),
        "the archive is {size} bytes: {text}"
    );
    let json: serde_json::Value = serde_json::from_slice(
        &fabric(home.path())
            .args(["--json", "exchange", "pack", "--manifest"])
            .arg(&manifest)
            .arg("--out")
            .arg(&zip)
            .output()?
            .stdout,
    )?;
    assert_eq!(json["bytes"], size);
    assert!(json["dataset_bytes"].as_u64().is_some_and(|b| b > 0));
    Ok(())
}

#[test]
fn an_output_name_that_does_not_fit_is_refused() -> TestResult {
    let home = tempfile::tempdir()?;
    let manifest = pack_of_examples(home.path())?;
    for (name, encrypt) in [
        ("orders.tar", false),
        ("orders", false),
        ("orders.zip.enc", false),
        ("orders.tar", true),
    ] {
        let out = home.path().join(name);
        let mut cmd = fabric(home.path());
        cmd.env("SNAPSHOT_ENCRYPTION_KEY", "pass phrase")
            .args(["exchange", "pack", "--manifest"])
            .arg(&manifest)
            .arg("--out")
            .arg(&out);
        if encrypt {
            cmd.arg("--encrypt");
        }
        cmd.assert().code(2).stderr_has("NAME.zip");
        let left: Vec<_> = std::fs::read_dir(home.path())?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("orders"))
            .collect();
        assert!(left.is_empty(), "--out {name} wrote {left:?}");
    }
    // With --encrypt, NAME.zip.enc is written under exactly that name.
    let enc = home.path().join("cold.zip.enc");
    fabric(home.path())
        .env("SNAPSHOT_ENCRYPTION_KEY", "pass phrase")
        .args(["exchange", "pack", "--encrypt", "--manifest"])
        .arg(&manifest)
        .arg("--out")
        .arg(&enc)
        .assert()
        .success();
    assert!(enc.is_file() && !home.path().join("cold.zip.enc.enc").exists());
    // The dashboard export too: the name given, and only a zip's name.
    let v = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/dashboard");
    let bundle = home.path().join("bundle.json");
    let assembled = fabric(home.path())
        .args(["dashboard", "assemble", "--scope"])
        .arg(v.join("scope.json"))
        .arg("--oracles")
        .arg(v.join("oracles.json"))
        .output()?;
    std::fs::write(&bundle, assembled.stdout)?;
    fabric(home.path())
        .args([
            "dashboard",
            "export",
            "--profile",
            "instructor_best_effort",
            "--bundle",
        ])
        .arg(&bundle)
        .arg("--out")
        .arg(home.path().join("export.csv"))
        .assert()
        .code(2)
        .stderr_has("NAME.zip");
    assert!(!home.path().join("export.csv").exists() && !home.path().join("export.zip").exists());
    Ok(())
}

#[test]
fn add_reading_a_terminal_says_how_to_end() -> TestResult {
    let home = tempfile::tempdir()?;
    let manifest = pack_of_examples(home.path())?;
    let hint = "reading NDJSON records from stdin; Ctrl-D to end";
    let raw = on_a_terminal(
        home.path(),
        &format!("exchange add --manifest {}", manifest.display()),
    )?;
    assert!(raw.contains(hint), "{raw:?}");
    // From a pipe or a file: no hint.
    fabric(home.path())
        .args(["exchange", "add", "--manifest"])
        .arg(&manifest)
        .write_stdin("")
        .assert()
        .success()
        .stderr_lacks(hint);
    Ok(())
}

/// A store with the chain `ops` of three versions (the example reports).
fn chain_of_three(home: &Path) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let db = home.join("f.db");
    let reports = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/reports");
    fabric(home)
        .arg("--db")
        .arg(&db)
        .args([
            "snapshot",
            "import-reports",
            "--key",
            "ops",
            "--order",
            "name",
        ])
        .arg(reports)
        .assert()
        .success();
    Ok(db)
}

#[test]
fn a_saved_version_is_key_at_n_everywhere() -> TestResult {
    let home = tempfile::tempdir()?;
    let db = chain_of_three(home.path())?;
    let run = |args: &[&str]| {
        let mut cmd = fabric(home.path());
        cmd.arg("--db").arg(&db).args(args);
        cmd
    };
    let json = |args: &[&str]| -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let out = run(args).arg("--json").output()?;
        assert!(out.status.success(), "{args:?}: {out:?}");
        Ok(serde_json::from_slice(&out.stdout)?)
    };
    // compare: KEY@A KEY@B, and the older KEY A B.
    let new = json(&["snapshot", "compare", "ops@1", "ops@3"])?;
    assert_eq!(new, json(&["snapshot", "compare", "ops", "1", "3"])?);
    assert_eq!(new["to_version"], 3);
    run(&["snapshot", "compare", "ops@1", "fabric@2"])
        .assert()
        .code(2)
        .stderr_has("one chain");
    // rollback and deprecate: KEY@N, and the older KEY N.
    assert_eq!(json(&["snapshot", "rollback", "ops@2"])?["to_version"], 2);
    assert_eq!(
        json(&["snapshot", "rollback", "ops", "1"])?["to_version"],
        1
    );
    run(&["snapshot", "deprecate", "ops@3", "--reason", "test"])
        .assert()
        .success();
    run(&["snapshot", "deprecate", "ops", "2", "--reason", "test"])
        .assert()
        .success();
    // A version named twice, or not at all, is refused.
    run(&["snapshot", "rollback", "ops@2", "2"])
        .assert()
        .code(2);
    run(&["snapshot", "rollback", "ops"])
        .assert()
        .code(2)
        .stderr_has("ops@VERSION");
    assert_eq!(json(&["snapshot", "show", "ops@1"])?["version"], 1);
    Ok(())
}

#[test]
fn a_truncated_list_says_so() -> TestResult {
    let home = tempfile::tempdir()?;
    let db = chain_of_three(home.path())?;
    fabric(home.path())
        .arg("--db")
        .arg(&db)
        .args(["snapshot", "list", "--key", "ops", "--limit", "2"])
        .assert()
        .success()
        .stderr_has("showing 2 of 3 versions (use --limit and --offset)");
    fabric(home.path())
        .arg("--db")
        .arg(&db)
        .args(["snapshot", "list", "--key", "ops"])
        .assert()
        .success()
        .stderr_lacks("showing");
    Ok(())
}

#[test]
fn diff_and_job_have_a_text_rendering() -> TestResult {
    let home = tempfile::tempdir()?;
    let db = home.path().join("f.db");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let run = |args: &[&str]| {
        let mut cmd = fabric(home.path());
        cmd.arg("--db").arg(&db).args(args);
        cmd
    };
    run(&["ingest"])
        .arg(examples.join("results"))
        .assert()
        .success();
    let before = run(&["snapshot", "create", "--save"]).output()?.stdout;
    run(&["ingest"])
        .arg(examples.join("more-results"))
        .assert()
        .success();
    run(&["snapshot", "create", "--save"]).assert().success();
    let text = run(&["diff", "fabric@1", "fabric@2", "--format", "text"]).output()?;
    let text = String::from_utf8(text.stdout)?;
    assert!(
        text.starts_with("Diff ") && text.contains("Total jobs: +10\n"),
        "{text}"
    );
    // --json wins over --format text: one machine-readable document.
    let json = run(&["--json", "diff", "fabric@1", "fabric@2", "--format", "text"]).output()?;
    let json: serde_json::Value = serde_json::from_slice(&json.stdout)?;
    assert_eq!(json["changes"]["execution_summary"]["total_jobs_delta"], 10);
    assert!(!before.is_empty());
    let job = run(&["job", "job-00002", "--format", "text"]).output()?;
    let job = String::from_utf8(job.stdout)?;
    assert!(job.starts_with("job-00002  COMPLETED\n"), "{job}");
    assert!(job.contains("566997733 bytes (540.73 MiB)"), "{job}");
    Ok(())
}
