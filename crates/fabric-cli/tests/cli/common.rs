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

/// The environment variable that lets a fault test whose fault cannot be set up
/// here (no `chattr`, a filesystem without the immutable flag) skip, saying so.
/// Unset, such a test fails: a fault test never passes without its fault.
pub const ALLOW_FAULT_SKIP: &str = "FABRIC_TEST_ALLOW_FAULT_SKIP";

impl Immutable {
    /// Make `path` immutable. When chattr is unavailable or refused: an error, or
    /// `Ok(None)` (the caller skips, after a `SKIPPED` line naming `test`) when
    /// [`ALLOW_FAULT_SKIP`] is `1`.
    pub fn set(path: &std::path::Path, test: &str) -> Result<Option<Self>, String> {
        let ok = std::process::Command::new("chattr")
            .arg("+i")
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(Some(Immutable(path.to_path_buf())));
        }
        let why = format!(
            "{test}: cannot set up the fault: `chattr +i {}` failed, and this user \
             ignores file modes; run where chattr works (ext4, xfs, btrfs), or set \
             {ALLOW_FAULT_SKIP}=1 to skip this test",
            path.display()
        );
        if std::env::var(ALLOW_FAULT_SKIP).as_deref() == Ok("1") {
            eprintln!("SKIPPED {why}");
            return Ok(None);
        }
        Err(why)
    }
}

/// Make the file `path` unwritable for this user: mode 0444, and `chattr +i` when
/// the user ignores modes (root). The guard undoes the flag; `Ok(None)` as for
/// [`Immutable::set`].
pub fn read_only_file(
    path: &std::path::Path,
    test: &str,
) -> Result<Option<Option<Immutable>>, Box<dyn std::error::Error>> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444))?;
    if std::fs::OpenOptions::new().write(true).open(path).is_err() {
        return Ok(Some(None));
    }
    Ok(Immutable::set(path, test)?.map(Some))
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

/// Checks on what a finished command wrote to stderr.
pub trait StderrText: Sized {
    /// The command's stderr contains `text`.
    fn stderr_has(self, text: &str) -> Self;
    /// The command's stderr does not contain `text`.
    fn stderr_lacks(self, text: &str) -> Self;
}

impl StderrText for assert_cmd::assert::Assert {
    fn stderr_has(self, text: &str) -> Self {
        let stderr = String::from_utf8_lossy(&self.get_output().stderr).into_owned();
        assert!(stderr.contains(text), "stderr lacks {text:?}:\n{stderr}");
        self
    }

    fn stderr_lacks(self, text: &str) -> Self {
        let stderr = String::from_utf8_lossy(&self.get_output().stderr).into_owned();
        assert!(!stderr.contains(text), "stderr has {text:?}:\n{stderr}");
        self
    }
}

/// `p` as text, for an argument list.
pub fn s(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// The folder of compatibility vector case `name` (`tests/vectors/fabric/cases`).
pub fn case(name: &str) -> PathBuf {
    vectors().join("fabric").join("cases").join(name)
}

/// Copy a folder tree.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// A temporary home for one test and a store path in it that does not exist
/// yet: `HOME/fabric.db` ([`Env::new`]) or `HOME/store/fabric.db`, its folder
/// missing too ([`Env::in_new_folder`]).
pub struct Env {
    dir: tempfile::TempDir,
    db: PathBuf,
}

impl Env {
    /// A home with the store path `HOME/fabric.db`.
    pub fn new() -> Result<Self, std::io::Error> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("fabric.db");
        Ok(Env { dir, db })
    }

    /// A home with the store path `HOME/store/fabric.db` (no `store/` yet).
    pub fn in_new_folder() -> Result<Self, std::io::Error> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("store").join("fabric.db");
        Ok(Env { dir, db })
    }

    /// The home folder.
    pub fn home(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The store path.
    pub fn db(&self) -> PathBuf {
        self.db.clone()
    }

    /// `fabric --db DB` (arguments to add).
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = fabric(self.home());
        cmd.arg("--db").arg(&self.db);
        cmd
    }

    /// Run `fabric --db DB ARGS`: (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> Result<Outcome, Box<dyn std::error::Error>> {
        self.run_env(args, &[])
    }

    /// [`Env::run`] with the variables `env` set.
    pub fn run_env(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Outcome, Box<dyn std::error::Error>> {
        let mut cmd = self.cmd();
        for (k, v) in env {
            cmd.env(k, v);
        }
        outcome(cmd.args(args))
    }

    /// [`Env::run_env`]: the exit code and stderr only.
    pub fn code_stderr(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<(i32, String), Box<dyn std::error::Error>> {
        let (code, _, stderr) = self.run_env(args, env)?;
        Ok((code, stderr))
    }

    /// Run `fabric --db DB ARGS` against another store path `db`.
    pub fn run_db(
        &self,
        db: &std::path::Path,
        args: &[&str],
    ) -> Result<Outcome, Box<dyn std::error::Error>> {
        outcome(fabric(self.home()).arg("--db").arg(db).args(args))
    }

    /// [`Env::run`], which must succeed: its stdout.
    pub fn ok(&self, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
        let (code, stdout, stderr) = self.run(args)?;
        if code != 0 {
            return Err(format!("fabric {args:?} exited {code}: {stderr}").into());
        }
        Ok(stdout)
    }

    /// [`Env::ok`] with `--json`: stdout parsed.
    pub fn json(&self, args: &[&str]) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
        let stdout = self.ok(&[&["--json"], args].concat())?;
        Ok(serde_json::from_str(&stdout)?)
    }
}

/// A dataset `name` (scope `src`/`thing`) under `home/packs`, made by `exchange
/// init`, holding `records` (NDJSON envelopes) added by `exchange add`: its
/// manifest's path.
pub fn dataset_with(
    home: &std::path::Path,
    name: &str,
    records: &str,
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let out = home.join("packs");
    fabric(home)
        .args([
            "exchange", "init", "--name", name, "--source", "src", "--entity", "thing", "--type",
            "http", "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let m = out.join(name).join("manifest.json");
    let input = home.join(format!("{name}.ndjson"));
    std::fs::write(&input, records)?;
    fabric(home)
        .args(["exchange", "add", "--manifest"])
        .arg(&m)
        .arg(&input)
        .assert()
        .success();
    Ok(m)
}
