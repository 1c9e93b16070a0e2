//! End-to-end tests of the versioned snapshot chains (`fabric snapshot list|show|
//! rollback|compare|verify|log|deprecate|import-reports`).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::common::{Env, vectors};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// What chains.rs needs of an [`Env`] besides the common runs.
trait Chains {
    /// Run with `--json`, expect success, and return stdout with times redacted
    /// (for snapshots of the exact printed document).
    fn json_text(&self, args: &[&str]) -> Result<String, Box<dyn std::error::Error>>;
    /// A folder `name` holding the `report.json` of each vector case, as `NN.json`.
    fn reports(&self, name: &str, cases: &[&str]) -> Result<PathBuf, std::io::Error>;
    /// The three-version chain `fabric` from vector cases 01..03, by name.
    fn imported(&self) -> Result<(), Box<dyn std::error::Error>>;
}

impl Chains for Env {
    fn json_text(&self, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
        let stdout = self.ok(&[&["--json"], args].concat())?;
        serde_json::from_str::<Value>(&stdout)?;
        Ok(redact_times(&stdout))
    }

    fn reports(&self, name: &str, cases: &[&str]) -> Result<PathBuf, std::io::Error> {
        let folder = self.home().join(name);
        std::fs::create_dir_all(&folder)?;
        for (i, case) in cases.iter().enumerate() {
            let from = vectors()
                .join("fabric/cases")
                .join(case)
                .join("report.json");
            std::fs::copy(from, folder.join(format!("{:02}.json", i + 1)))?;
        }
        Ok(folder)
    }

    fn imported(&self) -> Result<(), Box<dyn std::error::Error>> {
        let dir = self.reports("reports", &["01-empty", "02-one-job", "03-typical-mix"])?;
        self.json(&[
            "snapshot",
            "import-reports",
            path(&dir)?,
            "--key",
            "fabric",
            "--order",
            "name",
        ])?;
        Ok(())
    }
}

fn path(p: &Path) -> Result<&str, &'static str> {
    p.to_str().ok_or("temporary paths are UTF-8")
}

/// Replace every `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00` in `text` with `[time]`.
fn redact_times(text: &str) -> String {
    let bytes = text.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd";
    let fits = |at: usize| {
        shape.iter().enumerate().all(|(i, s)| {
            bytes.get(at + i).is_some_and(|b| {
                if *s == b'd' {
                    b.is_ascii_digit()
                } else {
                    b == s
                }
            })
        })
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if fits(i) {
            let mut end = i + shape.len();
            if bytes.get(end) == Some(&b'.') {
                end += 1;
                while bytes.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
            }
            if text.get(end..end + 6) == Some("+00:00") {
                end += 6;
            }
            out.push_str("[time]");
            i = end;
        } else {
            let c = text[i..].chars().next().unwrap_or('?');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

#[test]
fn list_json_reports_summaries_newest_first_and_the_compression_saving() -> TestResult {
    let env = Env::new()?;
    env.imported()?;
    insta::assert_snapshot!(
        "list_key_json",
        env.json_text(&["snapshot", "list", "--key", "fabric"])?
    );
    insta::assert_snapshot!("list_json", env.json_text(&["snapshot", "list"])?);
    // Paging: newest first, offset counts from the newest.
    let second = env.json(&[
        "snapshot", "list", "--key", "fabric", "--limit", "1", "--offset", "1",
    ])?;
    assert_eq!(second["versions"][0]["version"], 2);
    assert_eq!(second["next_offset"], 2);
    let last = env.json(&[
        "snapshot", "list", "--key", "fabric", "--limit", "5", "--offset", "2",
    ])?;
    assert_eq!(last["versions"].as_array().map(Vec::len), Some(1));
    assert_eq!(last["next_offset"], Value::Null);
    Ok(())
}

#[test]
fn show_prints_the_verified_version() -> TestResult {
    let env = Env::new()?;
    env.imported()?;
    insta::assert_snapshot!(
        "show_json",
        env.json_text(&["snapshot", "show", "fabric@2"])?
    );
    let shown = env.json(&["snapshot", "show", "fabric@2"])?;
    // The stored payload is the report itself (canonical: same checksum).
    let report: Value = serde_json::from_str(&std::fs::read_to_string(
        vectors().join("fabric/cases/02-one-job/report.json"),
    )?)?;
    assert_eq!(shown["payload"], report);
    assert_eq!(shown["checksum"], fabric_core::chain::checksum(&report));
    // Without a version: the active one.
    assert_eq!(env.json(&["snapshot", "show", "fabric"])?["version"], 3);
    let (code, stdout, _) = env.run(&["snapshot", "show", "fabric@1"])?;
    assert_eq!(code, 0);
    insta::assert_snapshot!("show_text", redact_times(&stdout));
    Ok(())
}

#[test]
fn compare_lists_added_modified_deleted_paths_with_counts() -> TestResult {
    let env = Env::new()?;
    env.imported()?;
    insta::assert_snapshot!(
        "compare_json",
        env.json_text(&["snapshot", "compare", "fabric", "1", "2"])?
    );
    let (code, stdout, _) = env.run(&["snapshot", "compare", "fabric", "2", "1"])?;
    assert_eq!(code, 0);
    insta::assert_snapshot!("compare_text", stdout);
    Ok(())
}

#[test]
fn rollback_deprecate_and_the_activity_log() -> TestResult {
    let env = Env::new()?;
    env.imported()?;
    let moved = env.json(&["snapshot", "rollback", "fabric", "1", "--actor", "alice"])?;
    assert_eq!(
        (
            moved["from_version"].as_i64(),
            moved["to_version"].as_i64(),
            moved["changed"].as_bool()
        ),
        (Some(3), Some(1), Some(true))
    );
    // Rolling back to the active version is a defined no-op (nothing logged).
    let same = env.json(&["snapshot", "rollback", "fabric", "1", "--actor", "alice"])?;
    assert_eq!(same["changed"], false);
    assert_eq!(env.json(&["snapshot", "show", "fabric"])?["version"], 1);
    env.json(&[
        "snapshot",
        "deprecate",
        "fabric",
        "2",
        "--reason",
        "totals were wrong",
        "--actor",
        "bob",
    ])?;
    let (code, _, stderr) = env.run(&["snapshot", "rollback", "fabric", "2"])?;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("deprecated"), "{stderr}");
    let (code, _, stderr) =
        env.run(&["snapshot", "deprecate", "fabric", "2", "--reason", "again"])?;
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!(
        "log_json",
        env.json_text(&["snapshot", "log", "--key", "fabric"])?
    );
    let (code, stdout, _) = env.run(&["snapshot", "log"])?;
    assert_eq!(code, 0);
    insta::assert_snapshot!("log_text", redact_times(&stdout));
    Ok(())
}

#[test]
fn import_orders_by_modification_time_or_name() -> TestResult {
    let env = Env::new()?;
    // 01.json holds case 03, 02.json case 01; 01.json is made the newer file.
    let dir = env.reports("mtime", &["03-typical-mix", "01-empty"])?;
    let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    std::fs::File::options()
        .write(true)
        .open(dir.join("01.json"))?
        .set_modified(base + Duration::from_secs(60))?;
    std::fs::File::options()
        .write(true)
        .open(dir.join("02.json"))?
        .set_modified(base)?;
    let by_mtime = env.json(&["snapshot", "import-reports", path(&dir)?, "--key", "m"])?;
    let files = |v: &Value| -> Vec<String> {
        v["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["file"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(files(&by_mtime), ["02.json", "01.json"]);
    // retrieved_at is the file's modification time.
    let first = env.json(&["snapshot", "show", "m@1"])?;
    assert_eq!(
        first["metadata"]["retrieved_at"],
        "2023-11-14T22:13:20+00:00"
    );
    assert_eq!(first["metadata"]["source"], "import");
    let by_name = env.json(&[
        "snapshot",
        "import-reports",
        path(&dir)?,
        "--key",
        "n",
        "--order",
        "name",
    ])?;
    assert_eq!(files(&by_name), ["01.json", "02.json"]);
    Ok(())
}

#[test]
fn bad_input_exits_2_naming_the_culprit_and_writes_nothing() -> TestResult {
    let env = Env::new()?;
    let dir = env.reports("reports", &["01-empty", "02-one-job"])?;
    let d = path(&dir)?;
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "snapshot",
                "import-reports",
                d,
                "--key",
                "k",
                "--confidence",
                "1.5",
            ],
            "confidence",
        ),
        (
            &[
                "snapshot",
                "import-reports",
                d,
                "--key",
                "k",
                "--source",
                "scraper",
            ],
            "\"scraper\"",
        ),
        (
            &["snapshot", "import-reports", d, "--key", "a key"],
            "\"a key\"",
        ),
        (
            &[
                "snapshot",
                "import-reports",
                d,
                "--key",
                "k",
                "--confidence",
                "-0.5",
            ],
            "confidence",
        ),
    ];
    for (args, culprit) in cases {
        let (code, _, stderr) = env.run(args)?;
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(culprit), "{args:?}: {stderr}");
    }
    assert!(!env.db().exists(), "bad metadata creates no store");
    std::fs::write(dir.join("03.json"), "{\"report\": ")?;
    let (code, _, stderr) = env.run(&["snapshot", "import-reports", d, "--key", "k"])?;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("03.json"), "{stderr}");
    // Missing key, missing version, malformed KEY@VERSION.
    std::fs::remove_file(dir.join("03.json"))?;
    env.json(&["snapshot", "import-reports", d, "--key", "k"])?;
    for (args, culprit) in [
        (&["snapshot", "show", "nope"][..], "\"nope\""),
        (&["snapshot", "show", "k@7"][..], "no version 7"),
        (&["snapshot", "show", "k@x"][..], "k@x"),
        (&["snapshot", "compare", "k", "1", "9"][..], "no version 9"),
        (&["snapshot", "rollback", "k", "5"][..], "no version 5"),
        (&["snapshot", "log", "--key", "nope"][..], "\"nope\""),
    ] {
        let (code, _, stderr) = env.run(args)?;
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(culprit), "{args:?}: {stderr}");
    }
    let list = env.json(&["snapshot", "list"])?;
    assert_eq!(list["chains"][0]["versions"], 2);
    assert_eq!(
        env.json(&["snapshot", "log"])?["entries"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    Ok(())
}

#[test]
fn a_flipped_byte_in_a_stored_payload_is_found_by_show_and_verify() -> TestResult {
    let env = Env::new()?;
    let dir = env.reports("reports", &["03-typical-mix"])?;
    env.json(&["snapshot", "import-reports", path(&dir)?, "--key", "fabric"])?;
    assert_eq!(
        env.json(&["snapshot", "verify"])?["failures"],
        Value::Array(vec![])
    );
    // Flip one byte inside the stored gzip stream (its header: 1f 8b 08, mtime 0).
    let mut bytes = std::fs::read(env.db())?;
    let header = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00];
    let at = bytes
        .windows(header.len())
        .position(|w| w == header)
        .ok_or("stored payload not found")?;
    let target = bytes.get_mut(at + 40).ok_or("payload too short")?;
    *target ^= 0x10;
    std::fs::write(env.db(), &bytes)?;
    let (code, stdout, stderr) = env.run(&["snapshot", "show", "fabric"])?;
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("snapshot chain \"fabric\" version 1 failed its integrity check"),
        "{stderr}"
    );
    // A verify that ran and found damage is exit 1, its report the one document.
    let (code, stdout, stderr) = env.run(&["--json", "snapshot", "verify"])?;
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout)?;
    assert_eq!(report["failures"][0]["key"], "fabric");
    assert_eq!(report["failures"][0]["version"], 1);
    assert!(stderr.contains("fabric@1"), "{stderr}");
    // The damage is in the data, not in SQLite's structure: the store still opens.
    let (code, _, stderr) = env.run(&["snapshot", "list"])?;
    assert_eq!(code, 0, "{stderr}");
    Ok(())
}

#[test]
fn two_fabric_processes_racing_get_distinct_consecutive_versions() -> TestResult {
    let env = Env::new()?;
    let dir = env.reports("reports", &["01-empty", "02-one-job"])?;
    // A read on a missing store is exit 2 and creates nothing.
    let (code, _, stderr) = env.run(&["snapshot", "list"])?;
    assert_eq!(code, 2, "{stderr}");
    const RUNS: usize = 15;
    let worker = || -> Result<(), String> {
        for _ in 0..RUNS {
            let out = env
                .cmd()
                .args([
                    "--json",
                    "snapshot",
                    "import-reports",
                    path(&dir).map_err(str::to_owned)?,
                    "--key",
                    "race",
                ])
                .output()
                .map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).into_owned());
            }
        }
        Ok(())
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(worker);
        let b = s.spawn(worker);
        (a.join(), b.join())
    });
    a.map_err(|_| "worker thread")??;
    b.map_err(|_| "worker thread")??;
    let total = 2 * RUNS * 2;
    let page = env.json(&["snapshot", "list", "--key", "race", "--limit", "1000"])?;
    assert_eq!(page["total"], total);
    let versions: Vec<i64> = page["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["version"].as_i64())
        .collect();
    assert_eq!(versions, (1..=total as i64).rev().collect::<Vec<_>>());
    let active: Vec<&Value> = page["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["is_active"] == true)
        .collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["version"], total);
    assert_eq!(env.json(&["snapshot", "verify"])?["versions"], total);
    Ok(())
}
