//! End-to-end tests of `fabric dashboard`: assemble -> export -> verify with the
//! real binary on the example vector, blocked exports, tampered archives, input
//! errors.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::common::{fabric, vectors};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn example() -> PathBuf {
    vectors().join("dashboard").join("example")
}

/// `fabric dashboard assemble` on the example scope and `oracles`; returns the
/// output.
fn assemble(home: &Path, oracles: &Path) -> std::process::Output {
    let scope = example().join("scope.json");
    let mut cmd = fabric(home);
    cmd.args(["dashboard", "assemble", "--scope"])
        .arg(scope)
        .arg("--oracles")
        .arg(oracles);
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run fabric: {e}"))
}

/// Assemble the example into `dir/bundle.json`.
fn bundle_in(dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let out = assemble(dir, &example().join("oracles.json"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join("bundle.json");
    std::fs::write(&path, &out.stdout)?;
    Ok(path)
}

fn export(
    dir: &Path,
    bundle: &Path,
    profile: &str,
    out: &Path,
    json: bool,
) -> std::process::Output {
    let mut cmd = fabric(dir);
    if json {
        cmd.arg("--json");
    }
    cmd.args(["dashboard", "export", "--bundle"])
        .arg(bundle)
        .args(["--profile", profile, "--out"])
        .arg(out);
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run fabric: {e}"))
}

fn verify(dir: &Path, bundle: &Path, zip: &Path) -> std::process::Output {
    let mut cmd = fabric(dir);
    cmd.args(["dashboard", "verify", "--bundle"])
        .arg(bundle)
        .arg("--zip")
        .arg(zip);
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run fabric: {e}"))
}

fn edited_oracles(
    dir: &Path,
    edit: impl FnOnce(&mut Value),
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(example().join("oracles.json"))?)?;
    edit(&mut doc);
    let path = dir.join("oracles-edited.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc)?)?;
    Ok(path)
}

#[test]
fn assemble_export_verify() -> TestResult {
    let dir = tempfile::tempdir()?;
    let bundle = bundle_in(dir.path())?;
    let zip = dir.path().join("out.zip");
    let out = export(dir.path(), &bundle, "instructor_best_effort", &zip, true);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The archive is owner-only.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&zip)?.permissions().mode() & 0o777, 0o600);
    let printed: Value = serde_json::from_slice(&out.stdout)?;
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip)?)?;
    let mut stored = String::new();
    archive
        .by_name("manifest.json")?
        .read_to_string(&mut stored)?;
    assert_eq!(
        printed,
        serde_json::from_str::<Value>(&stored)?,
        "--json prints the manifest"
    );
    assert_eq!(
        printed["totals"],
        json!({"datasets": 8, "included": 6, "excluded": 2})
    );

    let out = verify(dir.path(), &bundle, &zip);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8(out.stdout)?.starts_with("parity match: profile instructor_best_effort")
    );

    let human = export(
        dir.path(),
        &bundle,
        "instructor_best_effort",
        &dir.path().join("again.zip"),
        false,
    );
    assert_eq!(human.status.code(), Some(0));
    let text = String::from_utf8(human.stdout)?.replace(&dir.path().display().to_string(), "[DIR]");
    insta::assert_snapshot!("dashboard_export_human", text);
    assert_eq!(
        std::fs::read(&zip)?,
        std::fs::read(dir.path().join("again.zip"))?,
        "byte-identical exports"
    );
    Ok(())
}

#[test]
fn tampered_zip_fails_verify_naming_the_component() -> TestResult {
    let dir = tempfile::tempdir()?;
    let bundle = bundle_in(dir.path())?;
    let zip = dir.path().join("out.zip");
    assert_eq!(
        export(dir.path(), &bundle, "instructor_best_effort", &zip, false)
            .status
            .code(),
        Some(0)
    );

    let bytes = std::fs::read(&zip)?;
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))?;
    let mut rewritten = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i)?;
        let mut text = String::new();
        entry.read_to_string(&mut text)?;
        if entry.name() == "student_support_list.csv" {
            text = text.replace("Priya Raman", "Priya Ramen");
        }
        rewritten.start_file(entry.name(), zip::write::SimpleFileOptions::default())?;
        rewritten.write_all(text.as_bytes())?;
    }
    let tampered = dir.path().join("tampered.zip");
    std::fs::write(&tampered, rewritten.finish()?.into_inner())?;

    let out = verify(dir.path(), &bundle, &tampered);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr)?;
    assert!(
        stderr.starts_with("error: parity mismatch: 1 component(s) drifted\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  dataset:student_support_list: expected "),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn blocked_export_writes_nothing_and_lists_every_blocker() -> TestResult {
    let dir = tempfile::tempdir()?;
    let bundle = bundle_in(dir.path())?;
    let zip = dir.path().join("strict.zip");
    let out = export(dir.path(), &bundle, "instructor_strict", &zip, false);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(
        "dashboard_export_blocked_strict_stderr",
        String::from_utf8(out.stderr)?
    );
    let out = export(dir.path(), &bundle, "instructor", &zip, true);
    assert_eq!(out.status.code(), Some(1));
    let printed: Value = serde_json::from_slice(&out.stdout)?;
    insta::assert_json_snapshot!("dashboard_export_blocked_instructor_json", printed);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    assert_eq!(names, ["bundle.json"], "no zip and no temporary file left");
    Ok(())
}

#[test]
fn assemble_twice_gives_identical_bytes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let a = assemble(dir.path(), &example().join("oracles.json"));
    let b = assemble(dir.path(), &example().join("oracles.json"));
    assert_eq!(a.status.code(), Some(0));
    assert_eq!(a.stdout, b.stdout);
    insta::assert_snapshot!(
        "dashboard_assemble_status_table",
        String::from_utf8(a.stderr)?
    );
    Ok(())
}

#[test]
fn results_of_another_request_exit_2() -> TestResult {
    let dir = tempfile::tempdir()?;
    let oracles = edited_oracles(dir.path(), |d| d["request_token"] = json!("req-other"))?;
    let out = assemble(dir.path(), &oracles);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr)?;
    assert!(
        stderr.starts_with("error: oracle results belong to another request"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn duplicate_oracle_key_exits_2() -> TestResult {
    let dir = tempfile::tempdir()?;
    let oracles = edited_oracles(dir.path(), |d| {
        if let Some(results) = d["results"].as_array_mut() {
            let grades = results
                .iter()
                .find(|r| r["oracle_key"] == "grades")
                .cloned();
            results.extend(grades);
        }
    })?;
    let out = assemble(dir.path(), &oracles);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr)?;
    assert!(stderr.contains("duplicate oracle key grades"), "{stderr}");
    Ok(())
}

#[test]
fn malformed_inputs_exit_2() -> TestResult {
    let dir = tempfile::tempdir()?;
    let oracles = edited_oracles(dir.path(), |d| d["colour"] = json!("red"))?;
    let out = assemble(dir.path(), &oracles);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)?.contains("oracles-edited.json"));

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{not json")?;
    let out = export(
        dir.path(),
        &bad,
        "instructor",
        &dir.path().join("x.zip"),
        false,
    );
    assert_eq!(out.status.code(), Some(2));

    let bundle = bundle_in(dir.path())?;
    let out = export(
        dir.path(),
        &bundle,
        "no_such_profile",
        &dir.path().join("x.zip"),
        false,
    );
    assert_eq!(out.status.code(), Some(2));
    // The profiles are a fixed set: clap refuses the value and lists them.
    let stderr = String::from_utf8(out.stderr)?;
    assert!(stderr.contains("'no_such_profile'"), "{stderr}");
    assert!(stderr.contains("instructor_best_effort"), "{stderr}");
    Ok(())
}

/// An `as_of` whose UTC form is past year 9999 (its last hour at a negative
/// offset) is refused naming the field; `assemble` once panicked on it.
#[test]
fn an_as_of_with_no_utc_form_exits_2() -> TestResult {
    let dir = tempfile::tempdir()?;
    let scope = std::fs::read_to_string(example().join("scope.json"))?;
    let mut scope: serde_json::Value = serde_json::from_str(&scope)?;
    scope["as_of"] = json!("9999-12-31T23:30:00-01:00");
    let late = dir.path().join("scope-late.json");
    std::fs::write(&late, serde_json::to_string(&scope)?)?;
    let out = fabric(dir.path())
        .args(["dashboard", "assemble", "--scope"])
        .arg(&late)
        .arg("--oracles")
        .arg(example().join("oracles.json"))
        .output()?;
    let stderr = String::from_utf8(out.stderr)?;
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/as_of"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    Ok(())
}

#[test]
fn edited_bundle_is_a_parity_mismatch() -> TestResult {
    let dir = tempfile::tempdir()?;
    let bundle = bundle_in(dir.path())?;
    let text = std::fs::read_to_string(&bundle)?.replacen(
        "\"students_completed\": 31",
        "\"students_completed\": 32",
        1,
    );
    std::fs::write(&bundle, text)?;
    let out = export(
        dir.path(),
        &bundle,
        "instructor_best_effort",
        &dir.path().join("x.zip"),
        false,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)?.starts_with("error: parity_mismatch: bundle fingerprint")
    );
    assert!(!dir.path().join("x.zip").exists());
    Ok(())
}

#[test]
fn profiles_lists_datasets_and_policies() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = fabric(dir.path())
        .args(["dashboard", "profiles"])
        .output()?;
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("dashboard_profiles", String::from_utf8(out.stdout)?);
    Ok(())
}

/// Export reads the bundle as it streams, the student rows typed: an edited
/// student is still a parity mismatch, a row the typed form cannot hold exactly
/// (an integer percentage) leaves its projection JSON and is refused the same
/// way, and a key given twice keeps its last value, as a whole read does: the
/// same ZIP.
#[test]
fn streamed_export_reads_edited_bundles_as_the_whole_read_does() -> TestResult {
    let dir = tempfile::tempdir()?;
    let bundle = bundle_in(dir.path())?;
    let text = std::fs::read_to_string(&bundle)?;
    let good = dir.path().join("good.zip");
    let out = export(dir.path(), &bundle, "instructor_best_effort", &good, false);
    assert_eq!(out.status.code(), Some(0));
    for (from, to) in [
        ("\"name\": \"Priya Raman\"", "\"name\": \"Priya Ramen\""),
        ("\"progress_pct\": 19.1", "\"progress_pct\": 19"),
    ] {
        assert!(text.contains(from), "{from}");
        let edited = dir.path().join("edited.json");
        std::fs::write(&edited, text.replacen(from, to, 1))?;
        let zip = dir.path().join("x.zip");
        let out = export(dir.path(), &edited, "instructor_best_effort", &zip, false);
        assert_eq!(out.status.code(), Some(1), "{to}");
        assert!(
            String::from_utf8(out.stderr)?
                .starts_with("error: parity_mismatch: bundle fingerprint"),
            "{to}"
        );
        assert!(!zip.exists());
    }
    let twice = text.replacen(
        "\"inactive\": true,\n              \"last_interaction_at\": \"2026-03-06T21:00:00Z\"",
        "\"inactive\": false,\n              \"inactive\": true,\n              \"last_interaction_at\": \"2026-03-06T21:00:00Z\"",
        1,
    );
    assert_ne!(twice, text);
    let edited = dir.path().join("twice.json");
    std::fs::write(&edited, twice)?;
    let zip = dir.path().join("twice.zip");
    let out = export(dir.path(), &edited, "instructor_best_effort", &zip, false);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read(&zip)?, std::fs::read(&good)?);
    Ok(())
}

/// A bundle given as a FIFO is read once, in one pass (a second read would wait
/// for a writer that never comes, and the run would time out), and answered as
/// the same bytes in a regular file are: a good bundle, one whose rows the typed
/// form cannot hold (an integer percentage: a parity mismatch), one with a key
/// given twice, one the checks refuse (an unsupported format) and one that is
/// not JSON.
#[test]
fn a_fifo_bundle_is_read_once() -> TestResult {
    let dir = tempfile::tempdir()?;
    let text = std::fs::read_to_string(bundle_in(dir.path())?)?;
    let edit = |from: &str, to: &str| {
        assert!(text.contains(from), "{from}");
        text.replacen(from, to, 1)
    };
    let cases = [
        ("good", text.clone(), 0),
        (
            "integer",
            edit("\"progress_pct\": 19.1", "\"progress_pct\": 19"),
            1,
        ),
        (
            "twice",
            edit(
                "\"inactive\": true,",
                "\"inactive\": false, \"inactive\": true,",
            ),
            0,
        ),
        (
            "format",
            edit("fabric.dashboard.bundle/1", "fabric.dashboard.bundle/9"),
            2,
        ),
        ("broken", text[..text.len() / 2].to_owned(), 2),
    ];
    for (name, content, code) in cases {
        let file = dir.path().join(format!("{name}.json"));
        std::fs::write(&file, &content)?;
        let file_zip = dir.path().join(format!("{name}-file.zip"));
        let from_file = export(
            dir.path(),
            &file,
            "instructor_best_effort",
            &file_zip,
            false,
        );
        let file_stderr = String::from_utf8(from_file.stderr)?;
        assert_eq!(from_file.status.code(), Some(code), "{name}: {file_stderr}");
        let fifo = dir.path().join(format!("{name}.fifo"));
        crate::common::mkfifo(&fifo)?;
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, content))
        };
        let zip = dir.path().join(format!("{name}-fifo.zip"));
        let out = fabric(dir.path())
            .args([
                "dashboard",
                "export",
                "--profile",
                "instructor_best_effort",
                "--bundle",
            ])
            .arg(&fifo)
            .arg("--out")
            .arg(&zip)
            .timeout(std::time::Duration::from_secs(60))
            .output()?;
        writer.join().map_err(|_| "writer panicked")??;
        let stderr = String::from_utf8(out.stderr)?;
        assert_eq!(out.status.code(), Some(code), "{name}: {stderr}");
        let expected =
            file_stderr.replace(&file.display().to_string(), &fifo.display().to_string());
        assert_eq!(stderr, expected, "{name}");
        assert_eq!(
            std::fs::read(&zip).ok(),
            std::fs::read(&file_zip).ok(),
            "{name}"
        );
    }
    Ok(())
}
