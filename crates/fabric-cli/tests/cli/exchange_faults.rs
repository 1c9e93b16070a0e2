//! Storage faults on the exchange write paths (import, sync, export, schema
//! --apply, pack, unpack) through the real binary: a full disk, a read-only or
//! locked target database, a directory where a file is expected, a missing folder
//! on a read, an unwritable archive folder. Each: the right exit code, a message
//! naming the path, nothing changed (target bytes, pack folder, no archive).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{Env, Immutable, copy_dir, read_only_file, vectors};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const STORAGE: i32 = 3;
const BAD_INPUT: i32 = 2;

/// A home folder with a copy of the sample pack (`ds/`) and a store whose mirror
/// table exists and is empty.
struct Setup {
    env: Env,
}

impl Setup {
    fn new() -> Result<Self, Box<dyn std::error::Error>> {
        let setup = Setup { env: Env::new()? };
        copy_dir(
            &vectors().join("exchange/pack/fabric-interop-sample"),
            &setup.ds(),
        )?;
        let (code, err) = setup.run(
            &["exchange", "schema", "--apply", "--manifest", &setup.m()],
            &[],
        )?;
        if code != 0 {
            return Err(format!("schema --apply: {err}").into());
        }
        // A second dataset whose mirror table does not exist yet (for schema --apply).
        let mut other: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(setup.ds().join("manifest.json"))?)?;
        other["sql_target"]["table"] = "Other".into();
        std::fs::create_dir_all(setup.path().join("other"))?;
        std::fs::write(setup.other(), serde_json::to_string_pretty(&other)?)?;
        Ok(setup)
    }

    fn path(&self) -> &Path {
        self.env.home()
    }

    fn db(&self) -> PathBuf {
        self.env.db()
    }

    fn ds(&self) -> PathBuf {
        self.path().join("ds")
    }

    fn m(&self) -> String {
        self.ds().join("manifest.json").display().to_string()
    }

    /// The manifest of a dataset whose mirror table is missing.
    fn other(&self) -> PathBuf {
        self.path().join("other/manifest.json")
    }

    /// Run `fabric --db DB ARGS` with `env`; exit code and stderr.
    fn run(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<(i32, String), Box<dyn std::error::Error>> {
        self.env.code_stderr(args, env)
    }

    /// Run `args` under `env` and check the refusal every storage fault gives: exit
    /// 3, each of `words` and the database's path in the message, the pack unchanged.
    fn refused(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        words: &[&str],
        pack: &Snapshot,
    ) -> TestResult {
        let (code, err) = self.run(args, env)?;
        assert_eq!(code, STORAGE, "{args:?}: {err}");
        for word in words {
            assert!(err.contains(word), "{args:?}: {err}");
        }
        assert!(
            err.contains(&self.db().display().to_string()),
            "{args:?}: {err}"
        );
        assert_eq!(&snapshot(&self.ds())?, pack, "{args:?} changed the pack");
        Ok(())
    }

    /// The write commands on the target database.
    fn db_writes(&self) -> Vec<Vec<String>> {
        let m = self.m();
        let other = self.other().display().to_string();
        [
            vec!["exchange", "import", "--manifest", &m],
            vec!["exchange", "sync", "--manifest", &m],
            vec!["exchange", "schema", "--apply", "--manifest", &other],
        ]
        .iter()
        .map(|a| a.iter().map(|s| (*s).to_owned()).collect())
        .collect()
    }
}

/// Every file of a folder with its bytes (see [`snapshot`]).
type Snapshot = BTreeMap<String, Vec<u8>>;

/// Every file under `dir` with its bytes (and every folder, as empty).
fn snapshot(dir: &Path) -> Result<Snapshot, Box<dyn std::error::Error>> {
    let mut files = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let entry = entry?;
        let rel = entry.path().strip_prefix(dir)?.display().to_string();
        // A writer creates the pack's lock file (and leaves it: removing a lock
        // file others may wait on would let two writers in). It is no record.
        if rel == ".writer.lock" {
            continue;
        }
        let bytes = if entry.file_type().is_file() {
            std::fs::read(entry.path())?
        } else {
            Vec::new()
        };
        files.insert(rel, bytes);
    }
    Ok(files)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Disk full during an import (`PRAGMA max_page_count` at the file's size): exit
/// 3, "full", the database path; the database and the pack are unchanged.
#[test]
fn a_full_disk_fails_import_and_sync_with_exit_3_and_changes_nothing() -> TestResult {
    let s = Setup::new()?;
    // A store of 4 KiB pages: with the default 32 KiB ones the small sample pack
    // fits in the free space of the pages the file already has.
    std::fs::remove_file(s.db())?;
    let (code, err) = s.run(
        &["exchange", "schema", "--apply", "--manifest", &s.m()],
        &[("FABRIC_SQLITE_PAGE_SIZE", "4096")],
    )?;
    assert_eq!(code, 0, "{err}");
    let pages: i64 = {
        let conn = rusqlite::Connection::open(s.db())?;
        conn.execute_batch("VACUUM")?;
        conn.query_row("PRAGMA page_count", [], |r| r.get(0))?
    };
    let db = std::fs::read(s.db())?;
    let pack = snapshot(&s.ds())?;
    let m = s.m();
    for args in [
        vec!["exchange", "import", "--manifest", &m],
        vec!["exchange", "sync", "--manifest", &m],
    ] {
        s.refused(
            &args,
            &[("FABRIC_SQLITE_MAX_PAGE_COUNT", &pages.to_string())],
            &["full"],
            &pack,
        )?;
        assert!(
            std::fs::read(s.db())? == db,
            "{args:?} changed the database"
        );
    }
    Ok(())
}

/// A read-only target database: exit 3, "read-only", the path; nothing changed.
#[test]
fn a_read_only_target_fails_each_write_with_exit_3_and_changes_nothing() -> TestResult {
    let s = Setup::new()?;
    let Some(_read_only) = read_only_file(
        &s.db(),
        "a_read_only_target_fails_each_write_with_exit_3_and_changes_nothing",
    )?
    else {
        return Ok(());
    };
    let db = std::fs::read(s.db())?;
    let pack = snapshot(&s.ds())?;
    for args in s.db_writes() {
        s.refused(&strs(&args), &[], &["read-only"], &pack)?;
        assert!(
            std::fs::read(s.db())? == db,
            "{args:?} changed the database"
        );
    }
    Ok(())
}

/// A target locked by another process (`BEGIN IMMEDIATE`): exit 3 after the busy
/// timeout, "locked", the path; nothing changed.
#[test]
fn a_locked_target_fails_each_write_with_exit_3_and_changes_nothing() -> TestResult {
    let s = Setup::new()?;
    let db = std::fs::read(s.db())?;
    let pack = snapshot(&s.ds())?;
    let holder = rusqlite::Connection::open(s.db())?;
    holder.execute_batch("BEGIN IMMEDIATE")?;
    for args in s.db_writes() {
        let started = std::time::Instant::now();
        s.refused(
            &strs(&args),
            &[("FABRIC_SQLITE_BUSY_TIMEOUT_MS", "150")],
            &["locked", "waited 150 ms"],
            &pack,
        )?;
        assert!(started.elapsed().as_secs() < 5, "{args:?}: no busy timeout");
    }
    holder.execute_batch("ROLLBACK")?;
    drop(holder);
    assert!(
        std::fs::read(s.db())? == db,
        "a locked write changed the database"
    );
    Ok(())
}

/// A directory where the database is expected: import, sync, export and schema
/// --apply exit 2 ("not a Fabric store: it is a folder") naming it, and it stays
/// empty.
#[test]
fn a_directory_in_place_of_the_target_is_exit_2_and_stays_empty() -> TestResult {
    let s = Setup::new()?;
    std::fs::remove_file(s.db())?;
    std::fs::create_dir(s.db())?;
    let pack = snapshot(&s.ds())?;
    let m = s.m();
    let mut commands = s.db_writes();
    commands.push(
        ["exchange", "export", "--manifest", &m]
            .map(String::from)
            .to_vec(),
    );
    for args in commands {
        let (code, err) = s.run(&strs(&args), &[])?;
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("is not a Fabric store: it is a folder"),
            "{err}"
        );
        assert!(err.contains(&s.db().display().to_string()), "{err}");
        assert_eq!(snapshot(&s.ds())?, pack, "{args:?} changed the pack");
        assert_eq!(
            std::fs::read_dir(s.db())?.count(),
            0,
            "{args:?} wrote into it"
        );
    }
    Ok(())
}

/// A directory where the archive is expected: `pack` exits 2 naming it (nothing
/// written into it, no temporary file beside it); `unpack --in` it exits 2 naming
/// it; a directory as the manifest exits 2 naming it.
#[test]
fn a_directory_in_place_of_an_archive_or_manifest_is_refused() -> TestResult {
    let s = Setup::new()?;
    let out = s.path().join("out");
    let zip = out.join("p.zip");
    std::fs::create_dir_all(&zip)?;
    let before = snapshot(s.path())?;
    let (code, err) = s.run(
        &[
            "exchange",
            "pack",
            "--manifest",
            &s.m(),
            "--out",
            &zip.display().to_string(),
        ],
        &[],
    )?;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a folder; it is not replaced"), "{err}");
    assert!(err.contains(&zip.display().to_string()), "{err}");
    let (code, err) = s.run(
        &[
            "exchange",
            "unpack",
            "--in",
            &zip.display().to_string(),
            "--out",
            &out.display().to_string(),
        ],
        &[],
    )?;
    assert_eq!(code, BAD_INPUT, "{err}");
    assert!(err.contains(&zip.display().to_string()), "{err}");
    let as_dir = s.path().join("dir-manifest");
    std::fs::create_dir(&as_dir)?;
    for cmd in ["import", "export", "verify"] {
        let (code, err) = s.run(
            &["exchange", cmd, "--manifest", &as_dir.display().to_string()],
            &[],
        )?;
        assert_eq!(code, BAD_INPUT, "{cmd}: {err}");
        assert!(err.contains(&as_dir.display().to_string()), "{cmd}: {err}");
    }
    std::fs::remove_dir(&as_dir)?;
    assert_eq!(snapshot(s.path())?, before, "something changed");
    Ok(())
}

/// A read under a missing folder (a manifest for export/verify/import, an archive
/// for unpack): exit 2 naming the file; no folder, store or archive is created.
#[test]
fn a_missing_folder_on_a_read_is_exit_2_and_creates_nothing() -> TestResult {
    let s = Setup::new()?;
    let before = snapshot(s.path())?;
    let missing = s.path().join("no/such");
    let m = missing.join("ds/manifest.json").display().to_string();
    let zip = missing.join("p.zip").display().to_string();
    let out = s.path().join("unpacked").display().to_string();
    for args in [
        vec!["exchange", "export", "--manifest", &m],
        vec!["exchange", "verify", "--manifest", &m],
        vec!["exchange", "import", "--manifest", &m],
        vec!["exchange", "pack", "--manifest", &m, "--out", &zip],
        vec!["exchange", "unpack", "--in", &zip, "--out", &out],
    ] {
        let (code, err) = s.run(&args, &[])?;
        assert_eq!(code, BAD_INPUT, "{args:?}: {err}");
        assert!(
            err.contains(&missing.display().to_string()),
            "{args:?}: {err}"
        );
        assert_eq!(snapshot(s.path())?, before, "{args:?} created something");
    }
    Ok(())
}

/// An archive folder that cannot be written (immutable): `pack` exits 3 naming
/// the archive and the folder stays empty. A missing archive folder is created.
#[test]
fn pack_into_an_unwritable_folder_is_exit_3_and_a_missing_one_is_created() -> TestResult {
    let s = Setup::new()?;
    let locked = s.path().join("locked");
    std::fs::create_dir(&locked)?;
    let Some(guard) = Immutable::set(
        &locked,
        "pack_into_an_unwritable_folder_is_exit_3_and_a_missing_one_is_created",
    )?
    else {
        return Ok(());
    };
    let pack = snapshot(&s.ds())?;
    for (extra, name) in [(None, "p.zip"), (Some("--encrypt"), "p.zip.enc")] {
        let mut args = vec!["exchange", "pack", "--manifest"];
        let m = s.m();
        let out = locked.join(name).display().to_string();
        args.extend([m.as_str(), "--out", &out]);
        args.extend(extra);
        let (code, err) = s.run(&args, &[("SNAPSHOT_ENCRYPTION_KEY", "k")])?;
        assert_eq!(code, STORAGE, "{args:?}: {err}");
        assert!(err.contains(&out), "{args:?}: {err}");
        assert_eq!(std::fs::read_dir(&locked)?.count(), 0, "{args:?} wrote");
    }
    drop(guard);
    assert_eq!(snapshot(&s.ds())?, pack, "pack changed the dataset");
    let fresh = s.path().join("new/deeper/p.zip");
    let (code, err) = s.run(
        &[
            "exchange",
            "pack",
            "--manifest",
            &s.m(),
            "--out",
            &fresh.display().to_string(),
        ],
        &[],
    )?;
    assert_eq!(code, 0, "{err}");
    assert!(fresh.is_file());
    Ok(())
}

/// A store created through `--target sqlite://OTHER` (not the `--db` file) by a
/// write that fails is removed again, with its journal and the folders the run
/// made for it, just like a failed first write to the `--db` store.
#[test]
fn a_failed_first_write_to_another_target_leaves_no_store_behind() -> TestResult {
    let setup = Setup::new()?;
    let m = setup.m();
    let folder = setup.path().join("new/deeper");
    let other = folder.join("other.db");
    let target = format!("sqlite://{}", other.display());
    for args in [
        vec!["exchange", "import", "--manifest", &m, "--target", &target],
        vec!["exchange", "sync", "--manifest", &m, "--target", &target],
    ] {
        for pages in ["1", "2", "4"] {
            let (code, err) = setup.run(&args, &[("FABRIC_SQLITE_MAX_PAGE_COUNT", pages)])?;
            assert_eq!(code, STORAGE, "{args:?} {pages}: {err}");
            assert!(err.contains("is full"), "{args:?} {pages}: {err}");
            assert!(
                !setup.path().join("new").exists(),
                "{args:?} with {pages} page(s) left {}",
                other.display()
            );
        }
    }
    // The same run with room to write keeps its store.
    let (code, err) = setup.run(
        &["exchange", "import", "--manifest", &m, "--target", &target],
        &[],
    )?;
    assert_eq!(code, 0, "{err}");
    assert!(other.is_file());
    Ok(())
}
