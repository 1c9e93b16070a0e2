//! `fabric exchange ... --target mssql://...`: the SQL Server path of the CLI with no
//! server present: the DDL prints offline, a closed port is exit 3 naming the host
//! (never the password), bad settings are exit 2.

use std::path::{Path, PathBuf};

use crate::common::fabric;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `fabric exchange init` a dataset in `dir`; the manifest's path.
fn dataset(dir: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    fabric(dir)
        .args([
            "exchange",
            "init",
            "--name",
            "ds",
            "--source",
            "wookieepedia",
        ])
        .args(["--entity", "page", "--type", "mediawiki", "--out"])
        .arg(dir)
        .assert()
        .success();
    Ok(dir.join("ds").join("manifest.json"))
}

/// A local port nothing listens on.
fn closed_port() -> Result<u16, std::io::Error> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

#[test]
fn schema_print_needs_no_server() -> TestResult {
    let home = tempfile::tempdir()?;
    let manifest = dataset(home.path())?;
    let port = closed_port()?;
    let out = fabric(home.path())
        .args(["exchange", "schema", "--print", "--manifest"])
        .arg(&manifest)
        .arg("--target")
        .arg(format!("mssql://sa:hunter2@127.0.0.1:{port}/Holocron"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out)?;
    assert!(!text.contains("hunter2"));
    insta::assert_snapshot!("mssql_schema_print", text);
    Ok(())
}

#[test]
fn closed_port_is_exit_3_with_host_and_no_password() -> TestResult {
    let home = tempfile::tempdir()?;
    let manifest = dataset(home.path())?;
    let port = closed_port()?;
    for target in [
        format!("mssql://sa:hunter2@127.0.0.1:{port}/Holocron?connectTimeout=5"),
        format!("Server=127.0.0.1,{port};Database=Holocron;UID=sa;PWD=hunter2;Connect Timeout=5"),
    ] {
        for command in [
            &["exchange", "import"][..],
            &["exchange", "schema", "--apply"][..],
        ] {
            let out = fabric(home.path())
                .args(command)
                .arg("--manifest")
                .arg(&manifest)
                .arg("--target")
                .arg(&target)
                .assert()
                .code(3)
                .get_output()
                .clone();
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(all.contains(&format!("127.0.0.1:{port}")), "{all}");
            assert!(!all.contains("hunter2"), "password leaked: {all}");
        }
    }
    Ok(())
}

#[test]
fn ingest_variables_select_sql_server() -> TestResult {
    let home = tempfile::tempdir()?;
    let manifest = dataset(home.path())?;
    let port = closed_port()?;
    let out = fabric(home.path())
        .args(["exchange", "export", "--manifest"])
        .arg(&manifest)
        .env("INGEST_SQLSERVER_HOST", "127.0.0.1")
        .env("INGEST_SQLSERVER_PORT", port.to_string())
        .env("INGEST_SQLSERVER_PASSWORD", "hunter2")
        .env("INGEST_SQLSERVER_DRIVER", "ODBC Driver 18 for SQL Server")
        .assert()
        .code(3)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("mssql://sa@127.0.0.1:{port}/Holocron")),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    Ok(())
}

#[test]
fn bad_settings_are_exit_2_without_the_password() -> TestResult {
    let home = tempfile::tempdir()?;
    let manifest = dataset(home.path())?;
    let out = fabric(home.path())
        .args(["exchange", "sync", "--manifest"])
        .arg(&manifest)
        .args([
            "--target",
            "mssql://sa:hunter2@db.example/Holocron?colour=blue",
        ])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("colour"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    Ok(())
}

#[test]
fn target_help_says_driver_is_ignored() -> TestResult {
    let home = tempfile::tempdir()?;
    let out = fabric(home.path())
        .args(["exchange", "schema", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8(out)?;
    assert!(help.contains("INGEST_SQLSERVER_DRIVER"), "{help}");
    assert!(help.contains("ignored"), "{help}");
    assert!(help.contains("mssql://"), "{help}");
    Ok(())
}
