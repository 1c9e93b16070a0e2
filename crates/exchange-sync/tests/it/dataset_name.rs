//! A manifest's `dataset_name` builds `OUT/<dataset_name>/` (unpack, init): a
//! table of names that try to leave `OUT`, one test per row. Each is refused by
//! the manifest reader naming the manifest and the field, by `init_dataset`, and
//! by `unpack`, and nothing is written anywhere.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use exchange_sync::manifest::Manifest;
use exchange_sync::{CoreError, Error};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn now() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-22 03:00:00 UTC)
}

/// Every path under `dir` (files and folders).
fn tree(dir: &Path) -> Result<BTreeSet<String>, Box<dyn std::error::Error>> {
    let mut found = BTreeSet::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        found.insert(entry?.path().strip_prefix(dir)?.display().to_string());
    }
    Ok(found)
}

/// A valid manifest text with `name` as its dataset_name.
fn manifest_text(name: &str) -> Result<String, Box<dyn std::error::Error>> {
    let mut m = Manifest::new("placeholder", "http", "src", "thing");
    m.created_at = "2026-11-22T03:00:00".into();
    m.updated_at = m.created_at.clone();
    let mut value: serde_json::Value = serde_json::from_str(&m.to_text())?;
    value["dataset_name"] = name.into();
    Ok(serde_json::to_string_pretty(&value)?)
}

/// A zip holding `manifest.json` (with `name`) and an empty index.
fn archive(path: &Path, name: &str) -> TestResult {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path)?);
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("manifest.json", options)?;
    zip.write_all(manifest_text(name)?.as_bytes())?;
    zip.start_file("index.jsonl", options)?;
    zip.finish()?;
    Ok(())
}

fn refused(name: &str) -> TestResult {
    let tmp = tempfile::tempdir()?;
    // OUT sits two folders deep so that `..` escapes would still land in `tmp`.
    let out = tmp.path().join("a/b/out");
    std::fs::create_dir_all(&out)?;
    let zip = tmp.path().join("in.zip");
    archive(&zip, name)?;
    let before = tree(tmp.path())?;

    // The manifest reader: names the manifest file and the field.
    let path = tmp.path().join("ds/manifest.json");
    match Manifest::parse(&manifest_text(name)?, &path) {
        Err(CoreError::Manifest { path: p, reason }) => {
            assert_eq!(p, path);
            assert!(reason.contains("`dataset_name`"), "{reason}");
            let shown = Error::from(CoreError::Manifest { path: p, reason }).to_string();
            assert!(shown.contains("ds/manifest.json"), "{shown}");
        }
        other => return Err(format!("{name:?}: parse gave {other:?}").into()),
    }
    // init
    let mut manifest = Manifest::new(name, "http", "src", "thing");
    let err = exchange_sync::pack::init_dataset(&out, &mut manifest, now())
        .err()
        .ok_or(format!("{name:?}: init_dataset accepted it"))?;
    assert!(matches!(err, Error::Invalid { .. }), "{name:?}: {err:?}");
    // unpack, real and dry run
    for dry_run in [true, false] {
        match exchange_sync::archive::unpack(&zip, &out, None, dry_run, &Default::default()) {
            Err(Error::Core(CoreError::Manifest { path: p, reason })) => {
                assert!(p.starts_with(&zip), "{}", p.display());
                assert!(reason.contains("`dataset_name`"), "{reason}");
            }
            other => return Err(format!("{name:?}: unpack gave {other:?}").into()),
        }
    }
    assert_eq!(tree(tmp.path())?, before, "{name:?}: something was written");
    Ok(())
}

macro_rules! rows {
    ($($test:ident: $name:expr;)*) => {$(
        #[test]
        fn $test() -> TestResult {
            refused(&$name)
        }
    )*};
}

rows! {
    parent_then_name: "../x";
    parent: "..";
    current: ".";
    nested_escape: "a/../../b";
    absolute: "/etc";
    drive: "C:\\x";
    drive_relative: "C:x";
    unc_share: "\\\\server\\share";
    backslash_escape: "a\\..\\b";
    backslash_parent: "..\\x";
    nul_byte: "a\u{0}b";
    newline: "a\nb";
    device_con: "CON";
    device_nul: "NUL";
    device_com1: "COM1";
    device_lower_with_extension: "aux.txt";
    device_lpt9_padded: "lpt9 .log";
    empty: "";
    very_long: "x".repeat(300);
    slash_inside: "a/b";
    trailing_slash: "x/";
    trailing_dot: "x.";
    trailing_space: "x ";
    hidden: ".hidden";
    stream: "x:stream";
}

/// Names that are fine stay fine (the check is not a blanket refusal).
#[test]
fn ordinary_names_are_accepted() -> TestResult {
    for name in [
        "fabric-interop-sample",
        "my dataset",
        "données_2024",
        "x.y",
        "console",
        "COM10",
        &"x".repeat(200),
    ] {
        exchange_sync::manifest::check_dataset_name(name)
            .map_err(|why| format!("{name:?} refused: {why}"))?;
        Manifest::parse(&manifest_text(name)?, Path::new("m.json"))?;
    }
    Ok(())
}
