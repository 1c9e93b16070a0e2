//! No silent wrong answers: a mistyped store path, a damaged schema, a failed first
//! write, a closed or full stdout and every failure under `--json` give an answer
//! that says what happened, through the real binary.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;

use crate::common::{Env, case, empty_dataset, fabric, mkfifo, s};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// What answers.rs needs of an [`Env`] besides the common runs.
trait Filled {
    /// A store with the jobs of vector case 03 and two saved versions of `fabric`.
    fn filled(&self) -> TestResult;
}

impl Filled for Env {
    fn filled(&self) -> TestResult {
        self.ok(&["ingest", &s(&case("03-typical-mix").join("results"))])?;
        self.ok(&["snapshot", "create", "--save"])?;
        self.ok(&["snapshot", "create", "--save"])?;
        Ok(())
    }
}

/// Every command that only reads the store, with what it needs besides.
fn read_commands(env: &Env) -> Result<Vec<Vec<String>>, Box<dyn std::error::Error>> {
    // A dataset to export from the store.
    let manifest = s(&empty_dataset(env.home())?);
    Ok([
        vec!["jobs"],
        vec!["job", "job-1"],
        vec!["report"],
        vec!["report", "--format", "json"],
        vec!["snapshot", "create"],
        vec!["snapshot", "list"],
        vec!["snapshot", "list", "--key", "fabric"],
        vec!["snapshot", "show", "fabric"],
        vec!["snapshot", "log"],
        vec!["snapshot", "verify"],
        vec!["snapshot", "compare", "fabric", "1", "2"],
        vec!["diff", "fabric@1", "fabric@2"],
        vec!["db", "check"],
        vec!["exchange", "export", "--manifest", &manifest],
        vec![
            "exchange",
            "schema",
            "--apply",
            "--dry-run",
            "--manifest",
            &manifest,
        ],
        // Commands that change what is there never create a store either.
        vec!["snapshot", "rollback", "fabric", "1"],
        vec!["snapshot", "deprecate", "fabric", "1", "--reason", "r"],
    ]
    .iter()
    .map(|args| args.iter().map(|a| (*a).to_owned()).collect())
    .collect())
}

/// Issue item 1: `--db typo.db jobs` printed nothing and `report` all zeros, both
/// with exit 0. Now every read says there is no store (exit 2) and creates none.
#[test]
fn a_missing_store_is_exit_2_for_every_read_and_nothing_is_created() -> TestResult {
    let env = Env::in_new_folder()?;
    for args in read_commands(&env)? {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, stderr) = env.run(&args)?;
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!(
                "error: no store at {} (create one with `fabric ingest` or `fabric db init`",
                env.db().display()
            )),
            "{args:?}: {stderr}"
        );
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(!env.db().exists(), "{args:?} created the store");
        assert!(
            !env.db().parent().ok_or("parent")?.exists(),
            "{args:?} created the folder"
        );
    }
    Ok(())
}

/// `fabric db init` creates an empty store explicitly; an empty store answers an
/// empty report (exit 0), and a second init leaves it as it is.
#[test]
fn db_init_creates_an_empty_store_that_answers_empty() -> TestResult {
    let env = Env::in_new_folder()?;
    let out = env.ok(&["db", "init"])?;
    assert!(out.contains("created an empty store"), "{out}");
    assert!(env.db().is_file());
    assert_eq!(env.ok(&["jobs"])?, "");
    let report = env.ok(&["report"])?;
    let expected = std::fs::read_to_string(case("01-empty").join("report.txt"))?;
    assert_eq!(report, format!("{expected}\n"));
    env.ok(&["ingest", &s(&case("02-one-job").join("results"))])?;
    let doc: Value = serde_json::from_str(&env.ok(&["--json", "db", "init"])?)?;
    assert_eq!(doc["created"], false);
    assert_eq!(env.ok(&["jobs"])?.lines().count(), 1, "init kept the job");
    Ok(())
}

/// Commands that need no store never open one, whatever stands at --db (a
/// folder that does not exist, a FIFO that would block an open).
#[test]
fn commands_that_need_no_store_never_open_one() -> TestResult {
    let env = Env::in_new_folder()?;
    let fifo = env.home().join("fifo");
    mkfifo(&fifo)?;
    let report = s(&case("03-typical-mix").join("report.json"));
    let snapshot = s(&case("03-typical-mix").join("snapshot.json"));
    let manifest = s(&empty_dataset(env.home())?);
    for db in [env.db(), fifo.clone()] {
        for args in [
            vec!["snapshot", "create", "--from-report", &report],
            vec!["diff", &snapshot, &snapshot],
            vec!["exchange", "schema", "--print", "--manifest", &manifest],
            vec!["completions", "bash"],
            vec!["dashboard", "profiles"],
        ] {
            let (code, stdout, stderr) = env.run_db(&db, &args)?;
            assert_eq!(code, 0, "{args:?} with --db {}: {stderr}", db.display());
            assert!(!stdout.is_empty(), "{args:?}");
        }
    }
    assert!(!env.db().exists());
    assert!(!env.db().parent().ok_or("parent")?.exists());
    Ok(())
}

/// `db check` said "integrity ok" for a missing file, /dev/zero, a FIFO and
/// /proc/self/status. Each is exit 2 saying what stands there; a directory and a
/// text file too (not "disk I/O error", not "corrupt").
#[test]
fn db_check_refuses_what_is_not_a_store() -> TestResult {
    let env = Env::in_new_folder()?;
    let fifo = env.home().join("fifo");
    mkfifo(&fifo)?;
    let folder = env.home().join("folder");
    std::fs::create_dir(&folder)?;
    let text = env.home().join("notes.txt");
    std::fs::write(
        &text,
        "not a database, just some text that is long enough\n",
    )?;
    let results = s(&case("02-one-job").join("results"));
    let cases: [(PathBuf, &str); 6] = [
        (env.db(), "no store at"),
        (
            PathBuf::from("/dev/zero"),
            "is not a Fabric store: it is a device",
        ),
        (fifo, "is not a Fabric store: it is a FIFO"),
        (
            PathBuf::from("/proc/self/status"),
            "is not a Fabric store: it is a pseudo-file",
        ),
        (folder, "is not a Fabric store: it is a folder"),
        (
            text,
            "is not a Fabric store: it is not a SQLite database file",
        ),
    ];
    for (db, says) in cases {
        for args in [vec!["db", "check"], vec!["jobs"], vec!["ingest", &results]] {
            let (code, stdout, stderr) = env.run_db(&db, &args)?;
            if args[0] == "ingest" && says == "no store at" {
                continue; // a write creates the store; the input error is its own test
            }
            assert_eq!(code, 2, "{args:?} --db {}: {stderr}", db.display());
            assert!(
                stderr.contains(says),
                "{args:?} --db {}: {stderr}",
                db.display()
            );
            assert!(!stderr.contains("integrity ok"), "{stderr}");
            assert!(!stdout.contains("integrity ok"), "{stdout}");
            assert!(!stderr.contains("corrupt"), "{stderr}");
            assert!(!stderr.contains("disk I/O error"), "{stderr}");
        }
    }
    Ok(())
}

/// A store missing a table its schema version requires is exit 3 naming the
/// table, from `db check` and from every open, never a "no such table" later.
#[test]
fn a_missing_table_is_exit_3_naming_it_on_every_open() -> TestResult {
    let env = Env::in_new_folder()?;
    env.filled()?;
    for table in ["chain_activity", "jobs"] {
        let copy = env.home().join(format!("without-{table}.db"));
        std::fs::copy(env.db(), &copy)?;
        let conn = rusqlite::Connection::open(&copy)?;
        conn.execute_batch(&format!("DROP TABLE {table}"))?;
        drop(conn);
        let results = s(&case("02-one-job").join("results"));
        for args in [
            vec!["db", "check"],
            vec!["jobs"],
            vec!["report"],
            vec!["snapshot", "list"],
            vec!["snapshot", "log"],
            vec!["snapshot", "create", "--save"],
            vec!["snapshot", "rollback", "fabric", "1"],
            vec!["ingest", &results],
        ] {
            let (code, _, stderr) = env.run_db(&copy, &args)?;
            assert_eq!(code, 3, "{args:?} without {table}: {stderr}");
            assert!(
                stderr.contains(&format!("is missing table {table}")),
                "{args:?}: {stderr}"
            );
            assert!(!stderr.contains("no such table"), "{args:?}: {stderr}");
        }
    }
    Ok(())
}

/// Issue item 2: a first write that fails (here on a page cap, as on a full disk)
/// leaves no 0-byte store, no journal and no new folder behind, whichever command
/// created it.
#[test]
fn a_failed_first_write_leaves_no_store_behind() -> TestResult {
    let env = Env::in_new_folder()?;
    let reports = env.home().join("reports");
    std::fs::create_dir(&reports)?;
    std::fs::copy(
        case("03-typical-mix").join("report.json"),
        reports.join("01.json"),
    )?;
    let results = s(&case("03-typical-mix").join("results"));
    let report = s(&case("03-typical-mix").join("report.json"));
    for args in [
        vec!["ingest", &results],
        vec!["snapshot", "create", "--save", "--from-report", &report],
        vec!["snapshot", "import-reports", &s(&reports), "--key", "k"],
        vec!["db", "init"],
    ] {
        for pages in ["1", "2", "4"] {
            let out = fabric(env.home())
                .env("FABRIC_SQLITE_MAX_PAGE_COUNT", pages)
                .arg("--db")
                .arg(env.db())
                .args(&args)
                .output()?;
            let stderr = String::from_utf8(out.stderr)?;
            assert_eq!(out.status.code(), Some(3), "{args:?} {pages}: {stderr}");
            assert!(stderr.contains("is full"), "{stderr}");
            let folder = env.db().parent().ok_or("parent")?.to_path_buf();
            assert!(
                !folder.exists(),
                "{args:?} with {pages} page(s) left {:?}",
                std::fs::read_dir(&folder)?
                    .map(|e| e.map(|e| e.file_name()))
                    .collect::<Result<Vec<_>, _>>()?
            );
        }
    }
    Ok(())
}

/// Run `fabric ARGS` (as in `env`) with stdout the write end of a pipe whose read
/// end is already closed; the exit code.
fn with_closed_stdout(env: &Env, args: &[&str]) -> Result<i32, Box<dyn std::error::Error>> {
    let (reader, writer) = std::io::pipe()?;
    drop(reader);
    let status = std::process::Command::new(assert_cmd::cargo::cargo_bin("fabric"))
        .env_clear()
        .env("HOME", env.home())
        .arg("--db")
        .arg(env.db())
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::null())
        .status()?;
    Ok(status.code().unwrap_or(-1))
}

/// Run with stdout on /dev/full: (exit code, stderr).
fn with_full_stdout(env: &Env, args: &[&str]) -> Result<(i32, String), Box<dyn std::error::Error>> {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full")?;
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("fabric"))
        .env_clear()
        .env("HOME", env.home())
        .arg("--db")
        .arg(env.db())
        .args(args)
        .stdout(Stdio::from(full))
        .stderr(Stdio::piped())
        .output()?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stderr)?,
    ))
}

/// Issue item 5: `completions bash | head -1` and `> /dev/full` panicked (exit
/// 101). Every printing command exits 0 when its reader has gone and 3 on a full
/// device, with no panic.
#[test]
fn a_closed_stdout_is_exit_0_and_a_full_one_exit_3() -> TestResult {
    let env = Env::in_new_folder()?;
    env.filled()?;
    let snapshot = s(&case("03-typical-mix").join("snapshot.json"));
    let jobs = env.ok(&["jobs"])?;
    let id = jobs.lines().next().ok_or("a job")?;
    let commands: [Vec<&str>; 15] = [
        vec!["--help"],
        vec!["snapshot", "create", "--help"],
        vec!["--version"],
        vec!["completions", "bash"],
        vec!["completions", "zsh"],
        vec!["jobs"],
        vec!["job", id],
        vec!["report"],
        vec!["--json", "report"],
        vec!["snapshot", "create"],
        vec!["snapshot", "list"],
        vec!["snapshot", "show", "fabric"],
        vec!["diff", &snapshot, &snapshot],
        vec!["db", "check"],
        vec!["dashboard", "profiles"],
    ];
    for args in &commands {
        let (code, stdout, stderr) = env.run(args)?;
        if code != 0 || stdout.is_empty() {
            return Err(format!("{args:?} prints nothing to test with: {stderr}").into());
        }
        assert_eq!(
            with_closed_stdout(&env, args)?,
            0,
            "{args:?} on a closed pipe"
        );
        let (code, stderr) = with_full_stdout(&env, args)?;
        assert_eq!(code, 3, "{args:?} on /dev/full: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(stderr.contains("cannot write <stdout>"), "{stderr}");
    }
    Ok(())
}

/// Replace the temporary folder in `text` with `[home]`.
fn redact(env: &Env, text: &str) -> String {
    text.replace(&s(env.home()), "[home]")
}

/// Issue item 6: with `--json`, a failure prints one error document on stdout
/// (code, message, causes, exit) besides the text on stderr, for every kind of
/// failure: usage, a missing store, a missing version, a version conflict, bad
/// input, a missing table.
#[test]
fn json_failures_are_one_error_document_on_stdout() -> TestResult {
    let env = Env::in_new_folder()?;
    let missing = |args: &[&str]| -> Result<String, Box<dyn std::error::Error>> {
        let (code, stdout, stderr) = env.run(&[&["--json"], args].concat())?;
        assert_ne!(code, 0, "{args:?}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        let doc: Value = serde_json::from_str(&stdout)?;
        assert_eq!(doc["error"]["exit"], code, "{args:?}: {stdout}");
        assert_eq!(
            stderr
                .lines()
                .next()
                .map(|l| l.trim_start_matches("error: ")),
            doc["error"]["message"].as_str(),
            "{args:?}"
        );
        Ok(redact(&env, &stdout))
    };
    insta::assert_snapshot!("json_error_no_store", missing(&["jobs"])?);
    insta::assert_snapshot!("json_error_usage", missing(&["jobs", "--bogus"])?);
    insta::assert_snapshot!(
        "json_error_bad_status",
        missing(&["jobs", "--status", "DONE"])?
    );
    env.filled()?;
    insta::assert_snapshot!(
        "json_error_conflict",
        missing(&["snapshot", "create", "--save", "--expect-version", "1"])?
    );
    insta::assert_snapshot!(
        "json_error_not_found",
        missing(&["snapshot", "show", "fabric@9"])?
    );
    insta::assert_snapshot!("json_error_no_job", missing(&["job", "nosuch"])?);
    insta::assert_snapshot!(
        "json_error_bad_input",
        missing(&["diff", "nosuch.json", "fabric@1"])?
    );
    let conn = rusqlite::Connection::open(env.db())?;
    conn.execute_batch("DROP TABLE chain_activity")?;
    drop(conn);
    insta::assert_snapshot!("json_error_missing_table", missing(&["report"])?);
    Ok(())
}

/// Issue item 7: a verify that ran and found damage is exit 1 (`snapshot verify`
/// said 3; `exchange verify` already said 1, see the exchange tests); a store
/// that cannot be opened is 3.
#[test]
fn a_verify_that_finds_damage_is_exit_1_and_an_unopenable_store_3() -> TestResult {
    let env = Env::in_new_folder()?;
    env.filled()?;
    // Flip one byte inside the first stored gzip stream (header 1f 8b 08, mtime 0):
    // the payload no longer matches its checksum.
    let mut bytes = std::fs::read(env.db())?;
    let header = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00];
    let at = bytes
        .windows(header.len())
        .position(|w| w == header)
        .ok_or("stored payload not found")?;
    let target = bytes.get_mut(at + 40).ok_or("payload too short")?;
    *target ^= 0x10;
    std::fs::write(env.db(), &bytes)?;
    let (code, stdout, stderr) = env.run(&["snapshot", "verify"])?;
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("DAMAGED fabric@"), "{stdout}");
    let (code, stdout, _) = env.run(&["--json", "snapshot", "verify"])?;
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout)?;
    assert_eq!(report["failures"][0]["key"], "fabric");
    // Damage SQLite's own structure: the store cannot be opened, exit 3.
    let mut bytes = std::fs::read(env.db())?;
    let len = bytes.len();
    let page = 32 * 1024;
    assert!(len > 2 * page, "store too small to damage: {len}");
    for b in bytes.iter_mut().take(len - 1).skip(page + 100) {
        *b = 0x5a;
    }
    std::fs::write(env.db(), &bytes)?;
    let (code, _, stderr) = env.run(&["snapshot", "verify"])?;
    assert_eq!(code, 3, "{stderr}");
    Ok(())
}

/// Every command group's failures under `--json`: stdout is exactly one error
/// document whose exit matches the process's, stderr the human text.
#[test]
fn every_command_fails_under_json_with_one_error_document() -> TestResult {
    let env = Env::in_new_folder()?;
    let nosuch = s(&env.home().join("nosuch.json"));
    let out = s(&env.home().join("out.zip"));
    let commands: Vec<Vec<&str>> = vec![
        vec!["ingest", &nosuch],
        vec!["jobs", "--reason", ""],
        vec!["job", "x"],
        vec!["report"],
        vec!["snapshot", "create", "--from-report", &nosuch],
        vec!["snapshot", "list"],
        vec!["snapshot", "show", "k@x"],
        vec!["snapshot", "rollback", "k", "1"],
        vec!["snapshot", "compare", "k", "1", "2"],
        vec!["snapshot", "verify"],
        vec!["snapshot", "log"],
        vec!["snapshot", "deprecate", "k", "1", "--reason", "r"],
        vec!["snapshot", "import-reports", &nosuch, "--key", "k"],
        vec!["diff", &nosuch, &nosuch],
        vec!["exchange", "verify", "--manifest", &nosuch],
        vec!["exchange", "import", "--manifest", &nosuch],
        vec!["exchange", "pack", "--manifest", &nosuch, "--out", &out],
        vec!["dashboard", "export", "--bundle", &nosuch, "--out", &out],
        vec![
            "dashboard",
            "assemble",
            "--scope",
            &nosuch,
            "--oracles",
            &nosuch,
        ],
        vec!["db", "check"],
        vec!["db", "upgrade"],
        vec!["completions", "nosh"],
    ];
    for args in commands {
        let (code, stdout, stderr) = env.run(&[&["--json"], &args[..]].concat())?;
        assert!((1..=3).contains(&code), "{args:?} exited {code}: {stderr}");
        let doc: Value = serde_json::from_str(&stdout)
            .map_err(|e| format!("{args:?}: stdout is not one JSON document ({e}): {stdout}"))?;
        assert_eq!(doc["error"]["exit"], code, "{args:?}: {stdout}");
        assert!(doc["error"]["code"].is_string(), "{args:?}: {stdout}");
        assert!(doc["error"]["causes"].is_array(), "{args:?}: {stdout}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }
    Ok(())
}
