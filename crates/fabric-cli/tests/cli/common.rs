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

/// `chattr +i` on a file or folder for the life of the guard: tests run as root,
/// whom file modes cannot stop.
pub struct Immutable(std::path::PathBuf);

impl Immutable {
    /// `None` when chattr is unavailable or refused (the caller skips that case).
    pub fn set(path: &std::path::Path) -> Option<Self> {
        let ok = std::process::Command::new("chattr")
            .arg("+i")
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?
            .success();
        ok.then(|| Immutable(path.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        // Best effort: the temporary folder cannot be removed while this is set.
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

/// What a finished command gave: (exit code, stdout, stderr).
pub type Outcome = (i32, String, String);

/// Run `cmd` to the end: its exit code (-1 for a signal), stdout and stderr.
pub fn outcome(cmd: &mut assert_cmd::Command) -> Result<Outcome, Box<dyn std::error::Error>> {
    let out = cmd.output()?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout)?,
        String::from_utf8(out.stderr)?,
    ))
}

/// `mkfifo PATH`.
pub fn mkfifo(path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()?
        .success();
    if !ok {
        return Err(format!("mkfifo {} failed", path.display()).into());
    }
    Ok(())
}

/// An empty exchange dataset `ds` under `home/packs`: its manifest's path.
pub fn empty_dataset(home: &std::path::Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let packs = home.join("packs");
    let (code, _, stderr) = outcome(
        fabric(home)
            .args([
                "exchange", "init", "--name", "ds", "--source", "s", "--entity", "e", "--type",
                "http", "--out",
            ])
            .arg(&packs),
    )?;
    if code != 0 {
        return Err(format!("exchange init exited {code}: {stderr}").into());
    }
    Ok(packs.join("ds").join("manifest.json"))
}
