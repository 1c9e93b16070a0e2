//! `dataset_name` path escapes through the real binary, one test per row:
//! `exchange unpack` of an archive whose manifest holds the name, `exchange pack`
//! of a dataset whose manifest holds it, and `exchange init --name`. Each exits 2
//! naming the manifest and the field (init: the flag) and writes nothing.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use crate::common::fabric;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn tree(dir: &Path) -> Result<BTreeSet<String>, Box<dyn std::error::Error>> {
    let mut found = BTreeSet::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        found.insert(entry?.path().strip_prefix(dir)?.display().to_string());
    }
    Ok(found)
}

/// A manifest like `exchange init` writes, with `name` as dataset_name.
fn manifest_text(name: &str) -> Result<String, Box<dyn std::error::Error>> {
    let value = serde_json::json!({
        "dataset_name": name, "description": "", "owner": "", "exchange_type": "http",
        "source_system": "src", "entity_type": "thing",
        "created_at": "2026-11-22T03:00:00", "updated_at": "2026-11-22T03:00:00", "version": 1
    });
    Ok(serde_json::to_string_pretty(&value)?)
}

fn refused(name: &str) -> TestResult {
    let home = tempfile::tempdir()?;
    let root = home.path();
    let out = root.join("a/b/out");
    std::fs::create_dir_all(&out)?;
    // An archive whose manifest holds the name.
    let zip_path = root.join("in.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path)?);
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("manifest.json", options)?;
    zip.write_all(manifest_text(name)?.as_bytes())?;
    zip.start_file("index.jsonl", options)?;
    zip.finish()?;
    // A dataset folder whose manifest holds the name.
    let ds = root.join("ds");
    std::fs::create_dir_all(ds.join("records"))?;
    std::fs::write(ds.join("manifest.json"), manifest_text(name)?)?;
    std::fs::write(ds.join("index.jsonl"), "")?;
    let before = tree(root)?;

    for json in [false, true] {
        let mut unpack = fabric(root);
        if json {
            unpack.arg("--json");
        }
        let got = unpack
            .args(["exchange", "unpack", "--in"])
            .arg(&zip_path)
            .arg("--out")
            .arg(&out)
            .output()?;
        let err = String::from_utf8_lossy(&got.stderr);
        assert_eq!(got.status.code(), Some(2), "{name:?} unpack: {err}");
        assert!(
            err.contains("in.zip/manifest.json") && err.contains("`dataset_name`"),
            "{name:?} unpack: {err}"
        );

        let mut pack = fabric(root);
        if json {
            pack.arg("--json");
        }
        let got = pack
            .args(["exchange", "pack", "--manifest"])
            .arg(ds.join("manifest.json"))
            .arg("--out")
            .arg(out.join("p.zip"))
            .output()?;
        let err = String::from_utf8_lossy(&got.stderr);
        assert_eq!(got.status.code(), Some(2), "{name:?} pack: {err}");
        assert!(
            err.contains("ds/manifest.json") && err.contains("`dataset_name`"),
            "{name:?} pack: {err}"
        );
    }
    if !name.contains('\0') {
        let got = fabric(root)
            .args([
                "exchange", "init", "--source", "s", "--entity", "e", "--type", "http",
            ])
            .arg("--name")
            .arg(name)
            .arg("--out")
            .arg(&out)
            .output()?;
        let err = String::from_utf8_lossy(&got.stderr);
        assert_eq!(got.status.code(), Some(2), "{name:?} init: {err}");
        assert!(err.contains("--name"), "{name:?} init: {err}");
    }
    assert_eq!(tree(root)?, before, "{name:?}: something was written");
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
    unc_share: "\\\\server\\share";
    backslash_escape: "a\\..\\b";
    nul_byte: "a\u{0}b";
    device_con: "CON";
    device_nul: "NUL";
    device_com1: "COM1";
    device_with_extension: "aux.txt";
    empty: "";
    very_long: "x".repeat(300);
    slash_inside: "a/b";
}
