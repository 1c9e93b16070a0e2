//! Snapshot chain semantics that must match their docs: what `--expect-version`
//! compares, deprecating the active version, chain kinds, the metadata
//! `create --save` records and what `--save --json` prints.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{Env, s, vectors};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// What chain_rules.rs needs of an [`Env`] besides the common runs.
trait Save {
    /// Save vector case `name`'s report as the next version of `fabric`.
    fn save(&self, name: &str, extra: &[&str]) -> Result<Value, Box<dyn std::error::Error>>;
}

impl Save for Env {
    fn save(&self, name: &str, extra: &[&str]) -> Result<Value, Box<dyn std::error::Error>> {
        let report = s(&report(name));
        let args = [
            &["snapshot", "create", "--save", "--from-report", &report],
            extra,
        ]
        .concat();
        self.json(&args)
    }
}

fn report(name: &str) -> PathBuf {
    vectors()
        .join("fabric/cases")
        .join(name)
        .join("report.json")
}

/// `--expect-version N` compares with the ACTIVE version, as its help, the README
/// and the error now say: after a rollback to 1 of a chain whose newest is 2,
/// expecting 2 is a conflict (exit 1) and expecting 1 saves version 3 on top of 1.
#[test]
fn expect_version_is_the_active_version_after_a_rollback() -> TestResult {
    let env = Env::new()?;
    env.save("02-one-job", &["--expect-version", "0"])?;
    env.save("03-typical-mix", &["--expect-version", "1"])?;
    env.json(&["snapshot", "rollback", "fabric", "1"])?;
    let report_arg = s(&report("05-unicode"));
    let args = [
        "snapshot",
        "create",
        "--save",
        "--from-report",
        &report_arg,
        "--expect-version",
        "2",
    ];
    let (code, stdout, stderr) = env.run(&args)?;
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("expected active version 2, actual 1 (the active version, which after a rollback is not the newest"),
        "{stderr}"
    );
    let saved = env.save("05-unicode", &["--expect-version", "1"])?;
    assert_eq!(saved["saved"]["version"], 3);
    assert_eq!(saved["saved"]["parent_version"], 1);
    let (_, help, _) = env.run(&["snapshot", "create", "--help"])?;
    assert!(help.contains("the chain's ACTIVE version is N"), "{help}");
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))?;
    assert!(
        readme.contains("save only if the ACTIVE version is"),
        "the README says what --expect-version compares"
    );
    Ok(())
}

/// Deprecating the active version left a deprecated active version; it is refused
/// with exit 1 ("roll back first") and nothing is logged. After a rollback the
/// same version can be deprecated.
#[test]
fn deprecating_the_active_version_is_refused() -> TestResult {
    let env = Env::new()?;
    env.save("02-one-job", &[])?;
    env.save("03-typical-mix", &[])?;
    let (code, _, stderr) =
        env.run(&["snapshot", "deprecate", "fabric", "2", "--reason", "bad"])?;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("is the active version: roll back first"),
        "{stderr}"
    );
    let log = env.json(&["snapshot", "log"])?;
    assert_eq!(log["entries"].as_array().map(Vec::len), Some(2));
    let shown = env.json(&["snapshot", "show", "fabric"])?;
    assert_eq!(shown["summary"]["deprecated_at"], Value::Null, "{shown}");
    env.json(&["snapshot", "rollback", "fabric", "1"])?;
    env.json(&["snapshot", "deprecate", "fabric", "2", "--reason", "bad"])?;
    Ok(())
}

/// A chain's kind is chosen by its first save: `create --save` makes a
/// fabric-report chain, which refuses a report `diff` could not read (it was saved,
/// and `diff` of it failed later); `import-reports` makes a json chain, which takes
/// any document, and `diff KEY@a KEY@b` on it points to `snapshot compare`.
#[test]
fn chain_kinds_are_checked_before_saving_and_diff_points_to_compare() -> TestResult {
    let env = Env::new()?;
    env.save("03-typical-mix", &[])?;
    let mut bad: Value = serde_json::from_str(&std::fs::read_to_string(report("03-typical-mix"))?)?;
    bad["execution_summary"]["completed"] = "x".into();
    let bad_file = env.home().join("bad.json");
    std::fs::write(&bad_file, bad.to_string())?;
    let bad_arg = s(&bad_file);
    let (code, _, stderr) =
        env.run(&["snapshot", "create", "--save", "--from-report", &bad_arg])?;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is a fabric-report chain"), "{stderr}");
    assert!(
        stderr.contains("report.execution_summary.completed is not a number"),
        "{stderr}"
    );
    let list = env.json(&["snapshot", "list", "--key", "fabric"])?;
    assert_eq!(list["total"], 1, "nothing was saved");

    let reports = env.home().join("reports");
    std::fs::create_dir(&reports)?;
    std::fs::copy(report("02-one-job"), reports.join("1.json"))?;
    std::fs::copy(report("03-typical-mix"), reports.join("2.json"))?;
    env.json(&[
        "snapshot",
        "import-reports",
        &s(&reports),
        "--key",
        "ops",
        "--order",
        "name",
    ])?;
    let (code, stdout, stderr) = env.run(&["diff", "ops@1", "ops@2"])?;
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("\"ops\" is a json chain")
            && stderr.contains("`fabric snapshot compare ops A B`"),
        "{stderr}"
    );
    assert!(!stderr.contains("not a FabricSnapshot:"), "{stderr}");
    // A json chain is free-form: the same bad report is taken.
    env.json(&[
        "snapshot",
        "create",
        "--save",
        "--key",
        "ops",
        "--from-report",
        &bad_arg,
    ])?;
    let (code, _, stderr) = env.run(&["snapshot", "compare", "ops", "1", "3"])?;
    assert_eq!(code, 0, "{stderr}");
    Ok(())
}

/// `create --save` records --source, --confidence, --data-provider, --api-version
/// and every --warning, and measures processing_ms; bad metadata is exit 2 and
/// writes nothing.
#[test]
fn create_save_records_the_metadata_flags() -> TestResult {
    let env = Env::new()?;
    env.save(
        "03-typical-mix",
        &[
            "--source",
            "migration",
            "--confidence",
            "0.75",
            "--data-provider",
            "render farm",
            "--api-version",
            "v2",
            "--warning",
            "partial night",
            "--warning",
            "one engine down",
        ],
    )?;
    let shown = env.json(&["snapshot", "show", "fabric"])?;
    let meta = &shown["metadata"];
    assert_eq!(meta["source"], "migration", "{shown}");
    assert_eq!(meta["confidence"], 0.75);
    assert_eq!(meta["data_provider"], "render farm");
    assert_eq!(meta["api_version"], "v2");
    assert_eq!(
        meta["warnings"],
        serde_json::json!(["partial night", "one engine down"])
    );
    let ms = meta["processing_ms"]
        .as_f64()
        .ok_or("processing_ms is measured")?;
    assert!((0.0..60_000.0).contains(&ms), "{ms}");
    let report_arg = s(&report("02-one-job"));
    let (code, _, stderr) = env.run(&[
        "snapshot",
        "create",
        "--save",
        "--from-report",
        &report_arg,
        "--confidence",
        "1.5",
    ])?;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("confidence"), "{stderr}");
    let list = env.json(&["snapshot", "list", "--key", "fabric"])?;
    assert_eq!(list["total"], 1);
    Ok(())
}

/// `--save --json` prints the saved key, version, parent and checksum beside the
/// snapshot document.
#[test]
fn save_json_reports_key_and_version() -> TestResult {
    let env = Env::new()?;
    env.save("02-one-job", &[])?;
    let mut saved = env.save("03-typical-mix", &["--key", "fabric"])?;
    assert_eq!(saved["saved"]["key"], "fabric");
    assert_eq!(saved["saved"]["version"], 2);
    // The checksum covers generated_at, a time: check its shape, then redact both.
    let checksum = saved["saved"]["checksum"].as_str().ok_or("checksum")?;
    assert!(checksum.len() == 64 && checksum.bytes().all(|b| b.is_ascii_hexdigit()));
    saved["saved"]["checksum"] = "[checksum]".into();
    saved["snapshot"]["generated_at"] = "[time]".into();
    insta::assert_snapshot!("save_json", serde_json::to_string_pretty(&saved)?);
    Ok(())
}
