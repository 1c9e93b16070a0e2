//! The help the binary gives: version output, the checked-in manual pages, options
//! that do not apply.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{StderrText, fabric};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn read_dir(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, std::io::Error> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        files.insert(
            entry.file_name().to_string_lossy().into_owned(),
            std::fs::read(entry.path())?,
        );
    }
    Ok(files)
}

/// `docs/man/` is what the current command tree generates: run `cargo xtask man`
/// after changing a command, an option or an example.
#[test]
fn the_man_pages_are_up_to_date() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("man");
    fabric(tmp.path())
        .args(["generate-man", "--out"])
        .arg(&out)
        .assert()
        .success();
    let generated = read_dir(&out)?;
    let checked_in = read_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/man"))?;
    assert!(generated.contains_key("fabric.1") && generated.len() > 30);
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&checked_in),
        names(&generated),
        "docs/man/ has other pages than the commands: run `cargo xtask man`"
    );
    for (name, bytes) in &generated {
        assert!(
            checked_in.get(name) == Some(bytes),
            "docs/man/{name} is out of date: run `cargo xtask man`"
        );
    }
    let jobs = String::from_utf8_lossy(&generated["fabric-jobs.1"]).into_owned();
    assert!(
        jobs.contains("Examples:") && jobs.contains("COMPLETED"),
        "{jobs}"
    );
    Ok(())
}

#[test]
fn version_short_and_verbose() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let version = env!("CARGO_PKG_VERSION");
    fabric(tmp.path())
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("fabric {version}\n"));
    fabric(tmp.path())
        .arg("version")
        .assert()
        .success()
        .stdout(format!("fabric {version}\n"));
    let out = fabric(tmp.path()).args(["version", "--verbose"]).output()?;
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout)?;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&format!("fabric {version}").as_str()));
    assert!(lines.iter().any(|l| l.starts_with("commit:")), "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("backends:") && l.contains("sqlite")),
        "{text}"
    );
    // The SQL Server backend is listed exactly when this build has it.
    let mssql = lines
        .iter()
        .any(|l| l.starts_with("backends:") && l.contains("mssql"));
    assert_eq!(mssql, cfg!(feature = "mssql"), "{text}");
    let sqlite = lines
        .iter()
        .find(|l| l.starts_with("sqlite:"))
        .copied()
        .unwrap_or("");
    assert!(
        sqlite
            .trim_start_matches("sqlite:")
            .trim()
            .starts_with("3."),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_slice(
        &fabric(tmp.path())
            .args(["version", "--json"])
            .output()?
            .stdout,
    )?;
    assert_eq!(json["version"], version);
    assert!(
        json["backends"]
            .as_array()
            .is_some_and(|b| b.contains(&"sqlite".into()))
    );
    Ok(())
}

#[test]
fn an_option_that_does_not_apply_is_hidden_and_refused() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let help = fabric(tmp.path())
        .args(["exchange", "import", "--help"])
        .output()?;
    let help = String::from_utf8(help.stdout)?;
    assert!(
        help.contains("--conflict") && !help.contains("--direction"),
        "{help}"
    );
    let packs = tmp.path().join("packs");
    fabric(tmp.path())
        .args([
            "exchange", "init", "--name", "o", "--source", "s", "--entity", "e", "--type", "http",
            "--out",
        ])
        .arg(&packs)
        .assert()
        .success();
    fabric(tmp.path())
        .args(["--db"])
        .arg(tmp.path().join("f.db"))
        .args([
            "exchange",
            "import",
            "--direction",
            "sql_to_json",
            "--manifest",
        ])
        .arg(packs.join("o/manifest.json"))
        .assert()
        .code(2)
        .stderr_has("--direction");
    Ok(())
}

#[test]
fn db_is_not_listed_where_no_store_is_opened() -> TestResult {
    let tmp = tempfile::tempdir()?;
    for args in [
        &["dashboard", "export", "--help"][..],
        &["exchange", "pack", "--help"],
        &["version", "--help"],
    ] {
        let help = String::from_utf8(fabric(tmp.path()).args(args).output()?.stdout)?;
        assert!(
            help.contains("--json") && !help.contains("--db"),
            "{args:?}:\n{help}"
        );
    }
    let jobs = String::from_utf8(fabric(tmp.path()).args(["jobs", "--help"]).output()?.stdout)?;
    assert!(jobs.contains("--db <PATH>"), "{jobs}");
    // Still accepted anywhere, as a global option.
    fabric(tmp.path())
        .args(["dashboard", "profiles", "--db"])
        .arg(tmp.path().join("unused.db"))
        .assert()
        .success();
    assert!(!tmp.path().join("unused.db").exists());
    Ok(())
}
