//! `cargo xtask tidy`: source rules that the dependency graph cannot see.
//!
//! The `fabric` binary is glue: its commands parse arguments, call one library
//! entry point and print. Threads, raw file opening and SQL belong to the
//! libraries (the ingest pool to `fabric_store::ingest`, atomic files to
//! `fabric_store::atomic`, the database to fabric-store), so the files under
//! `crates/fabric-cli/src/cmd/` must not name them. Comments are not checked.

use std::fmt;
use std::path::{Path, PathBuf};

/// One rule: a folder (relative to the workspace root), the text its Rust
/// files must not contain outside comments, and why.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Folder checked recursively.
    pub folder: &'static str,
    /// Forbidden text.
    pub forbidden: &'static str,
    /// Where that work belongs instead.
    pub why: &'static str,
}

/// The table. Edit here, nowhere else.
pub const RULES: &[Rule] = &[
    Rule {
        folder: "crates/fabric-cli/src/cmd",
        forbidden: "std::thread",
        why: "threads and pools belong to the library the command calls",
    },
    Rule {
        folder: "crates/fabric-cli/src/cmd",
        forbidden: "thread::",
        why: "threads and pools belong to the library the command calls",
    },
    Rule {
        folder: "crates/fabric-cli/src/cmd",
        forbidden: "OpenOptions",
        why: "files are written through fabric_store::atomic or the library's writer",
    },
    Rule {
        folder: "crates/fabric-cli/src/cmd",
        forbidden: "rusqlite",
        why: "only fabric-store speaks SQL",
    },
];

/// A rule broken at a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file, relative to the root.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The forbidden text found.
    pub forbidden: &'static str,
    /// The rule's reason.
    pub why: &'static str,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: `{}`: {}",
            self.file.display(),
            self.line,
            self.forbidden,
            self.why
        )
    }
}

/// Check the tree at `root` against `rules`; every finding, in file and line
/// order. A rule's folder that does not exist is a finding too (a moved folder
/// must move its rule, not silently pass).
pub fn check_tree(root: &Path, rules: &[Rule]) -> std::io::Result<Vec<Finding>> {
    let mut found = Vec::new();
    for rule in rules {
        let folder = root.join(rule.folder);
        if !folder.is_dir() {
            found.push(Finding {
                file: PathBuf::from(rule.folder),
                line: 0,
                forbidden: rule.forbidden,
                why: "the rule's folder does not exist: update xtask/src/tidy.rs",
            });
            continue;
        }
        for file in rust_files(&folder)? {
            let text = std::fs::read_to_string(&file)?;
            for (i, line) in text.lines().enumerate() {
                if code_of(line).contains(rule.forbidden) {
                    found.push(Finding {
                        file: file.strip_prefix(root).unwrap_or(&file).to_path_buf(),
                        line: i + 1,
                        forbidden: rule.forbidden,
                        why: rule.why,
                    });
                }
            }
        }
    }
    found.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok(found)
}

/// Run the check on this workspace: a summary, or the findings.
pub fn check_workspace() -> Result<String, Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match check_tree(&root, RULES) {
        Ok(found) if found.is_empty() => Ok(format!("tidy: ok ({} rules)", RULES.len())),
        Ok(found) => Err(found.iter().map(ToString::to_string).collect()),
        Err(e) => Err(vec![format!("tidy: reading the tree: {e}")]),
    }
}

/// The line without its `//` comment (a `//` inside a string literal cuts it
/// short too, which can only hide text, never invent a finding).
fn code_of(line: &str) -> &str {
    line.find("//").map_or(line, |at| &line[..at])
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn the_real_workspace_passes() -> Result<(), String> {
        check_workspace()
            .map(|_| ())
            .map_err(|found| found.join("\n"))
    }

    /// Each forbidden name is found, in a nested file too, with its line; the
    /// same text in a comment is not.
    #[test]
    fn each_forbidden_name_is_found_outside_comments() -> TestResult {
        let root = tempfile::tempdir()?;
        let cmd = root.path().join("crates/fabric-cli/src/cmd");
        std::fs::create_dir_all(cmd.join("exchange"))?;
        std::fs::write(
            cmd.join("ingest.rs"),
            "//! No std::thread here, no rusqlite.\nfn f() {\n    std::thread::scope(|_| {});\n}\n",
        )?;
        std::fs::write(
            cmd.join("exchange/pack.rs"),
            "use std::fs::OpenOptions; // write\nfn g(c: &rusqlite::Connection) {}\n",
        )?;
        std::fs::write(cmd.join("ok.rs"), "fn h() {} // OpenOptions in a comment\n")?;
        let found: Vec<String> = check_tree(root.path(), RULES)?
            .iter()
            .map(|f| format!("{}:{}:{}", f.file.display(), f.line, f.forbidden))
            .collect();
        assert_eq!(
            found,
            [
                "crates/fabric-cli/src/cmd/exchange/pack.rs:1:OpenOptions",
                "crates/fabric-cli/src/cmd/exchange/pack.rs:2:rusqlite",
                "crates/fabric-cli/src/cmd/ingest.rs:3:std::thread",
                "crates/fabric-cli/src/cmd/ingest.rs:3:thread::",
            ]
        );
        Ok(())
    }

    /// A rule whose folder is gone fails instead of passing on nothing.
    #[test]
    fn a_missing_folder_is_a_finding() -> TestResult {
        let root = tempfile::tempdir()?;
        let found = check_tree(root.path(), &RULES[..1])?;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].line, 0);
        Ok(())
    }
}
