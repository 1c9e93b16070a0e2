//! The README's quick start and tour run as written.
//!
//! Every `sh` block of the sections "Quick start" and "A tour" is read from the
//! README, turned into one bash script (each command's exit code and output kept
//! apart) and run in a temporary copy of the README and `examples/`, with the
//! built `fabric` first on `PATH`. `cargo run [-q] -p fabric-cli --` is the same
//! binary. A command must exit 0 unless its comment starts `# exit N`; some
//! commands must also print a key line. A README change that breaks the tour fails
//! here.

use std::path::{Path, PathBuf};
use std::process::Command;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The sections whose `sh` blocks are run.
const RUN_SECTIONS: &[&str] = &["## Quick start", "## A tour"];

/// (part of a command line, a line its output must contain).
const KEY_LINES: &[(&str, &str)] = &[
    ("ingest examples/results", "files read: 30"),
    ("ingest examples/more-results", "jobs inserted: 10"),
    ("fabric report", "FABRIC OPERATOR REPORT"),
    ("jobs --status FAILED", "job-"),
    ("diff \"$DEMO/before.json\"", "\"total_jobs_delta\": 10"),
    (
        "import-reports examples/reports",
        "ops@3 <- 2025-03-03-report.json",
    ),
    ("snapshot show fabric@2", "(verified)"),
    ("snapshot compare ops@2 ops@3", "ops 2 -> 3:"),
    ("diff fabric@1 fabric@2", "\"from_snapshot\""),
    ("snapshot rollback fabric@1", "active version 2 -> 1"),
    ("snapshot verify", ": ok"),
    ("--profile instructor_best_effort", "6 included, 2 excluded"),
    ("dashboard verify", "parity match"),
    ("exchange add", "added 6 record(s) (2 redacted)"),
    ("exchange verify", "OK (6 records"),
    ("--dry-run", "Dry run: True"),
    ("exchange sync --manifest \"$M\" --json", "\"inserted\": 0"),
    ("--encrypt", "orders.zip.enc"),
    ("exchange unpack", "restore/orders"),
];

struct Step {
    /// The README line, as written.
    line: String,
    /// What bash runs.
    command: String,
    expected: i32,
}

/// The commands of the `sh` blocks of [`RUN_SECTIONS`] (or of every section when
/// `sections` is empty), in order.
fn steps_in(readme: &str, sections: &[&str]) -> Vec<Step> {
    let mut out = Vec::new();
    let mut section_on = sections.is_empty();
    let mut in_block = false;
    for line in readme.lines() {
        if line.starts_with("## ") {
            section_on = sections.is_empty() || sections.iter().any(|s| line.trim_end() == *s);
        }
        if line.starts_with("```") {
            in_block = !in_block && section_on && line.trim_end() == "```sh";
            continue;
        }
        let trimmed = line.trim();
        if !in_block || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // The README's test command is what runs this test: it is not run again here.
        if trimmed.starts_with("cargo test ") {
            continue;
        }
        let comment = trimmed.find(" # ").map_or("", |i| trimmed[i + 3..].trim());
        let expected = comment
            .strip_prefix("exit ")
            .and_then(|r| r.chars().next())
            .and_then(|c| c.to_digit(10))
            .map_or(0, |d| d as i32);
        let command = [
            "cargo run -q -p fabric-cli --",
            "cargo run -p fabric-cli --",
        ]
        .iter()
        .find_map(|p| trimmed.strip_prefix(p).map(|rest| format!("fabric{rest}")))
        .unwrap_or_else(|| trimmed.to_owned());
        out.push(Step {
            line: trimmed.to_owned(),
            command,
            expected,
        });
    }
    out
}

/// The README's quick start and tour.
fn steps(readme: &str) -> Vec<Step> {
    steps_in(readme, RUN_SECTIONS)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry?;
        let rel = entry
            .path()
            .strip_prefix(from)
            .map_err(std::io::Error::other)?;
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

#[test]
fn the_readme_tour_runs_as_written() -> TestResult {
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md"))?;
    let steps = steps(&readme);
    assert!(
        steps.len() >= 35,
        "only {} tour commands found in README.md",
        steps.len()
    );
    assert!(
        steps[0].line.starts_with("cargo run -p fabric-cli --"),
        "the first command shows cargo's build progress (no -q): {}",
        steps[0].line
    );

    let run = run_steps(&root, &steps)?;
    let failures = failures(&run, &steps, KEY_LINES)?;
    for (part, _) in KEY_LINES {
        assert!(
            steps.iter().any(|s| s.line.contains(part)),
            "KEY_LINES names a command the tour no longer has: {part}"
        );
    }
    assert!(
        failures.is_empty(),
        "the README tour broke:\n{}",
        failures.join("\n")
    );
    // What the tour promises to leave behind.
    let demo = run.copy.join("target/demo");
    for file in [
        "fabric.db",
        "before.json",
        "after.json",
        "out.zip",
        "orders.zip.enc",
    ] {
        assert!(
            demo.join(file).is_file(),
            "the tour did not write target/demo/{file}"
        );
    }
    assert!(
        !demo.join("strict.zip").exists(),
        "a refused export wrote its zip"
    );
    assert!(
        !demo.join("orders.zip").exists(),
        "--encrypt left the plaintext zip"
    );
    Ok(())
}

/// The guide's blocks run in order too (in their own copy).
#[test]
fn the_guide_runs_as_written() -> TestResult {
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let guide = std::fs::read_to_string(root.join("docs/guide.md"))?;
    let steps = steps_in(&guide, &[]);
    assert!(
        steps.len() >= 30,
        "only {} guide commands found",
        steps.len()
    );
    let run = run_steps(&root, &steps)?;
    let failures = failures(&run, &steps, &[])?;
    assert!(
        failures.is_empty(),
        "docs/guide.md broke:\n{}",
        failures.join("\n")
    );
    Ok(())
}

/// What went wrong in `run`: a command that exited with another code than its
/// comment says, or that did not print the key line `key_lines` gives it.
fn failures(
    run: &Run,
    steps: &[Step],
    key_lines: &[(&str, &str)],
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let rc = std::fs::read_to_string(run.logs.join("rc"))?;
    let codes: Vec<i32> = rc
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    if codes.len() != steps.len() {
        return Err(format!("{} of {} commands ran", codes.len(), steps.len()).into());
    }
    let mut failures = Vec::new();
    for (i, (step, code)) in steps.iter().zip(&codes).enumerate() {
        let out = std::fs::read_to_string(run.logs.join(format!("{i}.out")))?;
        let err = std::fs::read_to_string(run.logs.join(format!("{i}.err")))?;
        if *code != step.expected {
            failures.push(format!(
                "`{}` exited {code}, expected {}\n{err}",
                step.line, step.expected
            ));
        }
        for (part, key) in key_lines {
            if step.line.contains(part) && !out.contains(key) && !err.contains(key) {
                failures.push(format!("`{}` did not print {key:?}\n{out}{err}", step.line));
            }
        }
    }
    Ok(failures)
}

/// Where a run of steps happened: the copy of the repository it ran in, and the
/// folder of per-command logs (`N.out`, `N.err`, and `rc` with "N CODE" lines).
struct Run {
    _tmp: tempfile::TempDir,
    copy: PathBuf,
    logs: PathBuf,
}

/// Run `steps` with bash in a temporary copy of the README and `examples/`.
fn run_steps(root: &Path, steps: &[Step]) -> Result<Run, Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let copy = tmp.path().join("fabric");
    copy_dir(&root.join("examples"), &copy.join("examples"))?;
    std::fs::copy(root.join("README.md"), copy.join("README.md"))?;
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs)?;

    let mut script = String::from("cd \"$TOUR\" || exit 99\n");
    for (i, step) in steps.iter().enumerate() {
        // The command on its own line, so that its trailing comment ends there.
        script.push_str(&format!(
            "{{\n{}\n}} >\"$LOGS/{i}.out\" 2>\"$LOGS/{i}.err\" </dev/null\necho \"{i} $?\" >>\"$LOGS/rc\"\n",
            step.command
        ));
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_fabric"))
        .parent()
        .ok_or("the fabric binary has no folder")?;
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))?;
    let status = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env_clear()
        .env("PATH", path)
        .env("HOME", tmp.path())
        .env("USER", "ops")
        .env("TOUR", &copy)
        .env("LOGS", &logs)
        .status()?;
    if !status.success() {
        return Err(format!("the script itself failed: {status}").into());
    }
    Ok(Run {
        _tmp: tmp,
        copy,
        logs,
    })
}

#[test]
fn the_tour_reader_takes_only_the_tour() {
    let readme = "## Install\n```sh\ncargo install --locked --path x\n```\n\
        ## Quick start\n```sh\n# a comment\ncargo run -p fabric-cli -- report\n```\n\
        ## A tour\n```sh\nfabric diff a b --exit-code   # exit 1: moved\n```\n```text\nfabric no\n```\n\
        ## SQL Server\n```sh\nfabric exchange schema\n```\n";
    let steps = steps(readme);
    let lines: Vec<(&str, i32)> = steps
        .iter()
        .map(|s| (s.command.as_str(), s.expected))
        .collect();
    assert_eq!(
        lines,
        [
            ("fabric report", 0),
            ("fabric diff a b --exit-code   # exit 1: moved", 1)
        ]
    );
}
