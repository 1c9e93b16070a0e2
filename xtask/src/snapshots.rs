//! `cargo xtask check-snapshots`: every insta snapshot file is still referenced by
//! a test, and none is left pending.
//!
//! A `.snap` file whose test was renamed or removed keeps passing review while it
//! describes nothing. `cargo insta test --unreferenced=reject` finds those by
//! running the suite; this check finds them from the sources, in well under a
//! second and without a second test run:
//!
//! - the file's `source:` header names the test file (from the workspace root or
//!   from the package's folder), which must exist;
//! - the snapshot's name (the file name after the last `__`, without `.snap` and
//!   without a `-N` repeat suffix) must be spelled in that test file: as a string
//!   literal given to a `snapshot!` macro, as the fixed text around `{...}` of a
//!   `format!` name, or as a function name (an unnamed snapshot takes its test
//!   function's name, without a `test_` prefix);
//! - no `.snap.new` or `.pending-snap` file is left (an unreviewed change).

use std::path::{Path, PathBuf};

/// One finding of the check: the file and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The snapshot file, relative to the workspace root.
    pub file: PathBuf,
    /// Why it fails.
    pub why: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.why)
    }
}

/// Check every snapshot file under `root` (skipping `target/` and hidden folders).
/// Returns the number of snapshot files checked, or the findings.
pub fn check_tree(root: &Path) -> Result<usize, Vec<Finding>> {
    let mut files = Vec::new();
    let mut findings = Vec::new();
    collect(root, root, &mut files, &mut findings);
    files.sort();
    for rel in &files {
        let text = match std::fs::read_to_string(root.join(rel)) {
            Ok(t) => t,
            Err(e) => {
                findings.push(finding(rel, format!("cannot read: {e}")));
                continue;
            }
        };
        if let Err(why) = check_one(root, rel, &text) {
            findings.push(finding(rel, why));
        }
    }
    if findings.is_empty() {
        Ok(files.len())
    } else {
        Err(findings)
    }
}

fn finding(file: &Path, why: String) -> Finding {
    Finding {
        file: file.to_path_buf(),
        why,
    }
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<PathBuf>, findings: &mut Vec<Finding>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        if path.is_dir() {
            if !(name.starts_with('.') || name == "target") {
                collect(root, &path, files, findings);
            }
        } else if name.ends_with(".snap.new") || name.ends_with(".pending-snap") {
            findings.push(finding(
                &rel,
                "a pending snapshot: review it (`cargo insta review`) or delete it".into(),
            ));
        } else if name.ends_with(".snap") {
            files.push(rel);
        }
    }
}

/// Check one snapshot file's text, `rel` being its path under `root`.
fn check_one(root: &Path, rel: &Path, text: &str) -> Result<(), String> {
    let source = header(text, "source")
        .ok_or("no `source:` header naming the test file (rewrite it with insta)")?;
    // insta writes the path from the workspace root or from the package's folder.
    let package = rel
        .ancestors()
        .skip(1)
        .find(|dir| root.join(dir).join("Cargo.toml").is_file())
        .unwrap_or(Path::new(""));
    let source_text = [root.join(&source), root.join(package).join(&source)]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .ok_or_else(|| {
            format!("its test file {source} does not exist: the test is gone, delete the snapshot")
        })?;
    let name = snapshot_name(rel).ok_or("not a `<module>__<name>.snap` file name")?;
    if referenced(&name, &source_text) {
        Ok(())
    } else {
        Err(format!(
            "no test in {source} names the snapshot {name:?}: delete the file, or the test that should write it was renamed"
        ))
    }
}

/// The value of `key:` in the YAML header between the first two `---` lines.
fn header(text: &str, key: &str) -> Option<String> {
    let mut lines = text.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    for line in lines {
        if line.trim_end() == "---" {
            break;
        }
        if let Some(value) = line.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// `a__b__name-2.snap` -> `name`.
fn snapshot_name(rel: &Path) -> Option<String> {
    let file = rel.file_name()?.to_str()?.strip_suffix(".snap")?;
    let name = file.rsplit_once("__").map_or(file, |(_, n)| n);
    let name = match name.rsplit_once('-') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => name,
    };
    (!name.is_empty()).then(|| name.to_owned())
}

/// Whether `source` spells the snapshot `name` (see the module docs).
fn referenced(name: &str, source: &str) -> bool {
    names_in(source)
        .iter()
        .any(|pattern| matches(pattern, name))
}

/// The name patterns `source` gives: literal and `format!` names of `snapshot!`
/// macros (`{...}` kept as a wildcard), and function names.
fn names_in(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in source.match_indices("snapshot!(") {
        let rest = source[i + "snapshot!(".len()..].trim_start();
        let rest = rest.strip_prefix("format!(").unwrap_or(rest).trim_start();
        if let Some(lit) = rest.strip_prefix('"').and_then(|r| r.split_once('"')) {
            out.push(lit.0.to_owned());
        }
    }
    for (i, _) in source.match_indices("fn ") {
        let rest = &source[i + 3..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let f = &rest[..end];
        if !f.is_empty() {
            out.push(f.strip_prefix("test_").unwrap_or(f).to_owned());
        }
    }
    out
}

/// `pattern` matches `name`, each `{...}` in it standing for any text.
fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        parts.push(&rest[..open]);
        rest = rest[open..]
            .find('}')
            .map_or("", |close| &rest[open + close + 1..]);
    }
    parts.push(rest);
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut middle = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match middle.find(part) {
            Some(at) => middle = &middle[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_file_name() {
        let name = |s: &str| snapshot_name(Path::new(s));
        assert_eq!(
            name("it__mssql__ddl_script.snap").as_deref(),
            Some("ddl_script")
        );
        assert_eq!(name("cli__a__b-2.snap").as_deref(), Some("b"));
        assert_eq!(name("cli__a__x-y.snap").as_deref(), Some("x-y"));
        assert_eq!(name("solo.snap").as_deref(), Some("solo"));
        assert_eq!(name("x.txt"), None);
    }

    #[test]
    fn literal_format_and_function_names_reference_a_snapshot() {
        let source = r#"
            fn test_unnamed_case() { insta::assert_snapshot!(out); }
            fn other() {
                insta::assert_snapshot!("sync_json", text);
                insta::assert_snapshot!(format!("best_effort_{name}"), text);
            }
        "#;
        for name in ["sync_json", "best_effort_ddl", "unnamed_case", "other"] {
            assert!(referenced(name, source), "{name}");
        }
        for name in [
            "sync_text",
            "best_effort",
            "worst_effort_ddl",
            "test_unnamed_case",
        ] {
            assert!(!referenced(name, source), "{name}");
        }
    }

    #[test]
    fn an_orphan_a_missing_source_and_a_pending_file_are_found() -> Result<(), std::io::Error> {
        let root = std::env::temp_dir().join(format!("xtask-snapshots-{}", std::process::id()));
        let snaps = root.join("t/snapshots");
        std::fs::create_dir_all(&snaps)?;
        std::fs::write(
            root.join("t/it.rs"),
            "fn kept() { insta::assert_snapshot!(x); }",
        )?;
        let snap = |source: &str| format!("---\nsource: {source}\nexpression: x\n---\nbody\n");
        std::fs::write(snaps.join("it__kept.snap"), snap("t/it.rs"))?;
        assert_eq!(check_tree(&root), Ok(1));
        std::fs::write(snaps.join("it__renamed.snap"), snap("t/it.rs"))?;
        std::fs::write(snaps.join("it__gone.snap"), snap("t/gone.rs"))?;
        std::fs::write(snaps.join("it__kept.snap.new"), snap("t/it.rs"))?;
        std::fs::write(snaps.join("it__bare.snap"), "body\n")?;
        let found = check_tree(&root).err().unwrap_or_default();
        let _ = std::fs::remove_dir_all(&root);
        let files: Vec<String> = found
            .iter()
            .map(|f| f.file.to_string_lossy().into_owned())
            .collect();
        assert_eq!(files.len(), 4, "{found:?}");
        for want in [
            "it__renamed.snap",
            "it__gone.snap",
            "it__kept.snap.new",
            "it__bare.snap",
        ] {
            assert!(files.iter().any(|f| f.ends_with(want)), "{want}: {found:?}");
        }
        Ok(())
    }

    /// The workspace itself passes (so plain `cargo test` enforces the check).
    #[test]
    fn the_workspace_has_no_unreferenced_snapshot() -> Result<(), String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let checked = check_tree(&root).map_err(|found| {
            let lines: Vec<String> = found.iter().map(Finding::to_string).collect();
            format!("unreferenced snapshots:\n{}", lines.join("\n"))
        })?;
        assert!(checked > 0, "no snapshot found under {}", root.display());
        Ok(())
    }
}
