//! Item 1: one writer at a time per pack. Concurrent `add`s all land; a second
//! writer waits, then fails with exit 3 naming the holder's process id; a reader
//! waits for a live writer and never removes its files.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Home, STORAGE, TestResult, records};

/// Start `fabric --db DB ARGS` in `home` with `stdin` written to it (and closed
/// unless `keep_open`, then returned with the child).
fn spawn(
    home: &Home,
    args: &[&str],
    stdin: &str,
    keep_open: bool,
) -> std::io::Result<(std::process::Child, Option<std::process::ChildStdin>)> {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("fabric"))
        .env_clear()
        .env("HOME", home.path())
        .arg("--db")
        .arg(home.db())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut input = child.stdin.take();
    if let Some(pipe) = input.as_mut() {
        pipe.write_all(stdin.as_bytes())?;
        pipe.flush()?;
    }
    Ok((child, if keep_open { input } else { None }))
}

/// Wait for `child`; it must exit 0.
fn succeeds(child: std::process::Child) -> TestResult {
    let out = child.wait_with_output()?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Four `add`s into one pack at once (small chunks, so each writes many files):
/// every one exits 0 and every record is in the pack afterwards. Without the
/// lock, records were lost (and both commands still exited 0).
#[test]
fn concurrent_adds_lose_no_records() -> TestResult {
    let home = Home::new()?;
    let m = home.m();
    let mut children = Vec::new();
    for w in 0..4 {
        let args = ["exchange", "add", "--chunk-size", "7", "--manifest", &m];
        children.push(spawn(&home, &args, &records(w * 1000, 60), false)?.0);
    }
    for child in children {
        succeeds(child)?;
    }
    assert_eq!(home.verify()?, (0, 240));
    Ok(())
}

/// A writer that holds the pack (an `add` still reading its stdin): a second
/// `add` waits FABRIC_LOCK_WAIT seconds and exits 3 naming the holder's process
/// id; `verify` (a reader) waits too and removes nothing. Once the first is done,
/// both writes are in the pack.
#[test]
fn a_second_writer_waits_then_names_the_holder() -> TestResult {
    let home = Home::new()?;
    let m = home.m();
    let args = ["exchange", "add", "--manifest", &m];
    let (first, stdin) = spawn(&home, &args, &records(0, 5), true)?;
    let pid = first.id();
    // The first writer holds the lock once its id is in the lock file.
    let lock = home.ds().join(".writer.lock");
    let start = Instant::now();
    while std::fs::read_to_string(&lock).unwrap_or_default().trim() != pid.to_string() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the first writer never locked"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = home.files()?;
    let wait = [("FABRIC_LOCK_WAIT", "1")];
    let second = home.run(
        &["exchange", "add", "--manifest", &m],
        &[],
        &records(100, 3),
        &wait,
    )?;
    assert_eq!(second.code, STORAGE, "{second:?}");
    assert!(
        second
            .stderr
            .contains(&format!("pack ds is being written by process {pid}")),
        "{second:?}"
    );
    let verify = home.run(&["exchange", "verify", "--manifest", &m], &[], "", &wait)?;
    assert_eq!(verify.code, STORAGE, "{verify:?}");
    assert!(verify.stderr.contains(&pid.to_string()), "{verify:?}");
    assert_eq!(home.files()?, before, "a waiting command touched the pack");
    drop(stdin);
    let out = first.wait_with_output()?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = home.add(&records(100, 3), &[])?;
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(home.verify()?, (0, 8));
    Ok(())
}

/// `add` and `export` at once into one pack (the export writes the store's rows
/// the pack lacks): both exit 0 and the pack then holds every record once.
#[test]
fn add_and_export_at_once_lose_nothing() -> TestResult {
    let home = Home::new()?;
    let m = home.m();
    // The store holds 80 records the pack will lack: import them from a second
    // dataset of the same scope.
    let other = Home::new()?;
    assert_eq!(other.add(&records(5000, 80), &[])?.code, 0);
    let import = home.run(
        &["exchange", "import", "--manifest", &other.m()],
        &[],
        "",
        &[],
    )?;
    assert_eq!(import.code, 0, "{import:?}");
    let add = ["exchange", "add", "--chunk-size", "5", "--manifest", &m];
    let export = ["exchange", "export", "--chunk-size", "5", "--manifest", &m];
    let (add, _) = spawn(&home, &add, &records(0, 60), false)?;
    let (export, _) = spawn(&home, &export, "", false)?;
    for child in [add, export] {
        succeeds(child)?;
    }
    assert_eq!(home.verify()?, (0, 140));
    Ok(())
}
