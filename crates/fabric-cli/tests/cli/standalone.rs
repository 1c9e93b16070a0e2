//! The repository stands alone: no file refers to documents outside it.
//!
//! Every text file of the repository (code, docs, manifests, test data) is read and
//! searched for references to the requirement material the project started from
//! (a `shared/` folder, numbered requirement documents, section signs) and for
//! relative paths that climb out of the repository.

use std::path::{Path, PathBuf};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The repository root (this package lives in `crates/fabric-cli`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Folders that hold build output or generated fuzzing data, not sources.
const SKIPPED_DIRS: &[&str] = &[".git", "target", "corpus", "artifacts", "coverage"];

/// Why `line` of a file at `dir_depth` folders below the root (or `crate_depth`
/// when the line builds a path from `CARGO_MANIFEST_DIR`) refers outside the
/// repository, if it does.
fn outside_reference(line: &str, dir_depth: usize, crate_depth: usize) -> Option<String> {
    let lower = line.to_lowercase();
    for needle in ["shared/", "\u{a7}", "-behaviour.md", "cli.md"] {
        if lower.contains(needle) {
            return Some(format!("mentions `{needle}`"));
        }
    }
    // Requirement documents were numbered: "seed" or "seeds" followed by a number, "the
    // seed's layout". A random-number seed (`--seed 42`, `seed: u64`) is fine.
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).copied().unwrap_or("");
        let numbered =
            next.len() == 3 && next.starts_with('0') && next.chars().all(|c| c.is_ascii_digit());
        if ((*w == "seed" || *w == "seeds") && numbered)
            || *w == "seed's"
            || (*w == "the" && next == "seed" && words.get(i + 2) != Some(&"of"))
        {
            return Some("names a requirement document (\"seed\")".to_owned());
        }
    }
    // A run of `../` longer than the folder depth leaves the repository.
    let depth = if line.contains("CARGO_MANIFEST_DIR") {
        crate_depth
    } else {
        dir_depth
    };
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let mut ups = 0;
        while line[i..].starts_with("../") {
            ups += 1;
            i += 3;
        }
        if ups > depth {
            return Some(format!(
                "climbs {ups} folders up from {depth} below the root"
            ));
        }
        i += 1;
        while i < bytes.len() && !line.is_char_boundary(i) {
            i += 1;
        }
    }
    None
}

/// The depth below the root of the nearest folder holding a `Cargo.toml`.
fn crate_depth(root: &Path, dir: &Path) -> usize {
    dir.ancestors()
        .take_while(|d| d.starts_with(root))
        .find(|d| d.join("Cargo.toml").is_file())
        .and_then(|d| d.strip_prefix(root).ok())
        .map_or(0, |rel| rel.components().count())
}

#[test]
fn no_file_refers_outside_the_repository() -> TestResult {
    let root = repo_root();
    let me = root.join("crates/fabric-cli/tests/cli/standalone.rs");
    let mut scanned = 0;
    let mut found = Vec::new();
    let walk = walkdir::WalkDir::new(&root).into_iter().filter_entry(|e| {
        !(e.file_type().is_dir()
            && SKIPPED_DIRS.contains(&e.file_name().to_string_lossy().as_ref()))
    });
    for entry in walk {
        let entry = entry?;
        if !entry.file_type().is_file() || entry.path() == me {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue; // not UTF-8: archives, encrypted packs, databases
        };
        scanned += 1;
        let dir = entry.path().parent().unwrap_or(&root);
        let rel_dir = dir.strip_prefix(&root)?;
        let dir_depth = rel_dir.components().count();
        let crate_depth = crate_depth(&root, dir);
        for (n, line) in text.lines().enumerate() {
            if let Some(why) = outside_reference(line, dir_depth, crate_depth) {
                let rel = entry.path().strip_prefix(&root)?;
                found.push(format!(
                    "{}:{}: {why}: {}",
                    rel.display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        scanned > 200,
        "only {scanned} text files found under {}",
        root.display()
    );
    assert!(
        found.is_empty(),
        "references outside the repository:\n{}",
        found.join("\n")
    );
    Ok(())
}

#[test]
fn the_detector_finds_each_kind_of_reference() {
    // The cases are spelled in pieces so that this file is not itself a reference.
    let cases = [
        (concat!("see `shared/", "spec/cli.md`"), 0, 0),
        ("Contracts (section 4.1 \u{a7}4.1)", 0, 0),
        (
            concat!("//! Versioned snapshot chains (seed", " 002)."),
            3,
            2,
        ),
        ("# Fabric test vectors (seeds 000 and 001)", 2, 2),
        ("the seed's layout", 1, 1),
        ("join(\"../../../elsewhere/gen.py\")", 2, 2),
        (
            "Path::new(env!(\"CARGO_MANIFEST_DIR\")).join(\"../../../x\")",
            3,
            2,
        ),
    ];
    for (line, dir_depth, crate_depth) in cases {
        assert!(
            outside_reference(line, dir_depth, crate_depth).is_some(),
            "not caught: {line}"
        );
    }
    let fine = [
        ("--seed 42 --jobs 40", 0, 0),
        ("let mut seed = seed;", 0, 0),
        (
            "/// Seed of the kill moments (same seed, same moments).",
            0,
            0,
        ),
        ("join(\"../../tests/vectors\")", 4, 2),
        (
            "PathBuf::from(env!(\"CARGO_MANIFEST_DIR\")).join(\"../../tests/vectors\")",
            4,
            2,
        ),
        ("\"/srv/ingest/../ingest/incoming/A.mov\"", 2, 2),
    ];
    for (line, dir_depth, crate_depth) in fine {
        assert_eq!(
            outside_reference(line, dir_depth, crate_depth),
            None,
            "{line}"
        );
    }
}
