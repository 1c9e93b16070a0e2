//! The atomic writer: whole or nothing, owner-only, a replaced file's mode kept,
//! no temporary file left, a dead writer's removed.

use std::io::Write;

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    Ok(names)
}

#[cfg(unix)]
fn mode(path: &Path) -> std::io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

/// A new file is owner-only; before the commit the old bytes are in place and
/// the new ones only in a temporary file, which the commit renames away.
#[test]
fn a_commit_replaces_the_file_whole() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("out.zip");
    write_atomic(&path, b"old")?;
    #[cfg(unix)]
    assert_eq!(mode(&path)?, 0o600);
    let mut file = AtomicFile::create(&path)?;
    file.write_all(b"new bytes")?;
    assert_eq!(std::fs::read(&path)?, b"old");
    let during = names(dir.path())?;
    assert_eq!(during.len(), 2, "{during:?}");
    assert!(
        during[0].starts_with(&format!(".out.zip.tmp-{}.", std::process::id())),
        "{during:?}"
    );
    file.commit()?;
    assert_eq!(std::fs::read(&path)?, b"new bytes");
    assert_eq!(names(dir.path())?, ["out.zip"]);
    Ok(())
}

/// A writer dropped before its commit leaves the old file and no temporary one.
#[test]
fn a_dropped_writer_leaves_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("m.json");
    write_atomic(&path, b"kept")?;
    let mut file = AtomicFile::create(&path)?;
    file.write_all(b"half")?;
    drop(file);
    assert_eq!(std::fs::read(&path)?, b"kept");
    assert_eq!(names(dir.path())?, ["m.json"]);
    Ok(())
}

/// A file replaced keeps the mode its owner gave it.
#[test]
#[cfg(unix)]
fn a_replaced_file_keeps_its_mode() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("shared.json");
    std::fs::write(&path, b"old")?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
    write_atomic(&path, b"new")?;
    assert_eq!(mode(&path)?, 0o644);
    Ok(())
}

/// A write into a folder that does not exist fails and creates nothing.
#[test]
fn a_missing_folder_fails_and_creates_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("missing").join("x.json");
    assert!(write_atomic(&path, b"x").is_err());
    assert!(!dir.path().join("missing").exists());
    Ok(())
}

/// A killed writer's temporary file (a process id no process has, in the old
/// `PREFIXpid` and the new `PREFIXpid.XXXXXX` form) is removed by the next write
/// of the same path; another path's is kept, and so is a live process's.
#[test]
fn a_killed_writers_temporary_file_is_removed_by_the_next_write() -> TestResult {
    let dir = tempfile::tempdir()?;
    let dead = dir.path().join(".out.zip.tmp-4294967294");
    let dead_new = dir.path().join(".out.zip.tmp-4294967293.a1B2c3");
    let other = dir.path().join(".other.zip.tmp-4294967294");
    for f in [&dead, &dead_new, &other] {
        std::fs::write(f, b"partial")?;
    }
    write_atomic(&dir.path().join("out.zip"), b"whole")?;
    assert!(!dead.exists());
    assert!(!dead_new.exists());
    assert!(other.exists());
    assert_eq!(std::fs::read(dir.path().join("out.zip"))?, b"whole");
    if cfg!(target_os = "linux") {
        // The parent process (the test runner's) is alive: its file stays.
        let parent = std::fs::read_to_string("/proc/self/stat")?
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().nth(1).map(str::to_owned))
            .ok_or("no ppid")?;
        let running = dir.path().join(format!(".out.zip.tmp-{parent}.xyzxyz"));
        std::fs::write(&running, b"in progress")?;
        write_atomic(&dir.path().join("out.zip"), b"again")?;
        assert!(running.exists());
    }
    Ok(())
}
