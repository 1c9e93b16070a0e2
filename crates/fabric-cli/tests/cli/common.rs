//! Helpers shared by the end-to-end tests.

use std::path::PathBuf;

/// The repository's copy of the compatibility vectors (`tests/vectors`).
pub fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

/// A `fabric` command with a clean environment: no `$FABRIC_DB`, no
/// `INGEST_SQLSERVER_*`, no `SNAPSHOT_ENCRYPTION_KEY`, `HOME` pointing at `home`.
pub fn fabric(home: &std::path::Path) -> assert_cmd::Command {
    let mut cmd =
        assert_cmd::Command::cargo_bin("fabric").expect("the fabric binary is built by cargo test");
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1");
    cmd
}
