//! exchange-sync's safe unpacker (`archive::unpack_bytes`, the body of `unpack`).
//! The first byte picks the mode: even, the rest is the archive file as is (a zip,
//! or anything else, which goes to the decryptor); odd, the rest is encrypted first
//! (the reference's `.zip.enc` layout) so the decrypt-then-unzip path sees
//! fuzzer-shaped zips. The key is fixed and PBKDF2 runs 1 iteration instead of
//! 480,000 (`iterations` is a parameter for exactly this); the format is the same.
//!
//! Properties: never a panic; nothing is written outside the output folder (the
//! per-process scratch folder holding it must contain nothing else afterwards);
//! memory stays under libFuzzer's `-rss_limit_mb`; on success every file is
//! inside `OUT/<dataset_name>/` (no temporary folder left beside it); on failure
//! the output folder is left empty.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use exchange_sync::archive::unpack_bytes;
use exchange_sync::crypto::encrypt_with_iterations;
use libfuzzer_sys::fuzz_target;

const KEY: &[u8] = b"fabric-interop-TEST-KEY-not-a-secret";

/// This process's scratch folder (one per process, so parallel jobs never meet);
/// created for each run and removed after it.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        std::env::temp_dir().join(format!("fabric-fuzz-unpack-{}", std::process::id()))
    })
}

/// Every path under `dir` (not following symbolic links).
fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        found.push(path.clone());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&path, found);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let raw = if mode & 1 == 1 {
        encrypt_with_iterations(KEY, rest, 1).expect("encryption with a fixed key")
    } else {
        rest.to_vec()
    };
    let root = scratch();
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root).expect("create the scratch folder");
    let out = root.join("out");
    let result = unpack_bytes(raw, Path::new("fuzz.zip"), &out, Some(KEY), 1, false, &Default::default(), &mut |_, _| {});
    let mut found = Vec::new();
    walk(root, &mut found);
    for path in &found {
        assert!(
            path == &out || path.starts_with(&out),
            "written outside the output folder: {}",
            path.display()
        );
    }
    match &result {
        Ok(target) => {
            assert_eq!(
                target.parent(),
                Some(out.as_path()),
                "target is OUT/<dataset_name>"
            );
            assert!(target.is_dir(), "the target folder exists");
            for path in found.iter().filter(|p| *p != &out) {
                assert!(
                    path.starts_with(target),
                    "left outside OUT/<dataset_name>: {}",
                    path.display()
                );
            }
        }
        Err(_) => {
            let stray: Vec<_> = found.iter().filter(|p| *p != &out).collect();
            assert!(stray.is_empty(), "a failed unpack left files: {stray:?}");
        }
    }
    let _ = std::fs::remove_dir_all(root);
});
