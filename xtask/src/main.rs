//! `cargo xtask`: workspace automation.
//!
//! * `cargo xtask check-layers`: the dependency-direction check (see `layers.rs`).
//! * `cargo xtask tidy`: source rules the graph cannot see, e.g. no threads, raw
//!   file opening or SQL in `crates/fabric-cli/src/cmd/` (see `tidy.rs`).
//! * `cargo xtask check-snapshots`: no insta snapshot left unreferenced or pending
//!   (see `snapshots.rs`).
//! * `cargo xtask bench`: the performance harness (see `bench.rs`); `--scale` for
//!   the scaling table.
//! * `cargo xtask crash`: SIGKILL crash-safety harness over real `fabric` processes
//!   (see `crash.rs`).
//! * `cargo xtask man`: regenerate the manual pages in `docs/man/` from the clap
//!   definitions (a test in fabric-cli fails when they are out of date).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check-layers") => {
            verdict(xtask::layers::check_workspace().map_err(|e| e.to_string()))
        }
        Some("tidy") => verdict(xtask::tidy::check_workspace().map_err(|found| {
            let mut text: String = found.iter().map(|f| format!("tidy: {f}\n")).collect();
            text.push_str(&format!("tidy: {} finding(s)", found.len()));
            text
        })),
        Some("check-snapshots") => {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            match xtask::snapshots::check_tree(&root) {
                Ok(n) => {
                    println!(
                        "check-snapshots: ok ({n} snapshot files, each referenced by its test file)"
                    );
                    ExitCode::SUCCESS
                }
                Err(found) => {
                    for f in &found {
                        eprintln!("check-snapshots: {f}");
                    }
                    eprintln!("check-snapshots: {} problem(s)", found.len());
                    ExitCode::FAILURE
                }
            }
        }
        Some("bench") => xtask::bench::run(&args[1..]),
        Some("crash") => xtask::crash::main(&args[1..]),
        Some("man") => man(),
        _ => {
            eprintln!(
                "usage: cargo xtask <check-layers | tidy | check-snapshots | man | bench [--quick] [SUITE...] | bench --scale [--sizes N,N] [--bulk-sizes N,N] | crash [--kills N] [--seed S] [--jobs J] [COMMAND...]>"
            );
            ExitCode::from(2)
        }
    }
}

/// Print a check's summary (success) or its failure (stderr, exit 1).
fn verdict(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask man`: build `fabric` and let it write its manual pages, replacing
/// `docs/man/` so that a removed command loses its page.
fn man() -> ExitCode {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let dir = root.join("docs/man");
    if let Err(e) = std::fs::remove_dir_all(&dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        eprintln!("removing {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = std::process::Command::new(cargo)
        .current_dir(&root)
        .args([
            "run",
            "--quiet",
            "--package",
            "fabric-cli",
            "--",
            "generate-man",
            "--out",
        ])
        .arg(&dir)
        .status();
    match status {
        Ok(s) if s.success() => {
            println!("wrote {}", dir.display());
            ExitCode::SUCCESS
        }
        Ok(s) => {
            eprintln!("fabric generate-man failed: {s}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("running cargo: {e}");
            ExitCode::FAILURE
        }
    }
}
