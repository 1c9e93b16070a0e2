//! The store check policy (`$FABRIC_CHECK`): what a command reads it checks, a
//! damaged header or a damaged page is exit 3 whatever the policy, and `fabric db
//! check` runs the full check and records its pass.

use std::path::{Path, PathBuf};

use crate::common::{fabric, vectors};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const STORAGE: i32 = 3;

/// A store with the jobs of a typical mix and one saved snapshot chain.
fn store() -> Result<(tempfile::TempDir, PathBuf), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("fabric.db");
    let jobs = vectors().join("fabric/cases/03-typical-mix/results");
    let (code, stderr) = run(&db, &["ingest", &jobs.display().to_string()], &[])?;
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = run(&db, &["snapshot", "create", "--save", "--key", "k"], &[])?;
    assert_eq!(code, 0, "{stderr}");
    Ok((dir, db))
}

fn run(db: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<(i32, String), std::io::Error> {
    let home = db.parent().unwrap_or(db);
    let mut cmd = fabric(home);
    cmd.arg("--db").arg(db).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output()?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status.code().unwrap_or(-1), text))
}

/// The page size and the root page of `table`, read through SQLite.
fn root_page(db: &Path, table: &str) -> Result<(u64, u64), Box<dyn std::error::Error>> {
    let conn = rusqlite::Connection::open(db)?;
    let size: u64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let root: u64 = conn.query_row(
        "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get(0),
    )?;
    Ok((size, root))
}

/// Overwrite `bytes` at `offset` in `db`.
fn patch(db: &Path, offset: u64, bytes: &[u8]) -> TestResult {
    let mut data = std::fs::read(db)?;
    let at = usize::try_from(offset)?;
    data.get_mut(at..at + bytes.len())
        .ok_or("offset past the end of the file")?
        .copy_from_slice(bytes);
    std::fs::write(db, data)?;
    Ok(())
}

/// A damaged page of the `jobs` table: every command that reads it exits 3 naming
/// the file, under the default policy, while a command that reads only the chains
/// still answers. Under `quick` and `full` even that one refuses the file, and
/// `fabric db check` always does.
#[test]
fn a_damaged_page_a_command_reads_is_exit_3() -> TestResult {
    let (_dir, db) = store()?;
    let (size, root) = root_page(&db, "jobs")?;
    // The B-tree page type byte of the table's root page: 0x07 is no page type.
    patch(&db, (root - 1) * size, &[0x07])?;
    let before = std::fs::read(&db)?;
    for args in [
        vec!["report"],
        vec!["jobs"],
        vec!["snapshot", "create"],
        vec![
            "ingest",
            &vectors()
                .join("fabric/cases/02-one-job/results")
                .display()
                .to_string(),
        ],
    ] {
        let (code, out) = run(&db, &args, &[])?;
        assert_eq!(code, STORAGE, "{args:?}: {out}");
        assert!(out.contains("is corrupt"), "{args:?}: {out}");
        assert!(out.contains(&db.display().to_string()), "{args:?}: {out}");
    }
    let (code, out) = run(&db, &["snapshot", "show", "k"], &[])?;
    assert_eq!(code, 0, "touched: the chain pages are intact: {out}");
    for policy in ["quick", "full"] {
        let (code, out) = run(&db, &["snapshot", "show", "k"], &[("FABRIC_CHECK", policy)])?;
        assert_eq!(code, STORAGE, "{policy}: {out}");
    }
    let (code, out) = run(&db, &["db", "check"], &[])?;
    assert_eq!(code, STORAGE, "db check: {out}");
    assert_eq!(std::fs::read(&db)?, before, "nothing was written");
    Ok(())
}

/// Under `quick` and `full` the exchange commands run the whole-file check beside
/// their reads: a damaged page none of them reads is still exit 3, and nothing is
/// written first, not even the new chunks of an export into an empty pack (they
/// are committed only once the check has passed). Under `touched` the same export
/// goes through: it reads none of the damage.
#[test]
fn the_exchange_commands_write_nothing_before_the_whole_file_check() -> TestResult {
    let (dir, db) = store()?;
    let sample = vectors().join("exchange/pack/fabric-interop-sample/manifest.json");
    let sample = sample.display().to_string();
    let out = dir.path().join("packs");
    for args in [
        vec!["exchange", "import", "--manifest", &sample],
        vec![
            "exchange",
            "init",
            "--name",
            "copy",
            "--source",
            "example-api",
            "--entity",
            "page",
            "--type",
            "http",
            "--out",
            out.to_str().ok_or("path")?,
        ],
    ] {
        let (code, text) = run(&db, &args, &[])?;
        assert_eq!(code, 0, "{args:?}: {text}");
    }
    let copy = out.join("copy");
    let manifest = copy.join("manifest.json").display().to_string();
    let (size, root) = root_page(&db, "jobs")?;
    patch(&db, (root - 1) * size, &[0x07])?;
    let (store_before, pack_before) = (std::fs::read(&db)?, files(&copy)?);
    for policy in ["quick", "full"] {
        for args in [
            ["exchange", "export", "--manifest", &manifest],
            ["exchange", "import", "--manifest", &sample],
        ] {
            let (code, text) = run(&db, &args, &[("FABRIC_CHECK", policy)])?;
            assert_eq!(code, STORAGE, "{policy} {args:?}: {text}");
            assert!(text.contains("is corrupt"), "{policy} {args:?}: {text}");
        }
    }
    assert!(std::fs::read(&db)? == store_before, "the store was written");
    assert!(files(&copy)? == pack_before, "the pack was written");
    let (code, text) = run(&db, &["exchange", "export", "--manifest", &manifest], &[])?;
    assert_eq!(code, 0, "touched: {text}");
    assert!(files(&copy)? != pack_before, "touched: nothing exported");
    Ok(())
}

/// Files with their bytes, in path order.
type Files = Vec<(PathBuf, Vec<u8>)>;

/// Every file under `dir` with its bytes, but the writer's lock (which names the
/// last writer's process).
fn files(dir: &Path) -> Result<Files, Box<dyn std::error::Error>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.ends_with(".writer.lock") {
            continue;
        }
        if path.is_dir() {
            found.extend(files(&path)?);
        } else {
            found.push((path.clone(), std::fs::read(&path)?));
        }
    }
    found.sort();
    Ok(found)
}

/// A damaged chain payload (its compressed bytes) is caught by the re-hash on
/// read under every policy: no page check can see it.
#[test]
fn a_damaged_payload_is_exit_3_under_every_policy() -> TestResult {
    let (_dir, db) = store()?;
    {
        let conn = rusqlite::Connection::open(&db)?;
        conn.execute_batch(
            "DROP TRIGGER chain_payloads_immutable; \
             UPDATE chain_payloads SET payload = zeroblob(length(payload));",
        )?;
    }
    for policy in ["touched", "quick", "full"] {
        let (code, out) = run(&db, &["snapshot", "show", "k"], &[("FABRIC_CHECK", policy)])?;
        assert_eq!(code, STORAGE, "{policy}: {out}");
    }
    Ok(())
}

/// A damaged header is refused at open under the default policy, whatever the
/// command reads: a magic string or page size SQLite does not know makes the file
/// not a store (exit 2, as any file that is not SQLite), a page count beyond the
/// file is corruption (exit 3).
#[test]
fn a_damaged_header_is_refused_at_open() -> TestResult {
    let cases: [(&str, u64, &[u8], i32, &str); 3] = [
        (
            "magic string",
            0,
            b"SQLite format 4\0",
            2,
            "is not a Fabric store",
        ),
        ("page size", 16, &[0x00, 0x03], 2, "is not a Fabric store"),
        (
            "page count",
            28,
            &[0x7f, 0xff, 0xff, 0xff],
            STORAGE,
            "is corrupt",
        ),
    ];
    for (what, offset, bytes, code, says) in cases {
        let (_dir, db) = store()?;
        patch(&db, offset, bytes)?;
        for args in [vec!["snapshot", "list"], vec!["snapshot", "show", "k"]] {
            let (got, out) = run(&db, &args, &[])?;
            assert_eq!(got, code, "{what}, {args:?}: {out}");
            assert!(out.contains(says), "{what}, {args:?}: {out}");
            assert!(out.contains(&db.display().to_string()), "{what}: {out}");
        }
    }
    Ok(())
}

/// A file that is not a store at all (exit 2), and a store of another schema
/// version (exit 3), are refused at open without a whole-file check.
#[test]
fn not_a_store_and_another_version_are_refused_at_open() -> TestResult {
    let dir = tempfile::tempdir()?;
    let text = dir.path().join("notes.db");
    std::fs::write(
        &text,
        "these are not the pages you are looking for\n".repeat(200),
    )?;
    let (code, out) = run(&text, &["snapshot", "list"], &[])?;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("is not a Fabric store"), "{out}");
    let (_dir, db) = store()?;
    rusqlite::Connection::open(&db)?.pragma_update(None, "user_version", 9)?;
    let (code, out) = run(&db, &["snapshot", "list"], &[])?;
    assert_eq!(code, STORAGE, "{out}");
    assert!(out.contains("schema version"), "{out}");
    Ok(())
}

/// `$FABRIC_CHECK` takes only the three policies; anything else is bad usage that
/// names the value and the choices.
#[test]
fn an_unknown_check_policy_is_exit_2() -> TestResult {
    let (_dir, db) = store()?;
    let (code, out) = run(&db, &["snapshot", "list"], &[("FABRIC_CHECK", "thorough")])?;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("FABRIC_CHECK=thorough"), "{out}");
    assert!(out.contains("full, quick, touched"), "{out}");
    Ok(())
}

/// `fabric db check` records its pass in the store and shows the one before.
#[test]
fn db_check_records_when_it_last_passed() -> TestResult {
    let (_dir, db) = store()?;
    let (code, first) = run(&db, &["--json", "db", "check"], &[])?;
    assert_eq!(code, 0, "{first}");
    let first: serde_json::Value = serde_json::from_str(&first)?;
    assert_eq!(first["integrity"], "ok");
    assert_eq!(first["previous_pass"], serde_json::Value::Null);
    let recorded = first["recorded_at"].as_str().ok_or("no recorded_at")?;
    let (code, second) = run(&db, &["--json", "db", "check"], &[])?;
    assert_eq!(code, 0, "{second}");
    let second: serde_json::Value = serde_json::from_str(&second)?;
    assert_eq!(second["previous_pass"]["passed_at"], recorded);
    assert!(second["previous_pass"]["file_bytes"].as_u64() > Some(0));
    let (code, text) = run(&db, &["db", "check"], &[])?;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("previous pass: "), "{text}");
    // The record is not part of what other commands read: they still work.
    let (code, out) = run(&db, &["report"], &[])?;
    assert_eq!(code, 0, "{out}");
    Ok(())
}
