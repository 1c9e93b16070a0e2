//! Output paths that are not plain files: a FIFO or a device given as `--out` is
//! written through or refused, never replaced by a regular file; a symbolic link's
//! target is written and the link stays.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::common::{empty_dataset, fabric, mkfifo, outcome, s, vectors};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `fabric ARGS` in `home`: (exit code, stderr).
fn run(home: &Path, args: &[&str]) -> Result<(i32, String), Box<dyn std::error::Error>> {
    let (code, _, stderr) = outcome(fabric(home).args(args))?;
    Ok((code, stderr))
}

/// A bundle of the dashboard example in `home`.
fn bundle(home: &Path) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let example = vectors().join("dashboard/example");
    let out = fabric(home)
        .args(["dashboard", "assemble", "--scope"])
        .arg(example.join("scope.json"))
        .arg("--oracles")
        .arg(example.join("oracles.json"))
        .output()?;
    assert_eq!(out.status.code(), Some(0));
    let path = home.join("bundle.json");
    std::fs::write(&path, out.stdout)?;
    Ok(path)
}

/// `dashboard export` of `bundle` to `out`: (exit code, stderr).
fn export(
    home: &Path,
    bundle: &Path,
    out: &Path,
) -> Result<(i32, String), Box<dyn std::error::Error>> {
    run(
        home,
        &[
            "dashboard",
            "export",
            "--bundle",
            &s(bundle),
            "--profile",
            "instructor_best_effort",
            "--out",
            &s(out),
        ],
    )
}

/// `dashboard export --out FIFO` writes the archive through the FIFO (a reader
/// gets a whole zip) and the FIFO stays a FIFO; it used to be replaced by a
/// regular file.
#[test]
fn export_writes_through_a_fifo_and_leaves_it_a_fifo() -> TestResult {
    let home = tempfile::tempdir()?;
    let bundle = bundle(home.path())?;
    let fifo = home.path().join("out.zip");
    mkfifo(&fifo)?;
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo))
    };
    let (code, stderr) = export(home.path(), &bundle, &fifo)?;
    assert_eq!(code, 0, "{stderr}");
    // Checked before joining: had the FIFO been replaced, the reader would wait
    // on it forever (the thread is then left behind, the test fails).
    assert!(std::fs::symlink_metadata(&fifo)?.file_type().is_fifo());
    let bytes = reader.join().map_err(|_| "reader panicked")??;
    let zip = zip::ZipArchive::new(std::io::Cursor::new(bytes))?;
    assert!(zip.len() > 1, "a whole archive came through");
    Ok(())
}

/// A character device as `--out` is written through and stays a device. (As
/// root the old code replaced the device node with a regular file.)
#[test]
fn export_to_a_character_device_writes_through_and_keeps_the_node() -> TestResult {
    let home = tempfile::tempdir()?;
    let bundle = bundle(home.path())?;
    // A private /dev/null (major 1, minor 3): needs root, as the tests run here.
    let null = home.path().join("null");
    let made = std::process::Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .status()?
        .success();
    let device = if made {
        null
    } else {
        // Without mknod rights (not root), the system's own /dev/null: a process
        // that cannot make a device node cannot rename over one in /dev either.
        eprintln!("mknod refused: testing with /dev/null itself");
        PathBuf::from("/dev/null")
    };
    let (code, stderr) = export(home.path(), &bundle, &device)?;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        std::fs::symlink_metadata(&device)?
            .file_type()
            .is_char_device()
    );
    Ok(())
}

/// A symbolic link as `--out`: the file it names is replaced (keeping its mode),
/// the link stays a link. A folder is refused, exit 2, and left alone.
#[test]
fn export_to_a_link_writes_its_target_and_a_folder_is_refused() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir()?;
    let bundle = bundle(home.path())?;
    let target = home.path().join("real.zip");
    std::fs::write(&target, "old")?;
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644))?;
    let link = home.path().join("link.zip");
    std::os::unix::fs::symlink("real.zip", &link)?;
    let (code, stderr) = export(home.path(), &bundle, &link)?;
    assert_eq!(code, 0, "{stderr}");
    assert!(std::fs::symlink_metadata(&link)?.file_type().is_symlink());
    zip::ZipArchive::new(std::fs::File::open(&target)?)?;
    assert_eq!(
        std::fs::metadata(&target)?.permissions().mode() & 0o777,
        0o644
    );
    // A dangling link: the file it names is created.
    let dangling = home.path().join("dangling.zip");
    std::os::unix::fs::symlink("made.zip", &dangling)?;
    let (code, stderr) = export(home.path(), &bundle, &dangling)?;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        std::fs::symlink_metadata(&dangling)?
            .file_type()
            .is_symlink()
    );
    assert!(home.path().join("made.zip").is_file());

    let folder = home.path().join("folder.zip");
    std::fs::create_dir(&folder)?;
    let (code, stderr) = export(home.path(), &bundle, &folder)?;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("is a folder; it is not replaced"),
        "{stderr}"
    );
    assert!(folder.is_dir());
    Ok(())
}

/// `exchange pack --out` a FIFO is refused (an archive is written by rename),
/// exit 2, and the FIFO stays; a link is followed to its target.
#[test]
fn pack_refuses_a_fifo_and_follows_a_link() -> TestResult {
    let home = tempfile::tempdir()?;
    let manifest = s(&empty_dataset(home.path())?);
    let fifo = home.path().join("pack.zip");
    mkfifo(&fifo)?;
    let (code, stderr) = run(
        home.path(),
        &[
            "exchange",
            "pack",
            "--manifest",
            &manifest,
            "--out",
            &s(&fifo),
        ],
    )?;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("it is not replaced"), "{stderr}");
    assert!(std::fs::symlink_metadata(&fifo)?.file_type().is_fifo());

    let target = home.path().join("real.zip");
    std::fs::write(&target, "old")?;
    let link = home.path().join("link.zip");
    std::os::unix::fs::symlink(&target, &link)?;
    let (code, stderr) = run(
        home.path(),
        &[
            "exchange",
            "pack",
            "--manifest",
            &manifest,
            "--out",
            &s(&link),
        ],
    )?;
    assert_eq!(code, 0, "{stderr}");
    assert!(std::fs::symlink_metadata(&link)?.file_type().is_symlink());
    zip::ZipArchive::new(std::fs::File::open(&target)?)?;
    Ok(())
}
