//! `cargo xtask`: workspace automation.
//!
//! * `cargo xtask check-layers`: the dependency-direction check (see `layers.rs`).
//! * `cargo xtask check-snapshots`: no insta snapshot left unreferenced or pending
//!   (see `snapshots.rs`).
//! * `cargo xtask bench`: the performance harness (see `bench.rs`); `--scale` for
//!   the scaling table.
//! * `cargo xtask crash`: SIGKILL crash-safety harness over real `fabric` processes
//!   (see `crash.rs`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check-layers") => match xtask::layers::check_workspace() {
            Ok(report) => {
                println!("{report}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("{err}");
                ExitCode::FAILURE
            }
        },
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
        _ => {
            eprintln!(
                "usage: cargo xtask <check-layers | check-snapshots | bench [--quick] [SUITE...] | bench --scale [--sizes N,N] | crash [--kills N] [--seed S] [--jobs J] [COMMAND...]>"
            );
            ExitCode::from(2)
        }
    }
}
