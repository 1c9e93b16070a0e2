//! Storage faults on the jobs and chain write paths: a database locked by another
//! process, a read-only file, a directory where the file should be, a missing
//! folder on a read, and the hot journal a killed writer leaves. Each: the right
//! exit code, a message naming the path, nothing changed.

use std::path::{Path, PathBuf};

use crate::common::{Env, fabric, read_only_file, vectors};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Exit code for "storage is unusable".
const STORAGE: i32 = 3;
/// Exit code for bad input.
const BAD_INPUT: i32 = 2;

/// The write commands under test, as argument lists (after `--db DB`).
fn write_commands() -> Vec<(&'static str, Vec<String>)> {
    let results = vectors().join("fabric/cases/03-typical-mix/results");
    vec![
        (
            "ingest",
            vec!["ingest".into(), results.display().to_string()],
        ),
        (
            "snapshot create --save",
            vec!["snapshot".into(), "create".into(), "--save".into()],
        ),
        (
            "snapshot deprecate",
            ["snapshot", "deprecate", "fabric", "1", "--reason", "test"]
                .map(String::from)
                .to_vec(),
        ),
    ]
}

/// A store with the 02-one-job case ingested and two saved snapshots (version 1
/// is not the active one, so deprecating it is a write the fault must stop).
struct Store {
    env: Env,
}

impl Store {
    fn new() -> Result<Self, Box<dyn std::error::Error>> {
        Self::with_env(&[])
    }

    /// A store created under `env` (e.g. another page size).
    fn with_env(env: &[(&str, &str)]) -> Result<Self, Box<dyn std::error::Error>> {
        let store = Store { env: Env::new()? };
        let one = vectors().join("fabric/cases/02-one-job/results");
        for args in [
            vec!["ingest", &one.display().to_string()],
            vec!["snapshot", "create", "--save"],
            vec!["snapshot", "create", "--save"],
        ] {
            let (code, stderr) =
                store.run(&args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(), env)?;
            if code != 0 {
                return Err(format!("fabric {args:?} exited {code}: {stderr}").into());
            }
        }
        Ok(store)
    }

    fn db(&self) -> PathBuf {
        self.env.db()
    }

    /// Run `fabric --db DB ARGS` under `env`: exit code and stderr.
    fn run(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<(i32, String), Box<dyn std::error::Error>> {
        self.env.code_stderr(args, env)
    }

    fn ok(&self, args: &[&str]) -> TestResult {
        self.env.ok(args).map(|_| ())
    }
}

fn bytes_of(path: &Path) -> Result<Vec<u8>, std::io::Error> {
    std::fs::read(path)
}

/// A lock held by another process (here: this test, `BEGIN IMMEDIATE`) makes every
/// write fail after the busy timeout with exit 3 and "locked", naming the file;
/// nothing is written.
#[test]
fn a_locked_store_fails_each_write_with_exit_3_and_changes_nothing() -> TestResult {
    let store = Store::new()?;
    let before = bytes_of(&store.db())?;
    let holder = rusqlite::Connection::open(store.db())?;
    holder.execute_batch("BEGIN IMMEDIATE")?;
    for (name, args) in write_commands() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = std::time::Instant::now();
        let (code, stderr) = store.run(&args, &[("FABRIC_SQLITE_BUSY_TIMEOUT_MS", "150")])?;
        assert_eq!(code, STORAGE, "{name}: {stderr}");
        assert!(stderr.contains("locked"), "{name}: {stderr}");
        assert!(stderr.contains("waited 150 ms"), "{name}: {stderr}");
        assert!(
            stderr.contains(&store.db().display().to_string()),
            "{name}: {stderr}"
        );
        assert!(
            started.elapsed().as_secs() < 5,
            "{name}: the busy timeout was not applied"
        );
    }
    holder.execute_batch("ROLLBACK")?;
    drop(holder);
    assert!(
        bytes_of(&store.db())? == before,
        "a locked write changed the store"
    );
    Ok(())
}

/// A read-only database file: exit 3, "read-only", the path; nothing changed.
/// (root ignores file modes: there the file is made immutable with `chattr +i`.)
#[test]
fn a_read_only_store_fails_each_write_with_exit_3_and_changes_nothing() -> TestResult {
    let store = Store::new()?;
    let before = bytes_of(&store.db())?;
    // root ignores file modes: the file is made immutable instead (undone on drop).
    let Some(_read_only) = read_only_file(
        &store.db(),
        "a_read_only_store_fails_each_write_with_exit_3_and_changes_nothing",
    )?
    else {
        return Ok(());
    };
    for (name, args) in write_commands() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stderr) = store.run(&args, &[])?;
        assert_eq!(code, STORAGE, "{name}: {stderr}");
        assert!(stderr.contains("read-only"), "{name}: {stderr}");
        assert!(
            stderr.contains(&store.db().display().to_string()),
            "{name}: {stderr}"
        );
    }
    assert!(
        bytes_of(&store.db())? == before,
        "a read-only store changed"
    );
    // Reading still works.
    store.ok(&["jobs"])?;
    Ok(())
}

/// A directory where the database file should be: every command (write or read)
/// fails with exit 2 naming the path ("not a Fabric store: it is a folder", not
/// SQLite's "disk I/O error"), and the directory stays empty.
#[test]
fn a_directory_in_place_of_the_store_is_exit_2_and_stays_empty() -> TestResult {
    let home = tempfile::tempdir()?;
    let db = home.path().join("fabric.db");
    std::fs::create_dir(&db)?;
    let mut commands = write_commands();
    commands.push(("jobs", vec!["jobs".into()]));
    commands.push(("report", vec!["report".into()]));
    commands.push(("db check", vec!["db".into(), "check".into()]));
    commands.push(("snapshot list", vec!["snapshot".into(), "list".into()]));
    for (name, args) in commands {
        let out = fabric(home.path())
            .arg("--db")
            .arg(&db)
            .args(&args)
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "{} is not a Fabric store: it is a folder",
                db.display()
            )),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("disk I/O error"), "{name}: {stderr}");
        assert_eq!(
            std::fs::read_dir(&db)?.count(),
            0,
            "{name} wrote into the directory"
        );
    }
    Ok(())
}

/// A read whose store folder does not exist is refused: exit 2 "no store at", and
/// no folder or file is created. Input files under a missing folder are exit 2 naming
/// the file, and no store is created either.
#[test]
fn a_missing_folder_on_a_read_creates_nothing() -> TestResult {
    let home = tempfile::tempdir()?;
    let missing = home.path().join("no").join("such");
    let db = missing.join("fabric.db");
    for args in [
        vec!["jobs"],
        vec!["report", "--format", "json"],
        vec!["db", "check"],
        vec!["snapshot", "list"],
    ] {
        let out = fabric(home.path())
            .arg("--db")
            .arg(&db)
            .args(&args)
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("error: no store at"), "{args:?}: {stderr}");
        assert!(
            !home.path().join("no").exists(),
            "{args:?} created the folder"
        );
    }
    let file = missing.join("report.json");
    let file_arg = file.display().to_string();
    for args in [
        vec!["ingest", file_arg.as_str()],
        vec!["snapshot", "create", "--from-report", &file_arg],
        vec!["snapshot", "create", "--save", "--from-report", &file_arg],
        vec!["diff", &file_arg, &file_arg],
    ] {
        let out = fabric(home.path())
            .arg("--db")
            .arg(&db)
            .args(&args)
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(BAD_INPUT), "{args:?}: {stderr}");
        assert!(stderr.contains(&file_arg), "{args:?}: {stderr}");
        assert!(
            !home.path().join("no").exists(),
            "{args:?} created the folder"
        );
    }
    Ok(())
}

/// Regression (fabric-store): a writer killed mid-transaction leaves a hot journal;
/// the next *reader* used to fail with "corrupt: attempt to write a readonly
/// database" (exit 3) until some write came along. Now it rolls the journal back:
/// the store reads as before the transaction and the journal is gone.
#[test]
fn a_hot_journal_is_rolled_back_by_the_next_reader() -> TestResult {
    let store = Store::new()?;
    let jobs_before = fabric(store.env.home())
        .arg("--db")
        .arg(store.db())
        .arg("jobs")
        .output()?;
    // Simulate the crash: a transaction big enough to spill pages into the file
    // (so the journal is synced and hot), copied while still open.
    let crashed = tempfile::tempdir()?;
    let copy = crashed.path().join("fabric.db");
    {
        let conn = rusqlite::Connection::open(store.db())?;
        conn.execute_batch(
            "PRAGMA cache_size = 4; BEGIN IMMEDIATE; \
             CREATE TABLE filler (x BLOB); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) \
             INSERT INTO filler SELECT randomblob(2000) FROM n; \
             DELETE FROM jobs;",
        )?;
        std::fs::copy(store.db(), &copy)?;
        std::fs::copy(
            store.env.home().join("fabric.db-journal"),
            crashed.path().join("fabric.db-journal"),
        )?;
        conn.execute_batch("ROLLBACK")?;
    }
    let journal = std::fs::read(crashed.path().join("fabric.db-journal"))?;
    assert!(
        journal.iter().take(8).any(|b| *b != 0),
        "the copied journal is not hot"
    );
    let check = fabric(crashed.path())
        .arg("--db")
        .arg(&copy)
        .args(["db", "check"])
        .output()?;
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        !crashed.path().join("fabric.db-journal").exists(),
        "the journal is still there"
    );
    let jobs_after = fabric(crashed.path())
        .arg("--db")
        .arg(&copy)
        .arg("jobs")
        .output()?;
    assert_eq!(jobs_after.stdout, jobs_before.stdout);
    assert!(!jobs_after.stdout.is_empty());
    Ok(())
}

/// A full disk on the chain write path (`PRAGMA max_page_count` capped at the
/// file's size): exit 3, "full", the path; the chain and the file are unchanged.
#[test]
fn a_full_disk_fails_a_chain_save_with_exit_3_and_changes_nothing() -> TestResult {
    // 4 KiB pages: with the default 32 KiB ones the report fits in the free space
    // of the pages the file already has.
    let store = Store::with_env(&[("FABRIC_SQLITE_PAGE_SIZE", "4096")])?;
    // A varied corpus: its report is several pages even compressed.
    let corpus = store.env.home().join("corpus");
    let status = std::process::Command::new("python3")
        .arg(vectors().join("fabric/gen_corpus.py"))
        .args(["--seed", "3", "--jobs", "400", "--out"])
        .arg(&corpus)
        .stdout(std::process::Stdio::null())
        .status()?;
    assert!(status.success(), "gen_corpus.py failed");
    store.ok(&["ingest", &corpus.display().to_string()])?;
    let pages: i64 = {
        let conn = rusqlite::Connection::open(store.db())?;
        conn.execute_batch("VACUUM")?;
        conn.query_row("PRAGMA page_count", [], |r| r.get(0))?
    };
    let before = bytes_of(&store.db())?;
    let (code, stderr) = store.run(
        &["snapshot", "create", "--save"],
        &[("FABRIC_SQLITE_MAX_PAGE_COUNT", &pages.to_string())],
    )?;
    assert_eq!(code, STORAGE, "{stderr}");
    assert!(stderr.contains("full"), "{stderr}");
    assert!(
        stderr.contains(&store.db().display().to_string()),
        "{stderr}"
    );
    assert!(
        bytes_of(&store.db())? == before,
        "a failed save changed the store"
    );
    Ok(())
}

/// What a write creates is private: the store folder `0700`, the file `0600`;
/// a folder that already existed keeps its mode.
#[test]
fn a_new_store_is_owner_only() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir()?;
    let db = home.path().join("new").join("deeper").join("fabric.db");
    let one = vectors().join("fabric/cases/02-one-job/results");
    let out = fabric(home.path())
        .arg("--db")
        .arg(&db)
        .arg("ingest")
        .arg(&one)
        .output()?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode(&db)?, 0o600, "store file");
    assert_eq!(
        mode(&home.path().join("new/deeper"))?,
        0o700,
        "store folder"
    );
    assert_eq!(
        mode(&home.path().join("new"))?,
        0o700,
        "created parent folder"
    );
    let home_mode = mode(home.path())?;
    let out = fabric(home.path())
        .arg("--db")
        .arg(&db)
        .args(["snapshot", "create", "--save"])
        .output()?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&db)?, 0o600, "store file after a chain save");
    assert_eq!(
        mode(home.path())?,
        home_mode,
        "an existing folder changed mode"
    );
    Ok(())
}
